using System.Text.Json;
using System.Text.Json.Serialization;
using AgentOs.Server.Http.Auth;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.Extensions.Options;

namespace AgentOs.Server.Http;

/// <summary>
/// The HTTP API (<c>/v1</c>): every call of the VM grain as a resource-shaped endpoint, events as JSON, NDJSON and
/// server-sent events, errors as problem details, API keys with roles and VM scopes, the OpenAPI document and its
/// reference page. Each endpoint calls the same <see cref="IVmGrain"/> the .NET SDK reaches through the gateway: HTTP is
/// another door to the same behaviour, not a second implementation of it.
/// </summary>
internal static class HttpApi
{
    /// <summary>Registers what the API needs: JSON, problem details, authentication and authorization, OpenAPI.</summary>
    public static IServiceCollection AddAgentOsHttpApi(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<HttpApiOptions>().Bind(configuration.GetSection(HttpApiOptions.SectionName));
        services.TryAddTimeProvider();
        services.AddSingleton<VmDiskUse>();
        services.ConfigureHttpJsonOptions(o => Configure(o.SerializerOptions));
        // A body the binder cannot read (malformed JSON, wrong types) throws, so it becomes problem details naming the fault.
        services.Configure<RouteHandlerOptions>(o => o.ThrowOnBadRequest = true);
        services.AddProblemDetails(o => o.CustomizeProblemDetails = context =>
        {
            // Answers no endpoint wrote a body for (an unknown route, a wrong method) get a code too.
            context.ProblemDetails.Extensions.TryAdd("code", context.ProblemDetails.Status switch
            {
                StatusCodes.Status404NotFound => "NotFound",
                StatusCodes.Status405MethodNotAllowed => "MethodNotAllowed",
                StatusCodes.Status415UnsupportedMediaType => nameof(AgentOsErrorCode.InvalidArgument),
                StatusCodes.Status400BadRequest => nameof(AgentOsErrorCode.InvalidArgument),
                _ => nameof(AgentOsErrorCode.Unknown),
            });
        });
        services.AddExceptionHandler<AgentOsExceptionHandler>();

        services.AddSingleton(sp => new ApiKeyRequirement(KeysRequired(configuration)));
        services.AddSingleton<ApiKeyStore>();
        services.AddAuthentication(ApiKeyAuthenticationHandler.SchemeName)
            .AddScheme<Microsoft.AspNetCore.Authentication.AuthenticationSchemeOptions, ApiKeyAuthenticationHandler>(ApiKeyAuthenticationHandler.SchemeName, null);
        services.AddAuthorization(ApiPolicies.Add);
        services.AddSingleton<IAuthorizationHandler, VmAccessHandler>();
        services.AddSingleton<Microsoft.AspNetCore.Authorization.IAuthorizationMiddlewareResultHandler, ProblemAuthorizationResultHandler>();

        services.AddAgentOsOpenApi();
        return services;
    }

    private static void TryAddTimeProvider(this IServiceCollection services)
    {
        if (!services.Any(d => d.ServiceType == typeof(TimeProvider)))
        {
            services.AddSingleton(TimeProvider.System);
        }
    }

    /// <summary>camelCase names and enum values, the API's own types source-generated.</summary>
    public static void Configure(JsonSerializerOptions options)
    {
        options.TypeInfoResolverChain.Insert(0, HttpJsonContext.Default);
        options.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.CamelCase));
        options.DefaultIgnoreCondition = JsonIgnoreCondition.Never;
        options.NumberHandling = JsonNumberHandling.Strict; // numbers are numbers: what the API writes, and what its schema says
    }

    /// <summary>Whether every request needs a key: <c>AgentOs:Http:RequireApiKeys</c>, else whether HTTP listens beyond loopback.</summary>
    public static bool KeysRequired(IConfiguration configuration) =>
        HttpOptions(configuration).RequireApiKeys ?? HttpExposure.Resolve(configuration).BeyondLoopback.Count > 0;

    /// <summary>The data directory, as <see cref="AgentOsOptions.DataDirectoryFullPath"/> will say (read alone: the rest of the options is checked later, with its own messages).</summary>
    public static string DataDirectory(IConfiguration configuration) =>
        Path.GetFullPath(configuration[$"{AgentOsOptions.SectionName}:{nameof(AgentOsOptions.DataDirectory)}"] is { Length: > 0 } data ? data : "data");

    /// <summary><c>AgentOs:Http</c>; a value the binder cannot convert is named in the one line the server stops with.</summary>
    private static HttpApiOptions HttpOptions(IConfiguration configuration)
    {
        try
        {
            return configuration.GetSection(HttpApiOptions.SectionName).Get<HttpApiOptions>() ?? new HttpApiOptions();
        }
        catch (InvalidOperationException ex)
        {
            throw new InvalidOperationException(ex.Message + (ex.InnerException is { } inner ? " " + inner.Message : ""), ex);
        }
    }

    /// <summary>
    /// Checks the HTTP settings, and refuses to start a server whose API needs keys and has none: on an address beyond loopback anyone could otherwise
    /// drive every VM. Also reads the keys (a broken keys file or key setting stops the start, with its one line).
    /// </summary>
    /// <exception cref="InvalidOperationException">The one line that says what to do.</exception>
    public static void CheckAtStart(IConfiguration configuration)
    {
        var http = HttpOptions(configuration);
        if (http.SseHeartbeat <= TimeSpan.Zero || http.SseHeartbeat > TimeSpan.FromHours(1))
        {
            throw new InvalidOperationException($"AgentOs:Http:SseHeartbeat is '{http.SseHeartbeat}'; it must be more than zero and at most 01:00:00 (e.g. 00:00:15).");
        }

        if (http.SseBufferBytes < 4096)
        {
            throw new InvalidOperationException($"AgentOs:Http:SseBufferBytes is {http.SseBufferBytes}; it must be at least 4096 (bytes; default 8388608).");
        }

        var store = new ApiKeyStore(ApiKeyStore.PathIn(DataDirectory(configuration)), http, TimeProvider.System);
        var (_, beyond) = HttpExposure.Resolve(configuration);
        if (KeysRequired(configuration) && !store.Any)
        {
            throw new InvalidOperationException(
                (beyond.Count > 0 ? $"HTTP listens beyond loopback ({string.Join(", ", beyond)}) and no API key exists: anyone who reaches it could drive every VM. "
                    : "AgentOs:Http:RequireApiKeys is true and no API key exists. ") +
                "Create one with `dotnet run --project src/AgentOs.Server -- keys create --role admin` (or AgentOs:Http:ApiKeys in configuration), or listen on loopback only (--urls http://localhost:6420).");
        }
    }

    /// <summary>Maps <c>/v1</c>, one file per resource group.</summary>
    public static IEndpointRouteBuilder MapAgentOsHttpApi(this IEndpointRouteBuilder endpoints)
    {
        const string vmPath = "/vms/{vm}", sessionPath = vmPath + "/sessions/{sessionId}";
        var v1 = endpoints.MapGroup("/v1");
        VmEndpoints.Map(v1.MapGroup("").WithTags("VMs"));
        AgentTypeEndpoints.Map(v1.MapGroup("").WithTags("Agent types"));
        SessionEndpoints.Map(v1.MapGroup(vmPath).WithTags("Sessions"), v1.MapGroup(sessionPath).WithTags("Sessions"));
        PromptEndpoints.Map(v1.MapGroup(sessionPath).WithTags("Prompts"));
        PermissionEndpoints.Map(v1.MapGroup(sessionPath).WithTags("Permissions"));
        ConfigEndpoints.Map(v1.MapGroup(sessionPath).WithTags("Configuration"));
        EventEndpoints.Map(v1.MapGroup(vmPath).WithTags("Events"), v1.MapGroup(sessionPath).WithTags("Events"));
        endpoints.MapAgentOsOpenApi();
        return endpoints;
    }
}
