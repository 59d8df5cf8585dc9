using AgentOs.Agents;
using AgentOs.Layout;
using AgentOs.Server.Http.Auth;
using AgentOs.Vm;
using Microsoft.Extensions.Options;

namespace AgentOs.Server.Http;

/// <summary>
/// <c>/v1/vms</c>: list, get, sleep, destroy, info. A VM is made by its first session (there is no "create VM");
/// the list is read from the data directory's VM folders (<see cref="VmCatalog"/>): they are the one record of which
/// VMs exist, so the list needs no registry of its own, holds across restarts, and lists sleeping VMs without waking them.
/// </summary>
internal static class VmEndpoints
{
    public static void Map(RouteGroupBuilder v1)
    {
        v1.MapGet("/vms", async (HttpContext context, IOptions<AgentOsOptions> options, ServerShutdown vms, AgentQuotas agents, VmDiskUse disk) =>
                TypedResults.Ok<IReadOnlyList<VmSummary>>(await Task.WhenAll(VmCatalog.List(options.Value)
                    .Where(id => ApiKeyPrincipal.CanReach(context.User, id))
                    .Select(id => SummaryAsync(id, options.Value, vms, agents, disk)))))
            .WithName("ListVms").WithSummary("Lists the VMs the key may reach")
            .WithDescription("Every VM with a database on this server, filtered to the API key's scopes (others are left out, never refused), " +
                "with whether it is awake, its live sessions, when it last wrote to its database and its home's disk use " +
                "(read from the server's own records and the VM's files: listing neither wakes a VM nor keeps one awake).")
            .RequireAuthorization(ApiPolicies.List);

        var vm = v1.MapGroup("/vms/{vm}");
        vm.MapGet("", async (string vm, IOptions<AgentOsOptions> options, ServerShutdown vms, AgentQuotas agents, VmDiskUse disk) =>
            {
                var id = VmRoute.Id(vm);
                return VmCatalog.Exists(options.Value, id)
                    ? Results.Ok(await SummaryAsync(id, options.Value, vms, agents, disk))
                    : Results.Problem(Problems.Make(StatusCodes.Status404NotFound, "NotFound",
                        $"VM '{id}' does not exist: it has no session yet (a VM is made by its first session: POST /v1/vms/{{vm}}/sessions)."));
            })
            .WithName("GetVm").WithSummary("Gets a VM").Produces<VmSummary>().ProducesProblem(StatusCodes.Status404NotFound)
            .RequireAuthorization(ApiPolicies.Read);

        vm.MapGet("/info", async (string vm, IGrainFactory grains) => TypedResults.Ok(await grains.Grain(vm).GetVmInfo()))
            .WithName("GetVmInfo").WithSummary("What the VM uses now: each live agent's memory, CPU time and processes, its home's size")
            .RequireAuthorization(ApiPolicies.Read);

        vm.MapPost("/sleep", async (string vm, IGrainFactory grains) =>
            {
                await grains.Grain(vm).Sleep();
                return TypedResults.NoContent();
            })
            .WithName("SleepVm").WithSummary("Puts the VM to sleep now")
            .WithDescription("Its agents stop and its sessions become suspended; the next call wakes it. 409 SessionBusy while a prompt runs or is queued.")
            .ProducesProblem(StatusCodes.Status409Conflict)
            .RequireAuthorization(ApiPolicies.Write);

        vm.MapDelete("", async (string vm, IGrainFactory grains, VmDiskUse disk) =>
            {
                await grains.Grain(vm).DestroyVm();
                disk.Forget(VmRoute.Id(vm));
                return TypedResults.NoContent();
            })
            .WithName("DestroyVm").WithSummary("Deletes the VM with all its data")
            .WithDescription("Its agents stop, then its sessions, transcripts and home are removed. 409 SessionBusy while a prompt runs or is queued. Needs an admin key.")
            .ProducesProblem(StatusCodes.Status409Conflict)
            .RequireAuthorization(ApiPolicies.Admin);
    }

    private static async Task<VmSummary> SummaryAsync(string id, AgentOsOptions options, ServerShutdown vms, AgentQuotas agents, VmDiskUse disk)
    {
        var active = vms.IsActive(id);
        return new VmSummary(id, active, VmCatalog.LastWrite(options, id), agents.LiveAgents(id), await disk.GetAsync(id, active));
    }
}
