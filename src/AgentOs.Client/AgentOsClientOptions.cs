namespace AgentOs.Client;

/// <summary>Where the AgentOs server's Orleans gateway is.</summary>
public sealed class AgentOsClientOptions
{
    /// <summary>Gateway host. Default <c>localhost</c>.</summary>
    public string GatewayHost { get; set; } = "localhost";

    /// <summary>Gateway port. Default 30000.</summary>
    public int GatewayPort { get; set; } = 30000;

    /// <summary>Orleans cluster id; must match the server's. Default <c>agentos</c>.</summary>
    public string ClusterId { get; set; } = AgentOsNames.DefaultClusterId;

    /// <summary>Orleans service id; must match the server's. Default <c>agentos</c>.</summary>
    public string ServiceId { get; set; } = AgentOsNames.DefaultClusterId;

    /// <summary>How long to keep trying to reach the gateway before giving up with a clear error. Default 10 s.</summary>
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(10);
}
