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
            typeof(EndpointRouteBuilderExtensions).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0.0.0",
            typeof(IGrainFactory).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "?",
            Environment.Version.ToString()), ServerJsonContext.Default.VersionInfo));
        return endpoints;
    }
}

/// <summary>The answer of <c>GET /version</c>.</summary>
public sealed record VersionInfo(string AgentOs, string Orleans, string Dotnet);

[System.Text.Json.Serialization.JsonSerializable(typeof(VersionInfo))]
[System.Text.Json.Serialization.JsonSourceGenerationOptions(PropertyNamingPolicy = System.Text.Json.Serialization.JsonKnownNamingPolicy.CamelCase)]
internal sealed partial class ServerJsonContext : System.Text.Json.Serialization.JsonSerializerContext;
