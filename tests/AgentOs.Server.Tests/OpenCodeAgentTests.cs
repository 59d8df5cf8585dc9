using AgentOs.Server.Tests.Infrastructure;
using Xunit.Abstractions;

namespace AgentOs.Server.Tests;

/// <summary>A server whose built-in <c>opencode</c> agent type installs on first use and talks to the fake LLM's chat completions.</summary>
public sealed class OpenCodeFixture() : RealAgentFixture("opencode");

[CollectionDefinition(Name)]
public sealed class OpenCodeCollection : ICollectionFixture<OpenCodeFixture>
{
    public const string Name = "opencode";
}

/// <summary>
/// The real OpenCode (opencode-ai 1.18.33, its own <c>acp</c> command, a native binary) in a bubblewrap VM, against the
/// fake LLM's chat completions (a provider with <c>@ai-sdk/openai-compatible</c> in <c>~/.config/opencode/opencode.json</c>):
/// the agent matrix. With the client's <c>fs</c> capability it writes files through <c>fs/write_text_file</c>; it asks
/// permission only when its config says so (<c>"permission": { "edit": "ask" }</c>, as the VM is provisioned here; its
/// default is to allow).
/// </summary>
[Collection(OpenCodeCollection.Name)]
public sealed class OpenCodeAgentTests(OpenCodeFixture fixture, ITestOutputHelper output) : AgentMatrixTests(fixture, output)
{
    protected override string LlmApi => "chat";

    protected override FileWrite Writes => FileWrite.ThroughFsWrite;

    protected override bool AsksPermission => true;
}
