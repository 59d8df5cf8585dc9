using System.Text.Json;

namespace AgentOs.Acp.Tests;

/// <summary>Agent → client requests: dispatch to the handler and the reply on the wire.</summary>
public sealed class AgentRequestTests
{
    [Theory]
    [InlineData("0")]
    [InlineData("\"abc\"")]
    [InlineData("\"\"")]
    [InlineData("-7")]
    [InlineData("9007199254740993")]
    public async Task OnRequestAsync_WhenTheMethodIsUnknown_RepliesMethodNotFoundWithTheAgentsIdVerbatim(string idJson)
    {
        await using var agent = new FakeAgentPipe();
        var handler = new RecordingHandler();
        await using var connection = agent.Connect(handler);

        await agent.SendLineAsync(Wire.Request(idJson, "terminal/create", """{"command":"ls"}"""));
        var reply = await agent.ReadMessageAsync();

        reply.GetProperty("jsonrpc").GetString().Should().Be("2.0");
        reply.GetProperty("id").GetRawText().Should().Be(idJson);
        reply.GetProperty("error").GetProperty("code").GetInt32().Should().Be(JsonRpcErrorCodes.MethodNotFound);
        reply.GetProperty("error").GetProperty("message").GetString().Should().Contain("terminal/create");
        reply.TryGetProperty("result", out _).Should().BeFalse();
        reply.TryGetProperty("method", out _).Should().BeFalse();
        handler.Requests.Snapshot().Should().ContainSingle()
            .Which.Should().Be(new RecordedMessage("terminal/create", """{"command":"ls"}""", idJson));
    }

    [Fact]
    public async Task OnRequestAsync_WhenTheHandlerAnswers_RepliesWithItsResultAndTheAgentsId()
    {
        await using var agent = new FakeAgentPipe();
        var handler = new RecordingHandler();
        handler.RequestResponder = (request, _) =>
        {
            var options = request.Params.GetProperty("options");
            var optionId = options[0].GetProperty("optionId").GetString();
            return Task.FromResult(AcpReply.Result("{\"outcome\":{\"outcome\":\"selected\",\"optionId\":\"" + optionId + "\"}}"));
        };
        await using var connection = agent.Connect(handler);

        await agent.SendLineAsync("""{"jsonrpc":"2.0","id":0,"method":"session/request_permission","params":{"sessionId":"s1","toolCall":{"toolCallId":"t1"},"options":[{"optionId":"allow","name":"Allow","kind":"allow_once"}],"_meta":{"x":1}}}""");
        var reply = await agent.ReadMessageAsync();

        reply.GetProperty("id").GetRawText().Should().Be("0");
        reply.TryGetProperty("error", out _).Should().BeFalse();
        var outcome = reply.GetProperty("result").GetProperty("outcome");
        outcome.GetProperty("outcome").GetString().Should().Be("selected");
        outcome.GetProperty("optionId").GetString().Should().Be("allow");
    }

    [Fact]
    public async Task OnRequestAsync_WhenParamsAreAbsent_TheHandlerSeesAnEmptyObject()
    {
        await using var agent = new FakeAgentPipe();
        var handler = new RecordingHandler { RequestResponder = static (_, _) => Task.FromResult(AcpReply.Result("null")) };
        await using var connection = agent.Connect(handler);

        await agent.SendLineAsync("""{"jsonrpc":"2.0","id":5,"method":"_vendor/ping"}""");
        var reply = await agent.ReadMessageAsync();

        reply.GetProperty("result").ValueKind.Should().Be(JsonValueKind.Null);
        handler.Requests.Snapshot().Should().ContainSingle().Which.Should().Be(new RecordedMessage("_vendor/ping", "{}", "5"));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task OnRequestAsync_WhenTheHandlerThrows_RepliesInternalErrorAndKeepsReading(bool throwAsynchronously)
    {
        await using var agent = new FakeAgentPipe();
        var handler = new RecordingHandler
        {
            RequestResponder = (_, _) => throwAsynchronously
                ? Task.FromException<AcpReply>(new InvalidOperationException("disk on fire"))
                : throw new InvalidOperationException("disk on fire"),
        };
        await using var connection = agent.Connect(handler);

        await agent.SendLineAsync("""{"jsonrpc":"2.0","id":"r1","method":"fs/read_text_file","params":{"sessionId":"s1","path":"/a"}}""");
        var reply = await agent.ReadMessageAsync();

        reply.GetProperty("id").GetString().Should().Be("r1");
        reply.GetProperty("error").GetProperty("code").GetInt32().Should().Be(JsonRpcErrorCodes.InternalError);
        reply.GetProperty("error").GetProperty("message").GetString().Should().Be("disk on fire");
        reply.TryGetProperty("result", out _).Should().BeFalse();

        await agent.SendNotificationAsync("session/update", """{"seq":1}""");
        (await handler.Notifications.WaitForCountAsync(1)).Should().ContainSingle();
        connection.IsClosed.Should().BeFalse();
    }

    [Fact]
    public async Task OnRequestAsync_WhenTheHandlerAnswersLater_TheReadLoopKeepsDeliveringMeanwhile()
    {
        // A permission request waits for a user; the agent keeps streaming in the meantime.
        await using var agent = new FakeAgentPipe();
        var answer = new TaskCompletionSource<AcpReply>(TaskCreationOptions.RunContinuationsAsynchronously);
        var handler = new RecordingHandler { RequestResponder = (_, _) => answer.Task };
        await using var connection = agent.Connect(handler);

        await agent.SendLineAsync("""{"jsonrpc":"2.0","id":3,"method":"session/request_permission","params":{}}""");
        await agent.SendNotificationAsync("session/update", """{"seq":1}""");
        await handler.Notifications.WaitForCountAsync(1);
        answer.SetResult(AcpReply.Result("""{"outcome":{"outcome":"cancelled"}}"""));

        var reply = await agent.ReadMessageAsync();
        reply.GetProperty("id").GetInt32().Should().Be(3);
        reply.GetProperty("result").GetProperty("outcome").GetProperty("outcome").GetString().Should().Be("cancelled");
        handler.Events.Snapshot().Should().Equal("request:session/request_permission", "notification:session/update");
    }

    [Fact]
    public async Task OnRequestAsync_WhenTheConnectionIsDisposed_CancelsTheHandlersToken()
    {
        await using var agent = new FakeAgentPipe();
        var cancelled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var handler = new RecordingHandler
        {
            RequestResponder = (_, token) =>
            {
                token.Register(() => cancelled.TrySetResult());
                return Task.Delay(Timeout.Infinite, token).ContinueWith(_ => AcpReply.Result("{}"), TaskScheduler.Default);
            },
        };
        var connection = agent.Connect(handler);
        try
        {
            await agent.SendLineAsync("""{"jsonrpc":"2.0","id":1,"method":"session/request_permission","params":{}}""");
            await handler.Requests.WaitForCountAsync(1);
        }
        finally
        {
            await connection.DisposeAsync();
        }

        await cancelled.Task.WaitAsync(TestTimeouts.Signal);
    }

    [Fact]
    public async Task OnRequestAsync_WhenTheHandlerResultIsIndented_RepliesOnExactlyOneLine()
    {
        // A handler may pass through JSON it did not write (a tool's output, a stored answer).
        await using var agent = new FakeAgentPipe();
        var handler = new RecordingHandler
        {
            RequestResponder = static (_, _) => Task.FromResult(AcpReply.Result("{\n  \"content\": \"hello\"\n}")),
        };
        await using var connection = agent.Connect(handler);

        await agent.SendLineAsync("""{"jsonrpc":"2.0","id":7,"method":"fs/read_text_file","params":{"path":"/a"}}""");
        var line = await agent.ReadLineAsync();

        FramingTests.IsOneJsonObject(line).Should().BeTrue($"the whole reply must be one line, but the first line was '{line}'");
        using var document = JsonDocument.Parse(line!);
        document.RootElement.GetProperty("id").GetInt32().Should().Be(7);
        document.RootElement.GetProperty("result").GetProperty("content").GetString().Should().Be("hello");
    }

    [Fact]
    public async Task OnRequestAsync_WhenTheHandlerResultIsNotJson_StillAnswersTheAgent()
    {
        // JSON-RPC: every request gets a response. An unusable result is a handler failure, like a
        // throw: the agent must get -32603 rather than wait forever.
        await using var agent = new FakeAgentPipe();
        var handler = new RecordingHandler
        {
            RequestResponder = static (request, _) => Task.FromResult(
                request.Method == "fs/read_text_file" ? AcpReply.Result("not json") : AcpReply.MethodNotFound(request.Method)),
        };
        await using var connection = agent.Connect(handler);

        await agent.SendLineAsync("""{"jsonrpc":"2.0","id":1,"method":"fs/read_text_file","params":{"path":"/a"}}""");
        await agent.SendLineAsync("""{"jsonrpc":"2.0","id":2,"method":"x/unknown","params":{}}""");
        var replies = new Dictionary<string, JsonElement>();
        var first = await agent.ReadMessageAsync();
        replies[first.GetProperty("id").GetRawText()] = first;
        if (!replies.ContainsKey("1"))
        {
            try
            {
                var second = await agent.ReadMessageAsync(TimeSpan.FromSeconds(2));
                replies[second.GetProperty("id").GetRawText()] = second;
            }
            catch (TimeoutException)
            {
                // Reported by the assertion below.
            }
        }

        replies.Should().ContainKey("1", "the request with an unusable result must still be answered");
        replies["1"].GetProperty("error").GetProperty("code").GetInt32().Should().Be(JsonRpcErrorCodes.InternalError);
    }
}
