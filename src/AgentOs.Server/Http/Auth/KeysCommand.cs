namespace AgentOs.Server.Http.Auth;

/// <summary>
/// The server's <c>keys</c> command, for the HTTP API's keys in <c>&lt;data&gt;/api-keys.json</c> (0600; the server reads
/// changes within a second): <c>keys create --role read|write|admin [--scope VM|PREFIX/|*]... [--name TEXT]</c> prints a
/// new key once (only its SHA-256 is stored), <c>keys list</c> shows them, <c>keys revoke ID</c> removes one.
/// </summary>
internal static class KeysCommand
{
    public const string Usage = "Usage: keys create --role read|write|admin [--scope VM|PREFIX/|*]... [--name TEXT] | keys list | keys revoke ID. " +
        "--scope is a VM id (tenant-a/x), a prefix ending in '/' (tenant-a/) or * (every VM, the default); repeat it for more.";

    /// <summary>Runs <c>keys …</c> with the arguments after <c>keys</c>; returns the process exit code.</summary>
    public static int Run(IReadOnlyList<string> args, IConfiguration configuration)
    {
        var path = ApiKeyStore.PathIn(HttpApi.DataDirectory(configuration));
        try
        {
            return args switch
            {
                ["create", ..] => Create(path, args.Skip(1).ToList()),
                ["list"] => List(path),
                ["revoke", var id] => Revoke(path, id),
                _ => Fail(args.Count == 0 ? null : $"Unknown keys command '{string.Join(' ', args)}'."),
            };
        }
        catch (Exception ex) when (ex is InvalidOperationException or IOException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine("keys: " + ex.Message);
            return 1;
        }
    }

    private static int Create(string path, IReadOnlyList<string> args)
    {
        ApiRole? role = null;
        var scopes = new List<string>();
        string? name = null;
        for (var i = 0; i < args.Count; i++)
        {
            var value = i + 1 < args.Count ? args[i + 1] : null;
            switch (args[i])
            {
                case "--role" when value is not null:
                    if (!ApiKey.TryParseRole(value, out var parsed))
                    {
                        return Fail($"--role is '{value}'; it is read, write or admin.");
                    }

                    role = parsed;
                    i++;
                    break;
                case "--scope" when value is not null:
                    if (ApiKey.CheckScope(value) is { } problem)
                    {
                        return Fail($"--scope {problem}.");
                    }

                    scopes.Add(value);
                    i++;
                    break;
                case "--name" when value is not null:
                    name = value;
                    i++;
                    break;
                default:
                    return Fail(args[i] is "--role" or "--scope" or "--name" ? $"{args[i]} needs a value." : $"Unknown argument '{args[i]}'.");
            }
        }

        if (role is null)
        {
            return Fail("--role is required.");
        }

        if (scopes.Count == 0)
        {
            scopes.Add("*");
        }

        var (key, entry) = ApiKey.Create(role.Value, scopes, name);
        ApiKeyStore.Write(path, [.. ApiKeyStore.Read(path), entry]);
        Console.WriteLine($"""
            {key}

            The API key above is shown this once; only its SHA-256 is stored ({path}, 0600).
              id      {entry.Id}
              role    {entry.Role.ToString().ToLowerInvariant()}
              scopes  {string.Join(", ", scopes)}
              sha256  {Convert.ToHexStringLower(entry.Sha256)}
            Send it as 'Authorization: Bearer <key>'. A running server accepts it within a second.
            Revoke it with `keys revoke {entry.Id}`.
            """);
        return 0;
    }

    private static int List(string path)
    {
        var keys = ApiKeyStore.Read(path);
        if (keys.Count == 0)
        {
            Console.WriteLine($"No API keys in {path}.");
            return 0;
        }

        foreach (var key in keys)
        {
            Console.WriteLine($"{key.Id}  {key.Role.ToString().ToLowerInvariant(),-5}  {string.Join(",", key.Scopes)}  {key.CreatedAt:yyyy-MM-dd HH:mm}  {key.Name}");
        }

        return 0;
    }

    private static int Revoke(string path, string id)
    {
        var keys = ApiKeyStore.Read(path);
        if (!keys.Any(k => k.Id == id))
        {
            Console.Error.WriteLine($"keys: no key '{id}' in {path} (keys list shows them).");
            return 1;
        }

        ApiKeyStore.Write(path, keys.Where(k => k.Id != id));
        Console.WriteLine($"Revoked {id}; a running server refuses it within a second.");
        return 0;
    }

    private static int Fail(string? problem)
    {
        Console.Error.WriteLine((problem is null ? "" : problem + " ") + Usage);
        return 2;
    }
}
