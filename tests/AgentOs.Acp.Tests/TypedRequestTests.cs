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
        response.AgentCapabilities.CanResume.Should().BeTrue();
        response.AgentInfo!.Name.Should().Be("pi-acp");
        response.AgentInfo.Version.Should().Be("0.0.24");
        response.AuthMethods!.Value.GetArrayLength().Should().Be(1);
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

    // ---- the typed methods (AcpConnection.Methods.cs) ----

    /// <summary>The line a request wrote, with its id set to 0 so two calls compare byte for byte.</summary>
    private static async Task<string> ReadLineWithoutIdAsync(FakeAgentPipe agent)
    {
        var line = await agent.ReadLineAsync() ?? throw new EndOfStreamException();
        return System.Text.RegularExpressions.Regex.Replace(line, "^\\{\"jsonrpc\":\"2\\.0\",\"id\":\\d+,", "{\"jsonrpc\":\"2.0\",\"id\":0,");
    }

    public static TheoryData<string> MethodNames() =>
    [
        AcpMethods.Initialize, AcpMethods.SessionNew, AcpMethods.SessionLoad, AcpMethods.SessionResume, AcpMethods.SessionPrompt,
        AcpMethods.SessionSetMode, AcpMethods.SessionSetModel, AcpMethods.SessionSetConfigOption, AcpMethods.SessionClose,
    ];

    /// <summary>
    /// Each typed method next to the call it replaces (as AgentSession makes it today: typed
    /// SendRequestAsync, or for set_mode/set_model params serialized to a string first).
    /// </summary>
    private static (Func<AcpConnection, Task> Typed, Func<AcpConnection, Task> Untyped) Pair(string method)
    {
        using var meta = JsonDocument.Parse("""{"systemPrompt":{"append":"be brief \u00e9"}}""");
        var systemPrompt = meta.RootElement.Clone();
        McpServerWire[] servers = [new() { Name = "fs", Command = "/bin/mcp", Args = ["--stdio"], Env = [new() { Name = "K", Value = "v" }] }, new() { Type = "http", Name = "web", Url = "http://127.0.0.1:1/mcp", Headers = [] }];
        var ctx = AcpJsonContext.Default;
        return method switch
        {
            AcpMethods.Initialize => (c => c.InitializeAsync(NewInitialize()), c => c.SendRequestAsync(method, NewInitialize(), ctx.InitializeRequest, ctx.InitializeResponse)),
            AcpMethods.SessionNew => Both(new NewSessionRequest { Cwd = "/work dir", McpServers = servers, Meta = systemPrompt }, (c, r) => c.NewSessionAsync(r), ctx.NewSessionRequest, ctx.SessionSetupResponse),
            AcpMethods.SessionLoad => Both(new LoadSessionRequest { SessionId = "s1", Cwd = "/w", McpServers = servers, Meta = systemPrompt }, (c, r) => c.LoadSessionAsync(r), ctx.LoadSessionRequest, ctx.SessionSetupResponse),
            AcpMethods.SessionResume => Both(new ResumeSessionRequest { SessionId = "s1", Cwd = "/w", McpServers = [] }, (c, r) => c.ResumeSessionAsync(r), ctx.ResumeSessionRequest, ctx.SessionSetupResponse),
            AcpMethods.SessionPrompt => Both(new PromptRequest { SessionId = "s1", Prompt = [new TextContentBlock { Text = "hi \"you\"\n" }, new TextContentBlock { Text = "ctx" }] }, (c, r) => c.PromptAsync(r), ctx.PromptRequest, ctx.PromptResponse),
            AcpMethods.SessionSetMode => (
                c => c.SetModeAsync(new SetModeRequest { SessionId = "s1", ModeId = "plan é" }),
                c => c.SendRequestAsync(method, JsonSerializer.Serialize(new SetModeRequest { SessionId = "s1", ModeId = "plan é" }, ctx.SetModeRequest))),
            AcpMethods.SessionSetModel => (
                c => c.SetModelAsync(new SetModelRequest { SessionId = "s1", ModelId = "openai/gpt-x" }),
                c => c.SendRequestAsync(method, JsonSerializer.Serialize(new SetModelRequest { SessionId = "s1", ModelId = "openai/gpt-x" }, ctx.SetModelRequest))),
            AcpMethods.SessionSetConfigOption => Both(new SetConfigOptionRequest { SessionId = "s1", ConfigId = "thought", Value = "high" }, (c, r) => c.SetConfigOptionAsync(r), ctx.SetConfigOptionRequest, ctx.ConfigOptionsPayload),
            AcpMethods.SessionClose => (
                c => c.CloseSessionAsync(new CloseSessionRequest { SessionId = "s1" }),
                c => c.SendRequestAsync(method, """{"sessionId":"s1"}""")),
            _ => throw new ArgumentOutOfRangeException(nameof(method)),
        };

        (Func<AcpConnection, Task>, Func<AcpConnection, Task>) Both<TRequest, TResponse>(TRequest request, Func<AcpConnection, TRequest, Task<TResponse>> typed, System.Text.Json.Serialization.Metadata.JsonTypeInfo<TRequest> requestType, System.Text.Json.Serialization.Metadata.JsonTypeInfo<TResponse> responseType) =>
            (c => typed(c, request), c => c.SendRequestAsync(method, request, requestType, responseType));
    }

    [Theory]
    [MemberData(nameof(MethodNames))]
    public async Task TypedMethod_WritesTheSameLineAsTheCallItReplaces(string method)
    {
        await using var agent = new FakeAgentPipe();
        await using var connection = agent.Connect(new RecordingHandler());
        var (typed, untyped) = Pair(method);

        _ = untyped(connection);
        var before = await ReadLineWithoutIdAsync(agent);
        _ = typed(connection);
        var after = await ReadLineWithoutIdAsync(agent);

        after.Should().Be(before);
        after.Should().StartWith("{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"" + method + "\",\"params\":{");
    }

    [Fact]
    public async Task NewSessionAsync_ParsesTheSessionIdModesAndModels()
    {
        await using var agent = new FakeAgentPipe();
        await using var connection = agent.Connect(new RecordingHandler());

        var created = connection.NewSessionAsync(new NewSessionRequest { Cwd = "/w" });
        await agent.SendResultAsync(await agent.ReadRequestIdAsync(AcpMethods.SessionNew), """
            {"sessionId":"acp-1","modes":{"currentModeId":"default","availableModes":[{"id":"default","name":"Default"},{"id":"plan"}]},
             "models":{"currentModelId":"m1","availableModels":[{"modelId":"m1","name":"One"}]},"_meta":{}}
            """.ReplaceLineEndings(""));

        var setup = await created.WaitAsync(TestTimeouts.Signal);
        setup.SessionId.Should().Be("acp-1");
        setup.Modes!.CurrentModeId.Should().Be("default");
        setup.Modes.AvailableModes.Select(m => m.Id).Should().Equal("default", "plan");
        setup.Models!.AvailableModels.Should().ContainSingle().Which.ModelId.Should().Be("m1");
        setup.ConfigOptions.Should().BeNull();
    }

    [Fact]
    public async Task LoadSessionAsync_RunsOnResponseAfterTheReplayAndBeforeLaterNotifications()
    {
        await using var agent = new FakeAgentPipe();
        var handler = new RecordingHandler();
        await using var connection = agent.Connect(handler);
        var answered = -1;

        var load = connection.LoadSessionAsync(new LoadSessionRequest { SessionId = "acp-1", Cwd = "/w" }, onResponse: () => answered = handler.Notifications.Count);
        var id = await agent.ReadRequestIdAsync(AcpMethods.SessionLoad);
        await agent.SendNotificationAsync(AcpMethods.SessionUpdate, """{"sessionId":"acp-1","update":{"sessionUpdate":"user_message_chunk","content":{"type":"text","text":"old"}}}""");
        await agent.SendResultAsync(id, """{"modes":null}""");
        await agent.SendNotificationAsync(AcpMethods.SessionUpdate, """{"sessionId":"acp-1","update":{"sessionUpdate":"agent_message_chunk","content":{"type":"text","text":"new"}}}""");

        (await load.WaitAsync(TestTimeouts.Signal)).SessionId.Should().BeNull("the agent may omit it on load");
        await handler.Notifications.WaitForCountAsync(2);
        answered.Should().Be(1, "the hook runs between the replayed update and the next one");
    }

    [Fact]
    public async Task ResumeSessionAsync_ReadsTheAnswer()
    {
        await using var agent = new FakeAgentPipe();
        await using var connection = agent.Connect(new RecordingHandler());

        var resumed = connection.ResumeSessionAsync(new ResumeSessionRequest { SessionId = "acp-1", Cwd = "/w" });
        await agent.SendResultAsync(await agent.ReadRequestIdAsync(AcpMethods.SessionResume), """{"configOptions":[{"id":"model","category":"model","currentValue":"m2","options":[{"value":"m2"}]}]}""");

        (await resumed.WaitAsync(TestTimeouts.Signal)).ConfigOptions.Should().ContainSingle().Which.Category.Should().Be("model");
    }

    [Fact]
    public async Task PromptAsync_ReturnsTheStopReason()
    {
        await using var agent = new FakeAgentPipe();
        await using var connection = agent.Connect(new RecordingHandler());

        var prompt = connection.PromptAsync(new PromptRequest { SessionId = "s1", Prompt = [new TextContentBlock { Text = "chunks 1" }] });
        await agent.SendResultAsync(await agent.ReadRequestIdAsync(AcpMethods.SessionPrompt), """{"stopReason":"cancelled"}""");

        (await prompt.WaitAsync(TestTimeouts.Signal)).StopReason.Should().Be("cancelled");
    }

    [Fact]
    public async Task PromptAsync_WhenTheAgentDoesNotAnswerInTime_ThrowsAcpTimeoutException()
    {
        await using var agent = new FakeAgentPipe();
        await using var connection = agent.Connect(new RecordingHandler());

        var prompt = connection.PromptAsync(new PromptRequest { SessionId = "s1", Prompt = [] }, timeout: TimeSpan.FromMilliseconds(100));

        await FluentActions.Awaiting(() => prompt.WaitAsync(TestTimeouts.Signal)).Should().ThrowAsync<AcpTimeoutException>();
    }

    [Fact]
    public async Task CancelAsync_WritesASessionCancelNotification()
    {
        await using var agent = new FakeAgentPipe();
        await using var connection = agent.Connect(new RecordingHandler());

        await connection.CancelAsync(new SessionIdParams { SessionId = "s1" }).WaitAsync(TestTimeouts.Signal);

        (await agent.ReadLineAsync()).Should().Be("""{"jsonrpc":"2.0","method":"session/cancel","params":{"sessionId":"s1"}}""");
    }

    [Theory]
    [InlineData("null")]
    [InlineData("{}")]
    [InlineData("""{"_meta":{"x":1}}""")]
    [InlineData("true")]
    public async Task SetModeAsync_AcceptsAnyAcknowledgement(string resultJson)
    {
        await using var agent = new FakeAgentPipe();
        await using var connection = agent.Connect(new RecordingHandler());

        var set = connection.SetModeAsync(new SetModeRequest { SessionId = "s1", ModeId = "plan" });
        await agent.SendResultAsync(await agent.ReadRequestIdAsync(AcpMethods.SessionSetMode), resultJson);

        (await set.WaitAsync(TestTimeouts.Signal)).Should().NotBeNull();
    }

    [Fact]
    public async Task SetModelAsync_WhenTheAgentRefusesTheModel_ThrowsItsError()
    {
        await using var agent = new FakeAgentPipe();
        await using var connection = agent.Connect(new RecordingHandler());

        var set = connection.SetModelAsync(new SetModelRequest { SessionId = "s1", ModelId = "nope" });
        await agent.SendLineAsync(Wire.Error(await agent.ReadRequestIdAsync(AcpMethods.SessionSetModel), JsonRpcErrorCodes.InvalidParams, "unknown model"));

        var thrown = await FluentActions.Awaiting(() => set.WaitAsync(TestTimeouts.Signal)).Should().ThrowAsync<AcpRemoteException>();
        thrown.Which.Code.Should().Be(JsonRpcErrorCodes.InvalidParams);
        thrown.Which.Method.Should().Be(AcpMethods.SessionSetModel);
    }

    [Fact]
    public async Task SetConfigOptionAsync_ReturnsTheAgentsFullListOfOptions()
    {
        await using var agent = new FakeAgentPipe();
        await using var connection = agent.Connect(new RecordingHandler());

        var set = connection.SetConfigOptionAsync(new SetConfigOptionRequest { SessionId = "s1", ConfigId = "thought", Value = "high" });
        await agent.SendResultAsync(await agent.ReadRequestIdAsync(AcpMethods.SessionSetConfigOption), """
            {"configOptions":[{"id":"thought","category":"thought_level","type":"select","currentValue":"high","options":[{"value":"low"},{"value":"high","name":"High"}]},
                              {"id":"mode","category":"mode","currentValue":"default"}]}
            """.ReplaceLineEndings(""));

        var options = (await set.WaitAsync(TestTimeouts.Signal)).ConfigOptions!;
        options.Select(o => o.Id).Should().Equal("thought", "mode");
        options[0].CurrentValue!.Value.GetString().Should().Be("high");
        options[0].Options!.Select(v => v.Value!.Value.GetString()).Should().Equal("low", "high");
    }

    [Fact]
    public async Task CloseSessionAsync_WritesSessionCloseAndAcceptsAnEmptyAnswer()
    {
        await using var agent = new FakeAgentPipe();
        await using var connection = agent.Connect(new RecordingHandler());

        var close = connection.CloseSessionAsync(new CloseSessionRequest { SessionId = "s1" });
        var message = await agent.ReadMessageAsync();
        message.GetProperty("method").GetString().Should().Be("session/close");
        message.GetProperty("params").GetRawText().Should().Be("""{"sessionId":"s1"}""");
        await agent.SendResultAsync(message.GetProperty("id").GetInt64(), "{}");

        (await close.WaitAsync(TestTimeouts.Signal)).Meta.Should().BeNull();
    }
}
