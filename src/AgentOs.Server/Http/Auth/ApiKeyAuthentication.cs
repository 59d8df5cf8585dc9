using System.Security.Claims;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;

namespace AgentOs.Server.Http.Auth;

/// <summary>Whether the HTTP API needs keys: decided once at start (<see cref="HttpExposure"/>).</summary>
/// <param name="Required">Every <c>/v1</c> request must present a key.</param>
internal sealed record ApiKeyRequirement(bool Required);

/// <summary>
/// The <c>ApiKey</c> authentication scheme: <c>Authorization: Bearer aos_…</c> checked against the <see cref="ApiKeyStore"/>.
/// A request with no key is anonymous where keys are required (the endpoint's policy then answers 401) and, where they
/// are not (loopback only, by default), the local caller with every right. A key that is presented is always checked:
/// a wrong one is a 401 on loopback too. 401 and 403 are problem details.
/// </summary>
internal sealed partial class ApiKeyAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder, ApiKeyStore keys, ApiKeyRequirement requirement)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "ApiKey";

    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var header = Request.Headers.Authorization.ToString();
        if (header.Length == 0)
        {
            return Task.FromResult(requirement.Required ? AuthenticateResult.NoResult() : AuthenticateResult.Success(Ticket(ApiKeyPrincipal.Local())));
        }

        if (!header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            return Task.FromResult(AuthenticateResult.Fail("The Authorization header is not 'Bearer <API key>'."));
        }

        var key = keys.Find(header["Bearer ".Length..].Trim());
        if (key is null)
        {
            LogRefused(Logger, Request.Method, Request.Path);
            return Task.FromResult(AuthenticateResult.Fail("The API key is not one this server knows (revoked, mistyped, or of another server)."));
        }

        return Task.FromResult(AuthenticateResult.Success(Ticket(ApiKeyPrincipal.Of(key))));
    }

    private static AuthenticationTicket Ticket(ClaimsPrincipal principal) => new(principal, SchemeName);

    protected override async Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        Response.Headers[HeaderNames.WWWAuthenticate] = "Bearer";
        var failure = (await HandleAuthenticateOnceSafeAsync()).Failure?.Message;
        await Problems.WriteAsync(Context, Problems.Make(StatusCodes.Status401Unauthorized, "Unauthorized",
            failure ?? "This server needs an API key: send 'Authorization: Bearer <key>' (create one with `dotnet run --project src/AgentOs.Server -- keys create --role write --scope <vm or prefix/>`)."));
    }

    protected override Task HandleForbiddenAsync(AuthenticationProperties properties) =>
        Problems.WriteAsync(Context, Problems.Make(StatusCodes.Status403Forbidden, "Forbidden", "This API key may not do this."));

    [LoggerMessage(Level = LogLevel.Warning, Message = "HTTP {Method} {Path}: refused an unknown API key")]
    private static partial void LogRefused(ILogger logger, string method, string path);
}

/// <summary>The claims of an authenticated caller: its key's id, role and scopes.</summary>
internal static class ApiKeyPrincipal
{
    private const string RoleClaim = "agentos:role";
    private const string ScopeClaim = "agentos:scope";
    private const string KeyClaim = "agentos:key";

    /// <summary>The caller without a key on a server that does not require one (loopback only): every right.</summary>
    public static ClaimsPrincipal Local() => Make("local", ApiRole.Admin, ["*"]);

    public static ClaimsPrincipal Of(ApiKey key) => Make(key.Id, key.Role, key.Scopes);

    private static ClaimsPrincipal Make(string id, ApiRole role, IEnumerable<string> scopes) =>
        new(new ClaimsIdentity(
            scopes.Select(s => new Claim(ScopeClaim, s)).Prepend(new Claim(RoleClaim, role.ToString())).Prepend(new Claim(KeyClaim, id)),
            ApiKeyAuthenticationHandler.SchemeName));

    public static string KeyId(ClaimsPrincipal user) => user.FindFirst(KeyClaim)?.Value ?? "?";

    public static ApiRole? Role(ClaimsPrincipal user) => Enum.TryParse<ApiRole>(user.FindFirst(RoleClaim)?.Value, out var role) ? role : null;

    public static IEnumerable<string> Scopes(ClaimsPrincipal user) => user.FindAll(ScopeClaim).Select(c => c.Value);

    /// <summary>Whether the caller's key may reach VM <paramref name="vmId"/>.</summary>
    public static bool CanReach(ClaimsPrincipal user, string vmId) => Scopes(user).Any(scope => ApiKey.ScopeMatches(scope, vmId));
}
