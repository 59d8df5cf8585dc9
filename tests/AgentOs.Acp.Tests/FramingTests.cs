using System.Text;
using System.Text.Json;

namespace AgentOs.Acp.Tests;

/// <summary>What the connection writes: one JSON-RPC 2.0 object per line.</summary>
public sealed class FramingTests
{
    [Fact]
    public async Task SendRequestAsync_WritesExactlyOneJsonRpc20LineWithIntegerIdAndNoBom()
    {
        await using var agent = new FakeAgentPipe();
        await using var connection = agent.Connect(new RecordingHandler());

        var request = connection.SendRequestAsync(AcpMethods.SessionNew, """{"cwd":"/work/é","mcpServers":[]}""");
        var line = await agent.ReadLineBytesAsync();

        line.Should().NotBeNull();
        line![0].Should().Be((byte)'{', "the line starts with the object itself: no BOM, no whitespace");
        line.Should().NotContain((byte)'\r').And.NotContain((byte)'\n');
        using (var document = JsonDocument.Parse(line))
        {
            var root = document.RootElement;
            root.EnumerateObject().Select(p => p.Name).Should().BeEquivalentTo("jsonrpc", "id", "method", "params");
            root.GetProperty("jsonrpc").GetString().Should().Be("2.0");
            root.GetProperty("id").ValueKind.Should().Be(JsonValueKind.Number);
            root.GetProperty("id").TryGetInt64(out var id).Should().BeTrue("ids are integers");
            root.GetProperty("method").GetString().Should().Be(AcpMethods.SessionNew);
            root.GetProperty("params").GetProperty("cwd").GetString().Should().Be("/work/é");
            root.GetProperty("params").GetProperty("mcpServers").GetArrayLength().Should().Be(0);

            await agent.SendResultAsync(id, """{"sessionId":"s1"}""");
        }

        (await request.WaitAsync(TestTimeouts.Signal)).GetProperty("sessionId").GetString().Should().Be("s1");

        // Nothing was left between the first line and the next message.
        var next = connection.SendRequestAsync("x/next", null);
        var nextId = await agent.ReadRequestIdAsync("x/next");
        await agent.SendResultAsync(nextId, "{}");
        await next.WaitAsync(TestTimeouts.Signal);
    }

    [Fact]
    public async Task SendRequestAsync_WhenParamsJsonIsNull_OmitsParams()
    {
        await using var agent = new FakeAgentPipe();
        await using var connection = agent.Connect(new RecordingHandler());

        var request = connection.SendRequestAsync("x/ping", null);
        var message = await agent.ReadMessageAsync();

        message.TryGetProperty("params", out _).Should().BeFalse();
        message.GetProperty("method").GetString().Should().Be("x/ping");
        await agent.SendResultAsync(message.GetProperty("id").GetInt64(), "null");
        (await request.WaitAsync(TestTimeouts.Signal)).ValueKind.Should().Be(JsonValueKind.Null);
    }

    [Fact]
    public async Task SendRequestAsync_WhenRequestsAreConcurrent_WritesOneWellFormedLineEachWithDistinctIds()
    {
        const int count = 200;
        await using var agent = new FakeAgentPipe();
        await using var connection = agent.Connect(new RecordingHandler());
        var payload = new string('p', 3000);

        var requests = Enumerable.Range(0, count)
            .Select(i => Task.Run(() => connection.SendRequestAsync("x/echo", "{\"n\":" + i + ",\"pad\":\"" + payload + "\"}")))
            .ToArray();

        var idsByN = new Dictionary<int, long>();
        for (var i = 0; i < count; i++)
        {
            var message = await agent.ReadMessageAsync();
            message.GetProperty("jsonrpc").GetString().Should().Be("2.0");
            message.GetProperty("params").GetProperty("pad").GetString().Should().Be(payload);
            idsByN.Add(message.GetProperty("params").GetProperty("n").GetInt32(), message.GetProperty("id").GetInt64());
        }

        idsByN.Values.Should().OnlyHaveUniqueItems();
        foreach (var (n, id) in idsByN)
        {
            await agent.SendResultAsync(id, "{\"n\":" + n + "}");
        }

        for (var i = 0; i < count; i++)
        {
            var result = await requests[i].WaitAsync(TestTimeouts.Signal);
            result.GetProperty("n").GetInt32().Should().Be(i);
        }
    }

    [Fact]
    public async Task SendNotificationAsync_WritesOneLineWithoutId()
    {
        await using var agent = new FakeAgentPipe();
        await using var connection = agent.Connect(new RecordingHandler());

        await connection.SendNotificationAsync(AcpMethods.SessionCancel, new SessionIdParams { SessionId = "s1" }, AcpJsonContext.Default.SessionIdParams)
            .WaitAsync(TestTimeouts.Signal);
        var message = await agent.ReadMessageAsync();

        message.EnumerateObject().Select(p => p.Name).Should().BeEquivalentTo("jsonrpc", "method", "params");
        message.GetProperty("jsonrpc").GetString().Should().Be("2.0");
        message.GetProperty("method").GetString().Should().Be(AcpMethods.SessionCancel);
        message.GetProperty("params").GetProperty("sessionId").GetString().Should().Be("s1");
    }

    [Fact]
    public async Task SendRequestAsync_WhenRawParamsAreIndented_StillWritesExactlyOneLine()
    {
        // Callers hand raw JSON through (stored configuration, a forwarded document): whitespace in
        // it must not break newline-delimited framing, or the agent sees garbage lines.
        await using var agent = new FakeAgentPipe();
        await using var connection = agent.Connect(new RecordingHandler());
        const string indented = "{\n  \"cwd\": \"/work\",\r\n  \"mcpServers\": []\n}";

        var request = connection.SendRequestAsync(AcpMethods.SessionNew, indented);
        var line = await agent.ReadLineAsync();

        IsOneJsonObject(line).Should().BeTrue($"the whole request must be one line, but the first line was '{line}'");
        using var document = JsonDocument.Parse(line!);
        document.RootElement.GetProperty("params").GetProperty("cwd").GetString().Should().Be("/work");
        await agent.SendResultAsync(document.RootElement.GetProperty("id").GetInt64(), "{}");
        await request.WaitAsync(TestTimeouts.Signal);
    }

    internal static bool IsOneJsonObject(string? line)
    {
        if (line is null)
        {
            return false;
        }

        try
        {
            using var document = JsonDocument.Parse(Encoding.UTF8.GetBytes(line));
            return document.RootElement.ValueKind == JsonValueKind.Object;
        }
        catch (JsonException)
        {
            return false;
        }
    }
}
