using System.Text.RegularExpressions;
using AgentOs.Acp;

namespace AgentOs.Sessions;

/// <summary>Validates <see cref="McpServerConfig"/> and maps it to ACP: local → stdio, remote → http/sse.</summary>
internal static partial class McpServerMapping
{
    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$", RegexOptions.CultureInvariant)]
    private static partial Regex NamePattern();

    /// <summary>Throws <see cref="AgentOsErrorCode.InvalidArgument"/> for a malformed config.</summary>
    public static void Validate(IReadOnlyList<McpServerConfig>? servers)
    {
        if (servers is null)
        {
            return;
        }

        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var server in servers)
        {
            if (server is null || !NamePattern().IsMatch(server.Name ?? ""))
            {
                throw Invalid($"MCP server name '{server?.Name}' is invalid: use 1 to 64 letters, digits, '.', '_' or '-'.");
            }

            if (!names.Add(server.Name!))
            {
                throw Invalid($"MCP server name '{server.Name}' is used twice.");
            }

            var local = !string.IsNullOrWhiteSpace(server.Command);
            var remote = !string.IsNullOrWhiteSpace(server.Url);
            if (local == remote)
            {
                throw Invalid($"MCP server '{server.Name}' needs exactly one of Command (local) or Url (remote).");
            }

            if (remote)
            {
                if (!Uri.TryCreate(server.Url, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
                {
                    throw Invalid($"MCP server '{server.Name}' has an invalid Url '{server.Url}': use an absolute http:// or https:// URL.");
                }

                if (server.Transport is not (null or "http" or "sse"))
                {
                    throw Invalid($"MCP server '{server.Name}' has Transport '{server.Transport}': use 'http' or 'sse'.");
                }
            }
        }
    }

    public static IReadOnlyList<McpServerWire> ToWire(IReadOnlyList<McpServerConfig>? servers, AgentCapabilitiesWire? capabilities)
    {
        if (servers is null || servers.Count == 0)
        {
            return [];
        }

        var result = new List<McpServerWire>(servers.Count);
        foreach (var server in servers)
        {
            if (!string.IsNullOrWhiteSpace(server.Command))
            {
                result.Add(new McpServerWire
                {
                    Name = server.Name,
                    Command = server.Command,
                    Args = server.Args ?? [],
                    Env = (server.Env ?? new Dictionary<string, string>()).Select(kv => new NameValue { Name = kv.Key, Value = kv.Value }).ToList(),
                });
                continue;
            }

            var transport = server.Transport ?? "http";
            var supported = transport == "sse" ? capabilities?.McpCapabilities?.Sse == true : capabilities?.McpCapabilities?.Http == true;
            if (!supported)
            {
                throw new AgentOsException(AgentOsErrorCode.InvalidArgument,
                    $"MCP server '{server.Name}' is remote ({transport}), but this agent does not advertise mcpCapabilities.{transport}. Use a local MCP server (Command) or an agent that supports remote ones.");
            }

            result.Add(new McpServerWire
            {
                Type = transport,
                Name = server.Name,
                Url = server.Url,
                Headers = (server.Headers ?? new Dictionary<string, string>()).Select(kv => new NameValue { Name = kv.Key, Value = kv.Value }).ToList(),
            });
        }

        return result;
    }

    private static AgentOsException Invalid(string message) => new(AgentOsErrorCode.InvalidArgument, message);
}
