using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace AgentOs.Server.Tests.Infrastructure;

/// <summary>
/// One real server process for the HTTP API tests, on loopback (no key needed), with the scripted test agent as
/// <c>test</c> and small limits the error tests reach: prompts of 2,000 characters, one queued prompt, a 300 ms
/// heartbeat and a 64 KiB event-stream buffer (so a slow reader overflows it).
/// </summary>
public sealed class HttpServerFixture : IAsyncLifetime
{
    internal ServerProcess Server { get; private set; } = null!;

    internal HttpClient Http { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        var environment = TestAgents.AsEnvironment(TestAgents.Default);
        environment["AgentOs__MaxPromptLength"] = "2000";
        environment["AgentOs__MaxQueuedPrompts"] = "1";
        environment["AgentOs__Http__SseHeartbeat"] = "00:00:00.300";
        environment["AgentOs__Http__SseBufferBytes"] = "65536";
        Server = await ServerProcess.StartAsync(environment);
        Http = HttpApi.Client(Server.BaseAddress);
    }

    public async Task DisposeAsync()
    {
        Http.Dispose();
        await Server.DisposeAsync();
    }
}

[CollectionDefinition(Name)]
public sealed class HttpServerCollection : ICollectionFixture<HttpServerFixture>
{
    public const string Name = "HTTP server";
}

/// <summary>Calls of the HTTP API the tests share, over a plain <see cref="HttpClient"/>: nothing of the SDK.</summary>
internal static class HttpApi
{
    public static HttpClient Client(Uri baseAddress, string? apiKey = null)
    {
        var http = new HttpClient { BaseAddress = baseAddress, Timeout = TestTimeouts.Default };
        if (apiKey is not null)
        {
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);
        }

        return http;
    }

    /// <summary>A VM id as a path segment (<c>/</c> as <c>%2F</c>).</summary>
    public static string Vm(string vmId) => Uri.EscapeDataString(vmId);

    public static string Session(string vmId, string sessionId) => $"/v1/vms/{Vm(vmId)}/sessions/{sessionId}";

    public static async Task<string> CreateSessionAsync(this HttpClient http, string vmId, object? body = null)
    {
        using var response = await http.PostAsJsonAsync($"/v1/vms/{Vm(vmId)}/sessions", body ?? new { agentType = TestAgents.Default });
        await ExpectAsync(response, HttpStatusCode.Created);
        return (await response.Content.ReadFromJsonAsync<JsonObject>())!["sessionId"]!.GetValue<string>();
    }

    public static async Task<JsonObject> PromptAsync(this HttpClient http, string vmId, string sessionId, string text, CancellationToken cancellationToken = default)
    {
        using var response = await http.PostAsJsonAsync(Session(vmId, sessionId) + "/prompt", new { text }, cancellationToken);
        await ExpectAsync(response, HttpStatusCode.OK);
        return (await response.Content.ReadFromJsonAsync<JsonObject>(cancellationToken))!;
    }

    /// <summary>Every persisted event (NDJSON), each line parsed.</summary>
    public static async Task<List<JsonObject>> HistoryAsync(this HttpClient http, string vmId, string sessionId, long since = 0)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, Session(vmId, sessionId) + $"/events?since={since}");
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/x-ndjson"));
        using var response = await http.SendAsync(request);
        await ExpectAsync(response, HttpStatusCode.OK);
        response.Content.Headers.ContentType!.MediaType.Should().Be("application/x-ndjson");
        return (await response.Content.ReadAsStringAsync()).Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonNode.Parse(l)!.AsObject()).ToList();
    }

    /// <summary>Asserts the status, quoting the body when it is not the one expected.</summary>
    public static async Task ExpectAsync(HttpResponseMessage response, HttpStatusCode status)
    {
        if (response.StatusCode != status)
        {
            var body = await response.Content.ReadAsStringAsync();
            response.StatusCode.Should().Be(status, $"{response.RequestMessage?.Method} {response.RequestMessage?.RequestUri} answered: {body}");
        }
    }

    /// <summary>Asserts a problem-details answer with <paramref name="status"/> and <paramref name="code"/>; returns it.</summary>
    public static async Task<JsonObject> ExpectProblemAsync(HttpResponseMessage response, HttpStatusCode status, string code)
    {
        await ExpectAsync(response, status);
        response.Content.Headers.ContentType?.MediaType.Should().Be("application/problem+json");
        var problem = (await response.Content.ReadFromJsonAsync<JsonObject>())!;
        problem["status"]!.GetValue<int>().Should().Be((int)status);
        problem["code"]!.GetValue<string>().Should().Be(code, problem.ToJsonString());
        problem["detail"]?.GetValue<string>().Should().NotBeNullOrWhiteSpace();
        return problem;
    }

    public static long Seq(this JsonObject e) => e["seq"]!.GetValue<long>();

    public static string Method(this JsonObject e) => e["event"]!["method"]!.GetValue<string>();

    public static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");
}

/// <summary>One message of a server-sent event stream: an event (id, event name, data) or a comment.</summary>
internal sealed record SseMessage(string? Id, string? Event, string Data, bool IsComment)
{
    public JsonObject Json => JsonNode.Parse(Data)!.AsObject();
}

/// <summary>A server-sent event stream read the way the spec says (fields, blank line ends an event, ':' a comment).</summary>
internal sealed class SseReader : IAsyncDisposable
{
    private readonly HttpResponseMessage _response;
    private readonly StreamReader _reader;

    private SseReader(HttpResponseMessage response, Stream stream)
    {
        _response = response;
        _reader = new StreamReader(stream, Encoding.UTF8);
    }

    public HttpResponseMessage Response => _response;

    /// <summary>Opens <paramref name="path"/>, sending <c>Last-Event-ID</c> when given; the headers are read, the body not yet.</summary>
    public static async Task<SseReader> OpenAsync(HttpClient http, string path, string? lastEventId = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
        if (lastEventId is not null)
        {
            request.Headers.Add("Last-Event-ID", lastEventId);
        }

        var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        await HttpApi.ExpectAsync(response, HttpStatusCode.OK);
        response.Content.Headers.ContentType!.MediaType.Should().Be("text/event-stream");
        return new SseReader(response, await response.Content.ReadAsStreamAsync());
    }

    /// <summary>The next message (comments included); fails the test after the default timeout.</summary>
    public async Task<SseMessage> ReadAsync()
    {
        using var timeout = new CancellationTokenSource(TestTimeouts.Default);
        string? id = null, name = null;
        var data = new StringBuilder();
        var any = false;
        while (true)
        {
            var line = await _reader.ReadLineAsync(timeout.Token) ?? throw new EndOfStreamException("The event stream ended.");
            if (line.Length == 0)
            {
                if (any)
                {
                    return new SseMessage(id, name, data.ToString(), IsComment: false);
                }

                continue;
            }

            if (line[0] == ':')
            {
                if (!any)
                {
                    return new SseMessage(null, null, line[1..].Trim(), IsComment: true);
                }

                continue;
            }

            var colon = line.IndexOf(':');
            var field = colon < 0 ? line : line[..colon];
            var value = colon < 0 ? "" : line[(colon + 1)..].TrimStart(' ');
            switch (field)
            {
                case "id":
                    id = value;
                    any = true;
                    break;
                case "event":
                    name = value;
                    any = true;
                    break;
                case "data":
                    data.Append(data.Length > 0 ? "\n" : "").Append(value);
                    any = true;
                    break;
                case "retry":
                    break;
            }
        }
    }

    /// <summary>The next event, comments skipped.</summary>
    public async Task<SseMessage> ReadEventAsync()
    {
        while (true)
        {
            var message = await ReadAsync();
            if (!message.IsComment)
            {
                return message;
            }
        }
    }

    public ValueTask DisposeAsync()
    {
        _reader.Dispose();
        _response.Dispose();
        return ValueTask.CompletedTask;
    }
}
