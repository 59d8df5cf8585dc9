namespace AgentOs.Server;

/// <summary>The silo's network settings (<c>AgentOs:Orleans</c>).</summary>
public sealed class OrleansEndpointOptions
{
    public string ClusterId { get; set; } = AgentOsNames.DefaultClusterId;

    public string ServiceId { get; set; } = AgentOsNames.DefaultClusterId;

    public int SiloPort { get; set; } = 11111;

    public int GatewayPort { get; set; } = 30000;
}
