using BinaryGrad.Autograd;

namespace BinaryGrad.Binarization;

public abstract partial class Quantizer
{
    /// <summary>The one graph node <see cref="Apply"/> records: picks the scheme's float32 span path when the scheme
    /// offers one for these inputs, else the float64 whole-tensor path, and mirrors that choice in the backward.</summary>
    private sealed class QuantizerFunction(Quantizer q) : Function
    {
        private QuantizerCall? _call;
        private DType[] _types = [];
        private Tensor? _fastInput;
        private object? _fastSaved;
        private bool _elementwise;
        private double[][]? _fastParameters;
        private Tensor[]? _tensorParameters;

        public override string Name => q.Name;
        public override bool IsEstimator => q.IsEstimator;

        protected override Tensor Forward(Tensor[] inputs)
        {
            if (inputs.Length == 1 && inputs[0].DType == DType.Float32 && (q.HasFloat32Path || q.IsScalarElementwise))
            {
                Tensor x = inputs[0].Contiguous();
                Tensor output = Tensor.Empty(x.Shape, DType.Float32);
                _elementwise = !q.HasFloat32Path;
                if (_elementwise) q.ForwardElementwiseFloat32(x.AsSpan<float>(), output.AsSpan<float>());
                else _fastSaved = q.ForwardFloat32(x.AsSpan<float>(), x.Shape, output.AsSpan<float>());
                _fastInput = x;
                return output;
            }
            if (inputs.Length > 1 && q.HasFloat32TensorParameterPath && AllFloat32(inputs))
            {
                Tensor x = inputs[0].Contiguous();
                Tensor output = Tensor.Empty(x.Shape, DType.Float32);
                _tensorParameters = new Tensor[inputs.Length - 1];
                for (int i = 1; i < inputs.Length; i++) _tensorParameters[i - 1] = inputs[i].Contiguous();
                _fastSaved = q.ForwardFloat32WithParameterTensors(x.AsSpan<float>(), x.Shape, _tensorParameters, output.AsSpan<float>());
                _fastInput = x;
                return output;
            }
            if (inputs.Length > 1 && inputs[0].DType == DType.Float32 && q.HasFloat32ParameterPath)
            {
                Tensor x = inputs[0].Contiguous();
                Tensor output = Tensor.Empty(x.Shape, DType.Float32);
                _fastParameters = new double[inputs.Length - 1][];
                for (int i = 1; i < inputs.Length; i++) _fastParameters[i - 1] = inputs[i].ToDoubleArray();
                _types = [.. inputs.Select(t => t.DType)];
                _fastSaved = q.ForwardFloat32WithParameters(x.AsSpan<float>(), x.Shape, _fastParameters, output.AsSpan<float>());
                _fastInput = x;
                return output;
            }
            var ps = new double[inputs.Length - 1][];
            for (int i = 1; i < inputs.Length; i++) ps[i - 1] = inputs[i].ToDoubleArray();
            _types = [.. inputs.Select(t => t.DType)];
            _call = new QuantizerCall(inputs[0].ToDoubleArray(), inputs[0].Shape.ToArray(), ps);
            double[] y = q.ForwardValues(_call);
            return Tensor.FromValues(y, _call.Shape, inputs[0].DType);
        }

        protected override Tensor?[] Backward(Tensor gradOutput)
        {
            if (_fastInput is { } tensorInput && _tensorParameters is { } tensors)
            {
                Tensor dy = gradOutput.DType == DType.Float32 ? gradOutput.Contiguous() : gradOutput.To(DType.Float32);
                Tensor gradInput = Tensor.Empty(tensorInput.Shape, DType.Float32);
                var parameterGrads = new Tensor[tensors.Length];
                for (int i = 0; i < tensors.Length; i++) parameterGrads[i] = Tensor.Empty(tensors[i].Shape, DType.Float32);
                q.BackwardFloat32WithParameterTensors(tensorInput.AsSpan<float>(), tensorInput.Shape, _fastSaved, tensors,
                    dy.AsSpan<float>(), gradInput.AsSpan<float>(), parameterGrads);
                var results = new Tensor?[1 + tensors.Length];
                if (NeedsGrad(0)) results[0] = gradInput;
                for (int i = 0; i < tensors.Length; i++)
                    if (NeedsGrad(i + 1)) results[i + 1] = parameterGrads[i];
                return results;
            }
            if (_fastInput is { } withParameters && _fastParameters is { } parameters)
            {
                Tensor dy = gradOutput.DType == DType.Float32 ? gradOutput.Contiguous() : gradOutput.To(DType.Float32);
                Tensor gradInput = Tensor.Empty(withParameters.Shape, DType.Float32);
                var parameterGrads = new double[parameters.Length][];
                for (int i = 0; i < parameterGrads.Length; i++) parameterGrads[i] = new double[parameters[i].Length];
                q.BackwardFloat32WithParameters(withParameters.AsSpan<float>(), withParameters.Shape, _fastSaved, parameters,
                    dy.AsSpan<float>(), gradInput.AsSpan<float>(), parameterGrads);
                var results = new Tensor?[1 + parameters.Length];
                if (NeedsGrad(0)) results[0] = gradInput;
                for (int i = 0; i < parameters.Length; i++)
                    if (NeedsGrad(i + 1)) results[i + 1] = Tensor.FromValues(parameterGrads[i], Inputs[i + 1].Shape, _types[i + 1]);
                return results;
            }
            if (_fastInput is { } input)
            {
                if (!NeedsGrad(0)) return [null];
                Tensor dy = gradOutput.DType == DType.Float32 ? gradOutput.Contiguous() : gradOutput.To(DType.Float32);
                Tensor gradInput = Tensor.Empty(input.Shape, DType.Float32);
                if (_elementwise) q.BackwardElementwiseFloat32(input.AsSpan<float>(), dy.AsSpan<float>(), gradInput.AsSpan<float>());
                else q.BackwardFloat32(input.AsSpan<float>(), input.Shape, _fastSaved, dy.AsSpan<float>(), gradInput.AsSpan<float>());
                return [gradInput];
            }
            QuantizerCall call = _call!;
            var grads = new double[call.ParameterValues.Length][];
            for (int i = 0; i < grads.Length; i++) grads[i] = new double[call.ParameterValues[i].Length];
            double[] dx = q.BackwardValues(call, gradOutput.ToDoubleArray(), grads);
            var result = new Tensor?[1 + grads.Length];
            if (NeedsGrad(0)) result[0] = Tensor.FromValues(dx, call.Shape, _types[0]);
            for (int i = 0; i < grads.Length; i++)
                if (NeedsGrad(i + 1)) result[i + 1] = Tensor.FromValues(grads[i], Inputs[i + 1].Shape, _types[i + 1]);
            return result;
        }

        protected override void ReleaseSaved()
        {
            _call = null;
            _fastInput = null;
            _fastSaved = null;
            _fastParameters = null;
            _tensorParameters = null;
        }

        private static bool AllFloat32(Tensor[] inputs)
        {
            foreach (Tensor t in inputs)
                if (t.DType != DType.Float32) return false;
            return true;
        }
    }
}
