using System.Diagnostics;
using System.Globalization;
using System.Text;
using AgentOs.Client;

namespace AgentOs.Bench;

/// <summary>What one run does and how big.</summary>
internal sealed record RunPlan(
    int[] StreamSizes,
    bool Concurrent,
    int CreateSamples = 3,
    int PromptWarmup = 5,
    int PromptSamples = 20,
    int CancelSamples = 20,
    int ReplaySamples = 5,
    int ConcurrentVms = 10,
    int ConcurrentSessionsPerVm = 5,
    int ConcurrentChunks = 10_000);

/// <summary>
/// One run: a fresh server process, then every phase against it, each value recorded into the
/// <see cref="Recorder"/>. A failed phase is recorded as a failed check and the run goes on when
/// the server is still alive.
/// </summary>
internal sealed partial class BenchRun(AgentCommand agent, IReadOnlyDictionary<string, string> serverEnvironment, bool defaultAgent, RunPlan plan, Recorder recorder, string label, string logDirectory)
{
    private const int ReplayCount = 11_000;
    private static readonly TimeSpan EventTimeout = TimeSpan.FromSeconds(60);

    private ServerProcess _server = null!;
    private AgentOsClient _client = null!;
    private readonly List<(VmHandle Vm, string SessionId)> _memSessions = [];
    private bool _phaseFailed;

    public async Task ExecuteAsync()
    {
        Progress("starting server");
        var environment = agent.AsServerEnvironment();
        foreach (var (key, value) in serverEnvironment)
        {
            environment[key] = value;
        }

        _server = ServerProcess.Start(environment);
        try
        {
            await StartupAsync();
            try
            {
                await Phase("memory", MemoryAsync);
                await Phase("CreateSession latency", CreateLatencyAsync);
                await Phase("prompt round trip and cancel", PromptAndCancelAsync, "prompt1", "cancel");
                await Phase("streaming", StreamingAsync, plan.StreamSizes.Select(n => $"stream.chunks{n}").ToArray());
                await Phase("replay", ReplayAsync, "replay11000");
                await Phase("HTTP path", HttpAsync, ["http.prompt1", .. plan.StreamSizes.Select(n => $"http.stream.chunks{n}")]);
                if (plan.Concurrent)
                {
                    await Phase("50 concurrent sessions", ConcurrentAsync, "concurrent");
                }

                recorder.Add("rss.end", MachineInfo.RssMiB(_server.Pid));
            }
            finally
            {
                Progress("stopping server");
                await _client.DisposeAsync();
            }

            if (!_phaseFailed)
            {
                recorder.Pass("run");
            }
        }
        catch (Exception ex)
        {
            Fail("run", $"{label}: {ex.GetType().Name}: {ex.Message}");
        }
        finally
        {
            await _server.StopAsync(TimeSpan.FromSeconds(10));
            await _server.DisposeAsync();
        }
    }

    /// <summary>Runs a phase; when it throws, the run and the phase's checks (if it did not record them yet) fail.</summary>
    private async Task Phase(string name, Func<Task> body, params string[] checkIds)
    {
        Progress(name);
        var before = checkIds.Select(id => recorder.Check(id)).Select(c => c.Passed + c.Failures.Count).ToArray();
        try
        {
            await body();
        }
        catch (Exception ex) when (!_server.HasExited)
        {
            var message = $"{label}, phase '{name}': {ex.GetType().Name}: {ex.Message}";
            _phaseFailed = true;
            Fail("run", message);
            for (var i = 0; i < checkIds.Length; i++)
            {
                var (passed, failures) = recorder.Check(checkIds[i]);
                if (passed + failures.Count == before[i])
                {
                    recorder.Fail(checkIds[i], message);
                }
            }
        }
    }

    private async Task StartupAsync()
    {
        var healthy = await _server.WaitHealthyAsync(TimeSpan.FromSeconds(60));
        var options = _server.ClientOptions;
        options.ConnectTimeout = TimeSpan.FromSeconds(20);
        _client = await AgentOsClient.ConnectAsync(options);
        var connected = _server.SinceStart;
        await _client.Vm("probe").ListPersistedSessionsAsync();
        var ready = _server.SinceStart;
        recorder.Add("startup.cpu", MachineInfo.CpuMs(_server.Pid));
        recorder.Add("startup.ready", ready.TotalMilliseconds);
        recorder.Add("startup.healthz", healthy.TotalMilliseconds);
        recorder.Add("startup.connect", (connected - healthy).TotalMilliseconds);
        recorder.Add("startup.firstCall", (ready - connected).TotalMilliseconds);
        Progress($"ready after {ready.TotalMilliseconds:0} ms (healthz {healthy.TotalMilliseconds:0} ms), server pid {_server.Pid}, log {_server.LogPath}");
    }

    /// <summary>RSS idle, with 1 VM of 1 session, with 10 VMs of 1 session each (these VMs host the concurrent test later).</summary>
    private async Task MemoryAsync()
    {
        await Task.Delay(1000);
        recorder.Add("rss.idle", MachineInfo.RssMiB(_server.Pid));
        AddTree("idle");
        recorder.Add("rss.idle.anon", MachineInfo.RssMiB(_server.Pid, "RssAnon"));
        recorder.Add("rss.idle.file", MachineInfo.RssMiB(_server.Pid, "RssFile"));
        recorder.Add("rss.idle.shmem", MachineInfo.RssMiB(_server.Pid, "RssShmem"));

        var stopwatch = Stopwatch.StartNew();
        var first = _client.Vm("mem-0");
        var session = await first.CreateSessionAsync(AgentCommand.ServerAgentType);
        recorder.Add("create.cold", stopwatch.Elapsed.TotalMilliseconds);
        _memSessions.Add((first, session.SessionId));
        await Task.Delay(1000);
        recorder.Add("rss.vm1", MachineInfo.RssMiB(_server.Pid));
        AddTree("vm1");

        for (var i = 1; i < plan.ConcurrentVms; i++)
        {
            var vm = _client.Vm($"mem-{i}");
            _memSessions.Add((vm, (await vm.CreateSessionAsync(AgentCommand.ServerAgentType)).SessionId));
        }

        await Task.Delay(1000);
        recorder.Add("rss.vm10", MachineInfo.RssMiB(_server.Pid));
        AddTree("vm10");
    }

    /// <summary>The whole tree's memory: the server with its agents and what confines them.</summary>
    private void AddTree(string key)
    {
        var (rss, pss) = MachineInfo.TreeMiB(_server.Pid);
        recorder.Add($"tree.rss.{key}", rss);
        recorder.Add($"tree.pss.{key}", pss);
    }

    /// <summary>Bare handshake, then first CreateSession in a new VM; bare again, then the next in that VM. Paired per sample.</summary>
    private async Task CreateLatencyAsync()
    {
        List<double> bare = [], first = [], next = [], firstAdds = [], nextAdds = [], firstRatio = [], nextRatio = [], warmCalls = [], activations = [];
        using var work = new TempDirectory("agentos-bench-bare");
        for (var k = 0; k < plan.CreateSamples; k++)
        {
            // Breakdown (info): a plain grain call on an active VM (the startup probe), and the activation of a new VM.
            var watch = Stopwatch.StartNew();
            await _client.Vm("probe").ListSessionsAsync();
            warmCalls.Add(watch.Elapsed.TotalMilliseconds);
            watch.Restart();
            await _client.Vm($"act-{k}").ListPersistedSessionsAsync();
            activations.Add(watch.Elapsed.TotalMilliseconds);

            var bare1 = await BareHandshakeAsync(work.Path);
            var vm = _client.Vm($"lat-{k}");
            var stopwatch = Stopwatch.StartNew();
            await vm.CreateSessionAsync(AgentCommand.ServerAgentType);
            var firstMs = stopwatch.Elapsed.TotalMilliseconds;

            var bare2 = await BareHandshakeAsync(work.Path);
            stopwatch.Restart();
            await vm.CreateSessionAsync(AgentCommand.ServerAgentType);
            var nextMs = stopwatch.Elapsed.TotalMilliseconds;

            bare.Add(bare1);
            bare.Add(bare2);
            first.Add(firstMs);
            next.Add(nextMs);
            firstAdds.Add(firstMs - bare1);
            nextAdds.Add(nextMs - bare2);
            firstRatio.Add(firstMs / bare1);
            nextRatio.Add(nextMs / bare2);
        }

        recorder.Add("call.warm", Reporting.Median(warmCalls));
        recorder.Add("vm.activate", Reporting.Median(activations));
        recorder.Add("bare.handshake", Reporting.Median(bare));
        recorder.Add("create.first", Reporting.Median(first));
        recorder.Add("create.first.adds", Reporting.Median(firstAdds));
        recorder.Add("create.first.ratio", Reporting.Median(firstRatio));
        recorder.Add("create.next", Reporting.Median(next));
        recorder.Add("create.next.adds", Reporting.Median(nextAdds));
        recorder.Add("create.next.ratio", Reporting.Median(nextRatio));
    }

    private async Task<double> BareHandshakeAsync(string workingDirectory)
    {
        var (bare, ms) = await BareAgent.HandshakeAsync(agent, workingDirectory);
        await bare.DisposeAsync();
        return ms;
    }

    /// <summary>`chunks 1` round trips (bare and server alternately), then cancels of `sleep 10000` turns.</summary>
    private async Task PromptAndCancelAsync()
    {
        var vm = _client.Vm("prompt");
        var sessionId = (await vm.CreateSessionAsync(AgentCommand.ServerAgentType)).SessionId;
        using var work = new TempDirectory("agentos-bench-bare");
        var (bare, _) = await BareAgent.HandshakeAsync(agent, work.Path);
        await using var bareDisposal = bare;

        List<double> server = [], baseline = [], adds = [], ratio = [];
        var problems = new List<string>();
        long lastSeq = 0;
        for (var i = 0; i < plan.PromptWarmup + plan.PromptSamples; i++)
        {
            var b = await bare.PromptAsync("chunks 1");
            var stopwatch = Stopwatch.StartNew();
            var result = await vm.SendPromptAsync(sessionId, "chunks 1");
            var ms = stopwatch.Elapsed.TotalMilliseconds;
            lastSeq = result.LastSeq;
            if (result.StopReason != "end_turn" || (defaultAgent && result.Text != "c1 "))
            {
                problems.Add($"server: stop reason '{result.StopReason}', text '{Truncate(result.Text)}'");
            }

            if (b.StopReason != "end_turn" || b.Updates != 1)
            {
                problems.Add($"bare: stop reason '{b.StopReason}', {b.Updates} updates");
            }

            if (i >= plan.PromptWarmup)
            {
                server.Add(ms);
                baseline.Add(b.Milliseconds);
                adds.Add(ms - b.Milliseconds);
                ratio.Add(ms / b.Milliseconds);
            }
        }

        recorder.Add("prompt1", Reporting.Median(server));
        recorder.Add("bare.prompt1", Reporting.Median(baseline));
        recorder.Add("prompt1.adds", Reporting.Median(adds));
        recorder.Add("prompt1.ratio", Reporting.Median(ratio));
        Check("prompt1", problems);

        await using var sink = await EventSink.SubscribeAsync(vm);
        List<double> cancels = [], bareCancels = [];
        var cancelProblems = new List<string>();
        for (var k = 0; k < plan.CancelSamples; k++)
        {
            // Server: wait for the turn's first tick to reach the subscriber, so the turn is surely running.
            var turn = vm.SendPromptAsync(sessionId, "sleep 10000");
            if (!await sink.For(sessionId).WaitForSeqAsync(lastSeq + 2, EventTimeout))
            {
                throw new TimeoutException($"No tick of `sleep 10000` reached the subscriber within {EventTimeout.TotalSeconds} s.");
            }

            var stopwatch = Stopwatch.StartNew();
            await vm.CancelPromptAsync(sessionId);
            var result = await turn.WaitAsync(TimeSpan.FromSeconds(30));
            cancels.Add(stopwatch.Elapsed.TotalMilliseconds);
            lastSeq = result.LastSeq;
            if (result.StopReason != "cancelled")
            {
                cancelProblems.Add($"server: stop reason '{result.StopReason}' after CancelPrompt");
            }

            // Bare: the same on the agent's own stdio.
            var updates = bare.Updates;
            var bareTurn = bare.PromptAsync("sleep 10000");
            await bare.WaitForUpdatesAsync(updates);
            var bareWatch = Stopwatch.StartNew();
            await bare.CancelAsync();
            var bareResult = await bareTurn.WaitAsync(TimeSpan.FromSeconds(30));
            bareCancels.Add(bareWatch.Elapsed.TotalMilliseconds);
            if (bareResult.StopReason != "cancelled")
            {
                cancelProblems.Add($"bare: stop reason '{bareResult.StopReason}' after session/cancel");
            }
        }

        recorder.Add("cancel", Reporting.Median(cancels));
        recorder.Add("bare.cancel", Reporting.Median(bareCancels));
        Check("cancel", cancelProblems);
    }

    /// <summary>`chunks N`: delivered rate at a subscriber in this process, then delivered vs persisted vs emitted.</summary>
    private async Task StreamingAsync()
    {
        var vm = _client.Vm("stream");
        var sessionId = (await vm.CreateSessionAsync(AgentCommand.ServerAgentType)).SessionId;
        await using var sink = await EventSink.SubscribeAsync(vm);
        using var work = new TempDirectory("agentos-bench-bare");
        var (bare, _) = await BareAgent.HandshakeAsync(agent, work.Path);
        await using var bareDisposal = bare;
        var seqBefore = await PersistedMaxSeqAsync(vm, sessionId);

        // How long a committed, published event takes to reach a live subscriber (info).
        List<double> lags = [];
        for (var i = 0; i < plan.PromptSamples; i++)
        {
            var one = await vm.SendPromptAsync(sessionId, "chunks 1");
            var returned = Stopwatch.GetTimestamp();
            if (!await sink.For(sessionId).WaitForSeqAsync(one.LastSeq, EventTimeout))
            {
                throw new TimeoutException($"The turn_end of a `chunks 1` turn (seq {one.LastSeq}) never reached the subscriber.");
            }

            lags.Add(Math.Max(0, Stopwatch.GetElapsedTime(returned, sink.For(sessionId).LastArrival).TotalMilliseconds));
            seqBefore = one.LastSeq;
        }

        recorder.Add("delivery.lag", Reporting.Median(lags));
        sink.For(sessionId).Clear();

        foreach (var n in plan.StreamSizes)
        {
            Progress($"chunks {n}");
            var agentCpu = MachineInfo.CpuMs(bare.Pid);
            var b = await bare.PromptAsync($"chunks {n}");
            recorder.Add($"cpu.agent.chunks{n}", (MachineInfo.CpuMs(bare.Pid) - agentCpu) * 1000 / n);
            if (b.StopReason == "end_turn" && b.Updates == n)
            {
                recorder.Add($"bare.chunks{n}", n / (b.Milliseconds / 1000));
            }
            else
            {
                Fail($"stream.chunks{n}", $"bare agent: stop reason '{b.StopReason}', {b.Updates} updates for `chunks {n}`");
            }

            var events = sink.For(sessionId);
            var (serverCpu, clientCpu) = (MachineInfo.CpuMs(_server.Pid), MachineInfo.OwnCpuMs());
            var start = Stopwatch.GetTimestamp();
            var result = await vm.SendPromptAsync(sessionId, $"chunks {n}");
            var returned = Stopwatch.GetElapsedTime(start);
            recorder.Add($"turn.chunks{n}", returned.TotalMilliseconds);
            var problems = new List<string>();
            if (await events.WaitForSeqAsync(result.LastSeq, EventTimeout))
            {
                var delivered = Stopwatch.GetElapsedTime(start, events.LastArrival);
                recorder.Add($"stream.chunks{n}", n / delivered.TotalSeconds);
                recorder.Add($"lag.chunks{n}", (delivered - returned).TotalMilliseconds);
                recorder.Add($"cpu.server.chunks{n}", (MachineInfo.CpuMs(_server.Pid) - serverCpu) * 1000 / n);
                recorder.Add($"cpu.client.chunks{n}", (MachineInfo.OwnCpuMs() - clientCpu) * 1000 / n);
                if (recorder.Values($"bare.chunks{n}").Count > 0 && b.Milliseconds > 0)
                {
                    recorder.Add($"stream.chunks{n}.ratio", delivered.TotalMilliseconds / b.Milliseconds);
                }
            }
            else
            {
                problems.Add($"the subscriber got up to seq {events.MaxSeq} of {result.LastSeq} within {EventTimeout.TotalSeconds} s after SendPrompt returned");
            }

            problems.AddRange(await VerifyTurnAsync(vm, sessionId, events, seqBefore, result, n));
            Check($"stream.chunks{n}", problems);
            events.Clear();
            seqBefore = result.LastSeq;
        }
    }

    /// <summary>A session with 11,000+ events, read back through the client with one GetSequencedEvents call.</summary>
    private async Task ReplayAsync()
    {
        var vm = _client.Vm("replay");
        var sessionId = (await vm.CreateSessionAsync(AgentCommand.ServerAgentType)).SessionId;
        await vm.SendPromptAsync(sessionId, $"chunks {ReplayCount}");
        var problems = new List<string>();
        List<double> times = [];
        double serverCpu = 0, clientCpu = 0;
        for (var i = 0; i <= plan.ReplaySamples; i++)
        {
            if (i == 1)
            {
                (serverCpu, clientCpu) = (MachineInfo.CpuMs(_server.Pid), MachineInfo.OwnCpuMs());
            }

            var stopwatch = Stopwatch.StartNew();
            var page = await vm.GetSequencedEventsAsync(sessionId, 0, ReplayCount);
            var ms = stopwatch.Elapsed.TotalMilliseconds;
            if (page.Count != ReplayCount || page[0].Seq != 1 || page[^1].Seq != ReplayCount)
            {
                problems.Add($"got {page.Count} events (seq {page.FirstOrDefault()?.Seq}..{page.LastOrDefault()?.Seq})");
            }

            if (i == 0)
            {
                recorder.Add("replay11000.cold", ms);
            }
            else
            {
                times.Add(ms);
            }
        }

        recorder.Add("replay11000", Reporting.Median(times));
        recorder.Add("cpu.server.replay", (MachineInfo.CpuMs(_server.Pid) - serverCpu) * 1000 / (ReplayCount * (double)plan.ReplaySamples));
        recorder.Add("cpu.client.replay", (MachineInfo.OwnCpuMs() - clientCpu) * 1000 / (ReplayCount * (double)plan.ReplaySamples));
        List<double> ones = [];
        for (var i = 0; i < plan.ReplaySamples; i++)
        {
            var stopwatch = Stopwatch.StartNew();
            await vm.GetSequencedEventsAsync(sessionId, 0, 1);
            ones.Add(stopwatch.Elapsed.TotalMilliseconds);
        }

        recorder.Add("replay1", Reporting.Median(ones));
        Check("replay11000", problems.Distinct().ToList());
    }

    /// <summary>50 sessions across the 10 memory VMs, all streaming `chunks 10000` at once.</summary>
    private async Task ConcurrentAsync()
    {
        var byVm = _memSessions.GroupBy(s => s.Vm.Id).ToDictionary(g => g.Key, g => (g.First().Vm, Sessions: g.Select(s => s.SessionId).ToList()), StringComparer.Ordinal);
        await Task.WhenAll(byVm.Values.Select(async v =>
        {
            while (v.Sessions.Count < plan.ConcurrentSessionsPerVm)
            {
                v.Sessions.Add((await v.Vm.CreateSessionAsync(AgentCommand.ServerAgentType)).SessionId);
            }
        }));

        var sinks = new Dictionary<string, EventSink>(StringComparer.Ordinal);
        try
        {
            foreach (var (id, v) in byVm)
            {
                sinks[id] = await EventSink.SubscribeAsync(v.Vm);
            }

            var turns = new List<(VmHandle Vm, string SessionId, long SeqBefore, Task<PromptResult> Turn)>();
            var before = new Dictionary<string, long>(StringComparer.Ordinal);
            foreach (var v in byVm.Values)
            {
                foreach (var sessionId in v.Sessions)
                {
                    before[sessionId] = await PersistedMaxSeqAsync(v.Vm, sessionId);
                }
            }

            var n = plan.ConcurrentChunks;
            Progress($"{before.Count} sessions × chunks {n}");
            var serverCpu = MachineInfo.CpuMs(_server.Pid);
            var start = Stopwatch.GetTimestamp();
            foreach (var v in byVm.Values)
            {
                foreach (var sessionId in v.Sessions)
                {
                    turns.Add((v.Vm, sessionId, before[sessionId], v.Vm.SendPromptAsync(sessionId, $"chunks {n}")));
                }
            }

            var problems = new List<string>();
            var all = Task.WhenAll(turns.Select(t => t.Turn));
            try
            {
                await all.WaitAsync(TimeSpan.FromSeconds(300));
            }
            catch (TimeoutException)
            {
                problems.Add($"hang: {turns.Count(t => t.Turn.IsCompleted)} of {turns.Count} turns returned within 300 s");
                Check("concurrent", problems);
                return;
            }

            long lastArrival = 0;
            var allDelivered = true;
            foreach (var (vm, sessionId, _, turn) in turns)
            {
                var events = sinks[vm.Id].For(sessionId);
                if (!await events.WaitForSeqAsync(turn.Result.LastSeq, EventTimeout))
                {
                    allDelivered = false;
                    problems.Add($"{vm.Id}/{sessionId}: the subscriber got up to seq {events.MaxSeq} of {turn.Result.LastSeq}");
                }

                lastArrival = Math.Max(lastArrival, events.LastArrival);
            }

            if (allDelivered)
            {
                var wall = Stopwatch.GetElapsedTime(start, lastArrival);
                recorder.Add("concurrent.rate", (double)n * turns.Count / wall.TotalSeconds);
                recorder.Add("concurrent.wall", wall.TotalMilliseconds);
                recorder.Add("cpu.server.concurrent", (MachineInfo.CpuMs(_server.Pid) - serverCpu) * 1000 / ((double)n * turns.Count));
            }

            foreach (var (vm, sessionId, seqBefore, turn) in turns)
            {
                var events = sinks[vm.Id].For(sessionId);
                problems.AddRange((await VerifyTurnAsync(vm, sessionId, events, seqBefore, turn.Result, n)).Select(p => $"{vm.Id}/{sessionId}: {p}"));
                events.Clear();
            }

            Check("concurrent", problems);
        }
        finally
        {
            foreach (var sink in sinks.Values)
            {
                await sink.DisposeAsync();
            }
        }
    }

    /// <summary>
    /// The turn's events as delivered and as persisted must both be exactly seq seqBefore+1..LastSeq
    /// (gapless, no duplicates), identical, start with the prompt and end with turn_end, and hold
    /// exactly <paramref name="n"/> agent_message_chunk updates ("c1 ".."cN " for the test agent);
    /// the reply text must be their concatenation.
    /// </summary>
    private async Task<List<string>> VerifyTurnAsync(VmHandle vm, string sessionId, SessionEvents delivered, long seqBefore, PromptResult result, int n)
    {
        var problems = new List<string>();
        if (result.StopReason != "end_turn")
        {
            problems.Add($"stop reason '{result.StopReason}'");
        }

        var expectedCount = result.LastSeq - seqBefore;
        var persisted = new List<SessionEvent>();
        var since = seqBefore;
        while (since < result.LastSeq)
        {
            var page = await vm.GetSequencedEventsAsync(sessionId, since, 10_000);
            if (page.Count == 0)
            {
                break;
            }

            persisted.AddRange(page.Where(e => e.Seq <= result.LastSeq));
            since = page[^1].Seq;
        }

        var got = delivered.Range(seqBefore, result.LastSeq);
        problems.AddRange(CheckSequence("persisted", persisted, seqBefore, expectedCount, n));
        problems.AddRange(CheckSequence("delivered", got, seqBefore, expectedCount, n));
        if (got.Count == persisted.Count)
        {
            var differing = got.Zip(persisted).Count(p => p.First.Seq != p.Second.Seq || p.First.Method != p.Second.Method || p.First.Params != p.Second.Params || p.First.CreatedAt != p.Second.CreatedAt);
            if (differing > 0)
            {
                problems.Add($"{differing} delivered events differ from their persisted version");
            }
        }

        if (defaultAgent)
        {
            var expectedText = new StringBuilder();
            for (var i = 1; i <= n; i++)
            {
                expectedText.Append(CultureInfo.InvariantCulture, $"c{i} ");
            }

            if (result.Text != expectedText.ToString())
            {
                problems.Add($"reply text has {result.Text.Length} characters, expected {expectedText.Length} (\"c1 \"..\"c{n} \")");
            }
        }

        return problems;
    }

    private List<string> CheckSequence(string what, List<SessionEvent> events, long seqBefore, long expectedCount, int n)
    {
        var problems = new List<string>();
        if (events.Count != expectedCount)
        {
            problems.Add($"{what}: {events.Count} events, LastSeq says {expectedCount}");
        }

        var gaps = events.Select((e, i) => (e, i)).Count(x => x.e.Seq != seqBefore + 1 + x.i);
        if (gaps > 0)
        {
            problems.Add($"{what}: {gaps} events out of place (gaps, duplicates or reordering)");
        }

        if (events.Count > 0 && (events[0].Method != AgentOsEventMethods.Prompt || events[^1].Method != AgentOsEventMethods.TurnEnd))
        {
            problems.Add($"{what}: the turn runs from '{events[0].Method}' to '{events[^1].Method}', expected {AgentOsEventMethods.Prompt} … {AgentOsEventMethods.TurnEnd}");
        }

        var chunks = events.Where(e => e.GetUpdateKind() == "agent_message_chunk").ToList();
        if (chunks.Count != n)
        {
            problems.Add($"{what}: {chunks.Count} agent_message_chunk updates, the agent emitted {n}");
        }
        else if (defaultAgent)
        {
            var wrong = chunks.Select((e, i) => (e, i)).Count(x => x.e.GetText() != $"c{x.i + 1} ");
            if (wrong > 0)
            {
                problems.Add($"{what}: {wrong} chunks with the wrong text or order");
            }
        }

        return problems;
    }

    private static async Task<long> PersistedMaxSeqAsync(VmHandle vm, string sessionId)
    {
        long since = 0;
        while (true)
        {
            var page = await vm.GetSequencedEventsAsync(sessionId, since, 10_000);
            if (page.Count == 0)
            {
                return since;
            }

            since = page[^1].Seq;
        }
    }

    private void Check(string checkId, List<string> problems)
    {
        if (problems.Count == 0)
        {
            recorder.Pass(checkId);
        }
        else
        {
            Fail(checkId, $"{label}: " + string.Join("; ", problems.Distinct().Take(5)) + (problems.Count > 5 ? $" (+{problems.Count - 5} more)" : ""));
        }
    }

    private void Fail(string checkId, string message)
    {
        var kept = _server is null ? null : KeepLog($"server-{label.Replace(' ', '-').Replace('/', '-')}.log");
        recorder.Fail(checkId, message + (kept is null ? "" : $" [server log: {kept}]"));
        Console.Error.WriteLine($"[{label}] FAIL {checkId}: {message}");
        if (_server is not null)
        {
            Console.Error.WriteLine($"[{label}] server log: {kept ?? _server.LogPath}; last lines:\n{string.Join('\n', _server.Output.Split('\n').TakeLast(15))}");
        }
    }

    /// <summary>Copies the server log into the log directory, so it survives the server's temp directory.</summary>
    private string? KeepLog(string name)
    {
        try
        {
            Directory.CreateDirectory(logDirectory);
            var target = Path.Combine(logDirectory, name);
            File.WriteAllText(target, _server.Output);
            return target;
        }
        catch (IOException)
        {
            return null;
        }
    }

    private void Progress(string what) => Console.Error.WriteLine($"[{label}] {what}");

    private static string Truncate(string text) => text.Length <= 40 ? text : text[..40] + "…";
}
