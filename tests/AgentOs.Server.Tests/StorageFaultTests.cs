using AgentOs.Client;
using AgentOs.Server.Tests.Infrastructure;
using Microsoft.Data.Sqlite;

namespace AgentOs.Server.Tests;

/// <summary>
/// Issue 13, item 2: a row another writer put at a session's next seq. Before, every later commit of that session
/// failed (its batches were dropped and their seqs handed back, over and over), and because a batch mixes sessions, a
/// healthy second session of the same VM lost its events too.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class StorageFaultTests(ClusterFixture fixture)
{
    [Fact]
    public async Task AForeignRowAtTheNextSeq_IsSteppedOver_BothSessionsGoOn_AndSeqStaysGapless()
    {
        var vm = fixture.NewVm();
        var a = await vm.CreateSessionAsync(TestAgents.Default);
        var b = await vm.CreateSessionAsync(TestAgents.Default);
        await a.SendPromptAsync("chunks 3");
        await b.SendPromptAsync("chunks 3");
        var last = (await vm.GetEventsAsync(a.SessionId)).Max(e => e.Seq);

        var database = Path.Combine(fixture.DataDirectory, "vms", vm.Id, "vm.db");
        await using (var foreign = new SqliteConnection($"Data Source={database};Default Timeout=30;Pooling=False"))
        {
            await foreign.OpenAsync();
            await using var insert = foreign.CreateCommand();
            insert.CommandText = "INSERT INTO events (session_id, seq, created_at, method, params) VALUES ($s, $q, 0, '_test/foreign', '{}')";
            insert.Parameters.AddWithValue("$s", a.SessionId);
            insert.Parameters.AddWithValue("$q", last + 1);
            (await insert.ExecuteNonQueryAsync()).Should().Be(1);
        }

        var turns = await Task.WhenAll(a.SendPromptAsync("chunks 50"), b.SendPromptAsync("chunks 50"));

        turns.Should().OnlyContain(t => t.StopReason == "end_turn");
        foreach (var session in new[] { a, b })
        {
            var events = await vm.GetEventsAsync(session.SessionId);
            events.Select(e => e.Seq).Should().Equal(Enumerable.Range(1, events.Count).Select(i => (long)i), "seq stays gapless, never reused");
            events.Count(e => e.GetUpdateKind() == "agent_message_chunk").Should().Be(53, "no event of either session is lost");
        }

        (await vm.GetEventsAsync(a.SessionId)).Single(e => e.Seq == last + 1).Method.Should().Be("_test/foreign", "the foreign row keeps its place");
    }
}
