namespace AgentOs.Server.Tests.Infrastructure;

/// <summary>
/// Waiting on a condition nothing signals (a file another process writes, an OS thread going away):
/// checked every 20 ms until it holds, failing after <see cref="TestTimeouts.Default"/>.
/// </summary>
public static class Poll
{
    public static Task UntilAsync(Func<bool> condition, string because) => UntilAsync(() => Task.FromResult(condition()), because);

    /// <summary>The same, for a condition that takes a call to find out (a server's answer).</summary>
    public static async Task UntilAsync(Func<Task<bool>> condition, string because)
    {
        using var timeout = new CancellationTokenSource(TestTimeouts.Default);
        while (!await condition())
        {
            timeout.IsCancellationRequested.Should().BeFalse($"it should hold within {TestTimeouts.Default.TotalSeconds} s: {because}");
            await Task.Delay(TimeSpan.FromMilliseconds(20), CancellationToken.None);
        }
    }
}
