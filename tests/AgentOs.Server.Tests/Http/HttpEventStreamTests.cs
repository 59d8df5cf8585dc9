using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using AgentOs.Server.Tests.Infrastructure;

namespace AgentOs.Server.Tests.Http;

/// <summary>
/// Server-sent events over HTTP: history then live, each seq exactly once and no gap across a reconnect in the middle of a
/// stream (per session and per VM), a slow reader that never holds the VM up, heartbeats.
/// </summary>
[Collection(HttpServerCollection.Name)]
public sealed class HttpEventStreamTests(HttpServerFixture fixture)
{
    private readonly HttpClient _http = fixture.Http;

    private static string NewVm() => $"sse-{Guid.NewGuid():N}"[..20];

    [Fact]
    public async Task SessionStream_ReconnectedWithLastEventId_MidStream_DeliversEachSeqOnce_WithNoGap_EqualToTheStore()
    {
        var vm = NewVm();
        var id = await _http.CreateSessionAsync(vm);
        var path = HttpApi.Session(vm, id) + "/events/stream";
        var delivered = new List<SseMessage>();

        var first = await SseReader.OpenAsync(_http, path);
        var turn = _http.PromptAsync(vm, id, "chunks 20000");
        while (delivered.Count < 3000)
        {
            delivered.Add(await first.ReadEventAsync());
        }

        await first.DisposeAsync(); // the connection drops in the middle of the turn
        await using var second = await SseReader.OpenAsync(_http, path, lastEventId: delivered[^1].Id);
        var lastSeq = (await turn)["lastSeq"]!.GetValue<long>();
        while (long.Parse(delivered[^1].Id!, System.Globalization.CultureInfo.InvariantCulture) < lastSeq)
        {
            delivered.Add(await second.ReadEventAsync());
        }

        delivered.Select(m => long.Parse(m.Id!, System.Globalization.CultureInfo.InvariantCulture)).Should().Equal(Enumerable.Range(1, (int)lastSeq).Select(i => (long)i));
        delivered.Select(m => m.Json.Seq()).Should().Equal(delivered.Select(m => long.Parse(m.Id!, System.Globalization.CultureInfo.InvariantCulture)), "id: is the seq");
        var stored = await _http.HistoryAsync(vm, id);
        delivered.Select(m => m.Json.ToJsonString()).Should().Equal(stored.Select(e => e.ToJsonString()), "delivered = persisted, event by event");
        stored.Count(e => e.Method() == "session/update").Should().Be(20000);
    }

    [Fact]
    public async Task SessionStream_WithSince_StartsAfterIt()
    {
        var vm = NewVm();
        var id = await _http.CreateSessionAsync(vm);
        var lastSeq = (await _http.PromptAsync(vm, id, "chunks 5"))["lastSeq"]!.GetValue<long>();

        await using var stream = await SseReader.OpenAsync(_http, HttpApi.Session(vm, id) + $"/events/stream?since={lastSeq - 2}");

        (await stream.ReadEventAsync()).Json.Seq().Should().Be(lastSeq - 1);
        (await stream.ReadEventAsync()).Json.Seq().Should().Be(lastSeq);
    }

    [Fact]
    public async Task VmStream_ReconnectedWithItsCursor_MidStream_DeliversEverySessionsEventsOnce_WithNoGap()
    {
        var vm = NewVm();
        var a = await _http.CreateSessionAsync(vm);
        var b = await _http.CreateSessionAsync(vm);
        var path = $"/v1/vms/{vm}/events/stream";
        var delivered = new List<JsonObject>();

        var first = await SseReader.OpenAsync(_http, path + "?since=0");
        var turns = new[] { _http.PromptAsync(vm, a, "chunks 8000"), _http.PromptAsync(vm, b, "chunks 8000") };
        string cursor = "";
        while (delivered.Count < 4000)
        {
            var message = await first.ReadEventAsync();
            delivered.Add(message.Json);
            cursor = message.Id!;
        }

        await first.DisposeAsync();
        cursor.Split(',').Skip(1).Select(p => p.Split(':')[0]).Should().BeSubsetOf([a, b], "the cursor lists each delivered session with its last seq");
        await using var second = await SseReader.OpenAsync(_http, path, lastEventId: cursor);
        var last = (await Task.WhenAll(turns)).Select(t => t["lastSeq"]!.GetValue<long>()).ToArray();
        while (delivered.Count < last.Sum())
        {
            delivered.Add((await second.ReadEventAsync()).Json);
        }

        foreach (var (session, lastSeq) in new[] { (a, last[0]), (b, last[1]) })
        {
            var mine = delivered.Where(e => e["sessionId"]!.GetValue<string>() == session).ToList();
            mine.Select(e => e.Seq()).Should().Equal(Enumerable.Range(1, (int)lastSeq).Select(i => (long)i), $"session {session}: since=0, then the cursor");
            mine.Select(e => e.ToJsonString()).Should().Equal((await _http.HistoryAsync(vm, session)).Select(e => e.ToJsonString()));
        }
    }

    [Fact]
    public async Task VmStream_WithoutCursor_StartsNow_AndAfterAReconnect_GivesASessionItHadNotSeenFromTheOrigin()
    {
        var vm = NewVm();
        var old = await _http.CreateSessionAsync(vm);
        await _http.PromptAsync(vm, old, "chunks 3");
        await Poll.UntilAsync(async () => DateTimeOffset.UtcNow - LastCreatedAt(await _http.HistoryAsync(vm, old)) > TimeSpan.FromSeconds(1.5), "the old events are older than the origin's second");

        var first = await SseReader.OpenAsync(_http, $"/v1/vms/{vm}/events/stream");
        var a = await _http.CreateSessionAsync(vm);
        var message = await first.ReadEventAsync();
        message.Json["sessionId"]!.GetValue<string>().Should().Be(a, "events from before the stream's origin are not replayed");
        message.Json.Seq().Should().Be(1);
        var cursor = message.Id!;
        await first.DisposeAsync();

        // While the client is away: more of a, and a new session b the cursor does not list.
        var b = await _http.CreateSessionAsync(vm);
        var lastA = (await _http.PromptAsync(vm, a, "chunks 10"))["lastSeq"]!.GetValue<long>();
        var lastB = (await _http.PromptAsync(vm, b, "chunks 10"))["lastSeq"]!.GetValue<long>();
        await using var second = await SseReader.OpenAsync(_http, $"/v1/vms/{vm}/events/stream?since={Uri.EscapeDataString(cursor)}");
        var resumed = new List<JsonObject>();
        while (resumed.Count < (lastA - 1) + lastB)
        {
            resumed.Add((await second.ReadEventAsync()).Json);
        }

        resumed.Where(e => e["sessionId"]!.GetValue<string>() == a).Select(e => e.Seq()).Should().Equal(Enumerable.Range(2, (int)lastA - 1).Select(i => (long)i));
        resumed.Where(e => e["sessionId"]!.GetValue<string>() == b).Select(e => e.Seq()).Should().Equal(Enumerable.Range(1, (int)lastB).Select(i => (long)i));
        resumed.Should().NotContain(e => e["sessionId"]!.GetValue<string>() == old);
    }

    [Fact]
    public async Task SlowReader_NeverHoldsTheVmUp_AndCatchesUpFromTheStore_EachSeqOnce()
    {
        var vm = NewVm();
        var id = await _http.CreateSessionAsync(vm);
        await using var slow = await SseReader.OpenAsync(_http, HttpApi.Session(vm, id) + "/events/stream");
        (await slow.ReadAsync()).Data.Should().Be("ok", "the stream is subscribed");

        // Nothing is read while the agent writes far more than the 64 KiB buffer and every socket buffer on the way hold.
        var lastSeq = (await _http.PromptAsync(vm, id, "chunks 60000"))["lastSeq"]!.GetValue<long>();
        var other = await _http.CreateSessionAsync(vm);
        (await _http.PromptAsync(vm, other, "chunks 1"))["text"]!.GetValue<string>().Should().Be("c1 ", "the VM serves others meanwhile");

        var seqs = new List<long>();
        while (seqs.Count == 0 || seqs[^1] < lastSeq)
        {
            seqs.Add((await slow.ReadEventAsync()).Json.Seq());
        }

        seqs.Should().Equal(Enumerable.Range(1, (int)lastSeq).Select(i => (long)i));
        await Poll.UntilAsync(() => fixture.Server.Output.Contains($"session '{id}'", StringComparison.Ordinal) && fixture.Server.Output.Contains("fell behind", StringComparison.Ordinal),
            "the server logs that the reader fell behind and was caught up from the store");
    }

    [Fact]
    public async Task AnIdleStream_SendsHeartbeatComments()
    {
        var vm = NewVm();
        var id = await _http.CreateSessionAsync(vm);
        var lastSeq = (await _http.PromptAsync(vm, id, "chunks 1"))["lastSeq"]!.GetValue<long>();
        await using var stream = await SseReader.OpenAsync(_http, HttpApi.Session(vm, id) + $"/events/stream?since={lastSeq}");

        (await stream.ReadAsync()).Should().Be(new SseMessage(null, null, "ok", IsComment: true));
        (await stream.ReadAsync()).Should().Be(new SseMessage(null, null, "", IsComment: true), "a heartbeat after 300 ms of silence (AgentOs:Http:SseHeartbeat)");
        stream.Response.Headers.CacheControl!.NoCache.Should().BeTrue();
    }

    private static DateTimeOffset LastCreatedAt(List<JsonObject> events) =>
        DateTimeOffset.Parse(events[^1]["createdAt"]!.GetValue<string>(), System.Globalization.CultureInfo.InvariantCulture);
}
