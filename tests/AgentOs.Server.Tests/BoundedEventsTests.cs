using System.Text;
using System.Text.Json;
using AgentOs.Client;
using AgentOs.Server.Tests.Infrastructure;

namespace AgentOs.Server.Tests;

/// <summary>
/// Issue 13, item 4: one event could make a transcript unreadable. Before, a huge agent message was stored as one
/// row, and every history call read the whole transcript in one Orleans message, so past Orleans' 100 MB message limit
/// <c>GetEvents</c> of that session failed for good and replay-then-live broke with it.
/// </summary>
public sealed class BoundedEventsTests(ServerProcessFixture fixture) : IClassFixture<ServerProcessFixture>
{
    private const int OneMiB = 1024 * 1024;

    [Fact]
    public async Task A50MBAgentMessage_IsStoredAsATruncatedMarker_WithItsSizeAndDigest_AndTheTurnGoesOn()
    {
        await using var client = await AgentOsClient.ConnectAsync(fixture.Server.ClientOptions);
        var vm = client.Vm("huge-message");
        var session = await vm.CreateSessionAsync("mine");

        var turn = await session.SendPromptAsync("big 50000000");
        var next = await session.SendPromptAsync("chunks 3");

        turn.StopReason.Should().Be("end_turn");
        next.StopReason.Should().Be("end_turn", "the rest of the session goes on");
        var events = await vm.GetEventsAsync(session.SessionId);
        events.Select(e => e.Seq).Should().Equal(Enumerable.Range(1, events.Count).Select(i => (long)i));
        events.Should().OnlyContain(e => Encoding.UTF8.GetByteCount(e.Params) <= OneMiB, "no stored event is over AgentOs:MaxEventBytes");
        var marker = events.Single(e => e.Method == AgentOsEventMethods.Truncated);
        var json = JsonDocument.Parse(marker.Params).RootElement;
        json.GetProperty("method").GetString().Should().Be("session/update");
        json.GetProperty("limit").GetInt64().Should().Be(OneMiB);
        var bytes = json.GetProperty("bytes").GetInt64();
        bytes.Should().BeGreaterThan(50_000_000);
        var preview = json.GetProperty("preview").GetString()!;
        preview.Should().StartWith("{").And.Contain("agent_message_chunk");
        Encoding.UTF8.GetByteCount(preview).Should().BeLessThanOrEqualTo(64 * 1024);
        json.GetProperty("sha256").GetString().Should().MatchRegex("^[0-9a-f]{64}$");
        turn.Text.Should().HaveLength(50_000_000, "the reply itself reaches the client whole");
    }

    [Fact]
    public async Task ATranscriptLargerThanOrleansMessageLimit_IsReadWhole_AndReplayThenLiveWorks()
    {
        await using var client = await AgentOsClient.ConnectAsync(fixture.Server.ClientOptions);
        var vm = client.Vm("huge-transcript");
        var session = await vm.CreateSessionAsync("mine");
        const int turns = 120; // 120 messages of ~0.9 MB: ~108 MB, over Orleans' 100 MB message limit
        PromptResult last = null!;
        for (var i = 0; i < turns; i++)
        {
            last = await session.SendPromptAsync("big 900000");
        }

        var events = await vm.GetEventsAsync(session.SessionId);

        events.Select(e => e.Seq).Should().Equal(Enumerable.Range(1, (int)last.LastSeq).Select(i => (long)i), "the whole transcript, in pages");
        events.Sum(e => (long)e.Params.Length).Should().BeGreaterThan(100_000_000);
        events.Count(e => e.GetUpdateKind() == "agent_message_chunk").Should().Be(turns);
        var page = await vm.GetSequencedEventsAsync(session.SessionId, since: 0, limit: int.MaxValue);
        page.Sum(e => (long)e.Params.Length).Should().BeLessThanOrEqualTo(SessionEventBatch.MaxPageBytes + OneMiB, "one page is bounded by bytes");
        SessionEventBatch.IsFullPage(page, int.MaxValue).Should().BeTrue("the page says there is more");

        using var timeout = new CancellationTokenSource(TestTimeouts.Default);
        var replayed = new List<SessionEvent>();
        var liveTurn = Task.CompletedTask;
        await foreach (var e in vm.StreamSessionEventsAsync(session.SessionId).WithCancellation(timeout.Token))
        {
            replayed.Add(e);
            if (e.Seq == last.LastSeq)
            {
                liveTurn = session.SendPromptAsync("chunks 3"); // replay is over: what follows comes live
            }

            if (e.Method == AgentOsEventMethods.TurnEnd && e.Seq > last.LastSeq)
            {
                break;
            }
        }

        await liveTurn;
        replayed.Select(e => e.Seq).Should().Equal(Enumerable.Range(1, replayed.Count).Select(i => (long)i), "history then live, each seq once");
        replayed.Count(e => e.GetUpdateKind() == "agent_message_chunk").Should().Be(turns + 3);
    }
}
