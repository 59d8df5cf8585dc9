using System.Text;
using AgentOs.Console.Tests.Infrastructure;
using Microsoft.Playwright;
using Xunit.Abstractions;

namespace AgentOs.Console.Tests;

/// <summary>A person using the console against a real server and the scripted test agent, in headless Chromium.</summary>
[Collection(ConsoleCollection.Name)]
public sealed class ConsoleSessionTests(ConsoleFixture fixture, ITestOutputHelper output)
{
    private static string Chunks(int count) => string.Concat(Enumerable.Range(1, count).Select(i => $"c{i} "));

    [Fact]
    public async Task CreatingASession_FromTheForm_AndPromptingIt_StreamsTheReplyIntoTheConversation()
    {
        var vm = ConsoleFixture.NewVmId("form");
        await using var browser = await fixture.NewPageAsync();
        var page = browser.Page;
        await browser.GotoAsync("/#/new");

        await page.Locator("#vm").FillAsync(vm);
        await Assertions.Expect(page.Locator("#agent-type option[value=test]")).ToHaveCountAsync(1);
        await page.Locator("#agent-type").SelectOptionAsync("test");
        await page.Locator("[data-action=add-env]").ClickAsync();
        await page.Locator(".env-key").FillAsync("MY_SECRET");
        await page.Locator(".env-value").FillAsync("s3cret-value");
        (await page.Locator(".env-value").GetAttributeAsync("type")).Should().Be("password", "the environment's values are masked");
        await page.Locator("#cwd").FillAsync("/home/agentos");
        await page.Locator("#permission-policy").SelectOptionAsync("allowAll");
        await browser.ScreenshotAsync("new-session");
        await page.GetByRole(AriaRole.Button, new() { Name = "Create session" }).ClickAsync();

        await page.WaitForURLAsync("**/s/*");
        await browser.WaitForStatusAsync("idle");
        await Assertions.Expect(page.Locator("#transcript .sys").First).ToContainTextAsync("Agent started");

        await browser.SendAsync("chunks 300");
        await Assertions.Expect(page.Locator("#transcript .msg.user").Last).ToHaveTextAsync("Youchunks 300");
        await Assertions.Expect(page.Locator("#transcript .msg.agent").Last).ToHaveTextAsync(Chunks(300).TrimEnd());
        await browser.WaitForStatusAsync("idle");

        await browser.SendAsync("env MY_SECRET");
        await Assertions.Expect(page.Locator("#transcript .msg.agent").Last).ToHaveTextAsync("s3cret-value");

        await browser.SendAsync("thought Weighing **two** options");
        await Assertions.Expect(page.Locator("#transcript details.thought").Last).ToContainTextAsync("Weighing **two** options");
        await Assertions.Expect(page.Locator("#transcript .msg.agent").Last).ToHaveTextAsync("done thinking");

        await browser.SendAsync("tool");
        var card = page.Locator("#transcript details.tool").Last;
        await Assertions.Expect(card).ToHaveAttributeAsync("data-status", "completed");
        await Assertions.Expect(card).ToContainTextAsync("Read file");
        await Assertions.Expect(page.Locator("#transcript .msg.agent").Last).ToHaveTextAsync("tool done");
        await browser.WaitForStatusAsync("idle");
        await browser.ScreenshotAsync("session");

        // Live latency: `sleep 2000` sends a chunk every 100 ms; each is drawn at the next animation frame.
        var before = (await browser.StatsAsync()).Latencies.Length;
        await browser.SendAsync("sleep 2000");
        await browser.WaitForStatusAsync("running");
        await browser.WaitForStatusAsync("idle");
        var latencies = (await browser.StatsAsync()).Latencies.Skip(before).Order().ToArray();
        latencies.Should().NotBeEmpty();
        output.WriteLine($"event → screen over {latencies.Length} live events: p50 {latencies[latencies.Length / 2]} ms, p95 {latencies[(int)(latencies.Length * 0.95)]} ms, max {latencies[^1]} ms");
        latencies[latencies.Length / 2].Should().BeLessThan(1000, "a live event is drawn at the next frame, not seconds later");

        var stats = await browser.StatsAsync();
        stats.Events.Should().Be(stats.LastSeq, "each seq is applied once");
        browser.ShouldHaveNoErrors();
    }

    [Fact]
    public async Task APermissionRequest_ShowsInEveryBrowserWatching_AndAnsweringItFromThePage_ResumesTheAgent()
    {
        var vm = ConsoleFixture.NewVmId("approve");
        var session = await fixture.CreateSessionAsync(vm, permissionPolicy: "ask");
        await using var first = await fixture.NewPageAsync();
        await using var second = await fixture.NewPageAsync();
        await first.OpenSessionAsync(vm, session);
        await second.OpenSessionAsync(vm, session);

        await first.SendAsync("edit /home/agentos/notes.md hello from the console");
        foreach (var browser in new[] { first, second })
        {
            var banner = browser.Page.Locator("#approvals .banner.approval");
            await Assertions.Expect(banner).ToBeVisibleAsync();
            await Assertions.Expect(banner).ToContainTextAsync("Edit /home/agentos/notes.md");
            await Assertions.Expect(banner.GetByRole(AriaRole.Button, new() { Name = "Allow" })).ToBeVisibleAsync();
            await Assertions.Expect(banner.GetByRole(AriaRole.Button, new() { Name = "Reject" })).ToBeVisibleAsync();
            await Assertions.Expect(banner.Locator(".time-left")).ToHaveTextAsync(new System.Text.RegularExpressions.Regex(@"^(4 min \d\d|5 min 00) s left$"));
            await Assertions.Expect(browser.Page.Locator("#transcript details.tool").Last).ToContainTextAsync("awaiting approval");
        }

        await first.ScreenshotAsync("permission");
        await first.Page.Locator("#approvals").GetByRole(AriaRole.Button, new() { Name = "Allow" }).ClickAsync();

        foreach (var browser in new[] { first, second })
        {
            await Assertions.Expect(browser.Page.Locator("#approvals .banner")).ToHaveCountAsync(0);
            await Assertions.Expect(browser.Page.Locator("#transcript .msg.agent").Last).ToHaveTextAsync("edited /home/agentos/notes.md");
            var card = browser.Page.Locator("#transcript details.tool").Last;
            await Assertions.Expect(card).ToHaveAttributeAsync("data-status", "completed");
            await Assertions.Expect(card.Locator(".diff .add")).ToHaveTextAsync("+ hello from the console");
            await Assertions.Expect(browser.Page.Locator("#transcript .permission-card").Last).ToContainTextAsync("Allow (answered)");
        }

        File.ReadAllText(Path.Combine(fixture.HomeOf(vm), "notes.md")).Should().Be("hello from the console");
        first.ShouldHaveNoErrors();
        second.ShouldHaveNoErrors();
    }

    [Fact]
    public async Task CancelDuringASlowTurn_EndsTheTurnCancelled()
    {
        var vm = ConsoleFixture.NewVmId("cancel");
        var session = await fixture.CreateSessionAsync(vm);
        await using var browser = await fixture.NewPageAsync();
        await browser.OpenSessionAsync(vm, session);

        await browser.SendAsync("sleep 60000");
        await browser.WaitForStatusAsync("running");
        await Assertions.Expect(browser.Page.Locator("#transcript .msg.agent").Last).ToContainTextAsync("tick tick");
        await browser.Page.Locator("#cancel").ClickAsync();

        await Assertions.Expect(browser.Page.Locator("#transcript .sys").Last).ToHaveTextAsync("Turn ended: cancelled");
        await browser.WaitForStatusAsync("idle");
        (await browser.Page.Locator("#cancel").IsDisabledAsync()).Should().BeTrue();
        browser.ShouldHaveNoErrors();
    }

    [Fact]
    public async Task APromptSentWhileATurnRuns_ShowsAsQueued_ThenRunsAfterIt()
    {
        var vm = ConsoleFixture.NewVmId("queue");
        var session = await fixture.CreateSessionAsync(vm);
        await using var browser = await fixture.NewPageAsync();
        await browser.OpenSessionAsync(vm, session);

        await browser.SendAsync("chunks-gate 5 gate");
        await Assertions.Expect(browser.Page.Locator("#transcript .msg.agent").Last).ToHaveTextAsync("c1 c2 c3 c4 c5");
        await browser.SendAsync("queued one");
        var queued = browser.Page.Locator("#queue .queued.queued");
        await Assertions.Expect(queued).ToHaveCountAsync(1);
        await Assertions.Expect(queued).ToContainTextAsync("queued one");
        await browser.ScreenshotAsync("queued");

        await File.WriteAllTextAsync(Path.Combine(fixture.HomeOf(vm), "gate"), "");
        await Assertions.Expect(browser.Page.Locator("#transcript .msg.agent").Last).ToHaveTextAsync("echo: queued one");
        await Assertions.Expect(browser.Page.Locator("#queue .queued")).ToHaveCountAsync(0);
        await Assertions.Expect(browser.Page.Locator("#transcript .msg.user")).ToHaveTextAsync(["Youchunks-gate 5 gate", "Youqueued one"]);
        browser.ShouldHaveNoErrors();
    }

    [Fact]
    public async Task TheModeAndModelPickers_ChangeTheAgentsSettings_AndTheTranscriptRecordsIt()
    {
        var vm = ConsoleFixture.NewVmId("pickers");
        var session = await fixture.CreateSessionAsync(vm);
        await using var browser = await fixture.NewPageAsync();
        await browser.OpenSessionAsync(vm, session);
        var page = browser.Page;
        await Assertions.Expect(page.Locator("#mode")).ToBeEnabledAsync();
        await Assertions.Expect(page.Locator("#mode")).ToHaveValueAsync("default");
        await Assertions.Expect(page.Locator("#model")).ToHaveValueAsync("fast");

        await page.Locator("#mode").SelectOptionAsync("plan");
        await Assertions.Expect(page.Locator("#transcript .sys").Last).ToHaveTextAsync("Mode: plan");
        (await fixture.GetJsonAsync($"{ConsoleFixture.SessionPath(vm, session)}/modes"))["currentModeId"]!.GetValue<string>().Should().Be("plan");

        await page.Locator("#model").SelectOptionAsync("smart");
        await Assertions.Expect(page.Locator("#transcript .sys").Last).ToHaveTextAsync("Model: Smart");
        await page.Locator("#thought-level").SelectOptionAsync("high");
        await Assertions.Expect(page.Locator("#transcript .sys").Last).ToHaveTextAsync("Thinking: High");

        // The agent changing its own mode moves the picker too.
        await browser.SendAsync("switch-mode default");
        await Assertions.Expect(page.Locator("#mode")).ToHaveValueAsync("default");
        browser.ShouldHaveNoErrors();
    }

    [Fact]
    public async Task ForAnAgentWithoutAModelOption_TheModelPicker_OffersItsModels()
    {
        var vm = ConsoleFixture.NewVmId("legacy");
        var session = await fixture.CreateSessionAsync(vm, agentType: "legacy");
        await using var browser = await fixture.NewPageAsync();
        await browser.OpenSessionAsync(vm, session);
        var model = browser.Page.Locator("#model");
        await Assertions.Expect(model).ToBeEnabledAsync();
        await Assertions.Expect(model.Locator("option")).ToHaveTextAsync(["Fast", "Smart"]);
        await Assertions.Expect(model).ToHaveValueAsync("fast");
        await Assertions.Expect(browser.Page.Locator("#thought-level")).ToBeHiddenAsync();

        await model.SelectOptionAsync("smart");
        await Poll.UntilAsync(async () => (await fixture.GetJsonAsync($"{ConsoleFixture.SessionPath(vm, session)}/models"))["currentModelId"]!.GetValue<string>() == "smart",
            "the picker's choice reaches the agent (session/set_model)");
        await browser.SendAsync("info");
        await Assertions.Expect(browser.Page.Locator("#transcript .msg.agent").Last).ToContainTextAsync("\"model\":\"smart\"");
        browser.ShouldHaveNoErrors();
    }

    [Fact]
    public async Task AVmPutToSleepWhileWatched_ShowsTheSessionStopped_AndTheConsoleDoesNotWakeIt()
    {
        var vm = ConsoleFixture.NewVmId("doze");
        var session = await fixture.CreateSessionAsync(vm);
        await using var browser = await fixture.NewPageAsync();
        await browser.OpenSessionAsync(vm, session);
        await browser.WaitForStatusAsync("idle");

        var calls = new System.Collections.Concurrent.ConcurrentQueue<string>();
        browser.Page.Request += (_, request) => calls.Enqueue($"{request.Method} {request.Url}");
        (await fixture.Http.PostAsync($"/v1/vms/{vm}/sleep", null)).IsSuccessStatusCode.Should().BeTrue();
        await browser.WaitForStatusAsync("stopped");
        await Assertions.Expect(browser.Page.Locator("#transcript .sys").Last).ToContainTextAsync("Agent exited");
        await Assertions.Expect(browser.Page.Locator("#resume")).ToBeVisibleAsync();
        await Poll.UntilAsync(async () => !(await fixture.GetJsonAsync($"/v1/vms/{vm}"))["active"]!.GetValue<bool>(), "the VM falls asleep");
        // The page showed the agent's exit and called nothing that would wake the VM again (its stream stays open).
        calls.Should().BeEmpty("watching a session does not wake its VM");
        (await fixture.GetJsonAsync($"/v1/vms/{vm}"))["active"]!.GetValue<bool>().Should().BeFalse();

        await browser.Page.Locator("#resume").ClickAsync();
        await Assertions.Expect(browser.Page.Locator("#transcript .sys").Last).ToContainTextAsync("Session resumed");
        await browser.WaitForStatusAsync("idle");
        await Assertions.Expect(browser.Page.Locator("#resume")).ToBeHiddenAsync();
        await Poll.UntilAsync(async () => (await fixture.GetJsonAsync($"/v1/vms/{vm}/sessions/live")).AsArray().Count == 1, "Resume starts the session's agent");
        browser.ShouldHaveNoErrors();
    }
}
