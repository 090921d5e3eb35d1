using System.CommandLine;
using BinaryGrad.Autograd;
using BinaryGrad.Binarization;
using BinaryGrad.Cli.Training;
using BinaryGrad.Datasets;
using BinaryGrad.Layers;

namespace BinaryGrad.Cli.Commands;

/// <summary><c>binarygrad graph --model M --scheme S --out FILE.dot</c>: records one training step (forward and
/// cross-entropy loss on a batch of 2 MNIST-shaped images) and writes its autograd graph for Graphviz: ops with
/// output shapes, parameters by their full names, estimator (straight-through) nodes in orange.</summary>
public static class GraphCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "Model name (as for train).", DefaultValueFactory = _ => "mlp" };
        var scheme = new Option<string>("--scheme") { Description = "Binarization scheme (as for train).", DefaultValueFactory = _ => SchemeChoice.FloatModel };
        var output = new Option<string>("--out") { Description = "The .dot file to write.", Required = true };
        var command = new Command("graph", "Write one training step's autograd graph as Graphviz DOT.") { model, scheme, output };
        command.SetAction(r => Run(r.GetValue(model)!, r.GetValue(scheme)!, r.GetValue(output)!, Console.Out, Console.Error));
        return command;
    }

    public static int Run(string modelName, string schemeName, string path, TextWriter output, TextWriter error)
    {
        try
        {
            OutputPaths.CheckFile(path, "--out");
            Autograd.Serialization.AtomicFile.WriteAllText(path, Dot(modelName, schemeName));
            output.WriteLine($"wrote {path} (render with: dot -Tsvg {path} -o graph.svg)");
            return 0;
        }
        catch (UsageException e)
        {
            error.WriteLine($"binarygrad graph: {e.Message}");
            return Program.BadInput;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or DirectoryNotFoundException)
        {
            error.WriteLine($"binarygrad graph: cannot write '{path}': {e.Message}");
            return Program.BadInput;
        }
    }

    /// <summary>The DOT text of one step of <paramref name="modelName"/> with <paramref name="schemeName"/>.</summary>
    public static string Dot(string modelName, string schemeName)
    {
        SchemeInfo? scheme = SchemeChoice.ForModel(schemeName);
        var rng = new Rng(1);
        // an MNIST-shaped stand-in: the graph depends on shapes only, so no data needs to be loaded
        var shape = new ImageDataset("mnist", 1, 28, 28, new byte[2 * 784], [3, 7], [.. Enumerable.Range(0, 10).Select(i => i.ToString())]);
        Module model = ModelFactory.Create(new TrainOptions { Model = modelName, Scheme = scheme }, shape, rng);
        foreach (var (name, p) in model.NamedParameters()) p.Value.Name = name;
        var images = Tensor.Uniform([2, 1, 28, 28], rng, -1, 1);
        images.Name = "images";
        Tensor loss = Ops.CrossEntropy(model.Forward(images), [3, 7]);
        return GraphViz.ToDot(loss, "training_step");
    }
}
