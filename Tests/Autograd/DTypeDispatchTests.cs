using System.Numerics;
using BinaryGrad.Autograd;
using NUnit.Framework;

namespace BinaryGrad.Tests.Autograd;

/// <summary><see cref="DTypeDispatch"/>: each dtype reaches the action with its own element type, results come back
/// through the action passed by reference, and an undefined dtype is an error naming what was expected.</summary>
[TestFixture, Category("Autograd")]
public class DTypeDispatchTests
{
    /// <summary>Records the element type it ran with and sums a tensor in it.</summary>
    private struct SumAction(Tensor x) : IDTypeAction
    {
        public Type? RanWith;
        public double Sum;

        public void Run<T>() where T : unmanaged, IBinaryFloatingPointIeee754<T>
        {
            RanWith = typeof(T);
            T total = T.Zero;
            foreach (T v in x.AsSpan<T>()) total += v;
            Sum = double.CreateTruncating(total);
        }
    }

    [TestCase(DType.Float32, typeof(float))]
    [TestCase(DType.Float64, typeof(double))]
    public void Run_CallsTheActionWithTheDTypesElementType(DType dtype, Type expected)
    {
        Tensor x = Tensor.FromValues([0.5, 1.25, -3], [3], dtype);
        var action = new SumAction(x);
        DTypeDispatch.Run(dtype, ref action);
        Assert.That(action.RanWith, Is.EqualTo(expected));
        Assert.That(action.Sum, Is.EqualTo(-1.25));
    }

    [Test]
    public void Run_UndefinedDType_Throws()
    {
        var action = new SumAction(Tensor.FromValues([1.0], [1], DType.Float32));
        var e = Assert.Throws<NotSupportedException>(() => DTypeDispatch.Run((DType)7, ref action));
        Assert.That(e!.Message, Does.Contain("float32 or float64"));
    }
}
