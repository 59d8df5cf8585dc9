using System.Diagnostics;
using System.IO.Pipelines;
using System.Text.Json;

namespace AgentOs.Acp.Tests;

/// <summary>Client → agent requests: correlation, errors, timeouts and cancellation.</summary>
public sealed class RequestTests
{
    private static readonly TimeSpan ShortTimeout = TimeSpan.FromMilliseconds(200);

    /// <summary>Far above <see cref="ShortTimeout"/>: only a missing timeout takes this long.</summary>
    private static readonly TimeSpan GenerousBound = TimeSpan.FromSeconds(5);

    [Fact]
    public async Task SendRequestAsync_WhenResponsesArriveOutOfOrder_EachCallerGetsItsOwnResult()
    {
        await using var agent = new FakeAgentPipe();
        var handler = new RecordingHandler();
        await using var connection = agent.Connect(handler);

        var first = connection.SendRequestAsync("x/first", "{}");
        var second = connection.SendRequestAsync("x/second", "{}");
        var third = connection.SendRequestAsync("x/third", "{}");
        var firstId = await agent.ReadRequestIdAsync("x/first");
        var secondId = await agent.ReadRequestIdAsync("x/second");
        var thirdId = await agent.ReadRequestIdAsync("x/third");

        await agent.SendResultAsync(thirdId, """{"for":"third"}""");
        (await third.WaitAsync(TestTimeouts.Signal)).GetProperty("for").GetString().Should().Be("third");
        first.IsCompleted.Should().BeFalse();
        second.IsCompleted.Should().BeFalse();

        await agent.SendResultAsync(firstId, """{"for":"first"}""");
        await agent.SendResultAsync(secondId, """{"for":"second"}""");

        (await first.WaitAsync(TestTimeouts.Signal)).GetProperty("for").GetString().Should().Be("first");
        (await second.WaitAsync(TestTimeouts.Signal)).GetProperty("for").GetString().Should().Be("second");
        connection.MalformedLines.Should().Be(0);
    }

    [Fact]
    public async Task SendRequestAsync_WhenResponseIdIsANumericString_StillCorrelates()
    {
        await using var agent = new FakeAgentPipe();
        await using var connection = agent.Connect(new RecordingHandler());

        var request = connection.SendRequestAsync("x/echo", "{}");
        var id = await agent.ReadRequestIdAsync("x/echo");
        await agent.SendLineAsync(Wire.Result("\"" + id + "\"", """{"ok":true}"""));

        (await request.WaitAsync(TestTimeouts.Signal)).GetProperty("ok").GetBoolean().Should().BeTrue();
    }

    [Fact]
    public async Task SendRequestAsync_WhenAResponseHasAnUnknownId_IgnoresItWithoutCountingItMalformed()
    {
        await using var agent = new FakeAgentPipe();
        var handler = new RecordingHandler();
        await using var connection = agent.Connect(handler);

        var request = connection.SendRequestAsync("x/echo", "{}");
        var id = await agent.ReadRequestIdAsync("x/echo");
        await agent.SendResultAsync(id + 1000, """{"stray":true}""");
        await agent.SendLineAsync("""{"jsonrpc":"2.0","id":"not-ours","result":{}}""");
        await agent.SendResultAsync(id, """{"stray":false}""");

        (await request.WaitAsync(TestTimeouts.Signal)).GetProperty("stray").GetBoolean().Should().BeFalse();
        connection.MalformedLines.Should().Be(0);
        handler.MalformedLines.Count.Should().Be(0);
    }

    [Fact]
    public async Task SendRequestAsync_WhenAgentRequestReusesOurPendingId_KeepsTheTwoDirectionsApart()
    {
        // ACP.md: request ids from the agent may collide with ours.
        await using var agent = new FakeAgentPipe();
        var handler = new RecordingHandler
        {
            RequestResponder = static (_, _) => Task.FromResult(AcpReply.Result("""{"outcome":{"outcome":"cancelled"}}""")),
        };
        await using var connection = agent.Connect(handler);

        var ours = connection.SendRequestAsync(AcpMethods.SessionPrompt, """{"sessionId":"s1","prompt":[]}""");
        var ourId = await agent.ReadRequestIdAsync(AcpMethods.SessionPrompt);
        ourId.Should().Be(1, "the first request of a connection has id 1");

        await agent.SendLineAsync("""{"jsonrpc":"2.0","id":1,"method":"session/request_permission","params":{"sessionId":"s1","toolCall":{"toolCallId":"t1"},"options":[]}}""");
        var reply = await agent.ReadMessageAsync();

        reply.GetProperty("id").GetRawText().Should().Be("1");
        reply.GetProperty("result").GetProperty("outcome").GetProperty("outcome").GetString().Should().Be("cancelled");
        reply.TryGetProperty("method", out _).Should().BeFalse();
        ours.IsCompleted.Should().BeFalse("the agent's request is not the answer to ours");
        handler.Requests.Snapshot().Should().ContainSingle()
            .Which.Should().Be(new RecordedMessage(AcpMethods.SessionRequestPermission, """{"sessionId":"s1","toolCall":{"toolCallId":"t1"},"options":[]}""", "1"));

        await agent.SendResultAsync(1, """{"stopReason":"end_turn"}""");
        (await ours.WaitAsync(TestTimeouts.Signal)).GetProperty("stopReason").GetString().Should().Be("end_turn");
    }

    [Fact]
    public async Task SendRequestAsync_WhenAgentAnswersWithAnError_ThrowsAcpRemoteExceptionWithCodeMessageAndMethod()
    {
        await using var agent = new FakeAgentPipe();
        await using var connection = agent.Connect(new RecordingHandler());

        var request = connection.SendRequestAsync(AcpMethods.SessionNew, """{"cwd":"/","mcpServers":[]}""");
        var id = await agent.ReadRequestIdAsync(AcpMethods.SessionNew);
        await agent.SendLineAsync(Wire.Error(id, -32000, "Authentication required", """{"retry":false}"""));

        var thrown = await FluentActions.Awaiting(() => request.WaitAsync(TestTimeouts.Signal)).Should().ThrowAsync<AcpRemoteException>();
        thrown.Which.Code.Should().Be(-32000);
        thrown.Which.RemoteMessage.Should().Be("Authentication required");
        thrown.Which.Method.Should().Be(AcpMethods.SessionNew);
        thrown.Which.ErrorData.Should().Be("""{"retry":false}""");
        thrown.Which.Message.Should().Contain(AcpMethods.SessionNew).And.Contain("-32000");
    }

    [Fact]
    public async Task SendRequestAsync_WhenTypedRequestGetsAnError_ThrowsAcpRemoteException()
    {
        await using var agent = new FakeAgentPipe();
        await using var connection = agent.Connect(new RecordingHandler());

        var request = connection.SendRequestAsync(
            AcpMethods.SessionSetConfigOption,
            new SetConfigOptionRequest { SessionId = "s1", ConfigId = "mode", Value = "plan" },
            AcpJsonContext.Default.SetConfigOptionRequest,
            AcpJsonContext.Default.EmptyObject);
        var id = await agent.ReadRequestIdAsync(AcpMethods.SessionSetConfigOption);
        await agent.SendLineAsync(Wire.Error(id, JsonRpcErrorCodes.MethodNotFound, "Method not found"));

        var thrown = await FluentActions.Awaiting(() => request.WaitAsync(TestTimeouts.Signal)).Should().ThrowAsync<AcpRemoteException>();
        thrown.Which.Code.Should().Be(JsonRpcErrorCodes.MethodNotFound);
        thrown.Which.Method.Should().Be(AcpMethods.SessionSetConfigOption);
        thrown.Which.ErrorData.Should().BeNull();
    }

    [Fact]
    public async Task SendRequestAsync_WhenAgentNeverAnswers_ThrowsAcpTimeoutExceptionNamingTheMethod()
    {
        await using var agent = new FakeAgentPipe();
        await using var connection = agent.Connect(new RecordingHandler());
        var stopwatch = Stopwatch.StartNew();

        var request = connection.SendRequestAsync(AcpMethods.SessionNew, "{}", ShortTimeout);

        var thrown = await FluentActions.Awaiting(() => request.WaitAsync(TestTimeouts.Signal)).Should().ThrowAsync<AcpTimeoutException>();
        stopwatch.Elapsed.Should().BeGreaterThanOrEqualTo(ShortTimeout - TimeSpan.FromMilliseconds(50)).And.BeLessThan(GenerousBound);
        thrown.Which.Method.Should().Be(AcpMethods.SessionNew);
        thrown.Which.Timeout.Should().Be(ShortTimeout);
        thrown.Which.Message.Should().Contain(AcpMethods.SessionNew);
        connection.IsClosed.Should().BeFalse("a timeout fails one request, not the connection");
    }

    [Fact]
    public async Task SendRequestAsync_WhenNoTimeoutIsGiven_UsesTheDefaultRequestTimeout()
    {
        await using var agent = new FakeAgentPipe();
        await using var connection = agent.Connect(new RecordingHandler(), new AcpConnectionOptions { DefaultRequestTimeout = ShortTimeout });
        var stopwatch = Stopwatch.StartNew();

        var request = connection.SendRequestAsync("x/hang", null);

        var thrown = await FluentActions.Awaiting(() => request.WaitAsync(TestTimeouts.Signal)).Should().ThrowAsync<AcpTimeoutException>();
        stopwatch.Elapsed.Should().BeLessThan(GenerousBound);
        thrown.Which.Timeout.Should().Be(ShortTimeout);
        thrown.Which.Method.Should().Be("x/hang");
    }

    [Fact]
    public async Task SendRequestAsync_WhenTheAnswerArrivesAfterTheTimeout_IgnoresItAndKeepsWorking()
    {
        await using var agent = new FakeAgentPipe();
        await using var connection = agent.Connect(new RecordingHandler());

        var late = connection.SendRequestAsync("x/slow", "{}", ShortTimeout);
        var lateId = await agent.ReadRequestIdAsync("x/slow");
        await FluentActions.Awaiting(() => late.WaitAsync(TestTimeouts.Signal)).Should().ThrowAsync<AcpTimeoutException>();

        await agent.SendResultAsync(lateId, """{"late":true}""");
        var next = connection.SendRequestAsync("x/fast", "{}");
        var nextId = await agent.ReadRequestIdAsync("x/fast");
        nextId.Should().NotBe(lateId);
        await agent.SendResultAsync(nextId, """{"late":false}""");

        (await next.WaitAsync(TestTimeouts.Signal)).GetProperty("late").GetBoolean().Should().BeFalse();
        connection.MalformedLines.Should().Be(0);
    }

    [Fact]
    public async Task SendRequestAsync_WhenAgentStopsReadingItsStdin_StillTimesOut()
    {
        // ACP.md: "An agent can hang ... every request needs a timeout." A hung agent that stops
        // reading its stdin fills the pipe (64 KiB on Linux; 1 KiB here) and the write blocks.
        var stdinThatFillsUp = new PipeOptions(pauseWriterThreshold: 1024, resumeWriterThreshold: 512);
        await using var agent = new FakeAgentPipe(agentStdinOptions: stdinThatFillsUp);
        await using var connection = agent.Connect(new RecordingHandler());
        var prompt = "{\"sessionId\":\"s1\",\"prompt\":[{\"type\":\"text\",\"text\":\"" + new string('a', 8 * 1024) + "\"}]}";

        var request = connection.SendRequestAsync(AcpMethods.SessionPrompt, prompt, ShortTimeout);
        try
        {
            var thrown = await FluentActions.Awaiting(() => request.WaitAsync(TimeSpan.FromSeconds(2))).Should().ThrowAsync<AcpTimeoutException>();
            thrown.Which.Method.Should().Be(AcpMethods.SessionPrompt);
        }
        finally
        {
            // Unblock the write so that the connection can be disposed.
            agent.CompleteInput();
        }
    }

    [Fact]
    public async Task SendRequestAsync_WhenTheTokenIsCancelled_ThrowsOperationCanceledExceptionAndKeepsWorking()
    {
        await using var agent = new FakeAgentPipe();
        await using var connection = agent.Connect(new RecordingHandler());
        using var cts = new CancellationTokenSource();

        var cancelled = connection.SendRequestAsync(AcpMethods.SessionPrompt, "{}", cancellationToken: cts.Token);
        var cancelledId = await agent.ReadRequestIdAsync(AcpMethods.SessionPrompt);
        await cts.CancelAsync();

        await FluentActions.Awaiting(() => cancelled.WaitAsync(TestTimeouts.Signal)).Should().ThrowAsync<OperationCanceledException>();
        connection.IsClosed.Should().BeFalse();

        await agent.SendResultAsync(cancelledId, """{"stopReason":"cancelled"}""");
        var next = connection.SendRequestAsync("x/next", "{}");
        var nextId = await agent.ReadRequestIdAsync("x/next");
        await agent.SendResultAsync(nextId, """{"ok":true}""");
        (await next.WaitAsync(TestTimeouts.Signal)).GetProperty("ok").GetBoolean().Should().BeTrue();
    }

    [Fact]
    public async Task SendRequestAsync_WhenTheTokenIsAlreadyCancelled_ThrowsAndWritesNothing()
    {
        await using var agent = new FakeAgentPipe();
        await using var connection = agent.Connect(new RecordingHandler());
        using var cts = new CancellationTokenSource();
        await cts.CancelAsync();

        var cancelled = connection.SendRequestAsync("x/never", "{}", cancellationToken: cts.Token);
        await FluentActions.Awaiting(() => cancelled.WaitAsync(TestTimeouts.Signal)).Should().ThrowAsync<OperationCanceledException>();

        var next = connection.SendRequestAsync("x/next", "{}");
        var message = await agent.ReadMessageAsync();
        message.GetProperty("method").GetString().Should().Be("x/next", "the cancelled request was never written");
        await agent.SendResultAsync(message.GetProperty("id").GetInt64(), "{}");
        await next.WaitAsync(TestTimeouts.Signal);
    }
}
