using System.Text;

namespace AgentOs.Acp.Tests;

/// <summary>The one <c>session/update</c> reader: kind and chunk text out of the params bytes.</summary>
public sealed class SessionUpdateScanTests
{
    [Theory]
    [InlineData("""{"sessionId":"s","update":{"sessionUpdate":"agent_message_chunk","content":{"type":"text","text":"c1 "}}}""", "AgentMessageChunk", "c1 ")]
    [InlineData("""{"update":{"content":{"text":"first","type":"text"},"sessionUpdate":"agent_message_chunk"}}""", "AgentMessageChunk", "first")]
    [InlineData("""{"update":{"sessionUpdate":"agent_message_chunk","content":{"type":"text","text":"\u00e9\n\"q\" \ud83c\udf89"}}}""", "AgentMessageChunk", "é\n\"q\" 🎉")]
    [InlineData("""{"update":{"sessionUpdate":"agent_\u006dessage_chunk","content":{"text":"escaped kind"}}}""", "AgentMessageChunk", "escaped kind")]
    [InlineData("""{"update":{"sessionUpdate":"agent_message_chunk","content":{"type":"image","data":"..."}}}""", "AgentMessageChunk", null)]
    [InlineData("""{"update":{"sessionUpdate":"agent_message_chunk","content":{"text":42}}}""", "AgentMessageChunk", null)]
    [InlineData("""{"update":{"sessionUpdate":"agent_message_chunk","content":"text"}}""", "AgentMessageChunk", null)]
    [InlineData("""{"update":{"sessionUpdate":"agent_thought_chunk","content":{"text":"hm"}}}""", "Other", null)]
    [InlineData("""{"update":{"sessionUpdate":"current_mode_update","currentModeId":"x"}}""", "Config", null)]
    [InlineData("""{"update":{"sessionUpdate":"config_option_update","configOptions":[]}}""", "Config", null)]
    [InlineData("""{"update":{"nested":{"sessionUpdate":"agent_message_chunk"}}}""", "None", null)]
    [InlineData("""{"other":{"update":{"sessionUpdate":"agent_message_chunk"}}}""", "None", null)]
    [InlineData("""{"update":{"sessionUpdate":7}}""", "None", null)]
    [InlineData("""[1,2]""", "None", null)]
    [InlineData("""{"update":{"sessionUpdate":"agent_message_chunk","content":{"text":"cut""", "None", null)]
    [InlineData("", "None", null)]
    public void SessionUpdateScan_ReadsKindAndText(string json, string kind, string? text)
    {
        var info = SessionUpdateScan.Read(Encoding.UTF8.GetBytes(json), wantText: true);

        info.Should().Be(new SessionUpdateInfo(Enum.Parse<SessionUpdateKind>(kind), text));
    }

    [Fact]
    public void SessionUpdateScan_WithoutWantText_DoesNotDecodeIt() =>
        SessionUpdateScan.Read("""{"update":{"sessionUpdate":"agent_message_chunk","content":{"text":"x"}}}"""u8, wantText: false)
            .Should().Be(new SessionUpdateInfo(SessionUpdateKind.AgentMessageChunk, null));

    [Theory]
    [InlineData("""{"update":{"sessionUpdate":"agent_message_chunk","content":{"text":"x"}}}""", "agent_message_chunk")]
    [InlineData("""{"update":{"content":[],"sessionUpdate":"tool_call","toolCallId":"t1"}}""", "tool_call")]
    [InlineData("""{"update":{"sessionUpdate":"usage_\u0075pdate"}}""", "usage_update")]
    [InlineData("""{"update":{"sessionUpdate":"something_new","x":{}}}""", "something_new")]
    [InlineData("""{"update":{"sessionUpdate":7}}""", null)]
    [InlineData("""{"update":[]}""", null)]
    [InlineData("""{"update":{"sessionUpdate":"plan""", null)]
    [InlineData("", null)]
    public void ReadKind_GivesTheKindAsWrittenForAnyKind(string json, string? kind) =>
        SessionUpdateScan.ReadKind(Encoding.UTF8.GetBytes(json)).Should().Be(kind);

    [Fact]
    public void ReadKind_OfAKnownKind_ReturnsASharedString() =>
        SessionUpdateScan.ReadKind("""{"update":{"sessionUpdate":"tool_call_update"}}"""u8)
            .Should().BeSameAs(SessionUpdateScan.ReadKind("""{"update":{"sessionUpdate":"tool_call_update","status":"pending"}}"""u8));

    [Theory]
    [InlineData("""{"update":{"sessionUpdate":"agent_message_chunk","content":{"type":"text","text":"c1 "}}}""", "c1 ")]
    [InlineData("""{"update":{"content":{"type":"text","text":"hm"},"sessionUpdate":"agent_thought_chunk"}}""", "hm")]
    [InlineData("""{"update":{"sessionUpdate":"user_message_chunk","content":{"type":"text","text":"old"}}}""", "old")]
    [InlineData("""{"update":{"sessionUpdate":"agent_message_chunk","content":{"type":"image","data":"..."}}}""", null)]
    [InlineData("""{"update":{"sessionUpdate":"tool_call","content":{"text":"not a chunk"}}}""", null)]
    [InlineData("""{"update":{"sessionUpdate":"agent_thought_chunk","content":{"text":"cut""", null)]
    public void ReadChunkText_GivesTheTextOfMessageAndThoughtChunksOnly(string json, string? text) =>
        SessionUpdateScan.ReadChunkText(Encoding.UTF8.GetBytes(json)).Should().Be(text);
}
