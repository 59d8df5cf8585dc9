using System.Reflection;
using AgentOs.Server.Http;
using AgentOs.Server.WebConsole;

namespace AgentOs.Server;

/// <summary>The server's HTTP endpoints.</summary>
public static class EndpointRouteBuilderExtensions
{
    /// <summary>Maps <c>GET /healthz</c>, <c>GET /version</c>, the HTTP API under <c>/v1</c>, <c>/openapi/v1.json</c>, <c>/docs</c> and the web console at <c>/</c>.</summary>
    public static IEndpointRouteBuilder MapAgentOs(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGet("/healthz", (ServerReadiness readiness) => readiness.IsReady
            ? Results.Text("ok")
            : Results.Text("starting", statusCode: StatusCodes.Status503ServiceUnavailable)).ExcludeFromDescription();
        endpoints.MapGet("/version", () => Results.Json(new VersionInfo(
            ReleaseOf(typeof(EndpointRouteBuilderExtensions).Assembly) ?? "0.0.0",
            ReleaseOf(typeof(IGrainFactory).Assembly) ?? "?",
            Environment.Version.ToString()), HttpJsonContext.Default.VersionInfo)).ExcludeFromDescription();
        endpoints.MapAgentOsHttpApi();
        endpoints.MapAgentOsConsole();
        return endpoints;
    }

    /// <summary>An assembly's version without the build's source revision (<c>+&lt;commit&gt;</c>): nothing an unauthenticated caller needs.</summary>
    private static string? ReleaseOf(Assembly assembly) =>
        assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0];
}
