using AgentOs.Client;
using AgentOs.Server.Tests.Infrastructure;

namespace AgentOs.Server.Tests;

/// <summary>Timed, so run alone: no other test class shares the 2 cores meanwhile.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class AloneCollection
{
    public const string Name = "alone";
}

/// <summary>Issue 14: a CPU burner in one VM next to a streaming session in another.</summary>
[Collection(AloneCollection.Name)]
public sealed class CpuNeighbourTests
{
    /// <summary>
    /// How much slower a streaming session may run next to another VM's CPU burner. Measured on 2 cores: 2.3 to 3.3 times
    /// with the burner in its agent's cgroup, 1.9 to 2.1 times with no cgroups (the stream is bound by wake-up latency
    /// between the agent and the server, not by CPU share); what must not happen is the burner taking the host.
    /// </summary>
    private const double BurnerSlowdown = 4.0;

    [Fact]
    public async Task ACpuBurnerInOneVm_LeavesAStreamingSessionInAnotherAtLeastAQuarterOfItsSpeed()
    {
        await using var server = await ServerProcess.StartAsync(TestAgents.AsEnvironment("mine"));
        await using var client = await AgentOsClient.ConnectAsync(server.ClientOptions);
        var streamer = await client.Vm("streaming").CreateSessionAsync("mine");
        await streamer.SendPromptAsync("chunks 2000"); // warm: the first turn pays for JIT
        var alone = await MedianTurnAsync(streamer);

        var burner = await client.Vm("burning").CreateSessionAsync("mine");
        await burner.SendPromptAsync("sh for i in 1 2 3 4 5 6 7 8; do sh -c 'while :; do :; done' >/dev/null 2>&1 & done; echo burning");
        var beside = await MedianTurnAsync(streamer);
        await client.Vm("burning").CloseSessionAsync(burner.SessionId); // the burners die with their agent's cgroup

        Console.WriteLine($"streaming 30,000 chunks: {alone.TotalMilliseconds:F0} ms alone, {beside.TotalMilliseconds:F0} ms beside 8 burning processes");
        beside.Should().BeLessThan(alone * BurnerSlowdown, $"alone it took {alone.TotalMilliseconds:F0} ms; 8 spinning processes of another VM get one agent's CPU weight, not 8 of the 2 cores' shares");
    }

    private static async Task<TimeSpan> MedianTurnAsync(SessionHandle session)
    {
        var times = new List<TimeSpan>();
        for (var i = 0; i < 3; i++)
        {
            var watch = System.Diagnostics.Stopwatch.StartNew();
            await session.SendPromptAsync("chunks 30000");
            times.Add(watch.Elapsed);
        }

        return times.Order().ElementAt(1);
    }
}
