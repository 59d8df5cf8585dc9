using AgentOs.Server.Tests.Infrastructure;

namespace AgentOs.Server.Tests;

/// <summary>
/// Issue 13, item 6: only <see cref="AgentOsException"/> crosses the wire. Every grain call gets the inputs a careless
/// or hostile client can send (nulls, empty strings, out-of-range numbers, a session id that names nothing) straight
/// at <see cref="IVmGrain"/>, past the SDK's own checks; each must fail with a typed error naming a code other than
/// <c>Unknown</c> (what <c>WireExceptionFilter</c> makes of any other exception), or succeed.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class WireExceptionTests(ClusterFixture fixture)
{
    public static TheoryData<string> Calls() => [.. HostileCalls.Keys];

    private static readonly Dictionary<string, Func<IVmGrain, string, Task>> HostileCalls = new()
    {
        ["CreateSession(null)"] = (g, _) => g.CreateSession(null!),
        ["CreateSession(empty)"] = (g, _) => g.CreateSession(""),
        ["CreateSession(options with nulls)"] = (g, _) => g.CreateSession(TestAgents.Default, new CreateSessionOptions { Env = null!, McpServers = null!, Cwd = "" }),
        ["CreateSession(env with null value)"] = (g, _) => g.CreateSession(TestAgents.Default, new CreateSessionOptions { Env = new Dictionary<string, string> { ["A"] = null! } }),
        ["SendPrompt(null, null)"] = (g, _) => g.SendPrompt(null!, null!),
        ["SendPrompt(live, null)"] = (g, s) => g.SendPrompt(s, null!),
        ["CancelPrompt(null)"] = (g, _) => g.CancelPrompt(null!),
        ["RespondPermission(null, -1, null)"] = (g, _) => g.RespondPermission(null!, -1, null!),
        ["RespondPermission(live, 0, null)"] = (g, s) => g.RespondPermission(s, 0, null!),
        ["GetPendingPermissions(null)"] = (g, _) => g.GetPendingPermissions(null!),
        ["RespondElicitation(null, -1, null)"] = (g, _) => g.RespondElicitation(null!, -1, null!),
        ["RespondElicitation(live, 0, null)"] = (g, s) => g.RespondElicitation(s, 0, null!),
        ["RespondElicitation(live, 0, bad action)"] = (g, s) => g.RespondElicitation(s, 0, new ElicitationAnswer { Action = (ElicitationAction)42, ContentJson = "{" }),
        ["GetPendingElicitations(null)"] = (g, _) => g.GetPendingElicitations(null!),
        ["GetUsage(null)"] = (g, _) => g.GetUsage(null!),
        ["GetModes(null)"] = (g, _) => g.GetModes(null!),
        ["GetConfigOptions(null)"] = (g, _) => g.GetConfigOptions(null!),
        ["SetMode(live, null)"] = (g, s) => g.SetMode(s, null!),
        ["SetModel(live, null)"] = (g, s) => g.SetModel(s, null!),
        ["SetThoughtLevel(live, null)"] = (g, s) => g.SetThoughtLevel(s, null!),
        ["SetMode(null, x)"] = (g, _) => g.SetMode(null!, "x"),
        ["ResumeSession(null)"] = (g, _) => g.ResumeSession(null!),
        ["CloseSession(null)"] = (g, _) => g.CloseSession(null!),
        ["DestroySession(null)"] = (g, _) => g.DestroySession(null!),
        ["GetSequencedEvents(null, min, min)"] = (g, _) => g.GetSequencedEvents(null!, long.MinValue, int.MinValue),
        ["GetSequencedEvents(live, max, max)"] = (g, s) => g.GetSequencedEvents(s, long.MaxValue, int.MaxValue),
    };

    [Theory]
    [MemberData(nameof(Calls))]
    public async Task AHostileInput_FailsWithATypedError_OrSucceeds(string call)
    {
        var vm = fixture.NewVm();
        var live = await vm.CreateSessionAsync(TestAgents.Default);
        var grain = fixture.Client.ClusterClient.GetGrain<IVmGrain>(vm.Id);

        var error = await Record.ExceptionAsync(() => HostileCalls[call](grain, live.SessionId));

        if (error is not null)
        {
            error.Should().BeOfType<AgentOsException>($"{call} must fail with AgentOs' own type, not {error.GetType().Name}: {error.Message}");
            ((AgentOsException)error).Code.Should().NotBe(AgentOsErrorCode.Unknown, $"{call} is validated into a code a client can act on, not caught as a bug: {error.Message}");
        }

        (await live.SendPromptAsync("ping")).Text.Should().Be("echo: ping", "the VM goes on");
    }
}
