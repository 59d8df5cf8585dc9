namespace AgentOs.Server.Tests.Infrastructure;

/// <summary>
/// Waiting on a condition nothing signals (a file another process writes, an OS thread going away):
/// checked every 20 ms until it holds, failing after <see cref="TestTimeouts.Default"/>.
/// </summary>
public static class Poll
{
    public static async Task UntilAsync(Func<bool> condition, string because)
    {
        using var timeout = new CancellationTokenSource(TestTimeouts.Default);
        while (!condition())
        {
            timeout.IsCancellationRequested.Should().BeFalse($"it should hold within {TestTimeouts.Default.TotalSeconds} s: {because}");
            await Task.Delay(TimeSpan.FromMilliseconds(20), CancellationToken.None);
        }
    }
}
