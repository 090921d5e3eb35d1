using BinaryGrad.Autograd;
using BinaryGrad.Binarization;
using NUnit.Framework;

namespace BinaryGrad.Tests.Binarization;

[TestFixture, Category("Binarization")]
public class SchemeRegistryTests
{
    private static IEnumerable<SchemeInfo> Schemes => SchemeRegistry.All;

    [Test]
    public void Registry_ListsEveryDocumentedScheme()
    {
        string[] required =
        [
            "none", "binaryconnect", "binaryconnect-stochastic", "bnn", "xnor", "xnor-detached-scaled", "xnor-detached-unscaled",
            "approxsign", "swishsign", "magnitude-aware-sign", "reactnet", "dorefa", "lab", "learned-scale",
            "proxconnect", "pc++-bc", "pc++-bnn", "pc++-bnn+", "pc++-proxquant", "bnn++", "bnn++-clip", "biper", "siman", "rbnn-sign", "rbnn", "bd-bnn",
        ];
        Assert.That(SchemeRegistry.Names, Is.SupersetOf(required));
        Assert.That(SchemeRegistry.Names, Is.Unique);
    }

    /// <summary>The schemes whose latent values are not ordinary real parameters, so training them with Adam is
    /// meaningless: BayesBiNN's are natural parameters of Bernoulli weights (Meng et al. 2020, arXiv:2002.10778).
    /// Every other built-in scheme trains with Adam.</summary>
    private static readonly Dictionary<string, SchemeOptimizer> NotAdam = new() { ["bayesbinn"] = SchemeOptimizer.BayesBiNN };

    [TestCaseSource(nameof(Schemes))]
    public void EveryScheme_ImpliesTheOptimizerItsLatentsNeed(SchemeInfo scheme) =>
        Assert.That(scheme.ImpliedOptimizer, Is.EqualTo(NotAdam.GetValueOrDefault(scheme.Name, SchemeOptimizer.Adam)));

    [Test]
    public void ImpliedOptimizer_NonAdamSchemesAreRegistered() =>
        Assert.That(SchemeRegistry.Names, Is.SupersetOf(NotAdam.Keys));

    [TestCaseSource(nameof(Schemes))]
    public void EveryScheme_IsDescribed_AndCreatesWithDefaults(SchemeInfo scheme)
    {
        Assert.That(scheme.Name, Does.Match("^[a-z0-9+]+(-[a-z0-9+]+)*$"));
        Assert.That(scheme.Description, Is.Not.Empty);
        Assert.That(scheme.ProvenanceTag, Is.AnyOf("verified-code", "verified-doc", "standard-construction"));
        Assert.That(scheme.Section, Does.Contain("§"));
        foreach (HyperParameter h in scheme.HyperParameters)
        {
            Assert.That(h.Allows(h.Default), Is.True, $"{scheme.Name}.{h.Name} default {h.Default} outside {h.Range}");
            Assert.That(h.Description, Is.Not.Empty);
        }
        SchemeInstance instance = scheme.Create();
        if (instance.Weights is not null) Assert.That(instance.Weights.Kind.HasFlag(QuantizerKind.Weight), Is.True);
        if (instance.Activations is not null) Assert.That(instance.Activations.Kind.HasFlag(QuantizerKind.Activation), Is.True);
    }

    [TestCaseSource(nameof(Schemes))]
    public void EveryScheme_RunsForwardAndBackwardOnAConvWeightAndActivation(SchemeInfo scheme)
    {
        SchemeInstance s = scheme.Create();
        s.OnProgress(new TrainingProgress(1, 10, 4, 40));
        var rng = new Rng(1);
        foreach (Quantizer q in s.Quantizers)
        {
            int[] shape = q.Kind == QuantizerKind.Weight ? [4, 3, 2, 2] : [2, 1, 3, 3];
            Tensor x = Tensor.Uniform(shape, rng, -1.5, 1.5, requiresGrad: true);
            Tensor y = q.Apply(x);
            y.Backward(Tensor.Ones(shape));
            Assert.That(y.ToDoubleArray(), Has.All.Not.NaN, $"{scheme.Name}/{q.Name} forward");
            Assert.That(x.Grad!.ToDoubleArray(), Has.All.Not.NaN, $"{scheme.Name}/{q.Name} backward");
            if (q.IsHardSign) Assert.That(y.ToDoubleArray(), Is.All.EqualTo(1.0).Or.EqualTo(-1.0), $"{scheme.Name}/{q.Name} claims hard sign");
        }
    }

    [Test]
    public void ProvenanceTags_AndLegacySection_AreKept()
    {
        Assert.That(SchemeRegistry.Get("bnn").ProvenanceTag, Is.EqualTo("verified-code"));
        Assert.That(SchemeRegistry.Get("xnor").Section, Is.EqualTo("§1.3"));
    }

    [TestCase("none", "baseline")]
    [TestCase("bnn", "straight-through")]
    [TestCase("xnor", "scaling")]
    [TestCase("pc++-bnn", "proximal")]
    [TestCase("self-binarizing", "smooth")]
    [TestCase("group-soft-binary", "group-transform")]
    [TestCase("bayesbinn", "probabilistic")]
    [TestCase("decomposed-tucker", "decomposed")]
    [TestCase("rbnn", "rotation")]
    public void BuiltInSchemes_HaveTheirFamily_AndAPaper(string name, string family)
    {
        SchemeInfo s = SchemeRegistry.Get(name);
        Assert.That(s.Family, Is.EqualTo(family));
        if (name == "none") Assert.That(s.Paper, Is.Empty);
        else Assert.That(s.Paper, Does.Match(@"\d{4}"), "a paper citation names its year");
    }

    [Test]
    public void UnknownName_ListsValidNames()
    {
        var ex = Assert.Throws<ArgumentException>(() => SchemeRegistry.Get("bnnn"));
        Assert.That(ex!.Message, Does.Contain("'bnnn'").And.Contain("binaryconnect").And.Contain("xnor"));
        Assert.That(SchemeRegistry.TryGet("bnnn", out _), Is.False);
    }

    [Test]
    public void BadOverride_NamesKeyValueAndRange()
    {
        var ex = Assert.Throws<ArgumentException>(() => SchemeRegistry.Create("swishsign", new Dictionary<string, double> { ["beta"] = -2 }));
        Assert.That(ex!.Message, Does.Contain("'beta'").And.Contain("-2").And.Contain("[0.001, 1000]"));
        var unknown = Assert.Throws<ArgumentException>(() => SchemeRegistry.Create("swishsign", new Dictionary<string, double> { ["temperature"] = 1 }));
        Assert.That(unknown!.Message, Does.Contain("'temperature'").And.Contain("beta"));
        var notInt = Assert.Throws<ArgumentException>(() => SchemeRegistry.Create("dorefa", new Dictionary<string, double> { ["bits"] = 2.5 }));
        Assert.That(notInt!.Message, Does.Contain("integer in [1, 16]"));
    }

    [Test]
    public void Overrides_ReachTheQuantizers()
    {
        SchemeInstance s = SchemeRegistry.Create("swishsign", new Dictionary<string, double> { ["beta"] = 2 });
        Assert.That(((SwishSign)s.Activations!).Beta, Is.EqualTo(2));
        SchemeInstance r = SchemeRegistry.Create("reactnet", new Dictionary<string, double> { ["channels"] = 8 });
        Assert.That(r.Parameters.Select(p => p.Length), Is.All.EqualTo(8));
        Assert.That(r.Parameters.Count(), Is.EqualTo(4));
        Assert.That(SchemeRegistry.Create("bnn", new Dictionary<string, double> { ["weight-mask"] = 1 }).Weights, Is.TypeOf<SteSign>());
    }
}
