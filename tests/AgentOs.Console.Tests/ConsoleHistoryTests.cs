using System.Diagnostics;
using AgentOs.Console.Tests.Infrastructure;
using Microsoft.Playwright;
using Xunit.Abstractions;

namespace AgentOs.Console.Tests;

/// <summary>Transcripts read back: a sleeping VM's session, and one of 100,000 events.</summary>
[Collection(ConsoleCollection.Name)]
public sealed class ConsoleHistoryTests(ConsoleFixture fixture, ITestOutputHelper output)
{
    [Fact]
    public async Task ASleepingVmsSession_OpensAndReplays_WithoutStartingAnAgent()
    {
        var vm = ConsoleFixture.NewVmId("asleep");
        var session = await fixture.CreateSessionAsync(vm);
        await fixture.PromptAsync(vm, session, "tool");
        await fixture.PromptAsync(vm, session, "hello **world**, see [the docs](https://example.com/docs)");
        (await fixture.Http.PostAsync($"/v1/vms/{vm}/sleep", null)).IsSuccessStatusCode.Should().BeTrue();
        (await fixture.GetJsonAsync($"/v1/vms/{vm}"))["active"]!.GetValue<bool>().Should().BeFalse();

        await using var browser = await fixture.NewPageAsync();
        await browser.GotoAsync($"/#/vm/{vm}");
        var row = browser.Page.Locator($"tr[data-session='{session}']");
        await Assertions.Expect(row).ToContainTextAsync("suspended");
        await row.GetByRole(AriaRole.Link).ClickAsync();

        var lastSeq = (await fixture.GetJsonAsync(ConsoleFixture.SessionPath(vm, session)))["lastSeq"]!.GetValue<long>();
        await browser.WaitForSeqAsync(lastSeq);
        await browser.WaitForStatusAsync("suspended");
        var page = browser.Page;
        await Assertions.Expect(page.Locator("#transcript .msg.user")).ToHaveTextAsync(["Youtool", "Youhello **world**, see [the docs](https://example.com/docs)"]);
        await Assertions.Expect(page.Locator("#transcript details.tool")).ToHaveAttributeAsync("data-status", "completed");
        var reply = page.Locator("#transcript .msg.agent").Last;
        await Assertions.Expect(reply.Locator("strong")).ToHaveTextAsync("world");
        await Assertions.Expect(reply.Locator("a")).ToHaveAttributeAsync("href", "https://example.com/docs");
        await Assertions.Expect(page.Locator("#transcript .sys").Last).ToContainTextAsync("Agent exited");
        await Assertions.Expect(page.Locator("#resume")).ToBeVisibleAsync();
        await browser.ScreenshotAsync("history");

        (await fixture.GetJsonAsync($"/v1/vms/{vm}/sessions/live")).AsArray().Should().BeEmpty("reading a transcript starts no agent");
        (await fixture.GetJsonAsync(ConsoleFixture.SessionPath(vm, session)))["status"]!.GetValue<string>().Should().Be("suspended");
        browser.ShouldHaveNoErrors();
    }

    [Fact]
    public async Task AHundredThousandEventTranscript_LoadsAndScrolls_WithOnlyTheVisibleItemsInThePage()
    {
        const int Events = 100_000;
        var vm = ConsoleFixture.NewVmId("long");
        var session = await fixture.CreateSessionAsync(vm);
        var generate = Stopwatch.StartNew();
        await fixture.PromptAsync(vm, session, $"transcript {Events}");
        var lastSeq = (await fixture.GetJsonAsync(ConsoleFixture.SessionPath(vm, session)))["lastSeq"]!.GetValue<long>();
        lastSeq.Should().BeGreaterThan(Events);
        output.WriteLine($"{lastSeq} events written in {generate.ElapsedMilliseconds} ms");

        await using var browser = await fixture.NewPageAsync();
        var page = browser.Page;
        // Long tasks (main thread busy over 50 ms) while loading and scrolling, recorded from the page's start.
        await browser.Context.AddInitScriptAsync("window.__longTasks = []; new PerformanceObserver((l) => { for (const e of l.getEntries()) window.__longTasks.push(e.duration); }).observe({ type: 'longtask', buffered: true });");
        var load = Stopwatch.StartNew();
        await browser.GotoAsync(ConsoleFixture.SessionUrl(vm, session));
        await page.WaitForFunctionAsync($"() => window.agentosConsole && window.agentosConsole.stats().lastSeq >= {lastSeq}", null, new() { Timeout = 120_000 });
        await Assertions.Expect(page.Locator("#transcript .vitem").Last).ToBeVisibleAsync();
        var loaded = load.ElapsedMilliseconds;
        var stats = await browser.StatsAsync();
        stats.Events.Should().Be(lastSeq);
        output.WriteLine($"loaded {lastSeq} events ({stats.Items} items) in {loaded} ms; {stats.Mounted} items in the DOM");
        stats.Items.Should().BeGreaterThan(40_000);
        stats.Mounted.Should().BeLessThan(200, "only the items in view (and a margin) are in the page");
        var nodes = await page.EvaluateAsync<int>("() => document.querySelectorAll('#transcript *').length");
        nodes.Should().BeLessThan(5000);

        // Jumps: to the first item, the middle, back to the end; each drawn at the next frames.
        var jumps = new List<double>();
        foreach (var index in new[] { 0, stats.Items / 2, stats.Items / 4, stats.Items - 1 })
        {
            jumps.Add(await page.EvaluateAsync<double>(
                "async (i) => { const t = performance.now(); window.agentosConsole.scrollToIndex(i); " +
                "await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r))); " +
                "if (!document.querySelector(`#transcript .vitem[data-index=\"${i}\"]`)) throw new Error('item ' + i + ' not drawn'); return performance.now() - t; }",
                index));
        }

        await Assertions.Expect(page.Locator("#transcript .vitem[data-index='0']")).ToHaveCountAsync(0, new() { Timeout = 5000 });
        // Scrolling by wheel through the middle, as a person does.
        await page.EvaluateAsync("(i) => window.agentosConsole.scrollToIndex(i)", stats.Items / 2);
        await page.Locator("#transcript").HoverAsync();
        var wheel = Stopwatch.StartNew();
        for (var i = 0; i < 20; i++)
        {
            await page.Mouse.WheelAsync(0, 600);
        }

        await page.EvaluateAsync("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))");
        var wheelMs = wheel.ElapsedMilliseconds;

        // Typing stays immediate.
        var typing = await page.EvaluateAsync<double>(
            "async () => { const box = document.getElementById('prompt'); box.focus(); const t = performance.now(); " +
            "box.value = 'still responsive'; box.dispatchEvent(new Event('input')); await new Promise(r => requestAnimationFrame(r)); return performance.now() - t; }");
        var longTasks = await page.EvaluateAsync<double[]>("() => window.__longTasks");
        output.WriteLine($"jumps (scroll to item → drawn, 2 frames): {string.Join(", ", jumps.Select(j => $"{j:F0} ms"))}; 20 wheel steps {wheelMs} ms; " +
            $"typing → frame {typing:F0} ms; long tasks: {longTasks.Length}, longest {(longTasks.Length > 0 ? longTasks.Max() : 0):F0} ms, total {longTasks.Sum():F0} ms");
        jumps.Should().OnlyContain(j => j < 1000, "a jump anywhere in the transcript is drawn at once");
        stats = await browser.StatsAsync();
        stats.Mounted.Should().BeLessThan(200);
        await browser.ScreenshotAsync("long-transcript");
        browser.ShouldHaveNoErrors();
    }
}
