namespace AgentOs.Sandbox;

/// <summary>How to start one agent process, already wrapped by the sandbox (<see cref="AgentSandbox.PrepareAsync"/>).</summary>
/// <param name="Command">The executable.</param>
/// <param name="Args">Its arguments.</param>
/// <param name="Env">Its whole environment.</param>
/// <param name="WorkingDirectory">Its working directory on the host.</param>
/// <param name="Resources">What the agent holds while it runs (its VM's network), released once it has exited; or null.</param>
internal sealed record AgentLaunch(string Command, IReadOnlyList<string> Args, IReadOnlyDictionary<string, string> Env, string WorkingDirectory, IAsyncDisposable? Resources = null);

/// <summary>What an agent holds while it runs, as one <see cref="AgentLaunch.Resources"/>.</summary>
internal static class Resources
{
    /// <summary>The given resources (nulls skipped), released in reverse order; null when there are none.</summary>
    public static IAsyncDisposable? Of(params IAsyncDisposable?[] resources) =>
        resources.OfType<IAsyncDisposable>().ToArray() switch
        {
            [] => null,
            [var one] => one,
            var many => new All(many),
        };

    private sealed class All(IAsyncDisposable[] resources) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            foreach (var resource in resources.Reverse())
            {
                await resource.DisposeAsync().ConfigureAwait(false);
            }
        }
    }
}
