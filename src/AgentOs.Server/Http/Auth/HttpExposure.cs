using System.Net;

namespace AgentOs.Server.Http.Auth;

/// <summary>
/// Where HTTP listens, read from the same settings Kestrel reads (<c>urls</c>, <c>http_ports</c>/<c>https_ports</c>,
/// <c>Kestrel:Endpoints:*:Url</c>; the default <c>http://localhost:6420</c>), before anything starts: anything but a
/// loopback address (<c>localhost</c>, <c>127.x</c>, <c>[::1]</c>) is beyond loopback, and then API keys are required.
/// </summary>
internal static class HttpExposure
{
    public const string DefaultUrl = "http://localhost:6420";

    /// <summary>Whether the standard settings name any HTTP endpoint (else <see cref="DefaultUrl"/> is used).</summary>
    public static bool IsConfigured(IConfiguration configuration) =>
        !string.IsNullOrEmpty(configuration["urls"]) || !string.IsNullOrEmpty(configuration["http_ports"]) || !string.IsNullOrEmpty(configuration["https_ports"])
        || configuration.GetSection("Kestrel:Endpoints").Exists();

    /// <summary>The addresses HTTP listens on, as configured, and those beyond loopback.</summary>
    public static (IReadOnlyList<string> Urls, IReadOnlyList<string> BeyondLoopback) Resolve(IConfiguration configuration)
    {
        var urls = new List<string>();
        if (!IsConfigured(configuration))
        {
            urls.Add(DefaultUrl);
        }

        urls.AddRange((configuration["urls"] ?? "").Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        foreach (var (key, scheme) in new[] { ("http_ports", "http"), ("https_ports", "https") })
        {
            urls.AddRange((configuration[key] ?? "").Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(port => $"{scheme}://*:{port}"));
        }

        urls.AddRange(configuration.GetSection("Kestrel:Endpoints").GetChildren().Select(e => e["Url"]).OfType<string>());
        return (urls, urls.Where(url => !IsLoopback(url)).ToList());
    }

    private static bool IsLoopback(string url)
    {
        var rest = url.Contains("://", StringComparison.Ordinal) ? url[(url.IndexOf("://", StringComparison.Ordinal) + 3)..] : url;
        var host = rest.StartsWith('[') ? rest[1..Math.Max(1, rest.IndexOf(']', StringComparison.Ordinal))] : rest.Split(':', '/')[0];
        return string.Equals(host, "localhost", StringComparison.OrdinalIgnoreCase) || (IPAddress.TryParse(host, out var address) && IPAddress.IsLoopback(address));
    }
}
