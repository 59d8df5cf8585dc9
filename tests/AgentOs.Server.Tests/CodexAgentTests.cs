using AgentOs.Server.Tests.Infrastructure;
using Xunit.Abstractions;

namespace AgentOs.Server.Tests;

/// <summary>A server whose built-in <c>codex</c> agent type installs on first use and talks to the fake LLM's OpenAI Responses endpoint.</summary>
public sealed class CodexFixture() : RealAgentFixture("codex");

[CollectionDefinition(Name)]
public sealed class CodexCollection : ICollectionFixture<CodexFixture>
{
    public const string Name = "codex";
}

/// <summary>
/// The real Codex (@zed-industries/codex-acp 0.16.0 over Codex 0.137.0, a native binary) in a bubblewrap VM, against the
/// fake LLM's Responses endpoint (a provider of its own in <c>~/.codex/config.toml</c>, <c>wire_api = "responses"</c>, no
/// key): the agent matrix. It writes files itself (<c>apply_patch</c>), after a permission request in its default mode
/// (<c>read-only</c>, as in a folder it does not trust).
/// </summary>
[Collection(CodexCollection.Name)]
public sealed class CodexAgentTests(CodexFixture fixture, ITestOutputHelper output) : AgentMatrixTests(fixture, output)
{
    protected override string LlmApi => "responses";

    protected override FileWrite Writes => FileWrite.ByTheAgent;

    protected override bool AsksPermission => true;
}
