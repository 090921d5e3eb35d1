namespace BinaryGrad.Autograd;

/// <summary>Whether operations record the graph. Recording is on by default; inside a
/// <see cref="NoGrad"/> scope ops compute values only (evaluation, optimizer updates, backward itself).</summary>
public static class GradMode
{
    [ThreadStatic] private static int _disabledDepth;

    /// <summary>True when ops record the graph on this thread.</summary>
    public static bool IsEnabled => _disabledDepth == 0;

    /// <summary>Stops recording on this thread until the returned scope is disposed (scopes nest).</summary>
    /// <example><code>using (GradMode.NoGrad()) { var logits = model.Forward(x); }</code></example>
    public static NoGradScope NoGrad()
    {
        _disabledDepth++;
        return new NoGradScope();
    }

    /// <summary>Ends a <see cref="NoGrad"/> scope.</summary>
    public readonly struct NoGradScope : IDisposable
    {
        /// <summary>Restores the previous recording state.</summary>
        public void Dispose() => _disabledDepth--;
    }
}
