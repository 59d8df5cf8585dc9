using AgentOs.Vm;
using Microsoft.Extensions.Logging;

namespace AgentOs.Hosting;

/// <summary>
/// Only <see cref="AgentOsException"/> crosses the wire: a VM call that fails with any other exception (a bug, since
/// every input is validated into a typed error) reaches the client as <see cref="AgentOsErrorCode.Unknown"/> naming the
/// call, and the exception itself goes to the server log, not to the client.
/// </summary>
internal sealed partial class WireExceptionFilter(ILogger<WireExceptionFilter> logger) : IIncomingGrainCallFilter
{
    public async Task Invoke(IIncomingGrainCallContext context)
    {
        try
        {
            await context.Invoke();
        }
        catch (Exception ex) when (ex is not AgentOsException && context.TargetContext?.GrainInstance is VmGrain)
        {
            var call = context.InterfaceMethod?.Name ?? context.MethodName;
            LogUntyped(logger, call, context.TargetId.Key.ToString() ?? "", ex);
            throw new AgentOsException(AgentOsErrorCode.Unknown, $"{call} failed inside the server ({ex.GetType().Name}); the server log has the details.");
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "VM {VmId}: {Call} failed with an exception that is not an AgentOsException; the client got Unknown")]
    private static partial void LogUntyped(ILogger logger, string call, string vmId, Exception exception);
}
