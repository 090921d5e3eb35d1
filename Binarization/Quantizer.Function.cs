using BinaryGrad.Autograd;

namespace BinaryGrad.Binarization;

public abstract partial class Quantizer
{
    /// <summary>The one graph node <see cref="Apply"/> records: one forward path and one backward path, both
    /// dispatched on the call's element type by <see cref="DTypeDispatch"/>.</summary>
    private sealed class QuantizerFunction(Quantizer q) : Function
    {
        private Tensor? _x;
        private QuantizerParameterSet? _parameters;
        private object? _saved;
        private DType _type;

        public override string Name => q.Name;
        public override bool IsEstimator => q.IsEstimator;

        /// <summary>float32 only when x and every parameter are float32 (see the class remarks of <see cref="Quantizer"/>).</summary>
        private static DType ComputeType(Tensor[] inputs)
        {
            foreach (Tensor t in inputs)
                if (t.DType != DType.Float32) return DType.Float64;
            return DType.Float32;
        }

        protected override Tensor Forward(Tensor[] inputs)
        {
            _type = ComputeType(inputs);
            _x = inputs[0].Contiguous().To(_type);
            var values = new Tensor[inputs.Length - 1];
            for (int i = 1; i < inputs.Length; i++) values[i - 1] = inputs[i].Contiguous().To(_type);
            _parameters = new QuantizerParameterSet(values, _type);
            Tensor y = q.WritesEveryElement ? Tensor.Uninitialized(_x.Shape, _type) : Tensor.Empty(_x.Shape, _type);
            var pass = new Pass(q, _x, _parameters, null, y);
            DTypeDispatch.Run(_type, ref pass);
            _saved = pass.Saved;
            return y.To(inputs[0].DType);
        }

        protected override Tensor?[] Backward(Tensor gradOutput)
        {
            var results = new Tensor?[Inputs.Count];
            bool any = false;
            for (int i = 0; i < results.Length; i++) any |= NeedsGrad(i);
            if (!any) return results;
            // a gradient buffer the engine owns (see WritesEveryElement) when it is returned as it is, not converted
            Tensor x = _x!, dy = gradOutput.Contiguous().To(_type);
            Tensor dx = q.WritesEveryElement && NeedsGrad(0) && Inputs[0].DType == _type ? RentGradient(x.Shape, _type) : Tensor.Empty(x.Shape, _type);
            DTypeDispatch.Run(_type, new Pass(q, x, _parameters!, dy, dx, _saved));
            if (NeedsGrad(0)) results[0] = dx.To(Inputs[0].DType);
            for (int i = 1; i < results.Length; i++)
                if (NeedsGrad(i)) results[i] = _parameters!.GradientTensor(i - 1, Inputs[i].DType);
            return results;
        }

        protected override void ReleaseSaved()
        {
            _x = null;
            _parameters = null;
            _saved = null;
        }

        /// <summary>The forward (<paramref name="dy"/> null: writes <paramref name="output"/> = y, returns the saved
        /// object in <see cref="Saved"/>) or the backward (writes <paramref name="output"/> = dx) in element type T.</summary>
        private struct Pass(Quantizer q, Tensor x, QuantizerParameterSet parameters, Tensor? dy, Tensor output, object? saved = null) : IDTypeAction
        {
            public object? Saved = saved;

            public void Run<T>() where T : unmanaged, System.Numerics.IBinaryFloatingPointIeee754<T>
            {
                var p = new QuantizerParameters<T>(parameters.Count == 0 ? null : parameters);
                if (dy is null) Saved = q.Forward<T>(x.AsSpan<T>(), x.Shape, p, output.AsSpan<T>());
                else q.Backward<T>(x.AsSpan<T>(), x.Shape, Saved, p, dy.AsSpan<T>(), output.AsSpan<T>());
            }
        }
    }
}
