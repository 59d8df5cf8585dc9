using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.Extensions.DependencyInjection;

namespace AgentOs.Sessions;

/// <summary>
/// What resume needs from <see cref="CreateSessionOptions"/> (Env holds API keys, MCP servers may
/// carry tokens; the permission policy and timeout come along, so they survive resume too), kept in
/// the VM database only encrypted with ASP.NET Core Data Protection. The keys
/// live under <c>&lt;data&gt;/keys</c>: the database file alone reveals nothing.
/// </summary>
internal sealed class SessionOptionsProtector(IServiceProvider services)
{
    // Resolved on first use: a VM that only lists or reads sessions never loads Data Protection.
    private readonly Lazy<IDataProtector> _protector = new(() => services.GetRequiredService<IDataProtectionProvider>().CreateProtector("AgentOs.SessionOptions.v1"));

    private IDataProtector Protector => _protector.Value;

    public string Protect(CreateSessionOptions options) =>
        Protector.Protect(JsonSerializer.Serialize(options, SessionOptionsJsonContext.Default.CreateSessionOptions));

    /// <summary>The stored options, or a typed error when they cannot be decrypted (keys lost or replaced).</summary>
    public CreateSessionOptions Unprotect(string sessionId, string protectedOptions)
    {
        if (string.IsNullOrEmpty(protectedOptions) || protectedOptions == "{}")
        {
            return new CreateSessionOptions();
        }

        try
        {
            return JsonSerializer.Deserialize(Protector.Unprotect(protectedOptions), SessionOptionsJsonContext.Default.CreateSessionOptions)
                ?? new CreateSessionOptions();
        }
        catch (CryptographicException)
        {
            throw new AgentOsException(AgentOsErrorCode.InvalidArgument,
                $"The stored options of session '{sessionId}' cannot be decrypted (the Data Protection keys under <data>/keys were lost or replaced). Create a new session.")
            { SessionId = sessionId };
        }
    }
}

/// <summary>Enums by name (the permission policy), so stored options do not depend on enum numbering.</summary>
[JsonSerializable(typeof(CreateSessionOptions))]
[JsonSourceGenerationOptions(UseStringEnumConverter = true)]
internal sealed partial class SessionOptionsJsonContext : JsonSerializerContext;
