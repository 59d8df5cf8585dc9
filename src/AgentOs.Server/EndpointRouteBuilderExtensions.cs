using System.Reflection;

namespace AgentOs.Server;

/// <summary>The server's HTTP endpoints.</summary>
public static class EndpointRouteBuilderExtensions
{
    /// <summary>Maps <c>GET /healthz</c> and <c>GET /version</c>.</summary>
    public static IEndpointRouteBuilder MapAgentOs(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGet("/healthz", (ServerReadiness readiness) => readiness.IsReady
            ? Results.Text("ok")
            : Results.Text("starting", statusCode: StatusCodes.Status503ServiceUnavailable));
        endpoints.MapGet("/version", () => Results.Json(new VersionInfo(
            ReleaseOf(typeof(EndpointRouteBuilderExtensions).Assembly) ?? "0.0.0",
            ReleaseOf(typeof(IGrainFactory).Assembly) ?? "?",
            Environment.Version.ToString()), ServerJsonContext.Default.VersionInfo));
        return endpoints;
    }

    /// <summary>An assembly's version without the build's source revision (<c>+&lt;commit&gt;</c>): nothing an unauthenticated caller needs.</summary>
    private static string? ReleaseOf(Assembly assembly) =>
        assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0];
}

/// <summary>The answer of <c>GET /version</c>.</summary>
public sealed record VersionInfo(string AgentOs, string Orleans, string Dotnet);

[System.Text.Json.Serialization.JsonSerializable(typeof(VersionInfo))]
[System.Text.Json.Serialization.JsonSourceGenerationOptions(PropertyNamingPolicy = System.Text.Json.Serialization.JsonKnownNamingPolicy.CamelCase)]
internal sealed partial class ServerJsonContext : System.Text.Json.Serialization.JsonSerializerContext;
