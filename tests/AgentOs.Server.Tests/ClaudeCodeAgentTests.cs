using AgentOs.Server.Tests.Infrastructure;
using Xunit.Abstractions;

namespace AgentOs.Server.Tests;

/// <summary>A server whose built-in <c>claude-code</c> agent type installs on first use and talks to the fake LLM's Anthropic Messages endpoint.</summary>
public sealed class ClaudeCodeFixture() : RealAgentFixture("claude-code");

[CollectionDefinition(Name)]
public sealed class ClaudeCodeCollection : ICollectionFixture<ClaudeCodeFixture>
{
    public const string Name = "claude-code";
}

/// <summary>
/// The real Claude Code (@zed-industries/claude-code-acp 0.16.2 over Claude Code 2.1.44, through the Claude Agent SDK)
/// in a bubblewrap VM, against the fake LLM's Anthropic endpoint (<c>ANTHROPIC_BASE_URL</c>, any <c>ANTHROPIC_API_KEY</c>):
/// the agent matrix. With the client's <c>fs</c> capability it writes files through <c>fs/write_text_file</c> (its own
/// Write tool turned off), after a permission request in its default mode.
/// </summary>
[Collection(ClaudeCodeCollection.Name)]
public sealed class ClaudeCodeAgentTests(ClaudeCodeFixture fixture, ITestOutputHelper output) : AgentMatrixTests(fixture, output)
{
    protected override string LlmApi => "anthropic";

    protected override FileWrite Writes => FileWrite.ThroughFsWrite;

    protected override bool AsksPermission => true;
}
