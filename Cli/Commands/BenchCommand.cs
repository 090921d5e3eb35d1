using System.CommandLine;

namespace BinaryGrad.Cli.Commands;

/// <summary><c>binarygrad bench gemm|conv|train|kernels|infer [--json]</c>: our kernels next to the peers (NumPy/OpenBLAS, PyTorch CPU)
/// measured in the same run on the same machine, with the ratio.</summary>
public static class BenchCommand
{
    public static readonly string[] Suites = ["gemm", "conv", "train", "kernels", "infer"];

    public static Command Create()
    {
        var suite = new Argument<string>("suite") { Description = $"What to measure: {string.Join(", ", Suites)}." };
        var json = new Option<bool>("--json") { Description = "One JSON object per line: name, ours, peer, ratio." };
        var threads = new Option<int>("--threads") { Description = "Threads for ours and the peer.", DefaultValueFactory = _ => Environment.ProcessorCount };
        var model = new Option<string?>("--model") { Description = "bench train: the model to time (as 'train --model'); default: the float MLP and small CNN." };
        var scheme = new Option<string?>("--scheme") { Description = "bench train: the binarization scheme of --model (default bnn for VGG-Small and the ResNets, none for mlp and cnn; none gives every network at full precision)." };
        var profile = new Option<bool>("--profile") { Description = "bench train: also print the time per op (forward and backward) of one profiled run." };
        var noPeer = new Option<bool>("--no-peer") { Description = "bench train and infer: time ours only (e.g. while profiling)." };
        var bgm = new Option<string?>("--bgm") { Description = "bench infer: time this exported model instead of a fresh one (give --model for the peer's architecture)." };
        var batch = new Option<int>("--batch") { Description = "bench infer: images per forward.", DefaultValueFactory = _ => BenchInfer.DefaultBatch };
        var command = new Command("bench", "Measure kernels against NumPy/PyTorch on this machine, in the same run.") { suite, json, threads, model, scheme, profile, noPeer, bgm, batch };
        command.SetAction(r =>
        {
            string what = r.GetValue(suite)!;
            if (!Suites.Contains(what))
            {
                Console.Error.WriteLine($"binarygrad bench: unknown suite '{what}'; valid: {string.Join(", ", Suites)}.");
                return Program.BadInput;
            }
            if ((r.GetValue(scheme) is not null || r.GetValue(profile)) && what != "train")
            {
                Console.Error.WriteLine($"binarygrad bench: --scheme and --profile apply to 'bench train' only, not '{what}'.");
                return Program.BadInput;
            }
            if ((r.GetValue(model) is not null || r.GetValue(noPeer)) && what is not ("train" or "infer"))
            {
                Console.Error.WriteLine($"binarygrad bench: --model and --no-peer apply to 'bench train' and 'bench infer' only, not '{what}'.");
                return Program.BadInput;
            }
            if ((r.GetValue(bgm) is not null || r.GetResult(batch) is { Implicit: false }) && what != "infer")
            {
                Console.Error.WriteLine($"binarygrad bench: --bgm and --batch apply to 'bench infer' only, not '{what}'.");
                return Program.BadInput;
            }
            Kernels.KernelThreads.Count = Math.Max(1, r.GetValue(threads));
            return what switch
            {
                "train" => BenchTrain.Run(r.GetValue(json), Console.Out, r.GetValue(model), r.GetValue(scheme), r.GetValue(profile), peer: !r.GetValue(noPeer)),
                "kernels" => BenchKernelsCommand.Run(r.GetValue(json), Console.Out),
                "infer" => BenchInfer.Run(r.GetValue(json), Console.Out, Console.Error, r.GetValue(model), r.GetValue(bgm), r.GetValue(batch), peer: !r.GetValue(noPeer)),
                _ => BenchGemmConv.Run(what, r.GetValue(json), Console.Out),
            };
        });
        return command;
    }
}
