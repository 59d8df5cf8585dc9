using System.Collections.Frozen;
using System.Reflection;
using System.Security.Cryptography;

namespace AgentOs.Server.WebConsole;

/// <summary>
/// The web console's files, embedded in this assembly (<c>WebConsole/Assets/**</c>, resource names <c>console/&lt;path&gt;</c>):
/// read once, each with its content type and an ETag (the SHA-256 of its bytes), so a browser revalidates cheaply and
/// a new server's files replace the old ones at once. Nothing is read from disk at run time, and nothing needs a build
/// step: the files are plain HTML, CSS and JavaScript modules.
/// </summary>
internal sealed class ConsoleAssets
{
    private const string Prefix = "console/";

    private readonly FrozenDictionary<string, Asset> _assets;

    public ConsoleAssets()
        : this(typeof(ConsoleAssets).Assembly)
    {
    }

    private ConsoleAssets(Assembly assembly)
    {
        var assets = new Dictionary<string, Asset>(StringComparer.Ordinal);
        foreach (var name in assembly.GetManifestResourceNames().Where(n => n.StartsWith(Prefix, StringComparison.Ordinal)))
        {
            using var stream = assembly.GetManifestResourceStream(name)!;
            using var buffer = new MemoryStream();
            stream.CopyTo(buffer);
            var bytes = buffer.ToArray();
            assets[name[Prefix.Length..]] = new Asset(bytes, ContentTypeOf(name), $"\"{Convert.ToHexStringLower(SHA256.HashData(bytes))[..32]}\"");
        }

        _assets = assets.ToFrozenDictionary(StringComparer.Ordinal);
    }

    /// <summary>The file at <paramref name="path"/> (relative to the console's root, <c>/</c>-separated), or null.</summary>
    public Asset? Find(string path) => _assets.GetValueOrDefault(path);

    public IEnumerable<string> Paths => _assets.Keys;

    private static string ContentTypeOf(string name) => Path.GetExtension(name) switch
    {
        ".html" => "text/html; charset=utf-8",
        ".js" => "text/javascript; charset=utf-8",
        ".css" => "text/css; charset=utf-8",
        ".svg" => "image/svg+xml",
        ".png" => "image/png",
        ".json" => "application/json; charset=utf-8",
        _ => "application/octet-stream",
    };

    /// <summary>One embedded file.</summary>
    internal sealed record Asset(byte[] Bytes, string ContentType, string ETag);
}
