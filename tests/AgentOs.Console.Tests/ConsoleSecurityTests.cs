using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using AgentOs.Console.Tests.Infrastructure;
using Microsoft.Playwright;

namespace AgentOs.Console.Tests;

/// <summary>
/// What an agent's output can do to the person watching it (nothing: it is text), the page's Content-Security-Policy,
/// and signing in with an API key that stays in the tab.
/// </summary>
[Collection(ConsoleCollection.Name)]
public sealed class ConsoleSecurityTests(ConsoleFixture fixture)
{
    /// <summary>Markup and links an agent (or a prompt injection through it) might send, each of which would set window.__xss if it ran.</summary>
    private const string Payload =
        "<script>window.__xss='script'</script> <img src=x onerror=\"window.__xss='img'\"> <svg onload=\"window.__xss='svg'\"></svg> " +
        "<iframe src=\"javascript:parent.__xss='iframe'\"></iframe> [click me](javascript:window.__xss='link') [spaced](  javascript:window.__xss='spaced') " +
        "[tab](java\tscript:window.__xss='tab') [data](data:text/html,<script>window.__xss='data'</script>) <javascript:window.__xss='auto'> " +
        "![img](javascript:window.__xss='image') [ok](https://example.com/ok)";

    [Fact]
    public async Task AgentOutput_WithScriptTagsHtmlAndJavascriptLinks_IsShownAsText_AndNothingRuns()
    {
        var vm = ConsoleFixture.NewVmId("xss");
        var session = await fixture.CreateSessionAsync(vm);
        await using var browser = await fixture.NewPageAsync();
        await browser.OpenSessionAsync(vm, session);
        var page = browser.Page;

        await browser.SendAsync(Payload); // the test agent echoes it as a message: "echo: <payload>"
        await Assertions.Expect(page.Locator("#transcript .msg.agent").Last.GetByRole(AriaRole.Link)).ToHaveTextAsync("ok");
        await browser.SendAsync("thought " + Payload);
        await Assertions.Expect(page.Locator("#transcript .msg.agent").Last).ToHaveTextAsync("done thinking");
        await page.Locator("#transcript details.thought").Last.Locator("summary").ClickAsync();
        await browser.SendAsync("edit /home/agentos/page.html " + Payload); // a diff and a tool title with the payload
        await Assertions.Expect(page.Locator("#transcript .msg.agent").Last).ToHaveTextAsync("edited /home/agentos/page.html");
        await browser.WaitForStatusAsync("idle");

        var reply = page.Locator("#transcript .msg.agent").Nth(0);
        (await reply.InnerTextAsync()).Should().Contain("<script>window.__xss='script'</script>").And.Contain("<img src=x onerror=");
        await Assertions.Expect(page.Locator("#transcript details.tool .diff")).ToContainTextAsync("<script>window.__xss='script'</script>");
        await Assertions.Expect(page.Locator("#transcript details.thought").Last).ToContainTextAsync("<svg onload=");

        // The markup is text: no element of it exists; of the links only the https one is a link.
        (await page.Locator("#transcript script, #transcript img, #transcript svg, #transcript iframe, #transcript object, #transcript embed").CountAsync()).Should().Be(0);
        var hrefs = await page.Locator("#transcript a").EvaluateAllAsync<string[]>("links => links.map(a => a.href)");
        hrefs.Should().Equal("https://example.com/ok");
        (await page.Locator("#transcript .msg.agent a").First.GetAttributeAsync("rel")).Should().Contain("noopener");

        // Clicking where the javascript: link's text is does nothing.
        var url = page.Url;
        await page.Locator("#transcript .msg.agent").Nth(0).GetByText("[click me](javascript:window.__xss='link')", new() { Exact = false }).ClickAsync();
        page.Url.Should().Be(url);

        // The payload as a terminal's output (the file the edit wrote), shown in its tool call.
        await browser.SendAsync("terminal-tool cat /home/agentos/page.html");
        await Assertions.Expect(page.Locator("#transcript .msg.agent").Last).ToHaveTextAsync("ran: exit 0");
        await page.Locator("#transcript details.tool").Last.Locator("summary").ClickAsync();
        await Assertions.Expect(page.Locator("#transcript details.tool .term-output")).ToContainTextAsync("<img src=x onerror=");
        (await page.Locator("#transcript script, #transcript img, #transcript svg, #transcript iframe").CountAsync()).Should().Be(0);

        (await page.EvaluateAsync<string?>("() => window.__xss ?? null")).Should().BeNull("nothing the agent sent ran");
        (await page.EvaluateAsync<int>("() => document.scripts.length")).Should().Be(1, "the console's own module is the page's only script");
        browser.ShouldHaveNoErrors(); // no CSP report either: nothing was even attempted as markup
    }

    [Fact]
    public async Task TheConsole_IsServedWithAContentSecurityPolicy_ThatRefusesInlineScriptHandlersEvalAndHtmlStrings()
    {
        foreach (var path in new[] { "/", "/console/js/app.js", "/console/console.css" })
        {
            using var response = await fixture.Http.GetAsync(path);
            response.IsSuccessStatusCode.Should().BeTrue(path);
            var csp = string.Join(' ', response.Headers.GetValues("Content-Security-Policy"));
            csp.Should().Contain("script-src 'self'").And.Contain("default-src 'none'").And.Contain("require-trusted-types-for 'script'")
                .And.NotContain("unsafe-inline").And.NotContain("unsafe-eval");
            response.Headers.GetValues("X-Content-Type-Options").Should().Equal("nosniff");
            response.Headers.GetValues("X-Frame-Options").Should().Equal("DENY");
        }

        using (var js = await fixture.Http.GetAsync("/console/js/app.js"))
        {
            js.Content.Headers.ContentType!.MediaType.Should().Be("text/javascript");
        }

        using (var missing = await fixture.Http.GetAsync("/console/js/nothing.js"))
        {
            ((int)missing.StatusCode).Should().Be(404);
        }

        await using var browser = await fixture.NewPageAsync();
        await browser.GotoAsync("/");
        await Assertions.Expect(browser.Page.GetByRole(AriaRole.Heading, new() { Name = "VMs" })).ToBeVisibleAsync();
        // What an attacker who got a string into the page would try; each must fail. They run from a timer, as the page's own
        // code would: code evaluated by the test harness itself is exempt from the page's eval rule (DevTools' evaluate).
        var outcome = await browser.Page.EvaluateAsync<JsonElement>("""
            () => new Promise((resolve) => setTimeout(async () => {
              const violations = [];
              document.addEventListener('securitypolicyviolation', (e) => violations.push(e.violatedDirective));
              const attempt = (f) => { try { f(); return 'ran'; } catch (e) { return e.name; } };
              const result = {};
              const script = document.createElement('script');
              result.inlineScript = attempt(() => { script.appendChild(document.createTextNode('window.__inline = 1')); document.body.appendChild(script); });
              result.innerHtml = attempt(() => { document.createElement('div').innerHTML = '<img src=x onerror="window.__handler = 1">'; });
              result.handlerAttribute = attempt(() => { const img = document.createElement('img'); img.setAttribute('onerror', 'window.__handler = 2'); img.src = 'data:,x'; document.body.appendChild(img); });
              result.eval = attempt(() => eval('window.__eval = 1'));
              result.newFunction = attempt(() => new Function('window.__eval = 2')());
              await new Promise((r) => requestAnimationFrame(() => setTimeout(r, 50)));
              result.ran = [window.__inline, window.__handler, window.__eval].filter((v) => v !== undefined);
              result.violations = violations;
              resolve(result);
            }, 0))
            """);
        outcome.GetProperty("ran").GetArrayLength().Should().Be(0, $"nothing may run: {outcome}");
        outcome.GetProperty("innerHtml").GetString().Should().Be("TypeError", $"Trusted Types refuse HTML strings: {outcome}");
        outcome.GetProperty("eval").GetString().Should().Be("EvalError", $"no eval: {outcome}");
        outcome.GetProperty("newFunction").GetString().Should().Be("EvalError", $"no eval: {outcome}");
        outcome.GetProperty("violations").GetArrayLength().Should().BeGreaterThan(0, $"the policy reports what it refused: {outcome}");
    }

    [Fact]
    public async Task WhenTheServerRequiresKeys_TheConsoleAsksForOne_AndKeepsItInThisTabOnly()
    {
        const string Id = "0c0ffee0c0de";
        var key = $"aos_{Id}_{Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)).TrimEnd('=').Replace('+', '-').Replace('/', '_')}";
        await using var server = await ServerProcess.StartAsync(ConsoleFixture.ServerEnvironment(new()
        {
            ["AgentOs__Http__RequireApiKeys"] = "true",
            ["AgentOs__Http__ApiKeys__0__Id"] = Id,
            ["AgentOs__Http__ApiKeys__0__Sha256"] = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key))),
            ["AgentOs__Http__ApiKeys__0__Role"] = "admin",
            ["AgentOs__Http__ApiKeys__0__Scopes__0"] = "*",
        }));
        await using var browser = await fixture.NewPageAsync(server.BaseAddress);
        var page = browser.Page;
        await browser.GotoAsync("/");
        await Assertions.Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Sign in" })).ToBeVisibleAsync();
        await browser.ScreenshotAsync("sign-in");

        await page.Locator("#api-key").FillAsync($"aos_{Id}_wrong");
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();
        await Assertions.Expect(page.Locator(".signin .error[role=alert]")).ToContainTextAsync("refused");

        await page.Locator("#api-key").FillAsync(key);
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Heading, new() { Name = "VMs" })).ToBeVisibleAsync();
        await Assertions.Expect(page.Locator("#identity")).ToHaveTextAsync($"key {Id}");
        await browser.GotoAsync("/#/new");
        await Assertions.Expect(page.Locator("#agent-type option[value=test]")).ToHaveCountAsync(1); // calls carry the key

        (await page.EvaluateAsync<string>("() => sessionStorage.getItem('agentos.apiKey')")).Should().Be(key);
        (await page.EvaluateAsync<int>("() => localStorage.length")).Should().Be(0, "the key is never kept beyond the tab");
        (await browser.Context.CookiesAsync()).Should().BeEmpty();

        // Another tab (a new context: its own session storage) asks again; signing out forgets the key.
        await using (var other = await fixture.NewPageAsync(server.BaseAddress))
        {
            await other.GotoAsync("/");
            await Assertions.Expect(other.Page.GetByRole(AriaRole.Heading, new() { Name = "Sign in" })).ToBeVisibleAsync();
        }

        await page.Locator("#sign-out").ClickAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Sign in" })).ToBeVisibleAsync();
        (await page.EvaluateAsync<string?>("() => sessionStorage.getItem('agentos.apiKey')")).Should().BeNull();
        browser.Errors.Should().OnlyContain(e => e.Contains("401"), "the refused key's 401 answers are the only errors");
    }
}
