using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Mvc;

namespace AgentOs.Server.Http;

/// <summary>
/// Every failure of the HTTP API as RFC 9457 problem details (<c>application/problem+json</c>), written through
/// ASP.NET Core's <see cref="IProblemDetailsService"/>: <c>status</c>, <c>title</c>, <c>detail</c> (the message,
/// which says what to do), and the extension member <c>code</c>: the <see cref="AgentOsErrorCode"/> name clients
/// switch on (as the SDK's <see cref="AgentOsException.Code"/>), or <c>Unauthorized</c> / <c>Forbidden</c> /
/// <c>NotFound</c> for what only HTTP has. <c>sessionId</c>, <c>exitCode</c> and <c>stderrTail</c> come along when known.
/// </summary>
internal static class Problems
{
    /// <summary>The HTTP status of a code: the caller's mistake (400, 404, 409, 413), a limit (429), the server or the agent (503, 502, 504).</summary>
    public static int StatusOf(AgentOsErrorCode code) => code switch
    {
        AgentOsErrorCode.InvalidVmId or AgentOsErrorCode.InvalidArgument or AgentOsErrorCode.InvalidPath
            or AgentOsErrorCode.UnknownAgentType or AgentOsErrorCode.MissingCredentials => StatusCodes.Status400BadRequest,
        AgentOsErrorCode.UnknownSession => StatusCodes.Status404NotFound,
        AgentOsErrorCode.SessionBusy or AgentOsErrorCode.PermissionNotPending or AgentOsErrorCode.ElicitationNotPending => StatusCodes.Status409Conflict,
        AgentOsErrorCode.PayloadTooLarge => StatusCodes.Status413PayloadTooLarge,
        AgentOsErrorCode.QuotaExceeded => StatusCodes.Status429TooManyRequests,
        AgentOsErrorCode.ServerUnavailable or AgentOsErrorCode.StorageUnavailable or AgentOsErrorCode.SoftwareUnavailable => StatusCodes.Status503ServiceUnavailable,
        AgentOsErrorCode.AgentTimeout => StatusCodes.Status504GatewayTimeout,
        AgentOsErrorCode.AgentExited or AgentOsErrorCode.AgentProtocolError or AgentOsErrorCode.AgentStartFailed
            or AgentOsErrorCode.ResourceLimit => StatusCodes.Status502BadGateway,
        _ => StatusCodes.Status500InternalServerError,
    };

    /// <summary>Problem details for an <see cref="AgentOsException"/>.</summary>
    public static ProblemDetails From(AgentOsException ex)
    {
        var problem = Make(StatusOf(ex.Code), ex.Code.ToString(), ex.Message);
        if (ex.SessionId is not null)
        {
            problem.Extensions["sessionId"] = ex.SessionId;
        }

        if (ex.ExitCode is { } exitCode)
        {
            problem.Extensions["exitCode"] = exitCode;
        }

        if (ex.StderrTail is not null)
        {
            problem.Extensions["stderrTail"] = ex.StderrTail;
        }

        return problem;
    }

    public static ProblemDetails Make(int status, string code, string detail)
    {
        var problem = new ProblemDetails { Status = status, Detail = detail };
        problem.Extensions["code"] = code;
        return problem;
    }

    /// <summary>Writes <paramref name="problem"/> as the response.</summary>
    public static async Task WriteAsync(HttpContext context, ProblemDetails problem)
    {
        context.Response.StatusCode = problem.Status ?? StatusCodes.Status500InternalServerError;
        var problems = context.RequestServices.GetRequiredService<IProblemDetailsService>();
        if (!await problems.TryWriteAsync(new ProblemDetailsContext { HttpContext = context, ProblemDetails = problem }))
        {
            await context.Response.WriteAsJsonAsync(problem, HttpJsonContext.Default.ProblemDetails, "application/problem+json");
        }
    }
}

/// <summary>
/// Turns what an endpoint throws into problem details: an <see cref="AgentOsException"/> by its code; a request
/// ASP.NET Core could not read (malformed JSON, a missing body, a body over Kestrel's limit) as
/// <c>InvalidArgument</c> 400 or <c>PayloadTooLarge</c> 413 naming what was wrong. Anything else is a 500 whose
/// detail names no internals (the exception goes to the log).
/// </summary>
internal sealed partial class AgentOsExceptionHandler(ILogger<AgentOsExceptionHandler> logger) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        var problem = exception switch
        {
            AgentOsException agentOs => Problems.From(agentOs),
            BadHttpRequestException { StatusCode: StatusCodes.Status413PayloadTooLarge } tooLarge =>
                Problems.Make(StatusCodes.Status413PayloadTooLarge, nameof(AgentOsErrorCode.PayloadTooLarge), tooLarge.Message),
            BadHttpRequestException bad => Problems.Make(bad.StatusCode, nameof(AgentOsErrorCode.InvalidArgument), Describe(bad)),
            _ => null,
        };
        if (problem is null)
        {
            LogUnhandled(logger, httpContext.Request.Method, httpContext.Request.Path, exception);
            problem = Problems.Make(StatusCodes.Status500InternalServerError, nameof(AgentOsErrorCode.Unknown),
                "The server failed to handle the request; its log says why.");
        }

        await Problems.WriteAsync(httpContext, problem);
        return true;
    }

    /// <summary>The binder's message, with the JSON reader's (line, position, what it expected) when that was the cause.</summary>
    private static string Describe(BadHttpRequestException bad) =>
        bad.InnerException is System.Text.Json.JsonException json ? $"{bad.Message} {json.Message}" : bad.Message;

    [LoggerMessage(Level = LogLevel.Error, Message = "HTTP {Method} {Path} failed")]
    private static partial void LogUnhandled(ILogger logger, string method, string path, Exception exception);
}
