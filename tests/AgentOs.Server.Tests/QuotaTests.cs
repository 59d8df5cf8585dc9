using AgentOs.Client;
using AgentOs.Server.Tests.Infrastructure;

namespace AgentOs.Server.Tests;

/// <summary>Issue 14, the counts: one more live session than a bound allows is refused with QuotaExceeded naming the option, and leaves nothing behind.</summary>
public sealed class QuotaTests
{
    [Fact]
    public async Task OneMoreThanMaxSessionsPerVm_MaxLiveAgents_OrMaxActiveVms_IsRefused_NamingTheOption()
    {
        var env = TestAgents.AsEnvironment("mine");
        env["AgentOs__MaxSessionsPerVm"] = "2";
        env["AgentOs__MaxLiveAgents"] = "3";
        env["AgentOs__MaxActiveVms"] = "2";
        await using var server = await ServerProcess.StartAsync(env);
        await using var client = await AgentOsClient.ConnectAsync(server.ClientOptions);
        var a = client.Vm("quota-a");
        var b = client.Vm("quota-b");
        var c = client.Vm("quota-c");

        var a1 = await a.CreateSessionAsync("mine");
        var a2 = await a.CreateSessionAsync("mine");
        (await Refused(() => a.CreateSessionAsync("mine"))).Should().Contain("AgentOs:MaxSessionsPerVm");
        (await a.ListPersistedSessionsAsync()).Should().HaveCount(2, "a refused session leaves no row");
        await b.CreateSessionAsync("mine");
        (await Refused(() => b.CreateSessionAsync("mine"))).Should().Contain("AgentOs:MaxLiveAgents");
        await a.CloseSessionAsync(a2.SessionId);
        (await Refused(() => c.CreateSessionAsync("mine"))).Should().Contain("AgentOs:MaxActiveVms", "a and b still have live agents");

        await a.CloseSessionAsync(a1.SessionId);
        var c1 = await c.CreateSessionAsync("mine");
        (await c1.SendPromptAsync("ping")).Text.Should().Be("echo: ping", "a VM that went quiet makes room");
        await b.CreateSessionAsync("mine");
    }

    private static async Task<string> Refused(Func<Task> create) =>
        (await create.Should().ThrowAsync<AgentOsException>().Where(e => e.Code == AgentOsErrorCode.QuotaExceeded)).Which.Message;
}
