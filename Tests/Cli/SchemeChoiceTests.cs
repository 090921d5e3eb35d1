using BinaryGrad.Autograd;
using BinaryGrad.Binarization;
using BinaryGrad.Cli;
using BinaryGrad.Cli.Commands;
using BinaryGrad.Cli.Training;
using BinaryGrad.Layers;
using NUnit.Framework;

namespace BinaryGrad.Tests.Cli;

/// <summary><c>--scheme</c> is resolved once, where it enters the CLI (<see cref="SchemeChoice"/>): "none" is the float
/// model, a registered name its <see cref="SchemeInfo"/>, anything else a one-line error naming the valid schemes.</summary>
[TestFixture, Category("Cli")]
public class SchemeChoiceTests
{
    [Test]
    public void None_IsTheFloatModel_AndKeepsItsName()
    {
        Assert.That(SchemeChoice.ForModel("none"), Is.Null);
        var options = new TrainOptions { Scheme = SchemeChoice.ForModel("none") };
        Assert.That(options.SchemeName, Is.EqualTo("none"));
        // the float MLP (784-512-512-10), not the binary MLP (width 1024) with the baseline's empty quantizers
        Module model = ModelFactory.Create(options, ExportCommand.DatasetShape("mnist"), new Rng(0));
        Assert.That(model.ParameterCount, Is.EqualTo(Models.Mlp(new Rng(0), 784, [512, 512], 10).ParameterCount));
        Module binaryBaseline = ModelFactory.Create(options with { Scheme = SchemeRegistry.Get("none") }, ExportCommand.DatasetShape("mnist"), new Rng(0));
        Assert.That(binaryBaseline.ParameterCount, Is.Not.EqualTo(model.ParameterCount));
    }

    [Test]
    public void RegisteredName_IsTheRegistrysScheme()
    {
        Assert.That(SchemeChoice.ForModel("bnn"), Is.SameAs(SchemeRegistry.Get("bnn")));
        Assert.That(new TrainOptions { Scheme = SchemeChoice.ForModel("bnn") }.SchemeName, Is.EqualTo("bnn"));
        // where "none" is just a scheme (the quantizer that plays sign in an explained expression) it resolves as one
        Assert.That(SchemeChoice.Registered("none"), Is.SameAs(SchemeRegistry.Get("none")));
    }

    [TestCase("no-such-scheme")]
    [TestCase("BNN")]
    [TestCase("")]
    public void UnknownName_IsAUsageErrorNamingEveryValidScheme(string name)
    {
        foreach (Func<string, SchemeInfo?> resolve in new Func<string, SchemeInfo?>[] { SchemeChoice.ForModel, SchemeChoice.Registered })
        {
            var error = Assert.Throws<UsageException>(() => resolve(name))!;
            Assert.That(error.Message, Does.StartWith($"--scheme '{name}' is not known; valid schemes: "));
            foreach (string valid in SchemeRegistry.Names) Assert.That(error.Message, Does.Contain(valid));
            Assert.That(error.Message, Does.Not.Contain('\n'));
        }
    }

    [Test]
    public void Train_WithAnUnknownScheme_ExitsWith2AndOneLine_BeforeLoadingData()
    {
        var output = new StringWriter();
        var error = new StringWriter();
        // a data directory that does not exist: the scheme must be refused before any data set is looked for
        string missing = Path.Combine(Path.GetTempPath(), "bg-no-data-" + Guid.NewGuid().ToString("N"));
        int code = Program.Run(["train", "--dataset", "digits", "--scheme", "no-such-scheme", "--data-dir", missing], output, error);
        Assert.That(code, Is.EqualTo(Program.BadInput));
        string[] lines = error.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.That(lines, Has.Length.EqualTo(1), error.ToString());
        Assert.That(lines[0], Does.StartWith("binarygrad train: --scheme 'no-such-scheme' is not known; valid schemes: ").And.Contain("bnn"));
        Assert.That(Directory.Exists(missing), Is.False);
    }

    [Test]
    public void ImpliedOptimizer_DecidesTheDefaultOptimizer_OnlyWhenNoneIsAskedFor()
    {
        SchemeInfo bayesBiNN = SchemeRegistry.Get("bayesbinn");
        Assert.That(new TrainOptions { Scheme = bayesBiNN }.EffectiveOptimizer, Is.EqualTo("bayesbinn"));
        Assert.That(new TrainOptions { Scheme = bayesBiNN, Optimizer = "adamw" }.EffectiveOptimizer, Is.EqualTo("adamw"));
        Assert.That(new TrainOptions { Scheme = null }.EffectiveOptimizer, Is.EqualTo("adam"));
        // a user scheme that declares the Bayesian learning rule gets it, although its name is not "bayesbinn"
        SchemeInfo custom = bayesBiNN with { Name = "my-bayes" };
        Assert.That(new TrainOptions { Scheme = custom }.EffectiveOptimizer, Is.EqualTo("bayesbinn"));
        Assert.That(new TrainOptions { Scheme = custom with { ImpliedOptimizer = SchemeOptimizer.Adam } }.EffectiveOptimizer, Is.EqualTo("adam"));
    }

    [Test]
    public void EveryImpliedOptimizer_HasAnOptimizerName()
    {
        foreach (SchemeOptimizer optimizer in Enum.GetValues<SchemeOptimizer>())
            Assert.That(OptimizerFactory.Names, Does.Contain(OptimizerFactory.NameOf(optimizer)), optimizer.ToString());
    }
}
