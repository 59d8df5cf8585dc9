using System.Text.RegularExpressions;
using AgentOs.Console.Tests.Infrastructure;
using Microsoft.Playwright;

namespace AgentOs.Console.Tests;

/// <summary>The VM list: what it shows, and sleep and destroy, each only after a confirmation.</summary>
[Collection(ConsoleCollection.Name)]
public sealed class ConsoleVmListTests(ConsoleFixture fixture)
{
    [Fact]
    public async Task TheVmList_ShowsStateSessionsActivityAndDisk_AndSleepsAndDestroysOnlyAfterConfirmation()
    {
        var vm = ConsoleFixture.NewVmId("list");
        var session = await fixture.CreateSessionAsync(vm);
        await fixture.PromptAsync(vm, session, "write /home/agentos/readme.txt some words");

        await using var browser = await fixture.NewPageAsync();
        await browser.GotoAsync("/");
        var page = browser.Page;
        var row = page.Locator($"tr[data-vm='{vm}']");
        await Assertions.Expect(row.Locator("td").Nth(1)).ToHaveTextAsync("awake");
        await Assertions.Expect(row.Locator("td").Nth(2)).ToHaveTextAsync("1");
        await Assertions.Expect(row.Locator("td").Nth(3)).ToHaveTextAsync(new Regex(@"^\d+ s ago$"));
        await Assertions.Expect(row.Locator("td").Nth(4)).ToHaveTextAsync(new Regex(@"^\d+(\.\d)? (KiB|B)$"));
        await browser.ScreenshotAsync("vms");

        // Sleep: cancelled first, then confirmed.
        await row.Locator("[data-action=sleep]").ClickAsync();
        var dialog = page.Locator("dialog.confirm");
        await Assertions.Expect(dialog).ToBeVisibleAsync();
        await Assertions.Expect(dialog).ToContainTextAsync($"Put {vm} to sleep?");
        await dialog.Locator("[data-action=cancel]").ClickAsync();
        await Assertions.Expect(dialog).ToHaveCountAsync(0);
        (await fixture.GetJsonAsync($"/v1/vms/{vm}"))["active"]!.GetValue<bool>().Should().BeTrue("a cancelled confirmation does nothing");

        await row.Locator("[data-action=sleep]").ClickAsync();
        await dialog.Locator("[data-action=confirm]").ClickAsync();
        await Assertions.Expect(row.Locator("td").Nth(1)).ToHaveTextAsync("asleep");
        await Assertions.Expect(row.Locator("td").Nth(2)).ToHaveTextAsync("0");
        await Assertions.Expect(row.Locator("td").Nth(4)).ToHaveTextAsync(new Regex(@"^\d+(\.\d)? (KiB|B)$")); // the last measure, kept while it sleeps
        // The list, polled every 5 s, calls no VM: the sleeping VM stays asleep however long the page is open.
        await page.WaitForResponseAsync(r => r.Url.EndsWith("/v1/vms", StringComparison.Ordinal));
        await Assertions.Expect(row.Locator("td").Nth(1)).ToHaveTextAsync("asleep");
        (await fixture.GetJsonAsync($"/v1/vms/{vm}"))["active"]!.GetValue<bool>().Should().BeFalse();
        (await fixture.GetJsonAsync($"/v1/vms/{vm}/sessions"))[0]!["status"]!.GetValue<string>().Should().Be("suspended");

        await row.Locator("[data-action=destroy]").ClickAsync();
        await Assertions.Expect(dialog).ToContainTextAsync("cannot be undone");
        await dialog.Locator("[data-action=confirm]").ClickAsync();
        await Assertions.Expect(row).ToHaveCountAsync(0);
        (await fixture.GetJsonAsync("/v1/vms")).AsArray().Select(v => v!["id"]!.GetValue<string>()).Should().NotContain(vm);
        await Poll.UntilAsync(() => !Directory.Exists(fixture.HomeOf(vm)), "destroying a VM deletes its files");
        browser.ShouldHaveNoErrors();
    }
}
