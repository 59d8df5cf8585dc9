using AgentOs.Client;
using AgentOs.Server.Tests.Infrastructure;
using Microsoft.Data.Sqlite;

namespace AgentOs.Server.Tests;

/// <summary>
/// Issue 13, item 1, against a real server process: another process holds the VM's database locked (SQLite's own
/// exclusive lock, taken by this test process). Before, after three failed attempts the pipeline dropped the batch,
/// handed its seqs back, and the turn still ended <c>end_turn</c>: the events were gone and seq looked gapless over
/// the hole. Now a batch is retried for <c>AgentOs:StorageRetryTimeout</c> while the agents are held back; past it the
/// turn fails with <see cref="AgentOsErrorCode.StorageUnavailable"/>, the agent is stopped, and
/// <c>_agentos/events_lost</c> takes the next seq once storage works.
/// </summary>
public sealed class StorageOutageTests
{
    [Fact]
    public async Task ALockLongerThanTheRetryBudget_FailsTheTurnAsStorageUnavailable_AndTheLossIsOnRecord_NeverHidden()
    {
        var env = TestAgents.AsEnvironment("mine");
        env["AgentOs__StorageRetryTimeout"] = "00:00:02";
        await using var server = await ServerProcess.StartAsync(env);
        await using var client = await AgentOsClient.ConnectAsync(server.ClientOptions);
        var vm = client.Vm("locked");
        var other = client.Vm("unlocked");
        using var live = await EventCollector.SubscribeAsync(vm);
        var session = await vm.CreateSessionAsync("mine");
        await session.SendPromptAsync("chunks 3");
        var before = (await vm.GetEventsAsync(session.SessionId)).Count;
        var bystander = await other.CreateSessionAsync("mine");

        PromptResult? bystanderTurn;
        await using (var holder = await LockAsync(server, vm.Id))
        {
            var turn = () => session.SendPromptAsync("chunks 200");
            var otherTurn = bystander.SendPromptAsync("chunks 200");

            var failure = (await turn.Should().ThrowAsync<AgentOsException>()).Which;
            failure.Code.Should().Be(AgentOsErrorCode.StorageUnavailable, failure.Message);
            failure.Message.Should().Contain("StorageRetryTimeout").And.Contain("locked");
            bystanderTurn = await otherTurn; // another VM's database: not affected at all
        }

        var events = await WaitForAsync(vm, session.SessionId, e => e.Any(x => x.Method == AgentOsEventMethods.AgentExit));
        events.Select(e => e.Seq).Should().Equal(Enumerable.Range(1, events.Count).Select(i => (long)i), "seq stays gapless");
        var lost = events.Single(e => e.Method == AgentOsEventMethods.EventsLost);
        lost.Seq.Should().Be(before + 1, "the loss is recorded where the lost events would have been");
        Json(lost).GetProperty("count").GetInt32().Should().BeGreaterThan(0);
        Json(lost).GetProperty("reason").GetString().Should().Contain("locked");
        events.Should().NotContain(e => e.Seq > before && e.GetUpdateKind() == "agent_message_chunk" && e.Seq < lost.Seq);
        Json(events.Single(e => e.Method == AgentOsEventMethods.AgentExit)).GetProperty("reason").GetString().Should().Be("storage_unavailable");
        live.For(session.SessionId).Should().OnlyContain(seen => events.Any(stored => stored.Seq == seen.Seq && stored.Method == seen.Method),
            "nothing a client saw live is missing from the store or stored with other content");
        bystanderTurn!.StopReason.Should().Be("end_turn");
        (await other.GetEventsAsync(bystander.SessionId)).Count(e => e.GetUpdateKind() == "agent_message_chunk").Should().Be(200);
        (await vm.ListPersistedSessionsAsync()).Single().Status.Should().Be(SessionStatus.Crashed);

        await vm.ResumeSessionAsync(session.SessionId);
        (await session.SendPromptAsync("chunks 3")).StopReason.Should().Be("end_turn");
        var after = await vm.GetEventsAsync(session.SessionId);
        after.Select(e => e.Seq).Should().Equal(Enumerable.Range(1, after.Count).Select(i => (long)i), "seq stays gapless after the resume, never reused");
        after.Take(events.Count).Should().Equal(events, "what was stored keeps its seq and content");
    }

    [Fact]
    public async Task ALockShorterThanTheRetryBudget_HoldsTheAgentBack_AndLosesNothing()
    {
        await using var server = await ServerProcess.StartAsync(TestAgents.AsEnvironment("mine"));
        await using var client = await AgentOsClient.ConnectAsync(server.ClientOptions);
        var vm = client.Vm("briefly-locked");
        var session = await vm.CreateSessionAsync("mine");
        await session.SendPromptAsync("chunks 3");

        Task<PromptResult> turn;
        await using (await LockAsync(server, vm.Id))
        {
            turn = session.SendPromptAsync("chunks 2000");
            // Past one busy_timeout, so the first commit attempt certainly failed and was retried.
            await Poll.UntilAsync(() => server.Output.Contains("retrying while the VM's agents are held back"), "a commit attempt fails on the lock");
            turn.IsCompleted.Should().BeFalse("the turn waits for storage");
        }

        (await turn).StopReason.Should().Be("end_turn");
        server.Output.Should().Contain("after the first failure");
        var events = await vm.GetEventsAsync(session.SessionId);
        events.Select(e => e.Seq).Should().Equal(Enumerable.Range(1, events.Count).Select(i => (long)i));
        events.Count(e => e.GetUpdateKind() == "agent_message_chunk").Should().Be(2003, "no event is lost");
        events.Should().NotContain(e => e.Method == AgentOsEventMethods.EventsLost);
    }

    /// <summary>Takes SQLite's exclusive lock on the VM's database from this process (not the server's) until disposed.</summary>
    private static async Task<IAsyncDisposable> LockAsync(ServerProcess server, string vmId)
    {
        var database = Path.Combine(server.DataDirectory, "vms", vmId, "vm.db");
        var connection = new SqliteConnection($"Data Source={database};Default Timeout=30;Pooling=False");
        await connection.OpenAsync();
        await using (var begin = connection.CreateCommand())
        {
            begin.CommandText = "BEGIN EXCLUSIVE";
            await begin.ExecuteNonQueryAsync();
        }

        return new Lock(connection);
    }

    private sealed class Lock(SqliteConnection connection) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            await using (var rollback = connection.CreateCommand())
            {
                rollback.CommandText = "ROLLBACK";
                await rollback.ExecuteNonQueryAsync();
            }

            await connection.DisposeAsync();
        }
    }

    private static System.Text.Json.JsonElement Json(SessionEvent e) => System.Text.Json.JsonDocument.Parse(e.Params).RootElement;

    private static async Task<IReadOnlyList<SessionEvent>> WaitForAsync(VmHandle vm, string sessionId, Func<IReadOnlyList<SessionEvent>, bool> condition)
    {
        IReadOnlyList<SessionEvent> events = [];
        await Poll.UntilAsync(() =>
        {
            events = vm.GetEventsAsync(sessionId).GetAwaiter().GetResult();
            return condition(events);
        }, "the store catches up once the lock is gone");
        return events;
    }
}
