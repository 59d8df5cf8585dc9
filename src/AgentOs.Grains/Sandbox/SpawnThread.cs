using System.Collections.Concurrent;

namespace AgentOs.Sandbox;

/// <summary>
/// Starts agent processes from one thread that lives as long as the server.
/// bubblewrap's <c>--die-with-parent</c> is <c>PR_SET_PDEATHSIG</c>, and Linux sends that signal when the
/// <em>thread</em> that forked bwrap exits, not when the server process does. .NET retires idle thread-pool
/// threads (after about 20 s), so an agent started from a pool thread was killed (SIGKILL, exit 137) some
/// time after a burst of work. Forking from this thread keeps the guarantee that matters (the agents die
/// with the server) without that one.
/// </summary>
internal static class SpawnThread
{
    private static readonly BlockingCollection<Action> Work = CreateQueue();

    /// <summary>Runs <paramref name="start"/> (a process start: synchronous, short) on the spawn thread.</summary>
    public static Task<T> RunAsync<T>(Func<T> start)
    {
        var done = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        Work.Add(() =>
        {
            try
            {
                done.SetResult(start());
            }
            catch (Exception ex)
            {
                done.SetException(ex);
            }
        });
        return done.Task;
    }

    private static BlockingCollection<Action> CreateQueue()
    {
        var work = new BlockingCollection<Action>();
        var thread = new Thread(() =>
        {
            foreach (var item in work.GetConsumingEnumerable())
            {
                item();
            }
        })
        {
            IsBackground = true,
            Name = "AgentOs process spawner",
        };
        thread.Start();
        return work;
    }
}
