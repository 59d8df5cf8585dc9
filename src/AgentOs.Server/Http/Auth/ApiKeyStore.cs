using System.Text.Json;
using System.Text.Json.Serialization;
using AgentOs.Layout;
using Microsoft.Extensions.Options;

namespace AgentOs.Server.Http.Auth;

/// <summary>
/// The API keys this server accepts: those in <c>&lt;data&gt;/api-keys.json</c> (0600, written by <c>keys create</c>; read
/// again when it changes, at most once a second, so a key made or revoked while the server runs counts at once) and those
/// in configuration (<c>AgentOs:Http:ApiKeys</c>). Only SHA-256 hashes are kept.
/// </summary>
internal sealed class ApiKeyStore
{
    public const string FileName = "api-keys.json";

    private readonly string _path;
    private readonly IReadOnlyList<ApiKey> _configured;
    private readonly TimeProvider _time;
    private readonly Lock _lock = new();
    private IReadOnlyDictionary<string, ApiKey> _keys = new Dictionary<string, ApiKey>();
    private (DateTime Modified, long Length) _fileState = (DateTime.MinValue, -1);
    private long _checkedAt;

    public ApiKeyStore(IOptions<AgentOsOptions> agentOs, IOptions<HttpApiOptions> http, TimeProvider time)
        : this(PathIn(agentOs.Value.DataDirectoryFullPath), http.Value, time)
    {
    }

    public ApiKeyStore(string path, HttpApiOptions http, TimeProvider time)
    {
        _path = path;
        _time = time;
        _configured = FromConfiguration(http.ApiKeys);
        Reload();
    }

    public static string PathIn(string dataDirectory) => Path.Combine(dataDirectory, FileName);

    /// <summary>Whether any key exists (in the file or configuration).</summary>
    public bool Any
    {
        get
        {
            Refresh();
            return _keys.Count > 0;
        }
    }

    /// <summary>The key <paramref name="presented"/> is, or null.</summary>
    public ApiKey? Find(string presented)
    {
        Refresh();
        return ApiKey.IdOf(presented) is { } id && _keys.TryGetValue(id, out var key) && key.Matches(presented) ? key : null;
    }

    private void Refresh()
    {
        var now = _time.GetTimestamp();
        if (_time.GetElapsedTime(Volatile.Read(ref _checkedAt), now) < TimeSpan.FromSeconds(1))
        {
            return;
        }

        Volatile.Write(ref _checkedAt, now);
        var file = new FileInfo(_path);
        if ((file.Exists ? (file.LastWriteTimeUtc, file.Length) : (DateTime.MinValue, -1)) != _fileState)
        {
            Reload();
        }
    }

    private void Reload()
    {
        lock (_lock)
        {
            _checkedAt = _time.GetTimestamp();
            var file = new FileInfo(_path);
            _fileState = file.Exists ? (file.LastWriteTimeUtc, file.Length) : (DateTime.MinValue, -1);
            var keys = new Dictionary<string, ApiKey>(StringComparer.Ordinal);
            foreach (var key in _configured.Concat(Read(_path)))
            {
                keys[key.Id] = key;
            }

            _keys = keys;
        }
    }

    /// <summary>The keys of a keys file; none when it does not exist.</summary>
    /// <exception cref="InvalidOperationException">It cannot be read.</exception>
    public static IReadOnlyList<ApiKey> Read(string path)
    {
        if (!File.Exists(path))
        {
            return [];
        }

        try
        {
            var file = JsonSerializer.Deserialize(File.ReadAllText(path), KeysFileContext.Default.KeysFile) ?? new KeysFile();
            return file.Keys.Select(k => new ApiKey(k.Id, Convert.FromHexString(k.Sha256), Enum.Parse<ApiRole>(k.Role, ignoreCase: true), k.Scopes, k.Name, k.CreatedAt)).ToList();
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or JsonException or FormatException or ArgumentException)
        {
            throw new InvalidOperationException($"The API keys file {path} cannot be read: {ex.Message}. Fix or remove it (keys create writes a new one).", ex);
        }
    }

    /// <summary>Writes a keys file, 0600, replacing the old one in one rename.</summary>
    public static void Write(string path, IEnumerable<ApiKey> keys)
    {
        PrivateFiles.CreateDirectory(Path.GetDirectoryName(path)!);
        var file = new KeysFile
        {
            Keys = keys.Select(k => new KeysFile.Entry
            {
                Id = k.Id,
                Name = k.Name,
                Role = k.Role.ToString().ToLowerInvariant(),
                Scopes = [.. k.Scopes],
                Sha256 = Convert.ToHexStringLower(k.Sha256),
                CreatedAt = k.CreatedAt,
            }).ToList(),
        };
        var temporary = path + ".tmp";
        using (var stream = PrivateFiles.Create(temporary, FileMode.Create))
        {
            JsonSerializer.Serialize(stream, file, KeysFileContext.Default.KeysFile);
        }

        File.Move(temporary, path, overwrite: true);
    }

    private static List<ApiKey> FromConfiguration(IEnumerable<ConfiguredApiKey> configured)
    {
        var keys = new List<ApiKey>();
        foreach (var (key, index) in configured.Select((k, i) => (k, i)))
        {
            var where = $"AgentOs:Http:ApiKeys:{index}";
            var sha = key.Sha256.Trim();
            if (string.IsNullOrWhiteSpace(key.Id) || sha.Length != 64 || !sha.All(Uri.IsHexDigit))
            {
                throw new InvalidOperationException($"{where} needs an Id and a Sha256 of 64 hex digits (keys create prints both).");
            }

            if (!ApiKey.TryParseRole(key.Role, out var role))
            {
                throw new InvalidOperationException($"{where}:Role is '{key.Role}'; it is read, write or admin.");
            }

            var problem = key.Scopes.Count == 0 ? "none given (use * for every VM)" : key.Scopes.Select(ApiKey.CheckScope).FirstOrDefault(p => p is not null);
            if (problem is not null)
            {
                throw new InvalidOperationException($"{where}:Scopes: {problem}.");
            }

            keys.Add(new ApiKey(key.Id, Convert.FromHexString(sha), role, key.Scopes));
        }

        return keys;
    }

    internal sealed class KeysFile
    {
        public List<Entry> Keys { get; set; } = [];

        internal sealed class Entry
        {
            public string Id { get; set; } = "";

            public string? Name { get; set; }

            public string Role { get; set; } = "";

            public List<string> Scopes { get; set; } = [];

            public string Sha256 { get; set; } = "";

            public DateTimeOffset? CreatedAt { get; set; }
        }
    }
}

[JsonSerializable(typeof(ApiKeyStore.KeysFile))]
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, WriteIndented = true, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
internal sealed partial class KeysFileContext : JsonSerializerContext;
