using AgentOs.Client;
using AgentOs.Server.Tests.Infrastructure;

namespace AgentOs.Server.Tests;

/// <summary>
/// Issue 13, item 5: a session destroyed while it starts must be torn down whole: no live agent without a row,
/// no rows without a session. A second client sees the starting session in ListPersistedSessions and destroys it.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class LifecycleRaceTests(ClusterFixture fixture)
{
    private const int Rounds = 200;

    [Fact]
    public async Task DestroyWhileCreating_LeavesNeitherALiveAgentNorRows_InEveryRound()
    {
        var vm = fixture.NewVm();
        var destroyedWhileStarting = 0;
        for (var round = 0; round < Rounds; round++)
        {
            var create = vm.CreateSessionAsync(TestAgents.Default);
            string? id = null;
            while (id is null && !create.IsCompleted)
            {
                id = (await vm.ListPersistedSessionsAsync()).FirstOrDefault(s => s.Status == SessionStatus.Starting)?.SessionId;
            }

            id ??= (await create).SessionId;
            if (!create.IsCompleted)
            {
                destroyedWhileStarting++;
            }

            await vm.DestroySessionAsync(id);
            try
            {
                await create;
            }
            catch (AgentOsException)
            {
                // a create the destroy overtook ends in a typed error
            }

            (await vm.ListSessionsAsync()).Should().NotContain(id, $"round {round}: a destroyed session has no live agent");
            (await vm.ListPersistedSessionsAsync()).Select(s => s.SessionId).Should().NotContain(id, $"round {round}: nor a row");
            var events = () => vm.GetEventsAsync(id);
            (await events.Should().ThrowAsync<AgentOsException>()).Which.Code.Should().Be(AgentOsErrorCode.UnknownSession, $"round {round}: nor events");
        }

        destroyedWhileStarting.Should().BeGreaterThan(Rounds / 4, "most rounds must really race the start");
    }
}
