using System.Text.Json;
using AgentOs.Acp;
using AgentOs.Events;
using AgentOs.Layout;

namespace AgentOs.Sessions;

/// <summary>
/// The client side of ACP: what AgentOs answers when the agent asks. Every request is recorded in
/// wire order when it arrives, and every answer as <c>_agentos/client_response</c>. Permission
/// requests and elicitations are decided in <c>AgentSession.Answers.cs</c>, terminals run in
/// <c>AgentSession.Terminals.cs</c>; a method AgentOs does not offer is answered -32601.
/// </summary>
internal sealed partial class AgentSession
{
    /// <summary>Records an agent's request, bounded by <see cref="AgentOsOptions.MaxEventBytes"/>; completes with its seq once stored.</summary>
    private Task<long> AppendAgentRequestAsync(string method, string paramsJson)
    {
        var (stored, utf8) = AgentOsEvents.Bounded(method, System.Text.Encoding.UTF8.GetBytes(paramsJson), Options.MaxEventBytes);
        return Events.AppendAndWaitAsync(SessionId, stored, utf8);
    }

    /// <inheritdoc />
    public Task<AcpReply> OnRequestAsync(AcpIncomingMessage request, CancellationToken cancellationToken)
    {
        // Recorded now, on the read loop, so it sits in wire order among the notifications.
        var paramsJson = request.ParamsJson;
        if (request.Method is not (AcpMethods.SessionRequestPermission or AcpMethods.ElicitationCreate))
        {
            var recorded = AppendAgentRequestAsync(request.Method, RecordedFile.Request(request.Method, request.Params, paramsJson));
            return AnswerAsync(request.Method, request.Params, paramsJson, request.Id!.Value, recorded);
        }

        // A request a client may answer is registered (AnswerAsync runs synchronously that far) before its event is
        // appended: a client that has seen the event always finds the request waiting.
        var seq = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
        var answer = AnswerAsync(request.Method, request.Params, paramsJson, request.Id!.Value, seq.Task);
        _ = AppendAgentRequestAsync(request.Method, paramsJson).ContinueWith(static (t, state) =>
        {
            var seq = (TaskCompletionSource<long>)state!;
            if (t.IsCompletedSuccessfully)
            {
                seq.TrySetResult(t.Result);
            }
            else
            {
                seq.TrySetException(t.Exception?.InnerExceptions ?? [new TaskCanceledException()]);
            }
        }, seq, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        TrackBrokeredAnswer(answer);
        return answer;
    }

    private async Task<AcpReply> AnswerAsync(string method, JsonElement @params, string paramsJson, JsonElement id, Task<long> recorded)
    {
        AcpReply reply;
        string? reason = null;
        Action<Utf8JsonWriter>? recordResult = null;
        try
        {
            switch (method)
            {
                case AcpMethods.SessionRequestPermission:
                    (reply, reason) = await AnswerPermissionAsync(@params, paramsJson, recorded).ConfigureAwait(false);
                    break;
                case AcpMethods.ElicitationCreate:
                    (reply, reason) = await AnswerElicitationAsync(@params, paramsJson, recorded).ConfigureAwait(false);
                    break;
                case AcpMethods.FsReadTextFile:
                    (reply, var content) = await ReadTextFileAsync(@params).ConfigureAwait(false);
                    recordResult = content is null ? null : w => RecordedFile.Write(w, content);
                    break;
                case AcpMethods.FsWriteTextFile:
                    reply = await WriteTextFileAsync(@params).ConfigureAwait(false);
                    break;
                case AcpMethods.TerminalOutput:
                    (reply, recordResult) = TerminalOutput(@params);
                    break;
                case AcpMethods.TerminalCreate or AcpMethods.TerminalWaitForExit or AcpMethods.TerminalKill or AcpMethods.TerminalRelease:
                    reply = await AnswerTerminalAsync(method, @params).ConfigureAwait(false);
                    break;
                default:
                    reply = AcpReply.MethodNotFound(method);
                    break;
            }
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

        _recorder.ClientResponse(requestSeq, id, method, reply, reason, recordResult);
        return reply;
    }

    /// <summary>The file's content for the agent, and the same content to record (bounded by <see cref="RecordedFile"/>), or null on an error.</summary>
    private async Task<(AcpReply Reply, string? Content)> ReadTextFileAsync(JsonElement @params)
    {
        var request = @params.Deserialize(AcpJsonContext.Default.ReadTextFileRequest)
            ?? throw new AgentOsException(AgentOsErrorCode.InvalidArgument, "fs/read_text_file needs a path.");
        string content;
        try
        {
            using var file = HomeFiles.OpenRead(_context.Paths.HostHome, _context.Paths.RelativeFromAgent(request.Path));
            var size = RandomAccess.GetLength(file);
            if (size > Options.MaxFsReadBytes)
            {
                return (AcpReply.Error(JsonRpcErrorCodes.InvalidParams,
                    $"{request.Path} has {size} bytes; AgentOs reads at most {Options.MaxFsReadBytes} (AgentOs:MaxFsReadBytes). Read it in parts with a shell command."), null);
            }

            await using var stream = new FileStream(file, FileAccess.Read);
            using var reader = new StreamReader(stream);
            content = await reader.ReadToEndAsync().ConfigureAwait(false);
        }
        catch (FileNotFoundException)
        {
            return (AcpReply.Error(JsonRpcErrorCodes.InvalidParams, $"No such file: {request.Path}"), null);
        }

        if (request.Line is not null || request.Limit is not null)
        {
            var lines = content.Split('\n').Skip(Math.Max(0, (request.Line ?? 1) - 1));
            content = string.Join('\n', request.Limit is { } limit ? lines.Take(limit) : lines);
        }

        return (AcpReply.Result(JsonSerializer.Serialize(new ReadTextFileResponse { Content = content }, AcpJsonContext.Default.ReadTextFileResponse)), content);
    }

    private async Task<AcpReply> WriteTextFileAsync(JsonElement @params)
    {
        var request = @params.Deserialize(AcpJsonContext.Default.WriteTextFileRequest)
            ?? throw new AgentOsException(AgentOsErrorCode.InvalidArgument, "fs/write_text_file needs a path and content.");
        var bytes = System.Text.Encoding.UTF8.GetByteCount(request.Content ?? "");
        if (_diskWatch is { } watch && _context.HomeQuota.WouldExceed(bytes, watch))
        {
            throw new AgentOsException(AgentOsErrorCode.ResourceLimit,
                $"Writing {request.Path} would take the VM's home ({_context.HomeQuota.Used / (1024 * 1024)} MiB) past its disk quota of {_context.HomeQuota.Quota / (1024 * 1024)} MiB (AgentOs:VmDiskQuota).");
        }

        using var file = HomeFiles.OpenWrite(_context.Paths.HostHome, _context.Paths.RelativeFromAgent(request.Path));
        await using var stream = new FileStream(file, FileAccess.Write);
        await using var writer = new StreamWriter(stream, new System.Text.UTF8Encoding(encoderShouldEmitUTF8Identifier: false));
        await writer.WriteAsync(request.Content).ConfigureAwait(false);
        _context.HomeQuota.Grew(bytes);
        return AcpReply.Result("{}"); // WriteTextFileResponse is an object (the schema refuses null)
    }
}
