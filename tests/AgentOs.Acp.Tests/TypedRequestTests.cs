using System.Text.Json;

namespace AgentOs.Acp.Tests;

/// <summary>Requests through the source-generated ACP types.</summary>
public sealed class TypedRequestTests
{
    private static InitializeRequest NewInitialize() => new()
    {
        ProtocolVersion = AcpMethods.ProtocolVersion,
        ClientCapabilities = new ClientCapabilities
        {
            Fs = new FileSystemCapability { ReadTextFile = true, WriteTextFile = true },
            Terminal = false,
        },
        ClientInfo = new Implementation { Name = "agentos", Version = "0.1.0" },
    };

    [Fact]
    public async Task SendRequestAsync_WithInitializeTypes_RoundTripsAndToleratesUnknownFieldsAndMeta()
    {
        await using var agent = new FakeAgentPipe();
        await using var connection = agent.Connect(new RecordingHandler());

        var initialize = connection.SendRequestAsync(
            AcpMethods.Initialize, NewInitialize(), AcpJsonContext.Default.InitializeRequest, AcpJsonContext.Default.InitializeResponse);
        var message = await agent.ReadMessageAsync();

        message.GetProperty("method").GetString().Should().Be(AcpMethods.Initialize);
        var sent = message.GetProperty("params");
        sent.GetProperty("protocolVersion").GetInt32().Should().Be(1);
        sent.GetProperty("clientCapabilities").GetProperty("fs").GetProperty("readTextFile").GetBoolean().Should().BeTrue();
        sent.GetProperty("clientCapabilities").GetProperty("fs").GetProperty("writeTextFile").GetBoolean().Should().BeTrue();
        sent.GetProperty("clientCapabilities").GetProperty("terminal").GetBoolean().Should().BeFalse();
        sent.GetProperty("clientInfo").GetProperty("name").GetString().Should().Be("agentos");
        sent.GetProperty("clientInfo").TryGetProperty("title", out _).Should().BeFalse("null members are not written");

        await agent.SendResultAsync(message.GetProperty("id").GetInt64(), """
            {"protocolVersion":1,
             "agentCapabilities":{"loadSession":true,
                                  "promptCapabilities":{"image":true,"audio":false,"embeddedContext":true,"_meta":{"v":2}},
                                  "mcpCapabilities":{"http":true,"sse":false},
                                  "sessionCapabilities":{"list":{},"resume":{}},
                                  "futureCapability":{"deep":[1,2,{"x":null}]}},
             "agentInfo":{"name":"pi-acp","title":"Pi","version":"0.0.24","_meta":{}},
             "authMethods":[{"id":"key","name":"API key"}],
             "_meta":{"vendor":{"anything":true}},
             "somethingNew":"ignored"}
            """.ReplaceLineEndings(""));

        var response = await initialize.WaitAsync(TestTimeouts.Signal);

        response.ProtocolVersion.Should().Be(1);
        response.AgentCapabilities.Should().NotBeNull();
        response.AgentCapabilities!.LoadSession.Should().BeTrue();
        response.AgentCapabilities.PromptCapabilities!.Image.Should().BeTrue();
        response.AgentCapabilities.PromptCapabilities.Audio.Should().BeFalse();
        response.AgentCapabilities.PromptCapabilities.EmbeddedContext.Should().BeTrue();
        response.AgentCapabilities.McpCapabilities!.Http.Should().BeTrue();
        response.AgentCapabilities.McpCapabilities.Sse.Should().BeFalse();
        response.AgentCapabilities.SessionCapabilities.TryGetProperty("resume", out _).Should().BeTrue();
        response.AgentInfo!.Name.Should().Be("pi-acp");
        response.AgentInfo.Version.Should().Be("0.0.24");
        response.AuthMethods.GetArrayLength().Should().Be(1);
    }

    [Fact]
    public async Task SendRequestAsync_WithPromptRequest_WritesTextBlocksWithTheirTypeAndReadsTheStopReason()
    {
        await using var agent = new FakeAgentPipe();
        await using var connection = agent.Connect(new RecordingHandler());

        var prompt = connection.SendRequestAsync(
            AcpMethods.SessionPrompt,
            new PromptRequest { SessionId = "s1", Prompt = [new TextContentBlock { Text = "line 1\nline 2" }] },
            AcpJsonContext.Default.PromptRequest,
            AcpJsonContext.Default.PromptResponse);
        var message = await agent.ReadMessageAsync();

        var block = message.GetProperty("params").GetProperty("prompt").EnumerateArray().Should().ContainSingle().Subject;
        block.GetProperty("type").GetString().Should().Be("text");
        block.GetProperty("text").GetString().Should().Be("line 1\nline 2");

        await agent.SendResultAsync(message.GetProperty("id").GetInt64(), """{"stopReason":"end_turn","_meta":{"usage":{"tokens":3}}}""");
        (await prompt.WaitAsync(TestTimeouts.Signal)).StopReason.Should().Be("end_turn");
    }

    [Fact]
    public async Task SendRequestAsync_Typed_WhenTheResultIsNull_ThrowsAcpException()
    {
        await using var agent = new FakeAgentPipe();
        await using var connection = agent.Connect(new RecordingHandler());

        var initialize = connection.SendRequestAsync(
            AcpMethods.Initialize, NewInitialize(), AcpJsonContext.Default.InitializeRequest, AcpJsonContext.Default.InitializeResponse);
        await agent.SendResultAsync(await agent.ReadRequestIdAsync(AcpMethods.Initialize), "null");

        var thrown = await FluentActions.Awaiting(() => initialize.WaitAsync(TestTimeouts.Signal)).Should().ThrowAsync<AcpException>();
        thrown.Which.Message.Should().Contain(AcpMethods.Initialize);
    }

    [Fact]
    public async Task SendRequestAsync_Typed_WhenTheResultDoesNotMatchTheSchema_ThrowsAcpExceptionWithTheJsonError()
    {
        await using var agent = new FakeAgentPipe();
        await using var connection = agent.Connect(new RecordingHandler());

        var initialize = connection.SendRequestAsync(
            AcpMethods.Initialize, NewInitialize(), AcpJsonContext.Default.InitializeRequest, AcpJsonContext.Default.InitializeResponse);
        await agent.SendResultAsync(await agent.ReadRequestIdAsync(AcpMethods.Initialize), """{"protocolVersion":"one"}""");

        var thrown = await FluentActions.Awaiting(() => initialize.WaitAsync(TestTimeouts.Signal)).Should().ThrowAsync<AcpException>();
        thrown.Which.Message.Should().Contain(AcpMethods.Initialize);
        thrown.Which.InnerException.Should().BeAssignableTo<JsonException>();
        connection.IsClosed.Should().BeFalse();
    }
}
