using System.Globalization;
using System.Text;
using System.Text.Json.Serialization;

namespace AgentOs.Bench;

/// <summary>A bar a metric's median must meet: at most (<c>≤</c>) or at least (<c>≥</c>) <see cref="Limit"/>.</summary>
internal sealed record Bar(bool AtLeast, double Limit, string Text)
{
    public static Bar AtMost(double limit, string text) => new(false, limit, text);

    public static Bar Minimum(double limit, string text) => new(true, limit, text);

    public bool Met(double value) => AtLeast ? value >= Limit : value <= Limit;
}

/// <summary>One row of the table.</summary>
internal sealed record MetricDef(string Id, string Name, string Unit, Bar? Bar = null);

/// <summary>A pass/fail check counted per run (persistence, delivery, stop reasons, no hang).</summary>
internal sealed record CheckDef(string Id, string Name);

/// <summary>Every metric and check, in table order.</summary>
internal static class Catalog
{
    public static readonly MetricDef[] Metrics =
    [
        new("startup.ready", "server start → ready (/healthz 200 + client connected + first call)", "ms", Bar.AtMost(1000, "≤ 1000 ms")),
        new("startup.cpu", "  server CPU time (user+sys) spent until ready", "ms"),
        new("startup.healthz", "  of which: start → /healthz 200", "ms"),
        new("startup.connect", "  of which: /healthz → client connected", "ms"),
        new("startup.firstCall", "  of which: first grain call (ListPersistedSessions, fresh VM)", "ms"),
        new("call.warm", "grain call round trip (ListSessions on an active VM, info)", "ms"),
        new("vm.activate", "first call on a new VM (activation: ListPersistedSessions, info)", "ms"),
        new("bare.handshake", "bare handshake: spawn + initialize + session/new (no server)", "ms"),
        new("create.cold", "CreateSession, very first after server start (cold, info)", "ms"),
        new("create.first", "CreateSession, first in a new VM", "ms"),
        new("create.first.adds", "  server adds (first in a new VM)", "ms", Bar.AtMost(15, "≤ +15 ms")),
        new("create.first.ratio", "  ratio to bare handshake", "x"),
        new("create.next", "CreateSession, next in the same VM", "ms"),
        new("create.next.adds", "  server adds (next in the same VM)", "ms", Bar.AtMost(5, "≤ +5 ms")),
        new("create.next.ratio", "  ratio to bare handshake", "x"),
        new("bare.prompt1", "bare prompt round trip `chunks 1` (agent's own time)", "ms"),
        new("prompt1", "SendPrompt round trip `chunks 1`", "ms"),
        new("prompt1.adds", "  server adds", "ms", Bar.AtMost(3, "≤ +3 ms")),
        new("prompt1.ratio", "  ratio to bare prompt", "x"),
        new("delivery.lag", "live delivery lag: SendPrompt `chunks 1` returned → its turn_end at the subscriber", "ms"),
        new("bare.chunks10000", "bare `chunks 10000`: updates/s read over stdio", "ev/s"),
        new("stream.chunks10000", "`chunks 10000`: events/s delivered to a subscriber (bench process)", "ev/s", Bar.Minimum(100_000, "≥ 100,000/s")),
        new("stream.chunks10000.ratio", "  ratio: bare rate / delivered rate", "x"),
        new("turn.chunks10000", "  SendPrompt `chunks 10000` returned after", "ms"),
        new("lag.chunks10000", "  last event delivered after SendPrompt returned", "ms"),
        new("cpu.server.chunks10000", "  server CPU per event (user+sys)", "µs"),
        new("cpu.client.chunks10000", "  subscriber (bench process) CPU per event", "µs"),
        new("cpu.agent.chunks10000", "  agent's own CPU per update (bare run)", "µs"),
        new("bare.chunks100000", "bare `chunks 100000`: updates/s read over stdio", "ev/s"),
        new("stream.chunks100000", "`chunks 100000`: events/s delivered to a subscriber (bench process)", "ev/s", Bar.Minimum(100_000, "≥ 100,000/s")),
        new("stream.chunks100000.ratio", "  ratio: bare rate / delivered rate", "x"),
        new("turn.chunks100000", "  SendPrompt `chunks 100000` returned after", "ms"),
        new("lag.chunks100000", "  last event delivered after SendPrompt returned", "ms"),
        new("cpu.server.chunks100000", "  server CPU per event (user+sys)", "µs"),
        new("cpu.client.chunks100000", "  subscriber (bench process) CPU per event", "µs"),
        new("cpu.agent.chunks100000", "  agent's own CPU per update (bare run)", "µs"),
        new("replay1", "GetSequencedEvents of 1 event (fixed cost of a history read, info)", "ms"),
        new("replay11000.cold", "replay 11,000 persisted events, first read (info)", "ms"),
        new("replay11000", "replay 11,000 persisted events (GetSequencedEvents, limit 11000)", "ms", Bar.AtMost(20, "≤ 20 ms")),
        new("cpu.server.replay", "  server CPU per replayed event", "µs"),
        new("cpu.client.replay", "  client (bench process) CPU per replayed event", "µs"),
        new("http.prompt1", "HTTP: POST …/prompt round trip `chunks 1`", "ms"),
        new("http.prompt1.sdk", "  the same through the SDK, alternately", "ms"),
        new("http.prompt1.adds", "  HTTP adds over the SDK path", "ms", Bar.AtMost(3, "≤ +3 ms")),
        new("http.stream.chunks10000", "HTTP: `chunks 10000` events/s delivered over server-sent events (bench process)", "ev/s"),
        new("http.lag.chunks10000", "  last event delivered after the prompt's answer", "ms"),
        new("http.cpu.server.chunks10000", "  server CPU per event (user+sys)", "µs"),
        new("http.stream.chunks100000", "HTTP: `chunks 100000` events/s delivered over server-sent events (bench process)", "ev/s", Bar.Minimum(100_000, "≥ 100,000/s")),
        new("http.lag.chunks100000", "  last event delivered after the prompt's answer", "ms"),
        new("http.cpu.server.chunks100000", "  server CPU per event (user+sys)", "µs"),
        new("http.cpu.client.chunks100000", "  SSE reader (bench process) CPU per event", "µs"),
        new("bare.cancel", "bare cancel: session/cancel → prompt reply (agent's own time)", "ms"),
        new("cancel", "cancel: CancelPrompt on `sleep 10000` → SendPrompt returns", "ms", Bar.AtMost(5, "≤ 5 ms")),
        new("rss.idle", "server RSS, idle (after the first call)", "MiB", Bar.AtMost(100, "≤ 100 MiB")),
        new("rss.idle.anon", "  of which anonymous (GC heap, JIT code, native allocations)", "MiB"),
        new("rss.idle.file", "  of which file-backed (mapped assemblies and native libraries)", "MiB"),
        new("rss.idle.shmem", "  of which shared memory (the runtime's W^X double-mapped code)", "MiB"),
        new("rss.vm1", "server RSS, 1 VM with 1 session", "MiB", Bar.AtMost(110, "≤ 110 MiB")),
        new("rss.vm10", "server RSS, 10 VMs with 1 session each", "MiB", Bar.AtMost(150, "≤ 150 MiB")),
        new("tree.rss.idle", "whole tree (server + agents + sandboxes + network helpers) RSS, idle", "MiB"),
        new("tree.pss.idle", "  its PSS (shared pages divided among the processes)", "MiB"),
        new("tree.rss.vm1", "whole tree RSS, 1 VM with 1 session", "MiB"),
        new("tree.pss.vm1", "  its PSS", "MiB"),
        new("tree.rss.vm10", "whole tree RSS, 10 VMs with 1 session each", "MiB"),
        new("tree.pss.vm10", "  its PSS", "MiB"),
        new("concurrent.rate", "50 sessions / 10 VMs × `chunks 10000` at once: total events/s delivered", "ev/s"),
        new("concurrent.wall", "  wall time, first SendPrompt → last event delivered", "ms"),
        new("cpu.server.concurrent", "  server CPU per event", "µs"),
        new("rss.end", "server RSS at the end of the run (info)", "MiB"),
    ];

    public static readonly CheckDef[] Checks =
    [
        new("prompt1", "`chunks 1`: stop reason end_turn, 1 update, text \"c1 \""),
        new("cancel", "cancel: stop reason `cancelled`"),
        new("stream.chunks10000", "`chunks 10000`: delivered = persisted = emitted (gapless seqs, N chunks)"),
        new("stream.chunks100000", "`chunks 100000`: delivered = persisted = emitted (gapless seqs, N chunks)"),
        new("replay11000", "replay returns exactly 11,000 events, seq 1..11000"),
        new("http.prompt1", "HTTP `chunks 1`: stop reason end_turn, text \"c1 \""),
        new("http.stream.chunks10000", "HTTP `chunks 10000`: delivered over SSE = persisted (NDJSON), byte for byte, seq gapless"),
        new("http.stream.chunks100000", "HTTP `chunks 100000`: delivered over SSE = persisted (NDJSON), byte for byte, seq gapless"),
        new("concurrent", "50 concurrent sessions: no hang, no loss (delivered = persisted = emitted)"),
        new("run", "run completed without errors"),
    ];
}

/// <summary>Per-run values and check outcomes.</summary>
internal sealed class Recorder
{
    private readonly Dictionary<string, List<double>> _values = new(StringComparer.Ordinal);
    private readonly Dictionary<string, (int Passed, List<string> Failures)> _checks = new(StringComparer.Ordinal);

    public void Add(string metricId, double value)
    {
        if (double.IsNaN(value) || double.IsInfinity(value))
        {
            return;
        }

        if (!_values.TryGetValue(metricId, out var list))
        {
            _values[metricId] = list = [];
        }

        list.Add(value);
    }

    public void Pass(string checkId)
    {
        var current = _checks.GetValueOrDefault(checkId, (0, []));
        _checks[checkId] = (current.Passed + 1, current.Failures);
    }

    public void Fail(string checkId, string failure)
    {
        var current = _checks.GetValueOrDefault(checkId, (0, []));
        current.Failures.Add(failure);
        _checks[checkId] = current;
    }

    public IReadOnlyList<double> Values(string metricId) => _values.TryGetValue(metricId, out var list) ? list : [];

    public (int Passed, IReadOnlyList<string> Failures) Check(string checkId) =>
        _checks.TryGetValue(checkId, out var c) ? (c.Passed, c.Failures) : (0, []);

    public bool HasFailures => _checks.Values.Any(c => c.Failures.Count > 0);
}

internal sealed record ReportSettings(int Runs, bool Quick, bool WarmupRun, string Agent, bool DefaultAgent, string Server, string BenchConfiguration, string ServerBuild, string ServerEnvironment = "");

internal sealed record ReportMetric(string Id, string Name, string Unit, double? Median, double? Min, double? Max, double[] Runs, string? Bar, string Status);

internal sealed record ReportCheck(string Id, string Name, int Passed, int Failed, string[] Failures, string Status);

internal sealed record Report(
    string Date,
    MachineInfo Machine,
    ReportSettings Settings,
    ReportMetric[] Metrics,
    ReportCheck[] Checks,
    string Summary,
    double TotalSeconds,
    string? LoadAverageAtEnd,
    string[] Notes);

[JsonSerializable(typeof(Report))]
[JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
internal sealed partial class BenchJsonContext : JsonSerializerContext;

/// <summary>Turns a <see cref="Recorder"/> into the table and the JSON report.</summary>
internal static class Reporting
{
    public static double Median(IReadOnlyList<double> values)
    {
        if (values.Count == 0)
        {
            return double.NaN;
        }

        var sorted = values.Order().ToArray();
        var mid = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    }

    public static ReportMetric[] Metrics(Recorder recorder) => Catalog.Metrics.Select(m =>
    {
        var values = recorder.Values(m.Id).ToArray();
        if (values.Length == 0)
        {
            return new ReportMetric(m.Id, m.Name, m.Unit, null, null, null, [], m.Bar?.Text, "skipped");
        }

        var median = Median(values);
        var status = m.Bar is null ? "info" : m.Bar.Met(median) ? "pass" : "FAIL";
        return new ReportMetric(m.Id, m.Name, m.Unit, Round(median), Round(values.Min()), Round(values.Max()), values.Select(Round).ToArray(), m.Bar?.Text, status);
    }).ToArray();

    public static ReportCheck[] Checks(Recorder recorder) => Catalog.Checks.Select(c =>
    {
        var (passed, failures) = recorder.Check(c.Id);
        var status = failures.Count > 0 ? "FAIL" : passed > 0 ? "pass" : "skipped";
        return new ReportCheck(c.Id, c.Name, passed, failures.Count, failures.ToArray(), status);
    }).ToArray();

    public static string Table(Report report)
    {
        var sb = new StringBuilder();
        var m = report.Machine;
        sb.AppendLine(CultureInfo.InvariantCulture, $"AgentOs benchmark — {report.Date}");
        sb.AppendLine(CultureInfo.InvariantCulture, $"machine: {m.Cores} cores ({m.CpuModel ?? "?"}), {m.MemoryMiB:N0} MiB, {m.Os}, {m.DotnetRuntime}; load average at start {m.LoadAverageAtStart ?? "?"}, at end {report.LoadAverageAtEnd ?? "?"}");
        sb.AppendLine(CultureInfo.InvariantCulture, $"settings: {report.Settings.Runs} runs{(report.Settings.Quick ? " (--quick)" : "")}{(report.Settings.WarmupRun ? " after 1 discarded warm-up run" : "")}; server {report.Settings.BenchConfiguration} build, {report.Settings.ServerBuild}; agent: {report.Settings.Agent}{(report.Settings.ServerEnvironment.Length > 0 ? "; server env: " + report.Settings.ServerEnvironment : "")}");
        sb.AppendLine("each figure: median of the per-run values, with min and max over the runs; \"server adds\" = server time − bare time, paired within each run");
        sb.AppendLine();

        var rows = new List<string[]> { new[] { "metric", "median", "min", "max", "bar", "result" } };
        foreach (var metric in report.Metrics)
        {
            rows.Add([metric.Name, Format(metric.Median, metric.Unit), Format(metric.Min, metric.Unit), Format(metric.Max, metric.Unit), metric.Bar ?? "", metric.Status == "info" ? "" : metric.Status]);
        }

        AppendTable(sb, rows, rightAligned: [1, 2, 3]);
        sb.AppendLine();

        var checks = new List<string[]> { new[] { "check", "runs ok", "runs failed", "result" } };
        foreach (var check in report.Checks)
        {
            checks.Add([check.Name, check.Passed.ToString(CultureInfo.InvariantCulture), check.Failed.ToString(CultureInfo.InvariantCulture), check.Status]);
        }

        AppendTable(sb, checks, rightAligned: [1, 2]);
        foreach (var check in report.Checks.Where(c => c.Failures.Length > 0))
        {
            foreach (var failure in check.Failures.Distinct().Take(5))
            {
                sb.AppendLine(CultureInfo.InvariantCulture, $"  FAIL {check.Id}: {failure}");
            }
        }

        sb.AppendLine();
        sb.AppendLine(report.Summary);
        sb.AppendLine(CultureInfo.InvariantCulture, $"total bench time: {report.TotalSeconds:0.0} s");
        return sb.ToString();
    }

    public static string Format(double? value, string unit) => value switch
    {
        null => "—",
        { } v when unit == "ev/s" => v.ToString("N0", CultureInfo.InvariantCulture) + "/s",
        { } v when unit == "x" => v.ToString("0.00", CultureInfo.InvariantCulture) + "×",
        { } v when unit == "µs" => v.ToString("0.0", CultureInfo.InvariantCulture) + " µs",
        { } v when unit == "MiB" => v.ToString("0.0", CultureInfo.InvariantCulture) + " MiB",
        { } v when Math.Abs(v) >= 100 => v.ToString("0", CultureInfo.InvariantCulture) + " ms",
        { } v => v.ToString("0.00", CultureInfo.InvariantCulture) + " ms",
    };

    private static double Round(double value) => Math.Round(value, 3);

    private static void AppendTable(StringBuilder sb, List<string[]> rows, int[] rightAligned)
    {
        var widths = Enumerable.Range(0, rows[0].Length).Select(i => rows.Max(r => r[i].Length)).ToArray();
        for (var r = 0; r < rows.Count; r++)
        {
            var cells = rows[r].Select((cell, i) => rightAligned.Contains(i) ? cell.PadLeft(widths[i]) : cell.PadRight(widths[i]));
            sb.AppendLine(("| " + string.Join(" | ", cells) + " |").TrimEnd());
            if (r == 0)
            {
                sb.AppendLine("|" + string.Join("|", widths.Select((w, i) => rightAligned.Contains(i) ? new string('-', w + 1) + ":" : new string('-', w + 2))) + "|");
            }
        }
    }
}
