using System.Security.Cryptography;
using System.Text;

namespace AgentOs.Server.Http.Auth;

/// <summary>What an API key may do: read ⊂ write ⊂ admin.</summary>
public enum ApiRole
{
    /// <summary>Lists and reads: VMs, sessions, history, event streams, modes, usage, pending permissions.</summary>
    Read = 1,

    /// <summary>Read, and drives sessions: create, prompt, cancel, answer permissions, configure, resume, close, destroy a session; sleep a VM.</summary>
    Write = 2,

    /// <summary>Write, and destroys whole VMs.</summary>
    Admin = 3,
}

/// <summary>
/// An API key as the server keeps it: never the key itself, only its SHA-256. A key is <c>aos_&lt;id&gt;_&lt;secret&gt;</c>:
/// the id (12 hex digits) finds the entry, the secret (32 random bytes, base64url) makes it unguessable, and the SHA-256
/// of the whole key is compared in constant time. A slow hash buys nothing for 256 random bits.
/// </summary>
/// <param name="Id">The key's id, also what logs and <c>keys list</c> show.</param>
/// <param name="Sha256">SHA-256 of the whole key (32 bytes).</param>
/// <param name="Role">What it may do.</param>
/// <param name="Scopes">The VMs it may reach: exact ids, prefixes ending in <c>/</c> (<c>tenant-a/</c> reaches <c>tenant-a/x</c>), or <c>*</c>.</param>
/// <param name="Name">A label, for people.</param>
/// <param name="CreatedAt">When it was made, when known.</param>
public sealed record ApiKey(string Id, byte[] Sha256, ApiRole Role, IReadOnlyList<string> Scopes, string? Name = null, DateTimeOffset? CreatedAt = null)
{
    public const string Prefix = "aos_";

    /// <summary>Whether this key may reach VM <paramref name="vmId"/>.</summary>
    public bool CanReach(string vmId) => Scopes.Any(scope => ScopeMatches(scope, vmId));

    public static bool ScopeMatches(string scope, string vmId) =>
        scope == "*" || (scope.EndsWith('/') ? vmId.StartsWith(scope, StringComparison.Ordinal) : vmId == scope);

    /// <summary>Whether <paramref name="scope"/> is one a key may have; else why not.</summary>
    public static string? CheckScope(string scope) =>
        scope == "*" || VmId.IsValid(scope) || (scope.EndsWith('/') && VmId.IsValid(scope[..^1])) ? null
            : $"'{scope}' is not a scope: use a VM id (tenant-a/x), a prefix ending in '/' (tenant-a/), or * for every VM";

    public static bool TryParseRole(string? text, out ApiRole role) =>
        Enum.TryParse(text, ignoreCase: true, out role) && Enum.IsDefined(role) && !int.TryParse(text, out _);

    /// <summary>A new random key and its entry.</summary>
    public static (string Key, ApiKey Entry) Create(ApiRole role, IReadOnlyList<string> scopes, string? name)
    {
        var id = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6));
        var key = Prefix + id + "_" + Base64Url(RandomNumberGenerator.GetBytes(32));
        return (key, new ApiKey(id, Hash(key), role, scopes, name, DateTimeOffset.UtcNow));
    }

    /// <summary>The id of a key as presented (<c>aos_&lt;id&gt;_…</c>); null when it does not have the shape.</summary>
    public static string? IdOf(string key)
    {
        if (!key.StartsWith(Prefix, StringComparison.Ordinal) || key.Length > 256)
        {
            return null;
        }

        var end = key.IndexOf('_', Prefix.Length);
        return end > Prefix.Length ? key[Prefix.Length..end] : null;
    }

    public static byte[] Hash(string key) => SHA256.HashData(Encoding.UTF8.GetBytes(key));

    /// <summary>Whether <paramref name="key"/> is this key: its SHA-256 compared in constant time.</summary>
    public bool Matches(string key) => CryptographicOperations.FixedTimeEquals(Hash(key), Sha256);

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
