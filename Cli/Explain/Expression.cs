using System.Globalization;
using BinaryGrad.Autograd;
using BinaryGrad.Cli.Training;

namespace BinaryGrad.Cli.Explain;

/// <summary>A parsed <c>--expr</c> of <c>binarygrad explain</c>: a tree that evaluates to one tensor through the
/// ordinary <see cref="Ops"/>, so every evaluation records a real graph.</summary>
/// <remarks>
/// Grammar (docs/explain.md), with the precedence and left associativity of Python and NumPy:
/// <code>
/// expr    := term (('+' | '-') term)*
/// term    := unary (('*' | '/' | '@') unary)*
/// unary   := '-' unary | primary
/// primary := NUMBER | NAME | FUNC '(' expr ')' | '(' expr ')'
/// FUNC    := tanh | sigmoid | relu | hardtanh | softplus | exp | log | sqrt | abs | sign | sum | mean
/// </code>
/// <c>*</c> and <c>/</c> are elementwise (with broadcasting), <c>@</c> is the matrix product. <c>sign</c> is
/// <see cref="Ops.Sign"/> (derivative 0), or with <c>--scheme</c> that scheme's activation quantizer, whose backward
/// is its estimator.
/// </remarks>
public abstract record Expression
{
    /// <summary>The functions the grammar knows.</summary>
    public static readonly string[] Functions = ["tanh", "sigmoid", "relu", "hardtanh", "softplus", "exp", "log", "sqrt", "abs", "sign", "sum", "mean"];

    /// <summary>Evaluates with the inputs of <paramref name="inputs"/>; <paramref name="sign"/> applies <c>sign</c>.</summary>
    public abstract Tensor Evaluate(IReadOnlyDictionary<string, Tensor> inputs, Func<Tensor, Tensor> sign);

    /// <summary>The input names used, in order of first appearance.</summary>
    public IEnumerable<string> Names() => this switch
    {
        Input i => [i.Name],
        Call c => c.Argument.Names(),
        Negate n => n.Operand.Names(),
        BinaryOp b => b.Left.Names().Concat(b.Right.Names()).Distinct(),
        _ => [],
    };

    /// <summary>Parses <paramref name="text"/>; a <see cref="UsageException"/> names the position and what was expected.</summary>
    public static Expression Parse(string text) => new Parser(text).ParseAll();

    public sealed record Number(double Value) : Expression
    {
        public override Tensor Evaluate(IReadOnlyDictionary<string, Tensor> inputs, Func<Tensor, Tensor> sign) =>
            Tensor.FromValues([Value], [], DType.Float64);
    }

    public sealed record Input(string Name) : Expression
    {
        public override Tensor Evaluate(IReadOnlyDictionary<string, Tensor> inputs, Func<Tensor, Tensor> sign) => inputs[Name];
    }

    public sealed record Negate(Expression Operand) : Expression
    {
        public override Tensor Evaluate(IReadOnlyDictionary<string, Tensor> inputs, Func<Tensor, Tensor> sign) => Ops.Neg(Operand.Evaluate(inputs, sign));
    }

    public sealed record Call(string Function, Expression Argument) : Expression
    {
        public override Tensor Evaluate(IReadOnlyDictionary<string, Tensor> inputs, Func<Tensor, Tensor> sign)
        {
            Tensor x = Argument.Evaluate(inputs, sign);
            return Function switch
            {
                "tanh" => Ops.Tanh(x),
                "sigmoid" => Ops.Sigmoid(x),
                "relu" => Ops.Relu(x),
                "hardtanh" => Ops.HardTanh(x),
                "softplus" => Ops.Softplus(x),
                "exp" => Ops.Exp(x),
                "log" => Ops.Log(x),
                "sqrt" => Ops.Sqrt(x),
                "abs" => Ops.Abs(x),
                "sign" => sign(x),
                "sum" => Ops.Sum(x),
                "mean" => Ops.Mean(x),
                _ => throw new InvalidOperationException($"function '{Function}' passed the parser but has no evaluation"),
            };
        }
    }

    public sealed record BinaryOp(char Operator, Expression Left, Expression Right) : Expression
    {
        public override Tensor Evaluate(IReadOnlyDictionary<string, Tensor> inputs, Func<Tensor, Tensor> sign)
        {
            // a literal operand becomes a scalar op (add_scalar, mul_scalar), so no constant leaf clutters the graph
            if (Right is Number r && Left is not Number)
            {
                Tensor l = Left.Evaluate(inputs, sign);
                return Operator switch { '+' => l + r.Value, '-' => l - r.Value, '*' => l * r.Value, '/' => l / r.Value, _ => Ops.MatMul(l, Right.Evaluate(inputs, sign)) };
            }
            if (Left is Number n && Right is not Number && Operator is '+' or '*')
            {
                Tensor x = Right.Evaluate(inputs, sign);
                return Operator == '+' ? x + n.Value : x * n.Value;
            }
            Tensor a = Left.Evaluate(inputs, sign), b = Right.Evaluate(inputs, sign);
            return Operator switch { '+' => a + b, '-' => a - b, '*' => a * b, '/' => a / b, _ => Ops.MatMul(a, b) };
        }
    }

    private sealed class Parser(string text)
    {
        private int _pos;

        public Expression ParseAll()
        {
            if (string.IsNullOrWhiteSpace(text)) throw Error("an expression", "nothing");
            Expression e = ParseExpr();
            SkipSpace();
            if (_pos < text.Length) throw Error("an operator (+ - * / @) or the end", Found());
            return e;
        }

        private Expression ParseExpr()
        {
            Expression left = ParseTerm();
            while (Accept('+', '-') is { } op) left = new BinaryOp(op, left, ParseTerm());
            return left;
        }

        private Expression ParseTerm()
        {
            Expression left = ParseUnary();
            while (Accept('*', '/', '@') is { } op) left = new BinaryOp(op, left, ParseUnary());
            return left;
        }

        private Expression ParseUnary() => Accept('-') is not null ? new Negate(ParseUnary()) : ParsePrimary();

        private Expression ParsePrimary()
        {
            SkipSpace();
            if (_pos >= text.Length) throw Error("a number, an input name, a function or '('", "the end");
            char c = text[_pos];
            if (c == '(')
            {
                _pos++;
                Expression inner = ParseExpr();
                Expect(')');
                return inner;
            }
            if (char.IsDigit(c) || c == '.')
            {
                int start = _pos;
                while (_pos < text.Length && (char.IsDigit(text[_pos]) || text[_pos] is '.' or 'e' or 'E'
                       || (text[_pos] is '+' or '-' && _pos > start && text[_pos - 1] is 'e' or 'E'))) _pos++;
                string token = text[start.._pos];
                if (!double.TryParse(token, NumberStyles.Float, CultureInfo.InvariantCulture, out double value))
                    throw Error("a number", $"'{token}'", start);
                return new Number(value);
            }
            if (char.IsLetter(c) || c == '_')
            {
                int start = _pos;
                while (_pos < text.Length && (char.IsLetterOrDigit(text[_pos]) || text[_pos] == '_')) _pos++;
                string name = text[start.._pos];
                SkipSpace();
                if (_pos < text.Length && text[_pos] == '(')
                {
                    if (!Functions.Contains(name))
                        throw Error($"a known function ({string.Join(", ", Functions)})", $"'{name}('", start);
                    _pos++;
                    Expression argument = ParseExpr();
                    Expect(')');
                    return new Call(name, argument);
                }
                if (Functions.Contains(name)) throw Error($"'(' after the function {name}", Found());
                return new Input(name);
            }
            throw Error("a number, an input name, a function or '('", Found());
        }

        private char? Accept(params char[] options)
        {
            SkipSpace();
            if (_pos < text.Length && options.Contains(text[_pos])) return text[_pos++];
            return null;
        }

        private void Expect(char c)
        {
            if (Accept(c) is null) throw Error($"'{c}'", Found());
        }

        private void SkipSpace()
        {
            while (_pos < text.Length && char.IsWhiteSpace(text[_pos])) _pos++;
        }

        private string Found() => _pos >= text.Length ? "the end" : $"'{text[_pos]}'";

        private UsageException Error(string expected, string found, int? at = null) =>
            new($"--expr \"{text}\": at position {(at ?? _pos) + 1}, expected {expected}, found {found}.");
    }
}
