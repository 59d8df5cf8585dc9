using System.Text.Json;
using AgentOs.Acp;

namespace AgentOs.Sessions;

/// <summary>
/// The client side of ACP: what AgentOs answers when the agent asks. Every request is recorded in
/// wire order when it arrives, and every answer as <c>_agentos/client_response</c>.
/// </summary>
internal sealed partial class AgentSession
{
    /// <inheritdoc />
    public Task<AcpReply> OnRequestAsync(AcpIncomingMessage request, CancellationToken cancellationToken)
    {
        // Recorded now, on the read loop, so it sits in wire order among the notifications.
        var recorded = Events.AppendAndWaitAsync(SessionId, request.Method, request.ParamsJson);
        return AnswerAsync(request.Method, request.Params, request.Id!.Value, recorded);
    }

    private async Task<AcpReply> AnswerAsync(string method, JsonElement @params, JsonElement id, Task<long> recorded)
    {
        AcpReply reply;
        try
        {
            reply = method switch
            {
                AcpMethods.SessionRequestPermission => AnswerPermission(@params),
                AcpMethods.FsReadTextFile => await ReadTextFileAsync(@params).ConfigureAwait(false),
                AcpMethods.FsWriteTextFile => await WriteTextFileAsync(@params).ConfigureAwait(false),
                _ => AcpReply.MethodNotFound(method),
            };
        }
        catch (AgentOsException ex)
        {
            Log.AgentRequestRefused(_context.Logger, _context.VmId, SessionId, method, ex.Message);
            reply = AcpReply.Error(JsonRpcErrorCodes.InvalidParams, ex.Message);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or JsonException)
        {
            Log.AgentRequestRefused(_context.Logger, _context.VmId, SessionId, method, ex.Message);
            reply = AcpReply.Error(JsonRpcErrorCodes.InternalError, ex.Message);
        }

        long requestSeq;
        try
        {
            requestSeq = await recorded.ConfigureAwait(false);
        }
        catch (Exception)
        {
            requestSeq = 0;
        }

        Events.Append(SessionId, AgentOsEventMethods.ClientResponse, Json(w =>
        {
            w.WriteNumber("requestSeq", requestSeq);
            w.WritePropertyName("requestId");
            id.WriteTo(w);
            w.WriteString("method", method);
            if (reply.IsError)
            {
                w.WriteStartObject("error");
                w.WriteNumber("code", reply.ErrorCode);
                w.WriteString("message", reply.ErrorMessage);
                w.WriteEndObject();
            }
            else
            {
                w.WritePropertyName("result");
                w.WriteRawValue(reply.ResultJson!);
            }
        }));
        return reply;
    }

    /// <summary>Until permission policies land, AgentOs allows: the first allow option wins.</summary>
    private static AcpReply AnswerPermission(JsonElement @params)
    {
        var request = @params.Deserialize(AcpJsonContext.Default.RequestPermissionRequest);
        var option = request?.Options.FirstOrDefault(o => o.Kind is "allow_once" or "allow_always") ?? request?.Options.FirstOrDefault();
        var outcome = option is null
            ? new PermissionOutcome { Outcome = "cancelled" }
            : new PermissionOutcome { Outcome = "selected", OptionId = option.OptionId };
        return AcpReply.Result(JsonSerializer.Serialize(new RequestPermissionResponse { Outcome = outcome }, AcpJsonContext.Default.RequestPermissionResponse));
    }

    private async Task<AcpReply> ReadTextFileAsync(JsonElement @params)
    {
        var request = @params.Deserialize(AcpJsonContext.Default.ReadTextFileRequest)
            ?? throw new AgentOsException(AgentOsErrorCode.InvalidArgument, "fs/read_text_file needs a path.");
        var hostPath = _context.Paths.FromAgent(request.Path);
        if (!File.Exists(hostPath))
        {
            return AcpReply.Error(JsonRpcErrorCodes.InvalidParams, $"No such file: {request.Path}");
        }

        var content = await File.ReadAllTextAsync(hostPath).ConfigureAwait(false);
        if (request.Line is not null || request.Limit is not null)
        {
            var lines = content.Split('\n').Skip(Math.Max(0, (request.Line ?? 1) - 1));
            content = string.Join('\n', request.Limit is { } limit ? lines.Take(limit) : lines);
        }

        return AcpReply.Result(JsonSerializer.Serialize(new ReadTextFileResponse { Content = content }, AcpJsonContext.Default.ReadTextFileResponse));
    }

    private async Task<AcpReply> WriteTextFileAsync(JsonElement @params)
    {
        var request = @params.Deserialize(AcpJsonContext.Default.WriteTextFileRequest)
            ?? throw new AgentOsException(AgentOsErrorCode.InvalidArgument, "fs/write_text_file needs a path and content.");
        var hostPath = _context.Paths.FromAgent(request.Path);
        Directory.CreateDirectory(Path.GetDirectoryName(hostPath)!);
        await File.WriteAllTextAsync(hostPath, request.Content).ConfigureAwait(false);
        return AcpReply.Result("null");
    }
}
