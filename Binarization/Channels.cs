namespace BinaryGrad.Binarization;

/// <summary>Index arithmetic for per-channel schemes.</summary>
internal static class Channels
{
    /// <summary>Weight layout (BinaryGrad's [O, …] convention): rank ≥ 2 → output channel = axis 0 ([O, C, kH, kW] or [O, I]), each
    /// channel a contiguous run of n = Length/O elements; rank ≤ 1 → the whole tensor is one channel.</summary>
    public static (int Channels, int PerChannel) Weight(ReadOnlySpan<int> shape, int length) =>
        shape.Length >= 2 && shape[0] > 0 ? (shape[0], length / shape[0]) : (1, length);

    /// <summary>Elements per channel block of an activation (product of the dims after the channel axis): element i
    /// belongs to channel i / inner % channels, as <see cref="ActivationChannel"/> computes it.</summary>
    internal static int ActivationInner(ReadOnlySpan<int> shape)
    {
        int inner = 1;
        for (int a = 2; a < shape.Length; a++) inner *= shape[a];
        return inner;
    }

    /// <summary>Activation channel (axis 1 of [N, C, …]) of flat element <paramref name="i"/>; 0 when the
    /// parameter is shared (<paramref name="channels"/> = 1).</summary>
    public static int ActivationChannel(ReadOnlySpan<int> shape, int i, int channels)
    {
        if (channels == 1) return 0;
        int inner = 1;
        for (int a = 2; a < shape.Length; a++) inner *= shape[a];
        return i / inner % channels;
    }

    /// <summary>Throws unless a per-channel activation parameter of <paramref name="channels"/> entries fits x.</summary>
    public static void CheckActivation(string scheme, ReadOnlySpan<int> shape, int channels)
    {
        if (channels == 1) return;
        if (shape.Length < 2 || shape[1] != channels)
            throw new ArgumentException($"{scheme}: has {channels} channels but the input shape is [{string.Join(", ", shape.ToArray())}]; expected [N, {channels}, …].");
    }
}
