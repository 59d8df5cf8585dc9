using System.Net;
using AgentOs.Server.Tests.Infrastructure;

namespace AgentOs.Server.Tests.Http;

/// <summary>SIGTERM with HTTP requests in flight: the running turn ends cancelled, new work gets 503 ServerUnavailable.</summary>
public sealed class HttpShutdownTests
{
    [Fact]
    public async Task Sigterm_EndsTheRunningTurnCancelled_AndAQueuedPromptGets503ServerUnavailable()
    {
        await using var server = await ServerProcess.StartAsync(TestAgents.AsEnvironment(TestAgents.Default));
        using var http = HttpApi.Client(server.BaseAddress);
        var id = await http.CreateSessionAsync("shutdown");
        await using var events = await SseReader.OpenAsync(http, HttpApi.Session("shutdown", id) + "/events/stream");
        var running = http.PromptAsync("shutdown", id, "sleep 30000");
        while ((await events.ReadEventAsync()).Json.Method() != "session/update")
        {
        }

        var queued = http.PostAsync(HttpApi.Session("shutdown", id) + "/prompt", HttpApi.Json("{\"text\":\"chunks 1\"}"));
        while ((await events.ReadEventAsync()).Json.Method() != "_agentos/prompt_queued")
        {
        }

        var stopping = server.StopAsync(TimeSpan.FromSeconds(30));

        (await running)["stopReason"]!.GetValue<string>().Should().Be("cancelled", "the orderly stop ends running turns before the web server waits for its requests");
        using var refused = await queued;
        (await HttpApi.ExpectProblemAsync(refused, HttpStatusCode.ServiceUnavailable, "ServerUnavailable"))["detail"]!.GetValue<string>().Should().Contain("shutting down");
        await stopping;
        server.HasExited.Should().BeTrue();
    }
}
