using System.Text;
using System.Text.Json;

namespace AgentOs.Acp.Tests;

/// <summary>
/// Notifications are read envelope-only: the params reach the handler as the exact bytes the agent
/// wrote, and the line is still checked to be one well-formed JSON object.
/// </summary>
public sealed class EnvelopeTests
{
    [Theory]
    [InlineData("""{ "sessionId" : "s1",  "update": {"text": "a\"b\\c\n\u00e9\ud83c\udf89 日本"} }""")]
    [InlineData("""[1, {"a": null}, "x"]""")]
    [InlineData("\"just a string\"")]
    [InlineData("null")]
    [InlineData("12.5e3")]
    [InlineData("{}")]
    public async Task Notification_ParamsReachTheHandlerByteForByte(string paramsJson)
    {
        await using var agent = new FakeAgentPipe();
        var handler = new RecordingHandler();
        var seen = new List<(string Utf8, JsonValueKind Kind)>();
        // The hook runs after the notification is recorded: wait for it too, not only for the record.
        var hooked = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        handler.NotificationHook = n =>
        {
            seen.Add((Encoding.UTF8.GetString(n.ParamsUtf8.Span), n.Params.ValueKind));
            hooked.TrySetResult();
            return ValueTask.CompletedTask;
        };
        await using var connection = agent.Connect(handler);

        await agent.SendLineAsync("""{"jsonrpc":"2.0","method":"session/update","params":""" + paramsJson + "}");

        var notification = (await handler.Notifications.WaitForCountAsync(1)).Should().ContainSingle().Subject;
        await hooked.Task.WaitAsync(TestTimeouts.Signal);
        notification.Method.Should().Be("session/update");
        notification.ParamsJson.Should().Be(paramsJson);
        seen.Should().ContainSingle().Which.Should().Be((paramsJson, JsonDocument.Parse(paramsJson).RootElement.ValueKind));
        handler.MalformedLines.Count.Should().Be(0);
    }

    [Theory]
    [InlineData("""{"params":{"k":1},"method":"x/params-first","jsonrpc":"2.0"}""", "x/params-first", """{"k":1}""")]
    [InlineData("""{"jsonrpc":"2.0","method":"x\/escaped\u002dname","params":{"k":2}}""", "x/escaped-name", """{"k":2}""")]
    [InlineData("""{"jsonrpc":"2.0","method":"x/no-params"}""", "x/no-params", "{}")]
    [InlineData("""{"jsonrpc":"2.0","method":"x/dup","params":{"k":1},"params":{"k":3}}""", "x/dup", """{"k":3}""")]
    [InlineData("""  {"jsonrpc":"2.0","method":"x/padded","params":[]}  """, "x/padded", "[]")]
    public async Task Notification_OddButValidEnvelopes_AreDelivered(string line, string method, string paramsJson)
    {
        await using var agent = new FakeAgentPipe();
        var handler = new RecordingHandler();
        await using var connection = agent.Connect(handler);

        await agent.SendLineAsync(line);

        var notification = (await handler.Notifications.WaitForCountAsync(1)).Should().ContainSingle().Subject;
        notification.Should().Be(new RecordedMessage(method, paramsJson, null));
        handler.MalformedLines.Count.Should().Be(0);
    }

    [Theory]
    [InlineData("""{"jsonrpc":"2.0","method":"x/a","params":{}} trailing""")]
    [InlineData("""{"jsonrpc":"2.0","method":"x/a","params":{}}{"jsonrpc":"2.0","method":"x/b"}""")]
    [InlineData("""{"jsonrpc":"2.0","method":"x/a","params":{"k":}}""")]
    [InlineData("""{"jsonrpc":"2.0","method":"x/a","params":{"k":1,}}""")]
    [InlineData("""{"jsonrpc":"2.0","method":"x/a","params":{"k":1} /* comment */}""")]
    [InlineData("""{"jsonrpc":"2.0","method":42,"params":{}}""")]
    [InlineData("""{"jsonrpc":"2.0","method":"x/a","params":{"s":"unterminated}}""")]
    public async Task Notification_BrokenLines_AreReportedNotDelivered(string line)
    {
        await using var agent = new FakeAgentPipe();
        var handler = new RecordingHandler();
        await using var connection = agent.Connect(handler);

        await agent.SendLineAsync(line);
        await agent.SendLineAsync("""{"jsonrpc":"2.0","method":"x/after","params":{}}""");

        var notification = (await handler.Notifications.WaitForCountAsync(1)).Should().ContainSingle().Subject;
        notification.Method.Should().Be("x/after");
        handler.MalformedLines.Snapshot().Should().ContainSingle().Which.Preview.Should().Be(line);
    }

    [Fact]
    public async Task Notification_LinesLargerThanTheReadBuffer_ArriveWhole()
    {
        await using var agent = new FakeAgentPipe();
        var handler = new RecordingHandler();
        await using var connection = agent.Connect(handler);
        var sizes = new[] { 70_000, 10, 300_000, 5, 1_000_000 };
        var texts = sizes.Select((n, i) => new string((char)('a' + i), n) + "é").ToArray();

        // One write: lines straddle the reader's buffer segments.
        await agent.SendRawAsync(string.Concat(texts.Select(t => """{"jsonrpc":"2.0","method":"session/update","params":{"text":""" + JsonSerializer.Serialize(t) + "}}\n")));

        var notifications = await handler.Notifications.WaitForCountAsync(sizes.Length);
        notifications.Select(n => JsonDocument.Parse(n.ParamsJson).RootElement.GetProperty("text").GetString()).Should().Equal(texts);
    }

    [Fact]
    public async Task Notification_ManyInARow_ReuseNoStateAcrossMethods()
    {
        await using var agent = new FakeAgentPipe();
        var handler = new RecordingHandler();
        await using var connection = agent.Connect(handler);
        var methods = new[] { "session/update", "session/update", "x/other", "session/update", "x/other", "x/other" };

        await agent.SendRawAsync(string.Concat(methods.Select((m, i) => "{\"jsonrpc\":\"2.0\",\"method\":\"" + m + "\",\"params\":{\"i\":" + i + "}}\n")));

        var notifications = await handler.Notifications.WaitForCountAsync(methods.Length);
        notifications.Select(n => n.Method).Should().Equal(methods);
        notifications.Select(n => RecordingHandler.ParamInt(n, "i")).Should().Equal(0, 1, 2, 3, 4, 5);
    }
}
