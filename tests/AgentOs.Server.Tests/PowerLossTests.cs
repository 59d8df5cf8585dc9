using AgentOs.Client;
using AgentOs.Server.Tests.Infrastructure;
using Dapper;
using Microsoft.Data.Sqlite;

namespace AgentOs.Server.Tests;

/// <summary>
/// Issue 13, item 8. With WAL and <c>synchronous=NORMAL</c> a power cut can take the last committed events after a
/// client saw them; before, their seqs then went to other events, so a client that cached seq N saw other content for
/// N. A power cut cannot be made in a test, so its effect on the disk is: the server is killed (SIGKILL), the last
/// events a subscriber saw are deleted from the database, and the reservation is marked as made in another boot.
/// </summary>
public sealed class PowerLossTests
{
    [Fact]
    public async Task AfterAPowerCutTookEventsAClientSaw_TheirSeqsHoldLossMarkers_NeverOtherEvents()
    {
        using var data = new TempDirectory("agentos-power");
        string sessionId;
        IReadOnlyList<SessionEvent> seen;
        await using (var server = await ServerProcess.StartAsync(TestAgents.AsEnvironment("mine"), data.Path))
        {
            await using var client = await AgentOsClient.ConnectAsync(server.ClientOptions);
            var vm = client.Vm("power");
            using var live = await EventCollector.SubscribeAsync(vm);
            var session = await vm.CreateSessionAsync("mine");
            sessionId = session.SessionId;
            var turn = await session.SendPromptAsync("chunks 50");
            await live.WaitForSeqAsync(sessionId, turn.LastSeq);
            seen = live.For(sessionId);
            await server.KillAsync();
        }

        var database = Path.Combine(data.Path, "data", "vms", "power", "vm.db");
        long reserved;
        await using (var db = new SqliteConnection($"Data Source={database};Pooling=False"))
        {
            reserved = await db.ExecuteScalarAsync<long>("SELECT reserved FROM seq_reservations WHERE session_id = $s", new { s = sessionId });
            reserved.Should().BeGreaterThanOrEqualTo(seen[^1].Seq, "every published seq was durably reserved first");
            // What a power cut does to a WAL with synchronous=NORMAL: the last commits are gone, and this is another boot.
            (await db.ExecuteAsync("DELETE FROM events WHERE session_id = $s AND seq > $q", new { s = sessionId, q = seen[^1].Seq - 20 })).Should().Be(20);
            await db.ExecuteAsync("UPDATE seq_reservations SET boot_id = 'an-earlier-boot'");
        }

        await using (var restarted = await ServerProcess.StartAsync(TestAgents.AsEnvironment("mine"), data.Path))
        {
            await using var client = await AgentOsClient.ConnectAsync(restarted.ClientOptions);
            var vm = client.Vm("power");
            (await vm.SendPromptAsync(sessionId, "chunks 5")).StopReason.Should().Be("end_turn");
            var stored = await vm.GetEventsAsync(sessionId);

            stored.Select(e => e.Seq).Should().Equal(Enumerable.Range(1, stored.Count).Select(i => (long)i), "seq stays gapless");
            foreach (var e in seen)
            {
                var now = stored.Single(s => s.Seq == e.Seq);
                if (now.Method != AgentOsEventMethods.EventsLost)
                {
                    now.Should().Be(e, $"seq {e.Seq} holds what the client saw, or a loss marker, never another event");
                }
            }

            var markers = stored.Where(e => e.Method == AgentOsEventMethods.EventsLost).ToList();
            markers.Select(e => e.Seq).Should().Equal(Enumerable.Range((int)seen[^1].Seq - 19, (int)(reserved - seen[^1].Seq + 20)).Select(i => (long)i),
                "every seq handed out but not stored holds a marker");
            markers[0].Params.Should().Contain("power loss");
            stored.Where(e => e.Seq > reserved).Should().Contain(e => e.GetUpdateKind() == "agent_message_chunk", "new events come after the reserved seqs");
            restarted.Output.Should().Contain("hold no event; filled with _agentos/events_lost markers");
        }
    }

    [Fact]
    public async Task AKilledServerInTheSameBoot_LosesNothing_SoItsReservationsLeaveNoMarkers()
    {
        using var data = new TempDirectory("agentos-killed");
        string sessionId;
        long lastSeq;
        await using (var server = await ServerProcess.StartAsync(TestAgents.AsEnvironment("mine"), data.Path))
        {
            await using var client = await AgentOsClient.ConnectAsync(server.ClientOptions);
            var session = await client.Vm("killed").CreateSessionAsync("mine");
            sessionId = session.SessionId;
            lastSeq = (await session.SendPromptAsync("chunks 50")).LastSeq;
            await server.KillAsync();
        }

        await using (var restarted = await ServerProcess.StartAsync(TestAgents.AsEnvironment("mine"), data.Path))
        {
            await using var client = await AgentOsClient.ConnectAsync(restarted.ClientOptions);
            var vm = client.Vm("killed");
            (await vm.SendPromptAsync(sessionId, "chunks 5")).StopReason.Should().Be("end_turn");
            var stored = await vm.GetEventsAsync(sessionId);

            stored.Select(e => e.Seq).Should().Equal(Enumerable.Range(1, stored.Count).Select(i => (long)i));
            stored.Should().NotContain(e => e.Method == AgentOsEventMethods.EventsLost);
            stored.Single(e => e.Seq == lastSeq + 1).Method.Should().NotBe(AgentOsEventMethods.EventsLost, "seq goes on right after the last stored event");
        }
    }

    [Fact]
    public async Task DurabilityPower_FsyncsEveryCommit_AndNeedsNoReservations()
    {
        using var data = new TempDirectory("agentos-durable");
        var env = TestAgents.AsEnvironment("mine");
        env["AgentOs__Durability"] = "power";
        await using var server = await ServerProcess.StartAsync(env, data.Path);
        await using var client = await AgentOsClient.ConnectAsync(server.ClientOptions);
        var session = await client.Vm("durable").CreateSessionAsync("mine");

        (await session.SendPromptAsync("chunks 50")).StopReason.Should().Be("end_turn");

        await using var db = new SqliteConnection($"Data Source={Path.Combine(data.Path, "data", "vms", "durable", "vm.db")};Pooling=False");
        (await db.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM seq_reservations")).Should().Be(0, "every commit is fsynced: no seq is ahead of its event's durability");
        (await db.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM events")).Should().BeGreaterThan(50);
    }
}
