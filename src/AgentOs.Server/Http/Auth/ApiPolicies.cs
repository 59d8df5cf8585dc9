using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Authorization.Policy;

namespace AgentOs.Server.Http.Auth;

/// <summary>
/// The authorization policies of the HTTP API: a role at least (<see cref="ApiRole"/>) and, for a route that names a VM
/// (<c>{vm}</c>), a scope of the key that reaches it. A key outside its scopes gets 403 naming the VM and its scopes; the
/// VM list (<see cref="List"/>) filters instead.
/// </summary>
internal static class ApiPolicies
{
    public const string List = "agentos:list";
    public const string Read = "agentos:read";
    public const string Write = "agentos:write";
    public const string Admin = "agentos:admin";

    public static void Add(AuthorizationOptions options)
    {
        options.AddPolicy(List, p => p.RequireAuthenticatedUser().AddRequirements(new VmAccessRequirement(ApiRole.Read)));
        options.AddPolicy(Read, p => p.RequireAuthenticatedUser().AddRequirements(new VmAccessRequirement(ApiRole.Read)));
        options.AddPolicy(Write, p => p.RequireAuthenticatedUser().AddRequirements(new VmAccessRequirement(ApiRole.Write)));
        options.AddPolicy(Admin, p => p.RequireAuthenticatedUser().AddRequirements(new VmAccessRequirement(ApiRole.Admin)));
    }
}

/// <summary>The caller's key has <see cref="Role"/> (or more) and, when the route names a VM, reaches it.</summary>
internal sealed record VmAccessRequirement(ApiRole Role) : IAuthorizationRequirement;

internal sealed class VmAccessHandler : AuthorizationHandler<VmAccessRequirement>
{
    protected override Task HandleRequirementAsync(AuthorizationHandlerContext context, VmAccessRequirement requirement)
    {
        var user = context.User;
        if (ApiKeyPrincipal.Role(user) is not { } role)
        {
            return Task.CompletedTask; // not authenticated: the policy's challenge answers
        }

        if (role < requirement.Role)
        {
            context.Fail(new AuthorizationFailureReason(this,
                $"API key '{ApiKeyPrincipal.KeyId(user)}' is a {role.ToString().ToLowerInvariant()} key; this needs {requirement.Role.ToString().ToLowerInvariant()}."));
            return Task.CompletedTask;
        }

        if (context.Resource is HttpContext http && VmRoute.Names(http))
        {
            // An invalid id is the endpoint's 400, after this check: a key reaches it only if it would reach a valid one.
            var vmId = VmRoute.Of(http);
            if (vmId is not null && !ApiKeyPrincipal.CanReach(user, vmId))
            {
                context.Fail(new AuthorizationFailureReason(this,
                    $"API key '{ApiKeyPrincipal.KeyId(user)}' may not reach VM '{vmId}' (its scopes: {string.Join(", ", ApiKeyPrincipal.Scopes(user))})."));
                return Task.CompletedTask;
            }

            if (vmId is null && !ApiKeyPrincipal.Scopes(user).Contains("*"))
            {
                context.Fail(new AuthorizationFailureReason(this, "The VM id in the path is not valid."));
                return Task.CompletedTask;
            }
        }

        context.Succeed(requirement);
        return Task.CompletedTask;
    }
}

/// <summary>A 403 says why (the key's role or scopes), as problem details; the rest is ASP.NET Core's default.</summary>
internal sealed class ProblemAuthorizationResultHandler : IAuthorizationMiddlewareResultHandler
{
    private readonly AuthorizationMiddlewareResultHandler _default = new();

    public Task HandleAsync(RequestDelegate next, HttpContext context, AuthorizationPolicy policy, PolicyAuthorizationResult authorizeResult)
    {
        if (authorizeResult.Forbidden && authorizeResult.AuthorizationFailure?.FailureReasons.FirstOrDefault() is { } reason)
        {
            return Problems.WriteAsync(context, Problems.Make(StatusCodes.Status403Forbidden, "Forbidden", reason.Message));
        }

        return _default.HandleAsync(next, context, policy, authorizeResult);
    }
}
