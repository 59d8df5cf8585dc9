namespace AgentOs.Testing;

/// <summary>One timeout for every wait of the test suites, so a hang fails fast and says what it waited for.</summary>
public static class TestTimeouts
{
    public static readonly TimeSpan Default = TimeSpan.FromSeconds(30);
}

/// <summary>
/// Waiting on a condition nothing signals (a file another process writes, an OS thread going away, a folder the server
/// removes): checked every 20 ms until it holds, failing after <see cref="TestTimeouts.Default"/>.
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
            if (timeout.IsCancellationRequested)
            {
                throw new TimeoutException($"It should hold within {TestTimeouts.Default.TotalSeconds} s: {because}");
            }

            await Task.Delay(TimeSpan.FromMilliseconds(20), CancellationToken.None);
        }
    }
}
