using System.Text.Json;

namespace AgentOs.Acp;

/// <summary>Base of every error raised by the ACP layer.</summary>
public class AcpException : Exception
{
    public AcpException() { }
    public AcpException(string message) : base(message) { }
    public AcpException(string message, Exception? inner) : base(message, inner) { }
}

/// <summary>The agent answered a request with a JSON-RPC error.</summary>
public sealed class AcpRemoteException : AcpException
{
    public AcpRemoteException() { }
    public AcpRemoteException(string message) : base(message) { }
    public AcpRemoteException(string message, Exception? inner) : base(message, inner) { }

    public AcpRemoteException(string method, int code, string remoteMessage, string? data)
        : base($"The agent answered '{method}' with error {code}: {remoteMessage}")
    {
        Method = method;
        Code = code;
        RemoteMessage = remoteMessage;
        ErrorData = data;
    }

    public string Method { get; } = "";
    public int Code { get; }
    public string RemoteMessage { get; } = "";

    /// <summary>The error's <c>data</c> member as raw JSON, if any.</summary>
    public string? ErrorData { get; }
}

/// <summary>The agent did not answer a request in time.</summary>
public sealed class AcpTimeoutException : AcpException
{
    public AcpTimeoutException() { }
    public AcpTimeoutException(string message) : base(message) { }
    public AcpTimeoutException(string message, Exception? inner) : base(message, inner) { }

    public AcpTimeoutException(string method, TimeSpan timeout)
        : base($"The agent did not answer '{method}' within {timeout.TotalSeconds:0.###} s.")
    {
        Method = method;
        Timeout = timeout;
    }

    public string Method { get; } = "";
    public TimeSpan Timeout { get; }
}

/// <summary>The connection ended (the agent closed stdout or exited) while a request was pending.</summary>
public sealed class AcpConnectionClosedException : AcpException
{
    public AcpConnectionClosedException() : base("The agent's connection is closed.") { }
    public AcpConnectionClosedException(string message) : base(message) { }
    public AcpConnectionClosedException(string message, Exception? inner) : base(message, inner) { }
}

internal static class JsonElementExtensions
{
    public static string? GetStringOrNull(this JsonElement element, string property) =>
        element.ValueKind == JsonValueKind.Object
        && element.TryGetProperty(property, out var value)
        && value.ValueKind == JsonValueKind.String
            ? value.GetString()
            : null;
}
