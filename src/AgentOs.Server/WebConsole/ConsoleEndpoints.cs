using Microsoft.Net.Http.Headers;

namespace AgentOs.Server.WebConsole;

/// <summary>
/// The web console: <c>GET /</c> (its page) and <c>GET /console/{path}</c> (its scripts and styles), served from the
/// files embedded in the server (<see cref="ConsoleAssets"/>). The console is a client of the public HTTP API under
/// <c>/v1</c> and nothing else; its files are open without a key (they reach no VM), every call it makes presents the key
/// the user signed in with.
/// </summary>
internal static class ConsoleEndpoints
{
    /// <summary>
    /// The Content-Security-Policy of every console response: scripts only from the server's own files (no inline script,
    /// no inline event handler, no <c>eval</c>), styles likewise, connections only to the server, no plugins, frames, forms
    /// or base-URL changes; and Trusted Types required with no policy allowed, so a string can never become HTML or script
    /// through <c>innerHTML</c> and its kin, even by a mistake in the console's own code (browsers without Trusted Types ignore
    /// those two directives).
    /// </summary>
    public const string ContentSecurityPolicy =
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; " +
        "manifest-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'; object-src 'none'; " +
        "require-trusted-types-for 'script'; trusted-types 'none'";

    public static IEndpointRouteBuilder MapAgentOsConsole(this IEndpointRouteBuilder endpoints)
    {
        var assets = new ConsoleAssets();
        endpoints.MapGet("/", (HttpContext context) => Serve(context, assets.Find("index.html"))).ExcludeFromDescription();
        endpoints.MapGet("/console/{**path}", (HttpContext context, string path) => Serve(context, assets.Find(path))).ExcludeFromDescription();
        return endpoints;
    }

    private static IResult Serve(HttpContext context, ConsoleAssets.Asset? asset)
    {
        var headers = context.Response.Headers;
        headers[HeaderNames.ContentSecurityPolicy] = ContentSecurityPolicy;
        headers[HeaderNames.XContentTypeOptions] = "nosniff";
        headers[HeaderNames.XFrameOptions] = "DENY";
        headers["Referrer-Policy"] = "no-referrer";
        headers["Cross-Origin-Opener-Policy"] = "same-origin";
        if (asset is null)
        {
            return Results.NotFound();
        }

        // Revalidated on every load (cheap: a 304 by ETag), so a new server's console is used at once.
        headers[HeaderNames.CacheControl] = "no-cache";
        headers[HeaderNames.ETag] = asset.ETag;
        if (context.Request.Headers.IfNoneMatch.Contains(asset.ETag))
        {
            return Results.StatusCode(StatusCodes.Status304NotModified);
        }

        return Results.Bytes(asset.Bytes, asset.ContentType);
    }
}
