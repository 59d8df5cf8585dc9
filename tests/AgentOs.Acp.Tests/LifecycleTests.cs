using System.Text.Json;

namespace AgentOs.Acp.Tests;

/// <summary>End of the agent's stdout, closing its stdin, disposal.</summary>
public sealed class LifecycleTests
{
    [Fact]
    public async Task ReadLoop_WhenTheAgentClosesItsStdout_FailsEveryPendingRequestAndCloses()
    {
        await using var agent = new FakeAgentPipe();
        await using var connection = agent.Connect(new RecordingHandler());

        var pending = new[] { AcpMethods.Initialize, AcpMethods.SessionNew, AcpMethods.SessionPrompt }
            .Select(method => connection.SendRequestAsync(method, "{}"))
            .ToArray();
        for (var i = 0; i < pending.Length; i++)
        {
            (await agent.ReadLineAsync()).Should().NotBeNull();
        }

        agent.CompleteOutput();

        foreach (var request in pending)
        {
            await FluentActions.Awaiting(() => request.WaitAsync(TestTimeouts.Signal)).Should().ThrowAsync<AcpConnectionClosedException>();
        }

        await connection.Completion.WaitAsync(TestTimeouts.Signal);
        connection.IsClosed.Should().BeTrue();

        var late = connection.SendRequestAsync(AcpMethods.SessionNew, "{}");
        late.IsCompleted.Should().BeTrue("a closed connection fails a request without waiting for a timeout");
        await FluentActions.Awaiting(() => late).Should().ThrowAsync<AcpConnectionClosedException>();
    }

    [Fact]
    public async Task ReadLoop_WhenTheAgentClosesItsStdoutWithNothingPending_Completes()
    {
        await using var agent = new FakeAgentPipe();
        await using var connection = agent.Connect(new RecordingHandler());
        connection.IsClosed.Should().BeFalse();

        agent.CompleteOutput();

        await connection.Completion.WaitAsync(TestTimeouts.Signal);
        connection.IsClosed.Should().BeTrue();
        await FluentActions.Awaiting(() => connection.SendRequestAsync("x/late", null)).Should().ThrowAsync<AcpConnectionClosedException>();
    }

    [Fact]
    public async Task DisposeAsync_WhenRequestsArePending_FailsThemClosesTheAgentsStdinAndCompletes()
    {
        await using var agent = new FakeAgentPipe();
        var handler = new RecordingHandler();

        // Disposed explicitly (exactly once): disposal is what this test is about.
        var connection = agent.Connect(handler);
        var request = connection.SendRequestAsync(AcpMethods.SessionPrompt, "{}");
        (await agent.ReadLineAsync()).Should().NotBeNull();

        await connection.DisposeAsync().AsTask().WaitAsync(TestTimeouts.Signal);

        await FluentActions.Awaiting(() => request.WaitAsync(TestTimeouts.Signal)).Should().ThrowAsync<AcpConnectionClosedException>();
        connection.IsClosed.Should().BeTrue();
        connection.Completion.IsCompleted.Should().BeTrue();
        (await agent.ReadLineAsync()).Should().BeNull("disposing closes the agent's stdin");
        await FluentActions.Awaiting(() => connection.SendRequestAsync("x/late", null)).Should().ThrowAsync<AcpConnectionClosedException>();
    }

    [Fact]
    public async Task CloseOutputAsync_ClosesTheAgentsStdinAndLaterSendsFail()
    {
        await using var agent = new FakeAgentPipe();
        await using var connection = agent.Connect(new RecordingHandler());

        await connection.CloseOutputAsync().WaitAsync(TestTimeouts.Signal);

        (await agent.ReadLineAsync()).Should().BeNull("the agent sees EOF on its stdin");
        await FluentActions.Awaiting(() => connection.SendRequestAsync(AcpMethods.SessionNew, "{}").WaitAsync(TestTimeouts.Signal))
            .Should().ThrowAsync<AcpConnectionClosedException>();
        await FluentActions.Awaiting(() => connection.SendNotificationAsync(AcpMethods.SessionCancel, new SessionIdParams { SessionId = "s1" }, AcpJsonContext.Default.SessionIdParams).WaitAsync(TestTimeouts.Signal))
            .Should().ThrowAsync<AcpConnectionClosedException>();
    }

    [Fact]
    public async Task CloseOutputAsync_WhenCalledTwice_IsHarmless()
    {
        await using var agent = new FakeAgentPipe();
        await using var connection = agent.Connect(new RecordingHandler());

        await connection.CloseOutputAsync().WaitAsync(TestTimeouts.Signal);
        await connection.CloseOutputAsync().WaitAsync(TestTimeouts.Signal);

        (await agent.ReadLineAsync()).Should().BeNull();
    }

    [Fact]
    public async Task CloseOutputAsync_WhenARequestIsPending_ItsAnswerStillArrives()
    {
        // Closing stdin asks the agent to exit; what it still writes is read.
        await using var agent = new FakeAgentPipe();
        var handler = new RecordingHandler();
        await using var connection = agent.Connect(handler);

        var request = connection.SendRequestAsync(AcpMethods.SessionPrompt, "{}");
        var id = await agent.ReadRequestIdAsync(AcpMethods.SessionPrompt);
        await connection.CloseOutputAsync().WaitAsync(TestTimeouts.Signal);
        (await agent.ReadLineAsync()).Should().BeNull();

        // The agent's own request can no longer be answered; that must not stop the read loop.
        await agent.SendLineAsync("""{"jsonrpc":"2.0","id":0,"method":"session/request_permission","params":{}}""");
        await agent.SendNotificationAsync(AcpMethods.SessionUpdate, """{"seq":1}""");
        await agent.SendResultAsync(id, """{"stopReason":"end_turn"}""");

        (await request.WaitAsync(TestTimeouts.Signal)).GetProperty("stopReason").GetString().Should().Be("end_turn");
        (await handler.Notifications.WaitForCountAsync(1)).Should().ContainSingle();
        handler.Requests.Snapshot().Should().ContainSingle().Which.Method.Should().Be(AcpMethods.SessionRequestPermission);
        connection.IsClosed.Should().BeFalse();
    }

    [Fact]
    public async Task Completion_WhileTheAgentIsConnected_IsNotCompleted()
    {
        await using var agent = new FakeAgentPipe();
        await using var connection = agent.Connect(new RecordingHandler());

        var request = connection.SendRequestAsync("x/echo", "{}");
        await agent.SendResultAsync(await agent.ReadRequestIdAsync("x/echo"), "{}");
        (await request.WaitAsync(TestTimeouts.Signal)).ValueKind.Should().Be(JsonValueKind.Object);

        connection.Completion.IsCompleted.Should().BeFalse();
        connection.IsClosed.Should().BeFalse();
    }
}
