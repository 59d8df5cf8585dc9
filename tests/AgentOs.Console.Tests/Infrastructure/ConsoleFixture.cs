using System.Net.Http.Json;
using System.Reflection;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Playwright;

namespace AgentOs.Console.Tests.Infrastructure;

/// <summary>
/// One real AgentOs server (its own data directory and ports, the scripted test agent declared as agent type
/// <c>test</c>) and one headless Chromium (Debian's <c>/usr/bin/chromium</c>, driven by Playwright), shared by the
/// console tests; each test opens its own browser context (its own storage, like a new browser profile) and its own VMs.
/// </summary>
public sealed class ConsoleFixture : IAsyncLifetime
{
    /// <summary>Debian's chromium package; Playwright's own browser download is not used.</summary>
    public const string ChromiumPath = "/usr/bin/chromium";

    /// <summary>What works here as root in a container: no sandbox, no GPU, nothing reaching for the network on its own.</summary>
    private static readonly string[] ChromiumArgs =
    [
        "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking", "--disable-component-update",
        "--no-first-run", "--disable-sync", "--disable-quic", "--disable-features=Translate,MediaRouter,OptimizationHints",
    ];

    private IPlaywright? _playwright;

    internal ServerProcess Server { get; private set; } = null!;

    public IBrowser Browser { get; private set; } = null!;

    public HttpClient Http { get; private set; } = null!;

    /// <summary>Where screenshots go: <c>TestResults/console/</c>, beside the TRX files.</summary>
    public static string ScreenshotDirectory => Path.Combine(
        Path.GetFullPath(typeof(ConsoleFixture).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "TestResultsDirectory").Value!),
        "console");

    public async Task InitializeAsync()
    {
        if (!File.Exists(ChromiumPath))
        {
            throw new InvalidOperationException($"The console tests need Chromium at {ChromiumPath}: apt-get install chromium (.ci/run installs it).");
        }

        Server = await ServerProcess.StartAsync(ServerEnvironment());
        Http = new HttpClient { BaseAddress = Server.BaseAddress, Timeout = TimeSpan.FromMinutes(2) };
        _playwright = await Playwright.CreateAsync();
        Browser = await LaunchAsync(_playwright);
        Assertions.SetDefaultExpectTimeout((float)TestTimeouts.Default.TotalMilliseconds);
        Directory.CreateDirectory(ScreenshotDirectory);
    }

    public static Task<IBrowser> LaunchAsync(IPlaywright playwright) => playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
    {
        ExecutablePath = ChromiumPath,
        Headless = true,
        Args = ChromiumArgs,
        Timeout = (float)TestTimeouts.Default.TotalMilliseconds,
    });

    /// <summary>The server's environment: the test agent as agent types <c>test</c> and <c>legacy</c>, a short cancel grace period.</summary>
    public static Dictionary<string, string> ServerEnvironment(Dictionary<string, string>? more = null)
    {
        var env = new Dictionary<string, string>
        {
            ["AgentOs__Agents__test__Command"] = BuiltArtifacts.Dotnet,
            ["AgentOs__Agents__test__Args__0"] = BuiltArtifacts.Path("TestAgentDll"),
            ["AgentOs__Agents__test__Env__DOTNET_CLI_TELEMETRY_OPTOUT"] = "1",
            // As pi and Claude Code: models in session/new's answer, no config options.
            ["AgentOs__Agents__legacy__Command"] = BuiltArtifacts.Dotnet,
            ["AgentOs__Agents__legacy__Args__0"] = BuiltArtifacts.Path("TestAgentDll"),
            ["AgentOs__Agents__legacy__Args__1"] = "--legacy-config",
            ["AgentOs__CancelGracePeriod"] = "00:00:02",
        };
        foreach (var (key, value) in more ?? [])
        {
            env[key] = value;
        }

        return env;
    }

    /// <summary>A new browser context and page (1280×800) on <paramref name="baseUrl"/> (the server by default), recording the page's errors.</summary>
    public async Task<ConsolePage> NewPageAsync(Uri? baseUrl = null)
    {
        var context = await Browser.NewContextAsync(new BrowserNewContextOptions
        {
            BaseURL = (baseUrl ?? Server.BaseAddress).ToString(),
            ViewportSize = new ViewportSize { Width = 1280, Height = 800 },
            ColorScheme = ColorScheme.Light,
        });
        context.SetDefaultTimeout((float)TestTimeouts.Default.TotalMilliseconds);
        return new ConsolePage(context, await context.NewPageAsync());
    }

    /// <summary>A unique VM id for one test.</summary>
    public static string NewVmId(string name) => $"{name}-{Guid.NewGuid().ToString("N")[..8]}";

    /// <summary>Creates a session through the HTTP API (as another client would); returns its id.</summary>
    public async Task<string> CreateSessionAsync(string vm, string permissionPolicy = "allowAll", string agentType = "test")
    {
        using var response = await Http.PostAsJsonAsync($"/v1/vms/{Uri.EscapeDataString(vm)}/sessions", new { agentType, permissionPolicy });
        var body = await response.Content.ReadAsStringAsync();
        response.IsSuccessStatusCode.Should().BeTrue($"creating a session should succeed: {body}");
        return JsonNode.Parse(body)!["sessionId"]!.GetValue<string>();
    }

    /// <summary>Runs one prompt turn through the HTTP API and returns its result.</summary>
    public async Task<JsonNode> PromptAsync(string vm, string sessionId, string text)
    {
        using var response = await Http.PostAsJsonAsync($"{SessionPath(vm, sessionId)}/prompt", new { text });
        var body = await response.Content.ReadAsStringAsync();
        response.IsSuccessStatusCode.Should().BeTrue($"the prompt should succeed: {body}");
        return JsonNode.Parse(body)!;
    }

    public async Task<JsonNode> GetJsonAsync(string path)
    {
        using var response = await Http.GetAsync(path);
        var body = await response.Content.ReadAsStringAsync();
        response.IsSuccessStatusCode.Should().BeTrue($"GET {path} should succeed: {body}");
        return JsonNode.Parse(body)!;
    }

    public static string SessionPath(string vm, string sessionId) => $"/v1/vms/{Uri.EscapeDataString(vm)}/sessions/{sessionId}";

    /// <summary>The console's address of a session.</summary>
    public static string SessionUrl(string vm, string sessionId) => $"/#/vm/{Uri.EscapeDataString(vm)}/s/{sessionId}";

    /// <summary>The VM's home on the host (<c>/home/agentos</c> inside).</summary>
    public string HomeOf(string vm) => Path.Combine(Server.DataDirectory, "vms", vm.Replace('/', '+'), "home");

    public async Task DisposeAsync()
    {
        if (Browser is not null)
        {
            await Browser.CloseAsync();
        }

        _playwright?.Dispose();
        Http?.Dispose();
        if (Server is not null)
        {
            await Server.DisposeAsync();
        }
    }

    internal static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);
}

[CollectionDefinition(Name)]
public sealed class ConsoleCollection : ICollectionFixture<ConsoleFixture>
{
    public const string Name = "Web console";
}
