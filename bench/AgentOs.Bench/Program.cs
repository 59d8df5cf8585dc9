using System.Diagnostics;
using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;
using AgentOs.Bench;

// dotnet run -c Release --project bench/AgentOs.Bench -- [--runs N] [--agent "<command line>"] [--quick] [--out <path>] [--server-env KEY=VALUE]
var runs = 5;
var quick = false;
var runsGiven = false;
string? agentLine = null;
string? outPath = null;
var serverEnv = new Dictionary<string, string>(StringComparer.Ordinal);
for (var i = 0; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--runs" when i + 1 < args.Length && int.TryParse(args[i + 1], CultureInfo.InvariantCulture, out var n) && n > 0:
            runs = n;
            runsGiven = true;
            i++;
            break;
        case "--agent" when i + 1 < args.Length:
            agentLine = args[++i];
            break;
        case "--quick":
            quick = true;
            break;
        case "--out" when i + 1 < args.Length:
            outPath = args[++i];
            break;
        case "--server-env" when i + 1 < args.Length && args[i + 1].IndexOf('=', StringComparison.Ordinal) > 0:
            var pair = args[++i];
            serverEnv[pair[..pair.IndexOf('=', StringComparison.Ordinal)]] = pair[(pair.IndexOf('=', StringComparison.Ordinal) + 1)..];
            break;
        case "-h" or "--help":
            Console.WriteLine("""
                AgentOs benchmark: starts a real server process and drives it through the client SDK.

                  --runs N                 runs per figure (default 5; 2 with --quick)
                  --agent "<command line>" any ACP agent answering `chunks N` and `sleep MS` (default: the scripted test agent)
                  --quick                  smoke check: 2 runs, no `chunks 100000`, no 50-session test
                  --out <path>             JSON report (default <repo>/bench/results/latest.json)
                  --server-env KEY=VALUE   more server configuration, e.g. AgentOs__Durability=power (repeatable)
                """);
            return 0;
        default:
            Console.Error.WriteLine($"Unknown or incomplete argument '{args[i]}'. Use --help.");
            return 2;
    }
}

if (quick && !runsGiven)
{
    runs = 2;
}

var total = Stopwatch.StartNew();
AgentCommand agent;
string serverDll;
try
{
    agent = agentLine is null ? AgentCommand.TestAgent() : AgentCommand.Parse(agentLine);
    serverDll = Paths.ServerDll;
}
catch (Exception ex) when (ex is FileNotFoundException or ArgumentException)
{
    Console.Error.WriteLine(ex.Message);
    return 2;
}

var root = Paths.RepoRoot();
outPath = outPath is not null
    ? Path.GetFullPath(outPath)
    : Path.Combine(root ?? Environment.CurrentDirectory, "bench", "results", "latest.json");
var logDirectory = Path.Combine(Path.GetTempPath(), "agentos-bench-logs", DateTime.UtcNow.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture));
var machine = MachineInfo.Collect();
var date = DateTimeOffset.Now.ToString("yyyy-MM-ddTHH:mm:sszzz", CultureInfo.InvariantCulture);

var quickPlan = new RunPlan(StreamSizes: [10_000], Concurrent: false);
var plan = quick ? quickPlan : new RunPlan(StreamSizes: [10_000, 100_000], Concurrent: true, CreateSamples: 5);

Console.Error.WriteLine($"AgentOs bench: {runs} run(s){(quick ? " --quick" : "")}, agent: {agent.Display}");
Console.Error.WriteLine($"server: {serverDll}");

// One discarded warm-up run: it JITs the bench process' own code (client SDK, bare ACP client), so
// every measured run sees a cold server process but a warm measuring side.
var warmup = new Recorder();
await new BenchRun(agent, serverEnv, agentLine is null, quickPlan with { PromptSamples = 5, CancelSamples = 1, ReplaySamples = 1, CreateSamples = 1 }, warmup, "warm-up", logDirectory).ExecuteAsync();
if (warmup.HasFailures)
{
    Console.Error.WriteLine("[warm-up] had failures (not counted); the measured runs follow.");
}

var recorder = new Recorder();
for (var r = 1; r <= runs; r++)
{
    await new BenchRun(agent, serverEnv, agentLine is null, plan, recorder, $"run {r}/{runs}", logDirectory).ExecuteAsync();
}

var metrics = Reporting.Metrics(recorder);
var checks = Reporting.Checks(recorder);
var failedBars = metrics.Where(m => m.Status == "FAIL").Select(m => m.Id).ToList();
var failedChecks = checks.Where(c => c.Status == "FAIL").Select(c => c.Id).ToList();
var summary = failedBars.Count == 0 && failedChecks.Count == 0
    ? "RESULT: every bar met, every check passed."
    : $"RESULT: FAIL — bars missed: {(failedBars.Count == 0 ? "none" : string.Join(", ", failedBars))}; checks failed: {(failedChecks.Count == 0 ? "none" : string.Join(", ", failedChecks))}.";
var notes = new List<string>
{
    "Each figure is the median over the runs of one value per run; sub-millisecond operations are sampled many times within a run and the run's value is their median.",
    "\"server adds\" = server time − bare time, paired: each server measurement is preceded by its bare measurement in the same run.",
    "Bare = the ACP client the server uses (AgentOs.Acp AcpConnection), in the bench process, speaking straight to the same agent command over stdio, with the same minimal environment the server gives agents.",
    "server RSS is VmRSS of the server process only; the whole-tree rows add its agents (the bench agent is a .NET process), their bubblewrap and network helpers.",
};
if (failedChecks.Count > 0 || recorder.HasFailures)
{
    notes.Add($"Server logs of failing runs: {logDirectory}");
}

var report = new Report(
    date,
    machine,
    new ReportSettings(runs, quick, true, agent.Display, agentLine is null, serverDll, Paths.BuildConfiguration, Paths.ServerBuild,
        string.Join(" ", serverEnv.Select(kv => $"{kv.Key}={kv.Value}"))),
    metrics,
    checks,
    summary,
    Math.Round(total.Elapsed.TotalSeconds, 1),
    MachineInfo.LoadAverage(),
    notes.ToArray());

Console.WriteLine();
Console.WriteLine(Reporting.Table(report));
Directory.CreateDirectory(Path.GetDirectoryName(outPath)!);
await File.WriteAllTextAsync(outPath, JsonSerializer.Serialize(report, new BenchJsonContext(new JsonSerializerOptions(BenchJsonContext.Default.Options) { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }).Report) + "\n");
Console.WriteLine($"JSON: {outPath}");
return failedBars.Count == 0 && failedChecks.Count == 0 ? 0 : 1;
