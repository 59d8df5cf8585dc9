using System.Text.Json;
using Microsoft.AspNetCore.Http.Features;

namespace AgentOs.Server.Http.Streaming;

/// <summary>
/// The server-sent events loop both event streams share: headers, the <c>retry</c> hint and an <c>: ok</c> comment once
/// the stream is subscribed (a client may prompt from then on without missing an event), each batch written and flushed
/// as it comes, a comment line after <see cref="HttpApiOptions.SseHeartbeat"/> of silence so proxies keep the connection,
/// and a last <c>event: error</c> (problem details) when the stream cannot go on. It ends when the client goes or the
/// server stops.
/// </summary>
internal static class SseResponse
{
    public const string ContentType = "text/event-stream";

    public static async Task RunAsync<T>(
        HttpContext context, TimeSpan heartbeat, Func<CancellationToken, Task> subscribe, Func<CancellationToken, Task<T>> next, Action<EventJsonWriter, T> write)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(
            context.RequestAborted, context.RequestServices.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping);
        var response = context.Response;
        response.ContentType = ContentType;
        response.Headers.CacheControl = "no-cache";
        response.Headers["X-Accel-Buffering"] = "no"; // nginx: pass each event on at once
        context.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
        using var writer = new EventJsonWriter(response.BodyWriter);
        Task<T>? pending = null;
        try
        {
            await subscribe(stop.Token);
            writer.Raw("retry: 1000\n: ok\n\n"u8);
            await writer.FlushAsync(stop.Token);
            while (true)
            {
                pending ??= next(stop.Token);
                T item;
                try
                {
                    item = await pending.WaitAsync(heartbeat, stop.Token);
                }
                catch (TimeoutException)
                {
                    writer.Raw(":\n\n"u8);
                    await writer.FlushAsync(stop.Token);
                    continue;
                }

                pending = null;
                write(writer, item);
                await writer.FlushAsync(stop.Token);
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            // The client left or the server stops.
        }
        catch (AgentOsException ex) when (!stop.IsCancellationRequested)
        {
            // The stream cannot go on (its session was destroyed, the server is going away): say why, then end.
            var problem = Problems.From(ex);
            writer.WriteSse("error"u8, JsonSerializer.SerializeToUtf8Bytes(problem, HttpJsonContext.Default.ProblemDetails));
            await writer.FlushAsync(CancellationToken.None);
        }
        finally
        {
            if (pending is not null)
            {
                await ((Task)pending).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing); // before its feed is disposed
            }
        }
    }
}
