using System.Buffers;
using System.Buffers.Text;
using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text;

namespace AgentOs.Bench;

/// <summary>
/// The HTTP path next to the SDK's: a `chunks 1` prompt round trip over <c>POST …/prompt</c>, alternating with the same
/// turn through the SDK, and `chunks N` delivered over the session's server-sent events to a reader in this process,
/// checked byte for byte against the persisted history (NDJSON).
/// </summary>
internal sealed partial class BenchRun
{
    private async Task HttpAsync()
    {
        using var http = new HttpClient { BaseAddress = _server.BaseAddress, Timeout = TimeSpan.FromMinutes(5) };
        var vm = _client.Vm("http-bench");
        var sessionId = (await vm.CreateSessionAsync(AgentCommand.ServerAgentType)).SessionId;
        var promptPath = $"/v1/vms/http-bench/sessions/{sessionId}/prompt";

        // chunks 1: HTTP and SDK alternately on one session, warm-ups first.
        List<double> viaHttp = [], viaSdk = [], adds = [];
        var problems = new List<string>();
        for (var i = 0; i < plan.PromptWarmup + plan.PromptSamples; i++)
        {
            var watch = Stopwatch.StartNew();
            using var response = await http.PostAsync(promptPath, new StringContent("{\"text\":\"chunks 1\"}", Encoding.UTF8, "application/json"));
            var body = await response.Content.ReadAsStringAsync();
            var httpMs = watch.Elapsed.TotalMilliseconds;
            watch.Restart();
            var result = await vm.SendPromptAsync(sessionId, "chunks 1");
            var sdkMs = watch.Elapsed.TotalMilliseconds;
            if (!response.IsSuccessStatusCode || !body.Contains("\"stopReason\":\"end_turn\"", StringComparison.Ordinal) || !body.Contains("\"text\":\"c1 \"", StringComparison.Ordinal))
            {
                problems.Add($"HTTP answered {(int)response.StatusCode}: {Truncate(body)}");
            }

            if (i >= plan.PromptWarmup)
            {
                viaHttp.Add(httpMs);
                viaSdk.Add(sdkMs);
                adds.Add(httpMs - sdkMs);
            }
        }

        recorder.Add("http.prompt1", Reporting.Median(viaHttp));
        recorder.Add("http.prompt1.sdk", Reporting.Median(viaSdk));
        recorder.Add("http.prompt1.adds", Reporting.Median(adds));
        Check("http.prompt1", problems);

        foreach (var n in plan.StreamSizes)
        {
            Progress($"HTTP chunks {n}");
            // A fresh server runs this path's code for the first time: warm it as the SDK's path is warmed before its streaming (chunks 1 turns).
            var warm = await PersistedMaxSeqAsync(vm, sessionId);
            await using (var warming = await SseSink.OpenAsync(http, $"/v1/vms/http-bench/sessions/{sessionId}/events/stream?since={warm}"))
            {
                for (var i = 0; i < 3; i++)
                {
                    using var warmTurn = await http.PostAsync(promptPath, new StringContent("{\"text\":\"chunks 2000\"}", Encoding.UTF8, "application/json"));
                    if (!await warming.WaitForSeqAsync(LastSeqOf(await warmTurn.Content.ReadAsStringAsync()), EventTimeout))
                    {
                        throw new TimeoutException("A warm-up turn's events never reached the SSE reader.");
                    }
                }
            }

            var before = await PersistedMaxSeqAsync(vm, sessionId);
            await using var stream = await SseSink.OpenAsync(http, $"/v1/vms/http-bench/sessions/{sessionId}/events/stream?since={before}");
            var (serverCpu, clientCpu) = (MachineInfo.CpuMs(_server.Pid), MachineInfo.OwnCpuMs());
            var start = Stopwatch.GetTimestamp();
            using var response = await http.PostAsync(promptPath, new StringContent($"{{\"text\":\"chunks {n}\"}}", Encoding.UTF8, "application/json"));
            var answered = Stopwatch.GetElapsedTime(start);
            var lastSeq = LastSeqOf(await response.Content.ReadAsStringAsync());
            var turnProblems = new List<string>();
            if (await stream.WaitForSeqAsync(lastSeq, EventTimeout))
            {
                var delivered = Stopwatch.GetElapsedTime(start, stream.LastArrival);
                recorder.Add($"http.stream.chunks{n}", n / delivered.TotalSeconds);
                recorder.Add($"http.lag.chunks{n}", (delivered - answered).TotalMilliseconds);
                recorder.Add($"http.cpu.server.chunks{n}", (MachineInfo.CpuMs(_server.Pid) - serverCpu) * 1000 / n);
                recorder.Add($"http.cpu.client.chunks{n}", (MachineInfo.OwnCpuMs() - clientCpu) * 1000 / n);
            }
            else
            {
                turnProblems.Add($"the SSE reader got up to seq {stream.MaxSeq} of {lastSeq} within {EventTimeout.TotalSeconds} s");
            }

            // Delivered = persisted: the SSE data lines against the NDJSON history of the same seqs, byte for byte.
            using var history = new HttpRequestMessage(HttpMethod.Get, $"/v1/vms/http-bench/sessions/{sessionId}/events?since={before}");
            history.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/x-ndjson"));
            using var stored = await http.SendAsync(history);
            var lines = (await stored.Content.ReadAsStringAsync()).Split('\n', StringSplitOptions.RemoveEmptyEntries);
            var data = stream.Data;
            if (lines.Length != lastSeq - before)
            {
                turnProblems.Add($"the store holds {lines.Length} events after seq {before}, the prompt's lastSeq says {lastSeq - before}");
            }

            if (!stream.Seqs.SequenceEqual(Enumerable.Range(1, (int)(lastSeq - before)).Select(i => before + i)))
            {
                turnProblems.Add($"delivered seqs are not {before + 1}..{lastSeq} exactly once ({stream.Seqs.Count} events)");
            }

            var differing = lines.Zip(data).Count(pair => pair.First != pair.Second);
            if (differing > 0 || data.Count != lines.Length)
            {
                turnProblems.Add($"{differing} delivered events differ from their persisted version ({data.Count} delivered, {lines.Length} stored)");
            }

            var chunks = lines.Count(l => l.Contains("\"agent_message_chunk\"", StringComparison.Ordinal));
            if (chunks != n)
            {
                turnProblems.Add($"{chunks} agent_message_chunk events, expected {n}");
            }

            Check($"http.stream.chunks{n}", turnProblems);
        }
    }

    private static long LastSeqOf(string promptResult)
    {
        var at = promptResult.IndexOf("\"lastSeq\":", StringComparison.Ordinal);
        return at < 0 ? -1 : long.Parse(promptResult.AsSpan(at + 10).TrimStart()[..promptResult.AsSpan(at + 10).TrimStart().IndexOfAny(",}")], System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>
    /// A server-sent events reader tuned for the bench: it scans bytes for each event's <c>id:</c> (the seq) and keeps its
    /// <c>data:</c> line (for the byte-for-byte check) and the time it arrived, no JSON parsed.
    /// </summary>
    private sealed class SseSink : IAsyncDisposable
    {
        private readonly HttpResponseMessage _response;
        private readonly Task _reading;
        private readonly CancellationTokenSource _stop = new();
        private readonly Lock _lock = new();
        private readonly List<long> _seqs = [];
        private readonly List<string> _data = [];
        private TaskCompletionSource _progress = new(TaskCreationOptions.RunContinuationsAsynchronously);

        private SseSink(HttpResponseMessage response, Stream body)
        {
            _response = response;
            _reading = Task.Run(() => ReadAsync(body));
        }

        public long MaxSeq { get; private set; }

        public long LastArrival { get; private set; }

        public IReadOnlyList<long> Seqs => _seqs;

        public IReadOnlyList<string> Data => _data;

        /// <summary>Opens the stream and returns once the server says it is subscribed (<c>: ok</c>).</summary>
        public static async Task<SseSink> OpenAsync(HttpClient http, string path)
        {
            var request = new HttpRequestMessage(HttpMethod.Get, path);
            request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
            var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
            response.EnsureSuccessStatusCode();
            var body = await response.Content.ReadAsStreamAsync();
            var ok = "retry: 1000\n: ok\n\n"u8.ToArray();
            var head = new byte[ok.Length];
            await body.ReadExactlyAsync(head);
            return head.AsSpan().SequenceEqual(ok) ? new SseSink(response, body) : throw new InvalidOperationException("The stream did not start with ': ok'.");
        }

        public async Task<bool> WaitForSeqAsync(long seq, TimeSpan timeout)
        {
            var deadline = Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
            while (true)
            {
                Task progress;
                lock (_lock)
                {
                    if (MaxSeq >= seq)
                    {
                        return true;
                    }

                    progress = _progress.Task;
                }

                var left = TimeSpan.FromSeconds((double)(deadline - Stopwatch.GetTimestamp()) / Stopwatch.Frequency);
                if (left <= TimeSpan.Zero || _reading.IsCompleted)
                {
                    return false;
                }

                await Task.WhenAny(progress, Task.Delay(left));
            }
        }

        private async Task ReadAsync(Stream body)
        {
            var buffer = new byte[256 * 1024];
            var length = 0;
            try
            {
                while (true)
                {
                    var read = await body.ReadAsync(buffer.AsMemory(length), _stop.Token);
                    if (read == 0)
                    {
                        return;
                    }

                    length += read;
                    var consumed = Parse(buffer.AsSpan(0, length));
                    buffer.AsSpan(consumed, length - consumed).CopyTo(buffer);
                    length -= consumed;
                    if (length == buffer.Length)
                    {
                        Array.Resize(ref buffer, buffer.Length * 2);
                    }
                }
            }
            catch (Exception) when (_stop.IsCancellationRequested)
            {
            }
        }

        /// <summary>Takes every whole event of <paramref name="bytes"/>; returns how many bytes that was.</summary>
        private int Parse(ReadOnlySpan<byte> bytes)
        {
            var consumed = 0;
            var added = false;
            while (true)
            {
                var end = bytes[consumed..].IndexOf("\n\n"u8);
                if (end < 0)
                {
                    break;
                }

                var message = bytes.Slice(consumed, end);
                consumed += end + 2;
                if (message.StartsWith("id: "u8))
                {
                    var newline = message.IndexOf((byte)'\n');
                    Utf8Parser.TryParse(message[4..newline], out long seq, out _);
                    var data = message[(newline + 1)..];
                    var text = data.StartsWith("data: "u8) ? Encoding.UTF8.GetString(data[6..]) : "";
                    lock (_lock)
                    {
                        _seqs.Add(seq);
                        _data.Add(text);
                        MaxSeq = Math.Max(MaxSeq, seq);
                    }

                    added = true;
                }
            }

            if (added)
            {
                LastArrival = Stopwatch.GetTimestamp();
                TaskCompletionSource done;
                lock (_lock)
                {
                    done = _progress;
                    _progress = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                }

                done.TrySetResult();
            }

            return consumed;
        }

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            _response.Dispose();
            await _reading.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            _stop.Dispose();
        }
    }
}
