using System.Text.RegularExpressions;
using AgentOs.Console.Tests.Infrastructure;
using Microsoft.Playwright;

namespace AgentOs.Console.Tests;

/// <summary>
/// Elicitations (the agent asking the person for input, ACP <c>elicitation/create</c>) answered from the page: a form built
/// from the agent's schema, whose misfits the server refuses with its own words, and a URL that opens only on a click.
/// </summary>
[Collection(ConsoleCollection.Name)]
public sealed partial class ConsoleElicitationTests(ConsoleFixture fixture)
{
    [Fact]
    public async Task AFormElicitation_IsAFormInEveryBrowserWatching_ABadValueShowsTheServersRefusal_AndAcceptingItResumesTheAgentWithTheContent()
    {
        var vm = ConsoleFixture.NewVmId("elicit");
        var session = await fixture.CreateSessionAsync(vm, permissionPolicy: "ask");
        await using var first = await fixture.NewPageAsync();
        await using var second = await fixture.NewPageAsync();
        await first.OpenSessionAsync(vm, session);
        await second.OpenSessionAsync(vm, session);

        // The test agent's form: name (string, required), age (integer), color (red or green), tags (strings).
        await first.SendAsync("elicit form");
        foreach (var browser in new[] { first, second })
        {
            var banner = browser.Page.Locator("#approvals .banner.elicitation");
            await Assertions.Expect(banner).ToBeVisibleAsync();
            await Assertions.Expect(banner.Locator(".message")).ToHaveTextAsync("Who are you?");
            await Assertions.Expect(banner.Locator(".field-label")).ToHaveTextAsync(["Name *", "age", "color", "tags"]);
            await Assertions.Expect(banner.Locator("input[data-field=name]")).ToHaveAttributeAsync("aria-required", "true");
            await Assertions.Expect(banner.Locator("input[data-field=age]")).ToHaveAttributeAsync("type", "number");
            await Assertions.Expect(banner.Locator("select[data-field=color] option")).ToHaveTextAsync(["—", "red", "green"]);
            await Assertions.Expect(banner.Locator("textarea[data-field=tags]")).ToBeVisibleAsync();
            await Assertions.Expect(banner.Locator(".time-left")).ToHaveTextAsync(TimeLeft());
        }

        // An age that is no integer: the server refuses it (400) and says why; the banner stays, here and there.
        var form = first.Page.Locator("#approvals .banner.elicitation");
        await form.Locator("[data-field=name]").FillAsync("Ada");
        await form.Locator("[data-field=age]").FillAsync("3.5");
        await form.GetByRole(AriaRole.Button, new() { Name = "Accept" }).ClickAsync();
        await Assertions.Expect(form.Locator(".elicit-error")).ToHaveTextAsync("field 'age' must be of type integer. The request still waits.");
        await Assertions.Expect(form.Locator("[data-field=age]")).ToHaveAttributeAsync("aria-invalid", "true");
        await Assertions.Expect(form.GetByRole(AriaRole.Button, new() { Name = "Accept" })).ToBeEnabledAsync();
        await first.ScreenshotAsync("elicitation");
        (await fixture.GetJsonAsync($"{ConsoleFixture.SessionPath(vm, session)}/elicitations")).AsArray().Should().HaveCount(1, "the elicitation still waits");
        await Assertions.Expect(second.Page.Locator("#approvals .banner.elicitation")).ToBeVisibleAsync();

        await form.Locator("[data-field=age]").FillAsync("36");
        await form.Locator("[data-field=color]").SelectOptionAsync("green");
        await form.Locator("[data-field=tags]").FillAsync("math\nengines");
        await form.GetByRole(AriaRole.Button, new() { Name = "Accept" }).ClickAsync();

        foreach (var browser in new[] { first, second })
        {
            await Assertions.Expect(browser.Page.Locator("#approvals .banner")).ToHaveCountAsync(0);
            await Assertions.Expect(browser.Page.Locator("#transcript .msg.agent").Last)
                .ToHaveTextAsync("""elicit: accept {"name":"Ada","age":36,"color":"green","tags":["math","engines"]}""");
            await Assertions.Expect(browser.Page.Locator("#transcript details.elicitation-card").Last).ToContainTextAsync("accepted (answered)");
        }

        first.Errors.Should().OnlyContain(e => e.Contains("status of 400"), "the refused answer's 400 is the only error");
        second.ShouldHaveNoErrors();
    }

    [Fact]
    public async Task AUrlElicitation_ShowsTheSitesHost_OpensItOnlyOnAClick_WithoutOpenerOrReferrer_AndAcceptingItTellsTheAgent()
    {
        var vm = ConsoleFixture.NewVmId("elicit-url");
        var session = await fixture.CreateSessionAsync(vm, permissionPolicy: "ask");
        await using var browser = await fixture.NewPageAsync();
        string? referer = "(the page was not requested)";
        // The site is served inside the browser: nothing leaves the machine.
        await browser.Context.RouteAsync("https://auth.example.com/**", async route =>
        {
            referer = route.Request.Headers.GetValueOrDefault("referer");
            await route.FulfillAsync(new() { ContentType = "text/html", Body = "<title>Sign in</title><p>signed in</p>" });
        });
        await browser.OpenSessionAsync(vm, session);

        await browser.SendAsync("elicit url");
        var banner = browser.Page.Locator("#approvals .banner.elicitation[data-mode=url]");
        await Assertions.Expect(banner.Locator(".message")).ToHaveTextAsync("Sign in to the example service");
        await Assertions.Expect(banner.Locator(".host")).ToHaveTextAsync("auth.example.com");
        var link = banner.Locator("a.open-url");
        await Assertions.Expect(link).ToHaveAttributeAsync("href", "https://auth.example.com/login?session=1");
        await Assertions.Expect(link).ToHaveAttributeAsync("target", "_blank");
        await Assertions.Expect(link).ToHaveAttributeAsync("rel", "noopener noreferrer");
        await browser.ScreenshotAsync("elicitation-url");
        browser.Context.Pages.Should().HaveCount(1, "nothing opens the page before the person clicks");

        // The page's own headers (Cross-Origin-Opener-Policy same-origin, Referrer-Policy no-referrer) would do the same: the
        // link's rel is the second lock.
        var site = await browser.Context.RunAndWaitForPageAsync(() => link.ClickAsync());
        await site.WaitForLoadStateAsync();
        (await site.EvaluateAsync<bool>("() => window.opener === null")).Should().BeTrue("the site gets no handle on the console");
        (await site.EvaluateAsync<string>("() => document.referrer")).Should().BeEmpty();
        referer.Should().BeNull("the console's address is not sent to the site");
        await site.CloseAsync();

        await banner.GetByRole(AriaRole.Button, new() { Name = "Accept" }).ClickAsync();
        await Assertions.Expect(browser.Page.Locator("#approvals .banner")).ToHaveCountAsync(0);
        await Assertions.Expect(browser.Page.Locator("#transcript .msg.agent").Last).ToHaveTextAsync("elicit: accept");
        var card = browser.Page.Locator("#transcript details.elicitation-card").Last;
        await Assertions.Expect(card).ToContainTextAsync("accepted (answered)");
        await card.Locator("summary").ClickAsync();
        await Assertions.Expect(card).ToContainTextAsync("The agent says this step is done."); // its elicitation/complete

        // An address whose start names one site and whose host is another: the host shown is the one it goes to.
        await browser.SendAsync("elicit url https://auth.example.com@evil.example/login");
        await Assertions.Expect(banner.Locator(".host")).ToHaveTextAsync("evil.example");
        await banner.GetByRole(AriaRole.Button, new() { Name = "Decline" }).ClickAsync();
        await Assertions.Expect(browser.Page.Locator("#transcript .msg.agent").Last).ToHaveTextAsync("elicit: decline");

        // An address that is not http(s) is text, not a link, and clicking it runs nothing.
        const string Hostile = "javascript:window.__xss='url'//https://auth.example.com/";
        await browser.SendAsync($"elicit url {Hostile}");
        await Assertions.Expect(banner.Locator(".full-url")).ToHaveTextAsync(Hostile);
        await Assertions.Expect(banner.Locator("a")).ToHaveCountAsync(0);
        await banner.Locator(".full-url").ClickAsync();
        await banner.GetByRole(AriaRole.Button, new() { Name = "Cancel" }).ClickAsync();
        await Assertions.Expect(browser.Page.Locator("#transcript .msg.agent").Last).ToHaveTextAsync("elicit: cancel");
        (await browser.Page.EvaluateAsync<string?>("() => window.__xss ?? null")).Should().BeNull("nothing the agent sent ran");
        browser.Context.Pages.Should().HaveCount(1);
        browser.ShouldHaveNoErrors();
    }

    [GeneratedRegex(@"^(4 min \d\d|5 min 00) s left$")]
    private static partial Regex TimeLeft();
}
