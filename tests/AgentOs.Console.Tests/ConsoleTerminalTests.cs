using AgentOs.Console.Tests.Infrastructure;
using Microsoft.Playwright;

namespace AgentOs.Console.Tests;

/// <summary>Terminals the host ran for the agent (ACP <c>terminal/*</c>): their command, output and exit in the transcript.</summary>
[Collection(ConsoleCollection.Name)]
public sealed class ConsoleTerminalTests(ConsoleFixture fixture)
{
    [Fact]
    public async Task ATerminalsOutputAndExit_ShowInTheToolCallThatShowsIt_OrInACardOfItsOwn_BoundedInThePage()
    {
        var vm = ConsoleFixture.NewVmId("terminal");
        var session = await fixture.CreateSessionAsync(vm);
        await using var browser = await fixture.NewPageAsync();
        await browser.OpenSessionAsync(vm, session);
        var page = browser.Page;

        // As coding agents run a command: a tool call whose content is the terminal. 108,894 bytes of output: the transcript
        // keeps the last 64 KiB of it, the page shows the end of that.
        await browser.SendAsync("terminal-tool seq 1 20000");
        await Assertions.Expect(page.Locator("#transcript .msg.agent").Last).ToHaveTextAsync("ran: exit 0");
        var card = page.Locator("#transcript details.tool").Last;
        await Assertions.Expect(card).ToHaveAttributeAsync("data-status", "completed");
        await Assertions.Expect(card.Locator("summary .terminal-status")).ToHaveTextAsync("exit 0");
        await card.Locator("summary").ClickAsync();
        var output = card.Locator(".terminal .term-output pre");
        await Assertions.Expect(output).ToBeVisibleAsync();
        var text = await output.TextContentAsync();
        text.Should().EndWith("19999\n20000\n").And.MatchRegex(@"^\d+\n", "it starts at a line's start");
        text!.Length.Should().BeLessThanOrEqualTo(20_000, "the page holds a bounded part of the output");
        await Assertions.Expect(card.Locator(".term-note")).ToContainTextAsync("earlier output not shown");
        await Assertions.Expect(card.Locator(".term-head .command")).ToHaveTextAsync("seq 1 20000");
        await Assertions.Expect(page.Locator("#transcript .terminal-line").Last).ToHaveTextAsync("Terminal seq 1 20000: exit 0, shown in the tool call \"seq 1 20000\"");

        // A terminal no tool call shows: a card of its own with the command, where it ran, its output and how it ended.
        await browser.SendAsync("terminal echo out; echo err >&2; exit 3");
        await Assertions.Expect(page.Locator("#transcript .msg.agent").Last).ToContainTextAsync("exit 3");
        var terminal = page.Locator("#transcript details.terminal-card").Last;
        await Assertions.Expect(terminal.Locator("summary .command")).ToHaveTextAsync("echo out; echo err >&2; exit 3");
        await Assertions.Expect(terminal.Locator("summary .terminal-status")).ToHaveTextAsync("exit 3");
        await Assertions.Expect(terminal.Locator("summary .preview")).ToHaveTextAsync("err");
        await terminal.Locator("summary").ClickAsync();
        (await terminal.Locator(".term-output pre").TextContentAsync()).Should().Be("out\nerr\n");
        await Assertions.Expect(terminal.Locator(".term-head")).ToContainTextAsync("in /home/agentos");
        await browser.ScreenshotAsync("terminal");

        // One the host refuses to start (a working directory outside the VM's home): the card says so, with the reason.
        await browser.SendAsync("""terminal-json {"command":"true","cwd":"/etc"}""");
        await Assertions.Expect(page.Locator("#transcript .msg.agent").Last).ToContainTextAsync("terminal failed");
        var refused = page.Locator("#transcript details.terminal-card").Last;
        await Assertions.Expect(refused.Locator("summary .terminal-status")).ToHaveTextAsync("refused");
        await refused.Locator("summary").ClickAsync();
        await Assertions.Expect(refused.Locator(".terminal .error")).ToContainTextAsync("/etc");

        var stats = await browser.StatsAsync();
        stats.Events.Should().Be(stats.LastSeq, "each seq is applied once");
        browser.ShouldHaveNoErrors();
    }
}
