using System.Globalization;
using AgentOs.Server.Http.Auth;
using AgentOs.Server.Http.Streaming;
using Microsoft.Extensions.Options;

namespace AgentOs.Server.Http;

/// <summary>
/// Events: a session's history (<c>GET …/events</c>, a JSON page or NDJSON), its live stream and the VM's
/// (<c>GET …/events/stream</c>, server-sent events). All write the events from their encoded form, params as stored.
/// </summary>
internal static partial class EventEndpoints
{
    public const string NdjsonContentType = "application/x-ndjson";

    /// <summary>What a reconnecting EventSource sends: the id of the last event it got.</summary>
    private const string LastEventId = "Last-Event-ID";

    /// <summary>Events per JSON page when the request names no limit (as <see cref="IVmGrain.GetSequencedEvents"/>).</summary>
    private const int DefaultPageLimit = 10_000;

    public static void Map(RouteGroupBuilder vm, RouteGroupBuilder session)
    {
        session.MapGet("/events", ReadHistoryAsync)
            .WithName("GetSequencedEvents").WithSummary("The session's persisted events with seq > since")
            .WithDescription("JSON: one page, at most `limit` events (default 10,000) and 4 MiB of params; `more` says whether to ask again with since = the last seq. " +
                "With Accept: application/x-ndjson: one event per line, paged through the store on the server up to `limit` events (default: all), for large reads. " +
                "Works while the VM sleeps; never starts an agent.")
            .Produces<EventsPage>(StatusCodes.Status200OK, "application/json", NdjsonContentType)
            .ProducesProblem(StatusCodes.Status404NotFound)
            .RequireAuthorization(ApiPolicies.Read);

        session.MapGet("/events/stream", StreamSessionAsync)
            .WithName("StreamSessionEvents").WithSummary("The session's events as server-sent events: history after `since`, then live")
            .WithDescription("Each event's `id:` is its seq; reconnect with Last-Event-ID (EventSource does) or ?since=<seq> and it continues after it, " +
                "each seq exactly once, no gap. A comment line every 15 s keeps proxies from closing an idle stream; `: ok` says the stream is subscribed. " +
                "`event: error` (problem details) comes last when the stream cannot go on.")
            .Produces<SessionEventJson>(StatusCodes.Status200OK, SseResponse.ContentType)
            .ProducesProblem(StatusCodes.Status404NotFound)
            .RequireAuthorization(ApiPolicies.Read);

        vm.MapGet("/events/stream", StreamVmAsync)
            .WithName("StreamVmEvents").WithSummary("Every session's events of the VM as server-sent events")
            .WithDescription("Each event's `id:` is a cursor: the stream's origin and each delivered session's last seq (`<originMs>,<sessionId>:<seq>,…`). " +
                "Reconnect with it (Last-Event-ID or ?since=) and every session continues after its seq, a session the cursor does not list from its first event " +
                "since the origin: each event exactly once, no gap. Without a cursor the stream starts now (less a second); ?since=0 replays every session's history first.")
            .Produces<SessionEventJson>(StatusCodes.Status200OK, SseResponse.ContentType)
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .RequireAuthorization(ApiPolicies.Read);
    }

    private static async Task ReadHistoryAsync(HttpContext context, string vm, string sessionId, long? since, int? limit, IGrainFactory grains)
    {
        var grain = grains.Grain(vm);
        var from = since ?? 0;
        if (from < 0 || limit <= 0)
        {
            throw new AgentOsException(AgentOsErrorCode.InvalidArgument, $"since must be 0 or more and limit above 0 (since={from}, limit={limit}).");
        }

        var ndjson = context.Request.GetTypedHeaders().Accept.Any(a => a.MediaType.Equals(NdjsonContentType, StringComparison.OrdinalIgnoreCase));
        var page = await grain.GetSequencedEvents(sessionId, from, ndjson ? (int)Math.Min(limit ?? int.MaxValue, SessionEventFeed.PageSize) : limit ?? DefaultPageLimit);
        using var writer = new EventJsonWriter(context.Response.BodyWriter);
        if (!ndjson)
        {
            context.Response.ContentType = "application/json; charset=utf-8";
            writer.Json.WriteStartObject();
            writer.Json.WriteStartArray("events");
            ForEach(page, (in SessionEventCodec.RawEvent e) => writer.WriteEvent(e));
            writer.Json.WriteEndArray();
            writer.Json.WriteBoolean("more", SessionEventBatch.IsFullPage(page, limit ?? DefaultPageLimit));
            writer.Json.WriteEndObject();
            await writer.FlushAsync(context.RequestAborted);
            return;
        }

        // NDJSON: page through the store here, each page written and sent before the next is read.
        context.Response.ContentType = NdjsonContentType;
        long left = limit ?? long.MaxValue;
        while (true)
        {
            ForEach(page, (in SessionEventCodec.RawEvent e) => writer.WriteLine(e));
            await writer.FlushAsync(context.RequestAborted);
            left -= page.Count;
            if (left <= 0 || page.Count == 0 || !SessionEventBatch.IsFullPage(page, SessionEventFeed.PageSize))
            {
                return;
            }

            from = SessionEventCodec.SeqRange(AsBatch(page).Chunks).Last;
            page = await grain.GetSequencedEvents(sessionId, from, (int)Math.Min(left, SessionEventFeed.PageSize));
        }
    }

    private static async Task StreamSessionAsync(HttpContext context, string vm, string sessionId, string? since, IGrainFactory grains, IClusterClient client, IOptions<HttpApiOptions> options, ILoggerFactory loggers)
    {
        var vmId = VmRoute.Id(vm);
        var text = context.Request.Headers[LastEventId].FirstOrDefault() is { Length: > 0 } lastEventId ? lastEventId : since;
        long from = 0;
        if (!string.IsNullOrEmpty(text) && (!long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out from)))
        {
            throw new AgentOsException(AgentOsErrorCode.InvalidArgument, $"since (or Last-Event-ID) '{text}' is not a seq: send a number, 0 for the whole session.");
        }

        // An unknown session is a 404 before the stream starts, not an error event after it.
        _ = await grains.GetGrain<IVmGrain>(vmId).GetSequencedEvents(sessionId, from, 1);
        await using var feed = new SessionEventFeed(new GrainEventSource(grains, client, vmId, sessionId), from, options.Value.SseBufferBytes);
        var logger = loggers.CreateLogger(typeof(EventEndpoints));
        var overflows = 0;
        await SseResponse.RunAsync(context, options.Value.SseHeartbeat,
            _ => Task.CompletedTask, // the feed subscribes before it reads history: nothing committed after `since` is missed
            feed.NextAsync,
            (writer, batch) =>
            {
                ForEach(batch, (in SessionEventCodec.RawEvent e) => writer.WriteSse(e));
                if (feed.Overflows != overflows)
                {
                    overflows = feed.Overflows;
                    LogFellBehind(logger, vmId, $"session '{sessionId}'", overflows, options.Value.SseBufferBytes);
                }
            });
    }

    private static async Task StreamVmAsync(HttpContext context, string vm, string? since, IGrainFactory grains, IClusterClient client, IOptions<HttpApiOptions> options, TimeProvider time, ILoggerFactory loggers)
    {
        var vmId = VmRoute.Id(vm);
        var text = context.Request.Headers[LastEventId].FirstOrDefault() is { Length: > 0 } lastEventId ? lastEventId : since;
        var cursor = VmCursor.Parse(text, time);
        await using var feed = new VmEventFeed(grains, client, vmId, cursor, options.Value.SseBufferBytes);
        var logger = loggers.CreateLogger(typeof(EventEndpoints));
        var overflows = 0;
        await SseResponse.RunAsync(context, options.Value.SseHeartbeat,
            feed.ConnectAsync, // subscribed before `: ok`: a client that prompts after it misses nothing
            feed.NextAsync,
            (writer, batches) =>
            {
                if (feed.Overflows != overflows)
                {
                    overflows = feed.Overflows;
                    LogFellBehind(logger, vmId, "every session", overflows, options.Value.SseBufferBytes);
                }

                foreach (var batch in batches)
                {
                    ForEach(batch, (in SessionEventCodec.RawEvent e) =>
                    {
                        cursor.Set(e.SessionIdUtf8, e.Seq);
                        writer.WriteSse(e, cursor);
                    });
                }
            });
    }

    private delegate void RawEventAction(in SessionEventCodec.RawEvent e);

    private static void ForEach(IReadOnlyList<SessionEvent> events, RawEventAction action)
    {
        foreach (var chunk in AsBatch(events).Chunks)
        {
            var reader = new SessionEventCodec.RawReader(chunk);
            while (reader.Next(out var e))
            {
                action(e);
            }
        }
    }

    private static SessionEventBatch AsBatch(IReadOnlyList<SessionEvent> events) =>
        events as SessionEventBatch ?? new SessionEventBatch(events as SessionEvent[] ?? [.. events]);

    [LoggerMessage(Level = LogLevel.Information, Message = "VM {VmId}: an event stream of {Stream} fell behind its {BufferBytes}-byte buffer ({Times} times so far); caught up from the store, the VM not held up")]
    private static partial void LogFellBehind(ILogger logger, string vmId, string stream, int times, long bufferBytes);
}
