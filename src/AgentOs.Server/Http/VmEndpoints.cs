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
        v1.MapGet("/vms", (HttpContext context, IOptions<AgentOsOptions> options, ServerShutdown vms) =>
                TypedResults.Ok<IReadOnlyList<VmSummary>>(VmCatalog.List(options.Value)
                    .Where(id => ApiKeyPrincipal.CanReach(context.User, id))
                    .Select(id => new VmSummary(id, vms.IsActive(id))).ToList()))
            .WithName("ListVms").WithSummary("Lists the VMs the key may reach")
            .WithDescription("Every VM with a database on this server, filtered to the API key's scopes (others are left out, never refused).")
            .RequireAuthorization(ApiPolicies.List);

        var vm = v1.MapGroup("/vms/{vm}");
        vm.MapGet("", (string vm, IOptions<AgentOsOptions> options, ServerShutdown vms) =>
            {
                var id = VmRoute.Id(vm);
                return VmCatalog.Exists(options.Value, id)
                    ? Results.Ok(new VmSummary(id, vms.IsActive(id)))
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

        vm.MapDelete("", async (string vm, IGrainFactory grains) =>
            {
                await grains.Grain(vm).DestroyVm();
                return TypedResults.NoContent();
            })
            .WithName("DestroyVm").WithSummary("Deletes the VM with all its data")
            .WithDescription("Its agents stop, then its sessions, transcripts and home are removed. 409 SessionBusy while a prompt runs or is queued. Needs an admin key.")
            .ProducesProblem(StatusCodes.Status409Conflict)
            .RequireAuthorization(ApiPolicies.Admin);
    }
}
