using System.Runtime.CompilerServices;

namespace BinaryGrad.Binarization;

/// <summary><see cref="Decompositions"/>' float32 and float64 overloads behind one generic call (T is float or double;
/// <c>typeof(T)</c> is a JIT-time constant, so each instantiation calls its overload directly).</summary>
internal static class TypedDecompositions
{
    private static bool IsFloat<T>() => typeof(T) == typeof(float);

    public static void MatMul<T>(bool transA, bool transB, int m, int n, int k, T[] a, T[] b, T[] c)
    {
        if (IsFloat<T>()) Decompositions.MatMul(transA, transB, m, n, k, Unsafe.As<float[]>(a), Unsafe.As<float[]>(b), Unsafe.As<float[]>(c));
        else Decompositions.MatMul(transA, transB, m, n, k, Unsafe.As<double[]>(a), Unsafe.As<double[]>(b), Unsafe.As<double[]>(c));
    }

    public static T[] ModeProduct<T>(T[] x, int[] dims, int n, T[] u, int uRows, int uCols, bool transpose, out int[] outDims) =>
        IsFloat<T>()
            ? Unsafe.As<T[]>(Decompositions.ModeProduct(Unsafe.As<float[]>(x), dims, n, Unsafe.As<float[]>(u), uRows, uCols, transpose, out outDims))
            : Unsafe.As<T[]>(Decompositions.ModeProduct(Unsafe.As<double[]>(x), dims, n, Unsafe.As<double[]>(u), uRows, uCols, transpose, out outDims));

    public static T[] ModeContract<T>(T[] x, int[] xDims, T[] p, int[] pDims, int n) =>
        IsFloat<T>()
            ? Unsafe.As<T[]>(Decompositions.ModeContract(Unsafe.As<float[]>(x), xDims, Unsafe.As<float[]>(p), pDims, n))
            : Unsafe.As<T[]>(Decompositions.ModeContract(Unsafe.As<double[]>(x), xDims, Unsafe.As<double[]>(p), pDims, n));
}
