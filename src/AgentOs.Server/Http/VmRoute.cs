namespace AgentOs.Server.Http;

/// <summary>
/// The <c>{vm}</c> route value: a VM id with each <c>/</c> percent-encoded (<c>tenant-a%2Fx</c>, as a URL path
/// segment must carry it; Kestrel leaves <c>%2F</c> encoded), decoded and validated in one place for the endpoints
/// and the VM-scope check alike.
/// </summary>
internal static class VmRoute
{
    public const string Parameter = "vm";

    /// <summary>The VM id a route value names; <see cref="AgentOsErrorCode.InvalidVmId"/> when it is not one.</summary>
    public static string Id(string routeValue) => VmId.Validate(Uri.UnescapeDataString(routeValue));

    /// <summary>The VM id of the request's route, when it has one and it is valid.</summary>
    public static string? Of(HttpContext context) =>
        context.GetRouteValue(Parameter) is string raw && Uri.UnescapeDataString(raw) is var id && VmId.IsValid(id) ? id : null;

    /// <summary>Whether the request's route names a VM at all (valid or not).</summary>
    public static bool Names(HttpContext context) => context.GetRouteValue(Parameter) is string;

    public static IVmGrain Grain(this IGrainFactory grains, string routeValue) => grains.GetGrain<IVmGrain>(Id(routeValue));
}
