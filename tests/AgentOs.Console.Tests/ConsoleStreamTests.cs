using System.Text.RegularExpressions;
using AgentOs.Console.Tests.Infrastructure;
using Microsoft.Playwright;
using Xunit.Abstractions;

namespace AgentOs.Console.Tests;

/// <summary>The live stream under a reload and under a network drop: every event shown once, none missing.</summary>
[Collection(ConsoleCollection.Name)]
public sealed partial class ConsoleStreamTests(ConsoleFixture fixture, ITestOutputHelper output)
{
    /// <summary>`sleep 4000`: a "tick " chunk every 100 ms, 40 in all, one message.</summary>
    private const int Ticks = 40;

    [Fact]
    public async Task ReloadingThePageMidStream_ShowsEveryEventOnce_NoneMissing()
    {
        var vm = ConsoleFixture.NewVmId("reload");
        var session = await fixture.CreateSessionAsync(vm);
        await using var browser = await fixture.NewPageAsync();
        await browser.OpenSessionAsync(vm, session);

        await browser.SendAsync($"sleep {Ticks * 100}");
        await Assertions.Expect(browser.Page.Locator("#transcript .msg.agent").Last).ToContainTextAsync("tick tick tick");
        await browser.Page.ReloadAsync();
        await browser.Page.WaitForFunctionAsync("() => window.agentosConsole");
        await browser.WaitForStatusAsync("running"); // reloaded while the turn streams
        await browser.WaitForStatusAsync("idle");

        await AssertEveryTickOnceAsync(browser, vm, session);
        browser.ShouldHaveNoErrors();
    }

    [Fact]
    public async Task ANetworkDropMidStream_ReconnectsFromTheLastSeq_WithoutDuplicatesOrGaps()
    {
        var vm = ConsoleFixture.NewVmId("drop");
        var session = await fixture.CreateSessionAsync(vm);
        await using var cutter = new TcpCutter(fixture.Server.BaseAddress.Port);
        await using var browser = await fixture.NewPageAsync(cutter.Address);
        await browser.OpenSessionAsync(vm, session);

        await browser.SendAsync($"sleep {Ticks * 100}");
        await Assertions.Expect(browser.Page.Locator("#transcript .msg.agent").Last).ToContainTextAsync("tick tick tick");
        cutter.CutAll().Should().BeGreaterThan(0, "the event stream's connection runs through the relay");
        await browser.Page.WaitForFunctionAsync("() => window.agentosConsole.stats().connections >= 2");
        await Assertions.Expect(browser.Page.Locator("#stream-state")).ToHaveAttributeAsync("data-state", "live");
        await browser.WaitForStatusAsync("idle");

        var stats = await AssertEveryTickOnceAsync(browser, vm, session);
        stats.Connections.Should().BeGreaterThanOrEqualTo(2, "the console reconnected after the drop");
        output.WriteLine($"connections {stats.Connections}, events skipped as already held {stats.Skipped}, gaps {stats.Gaps}");
        browser.Errors.Should().OnlyContain(e => NetworkErrorLine().IsMatch(e), "the only errors are the browser's own report of the cut connection");
    }

    private async Task<SessionStats> AssertEveryTickOnceAsync(ConsolePage browser, string vm, string session)
    {
        var lastSeq = (await fixture.GetJsonAsync(ConsoleFixture.SessionPath(vm, session)))["lastSeq"]!.GetValue<long>();
        await browser.WaitForSeqAsync(lastSeq);
        var text = await browser.LastAgentMessageAsync();
        text.Should().Be(string.Join(' ', Enumerable.Repeat("tick", Ticks)), "each chunk is shown exactly once, in order");
        var stats = await browser.StatsAsync();
        stats.LastSeq.Should().Be(lastSeq);
        stats.Events.Should().Be(lastSeq, "the page applied seq 1..N, each once");
        stats.Gaps.Should().Be(0);
        return stats;
    }

    [GeneratedRegex("net::ERR_|Failed to load resource|network error", RegexOptions.IgnoreCase)]
    private static partial Regex NetworkErrorLine();
}
