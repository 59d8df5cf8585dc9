namespace AgentOs.Console.Tests.Infrastructure;

/// <summary>Waiting on a condition nothing signals (a folder the server removes): checked every 20 ms, failing after <see cref="TestTimeouts.Default"/>.</summary>
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
