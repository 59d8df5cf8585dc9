namespace AgentOs.Server.Http;

/// <summary>The HTTP API's settings (<c>AgentOs:Http</c>).</summary>
public sealed class HttpApiOptions
{
    public const string SectionName = "AgentOs:Http";

    /// <summary>
    /// Whether every <c>/v1</c> request needs an API key. Null (the default): required when HTTP listens beyond
    /// loopback (then the server refuses to start without a key), optional on loopback, where a request without a key
    /// may do everything. A request that presents a key is checked either way.
    /// </summary>
    public bool? RequireApiKeys { get; set; }

    /// <summary>API keys given in configuration (their SHA-256, never the key), besides those <c>keys create</c> stores.</summary>
    public List<ConfiguredApiKey> ApiKeys { get; set; } = [];

    /// <summary>How often an idle event stream sends a comment line, so proxies keep the connection. Default 15 s.</summary>
    public TimeSpan SseHeartbeat { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>
    /// The most live events (encoded bytes) one event stream holds for a client that reads slower than the VM writes;
    /// past it the stream catches up from the store instead, so no client holds a VM up. Default 8 MiB.
    /// </summary>
    public long SseBufferBytes { get; set; } = 8 * 1024 * 1024;
}

/// <summary>An API key declared in configuration (<c>AgentOs:Http:ApiKeys:&lt;n&gt;</c>).</summary>
public sealed class ConfiguredApiKey
{
    /// <summary>The key's id: the part between <c>aos_</c> and the next <c>_</c> of the key.</summary>
    public string Id { get; set; } = "";

    /// <summary>The SHA-256 of the whole key, hex (<c>keys create</c> prints it).</summary>
    public string Sha256 { get; set; } = "";

    /// <summary><c>read</c>, <c>write</c> or <c>admin</c>.</summary>
    public string Role { get; set; } = "";

    /// <summary>VM ids, prefixes ending in <c>/</c> (<c>tenant-a/</c>), or <c>*</c> for every VM.</summary>
    public List<string> Scopes { get; set; } = [];
}
