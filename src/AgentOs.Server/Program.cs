using AgentOs;
using AgentOs.Hosting;
using AgentOs.Server;
using AgentOs.Server.Http;
using AgentOs.Server.Http.Auth;
using Orleans.Configuration;

// `certs create …`: the CA and certificates for mutual TLS on the Orleans ports, then exit.
if (args is ["certs", .. var certsArgs])
{
    return CertsCommand.Run(certsArgs);
}

// appsettings.json ships next to the binary, so the embedded defaults hold from any working
// directory; ./data stays relative to where the server is started.
// appsettings*.json are read once: no file watchers to set up at start (settings apply at the next
// start; --hostBuilder:reloadConfigOnChange=true or DOTNET_hostBuilder__reloadConfigOnChange=true restores reloading).
var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions
{
    Args = Environment.GetEnvironmentVariable("DOTNET_hostBuilder__reloadConfigOnChange") is null ? ["--hostBuilder:reloadConfigOnChange=false", .. args] : args,
    ContentRootPath = AppContext.BaseDirectory,
});

// http://localhost:6420 unless the standard ASP.NET Core settings (--urls, ASPNETCORE_URLS,
// ASPNETCORE_HTTP_PORTS, Kestrel:Endpoints) say otherwise.
if (!HttpExposure.IsConfigured(builder.Configuration))
{
    builder.WebHost.UseUrls(HttpExposure.DefaultUrl);
}

// `keys create|list|revoke …`: the HTTP API's keys in <data>/api-keys.json, then exit.
if (args is ["keys", .. var keysArgs])
{
    return KeysCommand.Run(keysArgs, builder.Configuration);
}

// `install <package>…`: install software packages ahead of time, then exit.
if (args is ["install", .. var packages])
{
    using var loggers = LoggerFactory.Create(logging => logging.AddSimpleConsole(o => o.SingleLine = true));
    return await InstallCommand.RunAsync(builder.Configuration, packages.Where(p => !p.StartsWith('-')).ToList(), loggers);
}

var orleans = builder.Configuration.GetSection("AgentOs:Orleans").Get<OrleansEndpointOptions>() ?? new OrleansEndpointOptions();
SiloNetwork network;
try
{
    network = SiloNetwork.Resolve(orleans);
    PortGuard.EnsureFree(("Silo", orleans.SiloPort), ("Gateway", orleans.GatewayPort));
    HttpApi.CheckAtStart(builder.Configuration); // bad settings, or beyond loopback with no key: no start
}
catch (InvalidOperationException ex)
{
    Console.Error.WriteLine("AgentOs cannot start: " + ex.Message);
    return 1;
}

// Kestrel and the silo start side by side (startup is mostly single-threaded JIT and type loading;
// the second core was idle). /healthz says 503 until the silo is active.
builder.Services.Configure<HostOptions>(o => o.ServicesStartConcurrently = true);
builder.Services.AddSingleton<ServerReadiness>();
builder.Services.AddAgentOsHttpApi(builder.Configuration);
builder.Services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>>(sp => sp.GetRequiredService<ServerReadiness>());
builder.UseOrleans(silo =>
{
    // One silo, development clustering, on AgentOs:Orleans:ListenAddress; mutual TLS when configured.
    network.Apply(silo, orleans);
    // Prompt turns last minutes; the grain interface sets per-method response timeouts on top.
    silo.Configure<SiloMessagingOptions>(o => o.ResponseTimeout = TimeSpan.FromMinutes(5));
    silo.UseAgentOs(builder.Configuration);
});

var app = builder.Build();
app.UseExceptionHandler();
app.UseStatusCodePages();
app.UseAuthentication();
app.UseAuthorization();
app.MapAgentOs();

app.Lifetime.ApplicationStarted.Register(() =>
{
    var agentOs = app.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<AgentOsOptions>>().Value;
    var agents = string.Join(", ", app.Services.GetAgentTypeNames());
    ServerLog.Ready(app.Logger, string.Join(", ", app.Urls), network.Describe(orleans.GatewayPort), agentOs.DataDirectoryFullPath, agents);
});

try
{
    // Every option is checked before anything starts (AgentOsOptionsValidator): a bad value is one line here, not a failed host start.
    _ = app.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<AgentOsOptions>>().Value;
    await app.RunAsync();
}
catch (Exception ex) when (ex is InvalidOperationException or Microsoft.Extensions.Options.OptionsValidationException)
{
    // What the operator must fix (a second server on the data directory, a missing sandbox tool, a bad option): one line, no stack trace.
    // A value the configuration binder cannot convert says which value in its inner exception.
    Console.Error.WriteLine("AgentOs cannot start: " + ex.Message + (ex.InnerException is { } inner && ex is not Microsoft.Extensions.Options.OptionsValidationException ? " " + inner.Message : ""));
    return 1;
}

return 0;

internal static partial class ServerLog
{
    [LoggerMessage(Level = LogLevel.Information, Message = "AgentOs ready: HTTP {Urls}, Orleans gateway {Gateway}, data {DataDirectory}, agent types: {AgentTypes}")]
    public static partial void Ready(ILogger logger, string urls, string gateway, string dataDirectory, string agentTypes);
}
