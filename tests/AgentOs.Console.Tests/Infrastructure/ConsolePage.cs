using System.Collections.Concurrent;
using System.Text.Json;
using Microsoft.Playwright;

namespace AgentOs.Console.Tests.Infrastructure;

/// <summary>One browser context with one page on the console, recording every error the page reports.</summary>
public sealed class ConsolePage(IBrowserContext context, IPage page) : IAsyncDisposable
{
    private readonly ConcurrentQueue<string> _errors = Record(page);

    public IBrowserContext Context => context;

    public IPage Page => page;

    /// <summary>Errors the page logged or threw (console errors, uncaught exceptions), in order.</summary>
    public IReadOnlyCollection<string> Errors => _errors;

    private static ConcurrentQueue<string> Record(IPage page)
    {
        var errors = new ConcurrentQueue<string>();
        page.Console += (_, message) =>
        {
            if (message.Type == "error")
            {
                errors.Enqueue($"console: {message.Text}");
            }
        };
        page.PageError += (_, error) => errors.Enqueue($"uncaught: {error}");
        return errors;
    }

    public async Task GotoAsync(string url)
    {
        await page.GotoAsync(url);
        await page.WaitForFunctionAsync("() => document.body.dataset.view !== undefined");
    }

    /// <summary>Opens a session and waits until the console has read its transcript up to <paramref name="atLeastSeq"/>.</summary>
    public async Task OpenSessionAsync(string vm, string sessionId, long atLeastSeq = 1)
    {
        await GotoAsync(ConsoleFixture.SessionUrl(vm, sessionId));
        await WaitForSeqAsync(atLeastSeq);
    }

    public Task WaitForSeqAsync(long seq) =>
        page.WaitForFunctionAsync($"() => window.agentosConsole && window.agentosConsole.stats().lastSeq >= {seq}");

    /// <summary>The session view's counters (see <c>window.agentosConsole</c> in views/session.js).</summary>
    public async Task<SessionStats> StatsAsync()
    {
        var json = await page.EvaluateAsync<JsonElement>("() => window.agentosConsole.stats()");
        return json.Deserialize<SessionStats>(ConsoleFixture.Json)!;
    }

    /// <summary>The text of the transcript's last agent message.</summary>
    public Task<string> LastAgentMessageAsync() => page.Locator("#transcript .msg.agent").Last.InnerTextAsync();

    /// <summary>Types a prompt and sends it with Enter, as a person does.</summary>
    public async Task SendAsync(string prompt)
    {
        await page.Locator("#prompt").FillAsync(prompt);
        await page.Locator("#prompt").PressAsync("Enter");
    }

    public Task WaitForStatusAsync(string status) =>
        Assertions.Expect(page.Locator("#session-status")).ToHaveAttributeAsync("data-state", status);

    /// <summary>Saves a screenshot of the page to TestResults/console/<paramref name="name"/>.png.</summary>
    public Task ScreenshotAsync(string name) =>
        page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(ConsoleFixture.ScreenshotDirectory, name + ".png") });

    public void ShouldHaveNoErrors() => _errors.Should().BeEmpty("the console should run without errors");

    public async ValueTask DisposeAsync() => await context.CloseAsync();
}

/// <summary>What <c>window.agentosConsole.stats()</c> returns.</summary>
public sealed record SessionStats(long LastSeq, long Events, int Items, int Mounted, bool Running, int Connections, int Skipped, int Gaps, double[] Latencies);
