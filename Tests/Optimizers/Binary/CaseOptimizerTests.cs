using BinaryGrad.Autograd;
using BinaryGrad.Optimizers;
using BinaryGrad.Optimizers.Binary;
using NUnit.Framework;
using static BinaryGrad.Tests.Optimizers.Binary.BopTests;

namespace BinaryGrad.Tests.Optimizers.Binary;

[TestFixture, Category("Optimizers")]
public class CaseOptimizerTests
{
    private static readonly double[][] Grads = [[0.1, -0.2, 0.3], [-0.4, 0.5, 0.05], [0.2, 0.2, -0.6], [0.3, -0.1, 0.2], [-0.2, -0.3, 0.4]];

    private sealed record Model(Parameter Binary, Parameter Real)
    {
        public static Model Create(DType dtype = DType.Float32) =>
            new(new Parameter("fc.weight", Tensor.FromValues([0.5, -1.5, 0.0], [3], dtype), precision: 1),
                new Parameter("bn.weight", Tensor.FromValues([0.5, -1.5, 2.0], [3], dtype)));

        public KeyValuePair<string, Parameter>[] Named() => [KeyValuePair.Create("fc.weight", Binary), KeyValuePair.Create("bn.weight", Real)];

        public void Step(Optimizer o, int t)
        {
            SetGrad(Binary, Grads[t]);
            SetGrad(Real, Grads[t]);
            o.Step();
        }
    }

    [Test]
    public void RoutesByPrecision_BinaryToBop_RestToAdam()
    {
        var model = Model.Create();
        Optimizer o = BinaryOptimizers.Create("bop", model.Named(), 0.01);
        // The same updates done by standalone optimizers on copies.
        var alone = Model.Create();
        var bop = new Bop([KeyValuePair.Create("w", alone.Binary)]);
        var adam = new Adam([KeyValuePair.Create("w", alone.Real)], 0.01);
        for (int t = 0; t < 3; t++)
        {
            model.Step(o, t);
            alone.Step(bop, t);
            alone.Step(adam, t);
            Assert.That(model.Binary.Value.ToArray<float>(), Is.EqualTo(alone.Binary.Value.ToArray<float>()), $"binary, step {t + 1}");
            Assert.That(model.Real.Value.ToArray<float>(), Is.EqualTo(alone.Real.Value.ToArray<float>()), $"real, step {t + 1}");
        }
        Assert.That(model.Binary.Value.ToDoubleArray(), Is.All.EqualTo(1.0).Or.EqualTo(-1.0), "Bop owns ±1 weights");
        Assert.That(o.StateDict().Keys, Is.EquivalentTo(new[]
        {
            "group0.lr", "group1.lr", "real.bn.weight.exp_avg", "real.bn.weight.exp_avg_sq", "real.bn.weight.step",
            "binary.fc.weight.m", "binary.fc.weight.step",
        }));
    }

    [Test]
    public void LearningRate_IsTheRealValuedOptimizers()
    {
        var model = Model.Create();
        Optimizer o = BinaryOptimizers.Create("bop2nd", model.Named(), 0.02);
        Assert.That(o.LearningRate, Is.EqualTo(0.02));
        o.LearningRate = 0.5;
        Assert.That(o.LearningRate, Is.EqualTo(0.5));
        Assert.That(((CaseOptimizer)o).Binary, Is.InstanceOf<Bop2ndOrder>());
        Assert.That(((CaseOptimizer)o).Real, Is.InstanceOf<Adam>());
    }

    [Test]
    public void ZeroGrad_ClearsBothSides()
    {
        var model = Model.Create();
        Optimizer o = BinaryOptimizers.Create("bop", model.Named(), 0.01);
        model.Step(o, 0);
        o.ZeroGrad();
        Assert.That(model.Binary.Grad, Is.Null);
        Assert.That(model.Real.Grad, Is.Null);
    }

    [TestCase("bop"), TestCase("bop2nd")]
    public void StateRoundTrip_ContinuesIdentically(string name)
    {
        var a = Model.Create();
        Optimizer oa = BinaryOptimizers.Create(name, a.Named(), 0.01);
        for (int t = 0; t < 3; t++) a.Step(oa, t);

        var b = Model.Create();
        Optimizer ob = BinaryOptimizers.Create(name, b.Named(), 0.3);
        b.Binary.Load(a.Binary.Value);
        b.Real.Load(a.Real.Value);
        ob.LoadStateDict(oa.StateDict());
        Assert.That(ob.LearningRate, Is.EqualTo(0.01), "learning rate restored");
        for (int t = 3; t < 5; t++)
        {
            a.Step(oa, t);
            b.Step(ob, t);
            Assert.That(Bits(b.Binary.Value.ToArray<float>()), Is.EqualTo(Bits(a.Binary.Value.ToArray<float>())), $"binary, step {t + 1}");
            Assert.That(Bits(b.Real.Value.ToArray<float>()), Is.EqualTo(Bits(a.Real.Value.ToArray<float>())), $"real, step {t + 1}");
        }
        foreach ((string key, Tensor value) in oa.StateDict())
            Assert.That(ob.StateDict()[key].ToDoubleArray(), Is.EqualTo(value.ToDoubleArray()), key);
    }

    [Test]
    public void Create_UnknownName_ListsValidNames()
    {
        var model = Model.Create();
        Assert.That(() => BinaryOptimizers.Create("bopp", model.Named(), 0.01),
            Throws.ArgumentException.With.Message.Contains("'bopp'").And.Message.Contains("bop, bop2nd"));
    }

    [Test]
    public void AllParametersOnOneSide_StillWorks()
    {
        var p = new Parameter("w", Tensor.FromValues([0.2, -0.3], [2], DType.Float32), precision: 1);
        Optimizer o = BinaryOptimizers.Create("bop", [KeyValuePair.Create("w", p)], 0.01);
        SetGrad(p, [0, 0]);
        o.Step();
        Assert.That(p.Value.ToDoubleArray(), Is.EqualTo(new double[] { 1, -1 }));
    }
}
