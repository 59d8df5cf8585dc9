// AgentOs Quickstart: connect, create a session in VM "quickstart", stream its events live,
// send one prompt, print the reply, list the persisted sessions.
//
//   dotnet run --project samples/Quickstart -- --agent <type> --prompt "<text>" [--env KEY=VALUE]... [--gateway host:port] [--cluster id]
using AgentOs;
using AgentOs.Client;

string? agent = null, prompt = null;
var env = new Dictionary<string, string>();
var options = new AgentOsClientOptions();
for (var i = 0; i < args.Length; i++)
{
    string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value.");
    switch (args[i])
    {
        case "--agent": agent = Next(); break;
        case "--prompt": prompt = Next(); break;
        case "--env":
            var pair = Next();
            var eq = pair.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0)
            {
                return Fail($"--env expects KEY=VALUE, got '{pair}'.");
            }

            env[pair[..eq]] = pair[(eq + 1)..];
            break;
        case "--gateway":
            var endpoint = Next().Split(':');
            options.GatewayHost = endpoint[0];
            if (endpoint.Length > 1)
            {
                options.GatewayPort = int.Parse(endpoint[1], System.Globalization.CultureInfo.InvariantCulture);
            }

            break;
        case "--cluster":
            options.ClusterId = options.ServiceId = Next();
            break;
        default: return Fail($"Unknown argument '{args[i]}'.");
    }
}

if (agent is null || prompt is null)
{
    return Fail("Usage: Quickstart --agent <type> --prompt \"<text>\" [--env KEY=VALUE]... [--gateway host:port] [--cluster id]");
}

try
{
    await using var client = await AgentOsClient.ConnectAsync(options);
    var vm = client.Vm("quickstart");

    // Subscribe before creating the session, so nothing committed after this line is missed.
    // Events of our session that stream before we know its id are caught up from history:
    // replay-then-live, de-duplicated by seq.
    var gate = new object();
    string? sessionId = null;
    long printed = 0, lastSeq = long.MaxValue;
    var turnShown = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
    void Show(SessionEvent e)
    {
        lock (gate)
        {
            if (e.SessionId != sessionId || e.Seq <= printed)
            {
                return;
            }

            printed = e.Seq;
            Console.WriteLine($"  [{e.Seq,5}] {e.GetUpdateKind() ?? e.Method}{(e.GetText() is { } text ? ": " + text : "")}");
            if (printed >= lastSeq)
            {
                turnShown.TrySetResult();
            }
        }
    }

    await using var subscription = await vm.SubscribeAsync(System.Reactive.Observer.Create<SessionEvent>(Show));

    var session = await vm.CreateSessionAsync(agent, new CreateSessionOptions { Env = env });
    Console.WriteLine($"Session {session.SessionId}: {session.AgentInfo?.Name} {session.AgentInfo?.Version} (agent type '{agent}', pid {session.ProcessId})");
    lock (gate)
    {
        sessionId = session.SessionId;
    }

    foreach (var e in await vm.GetEventsAsync(session.SessionId))
    {
        Show(e);
    }

    var result = await vm.SendPromptAsync(session.SessionId, prompt);
    lock (gate)
    {
        lastSeq = result.LastSeq;
        if (printed >= lastSeq)
        {
            turnShown.TrySetResult();
        }
    }

    // The reply can overtake the live stream by a moment: let the stream show the turn's end first.
    await turnShown.Task.WaitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);

    Console.WriteLine();
    Console.WriteLine($"Reply ({result.StopReason}): {result.Text}");
    Console.WriteLine();
    Console.WriteLine("Persisted sessions in VM 'quickstart':");
    foreach (var s in await vm.ListPersistedSessionsAsync())
    {
        Console.WriteLine($"  {s.SessionId}  {s.AgentType,-12} {s.Status,-9} {s.LastSeq,6} events  created {s.CreatedAt:u}");
    }

    return 0;
}
catch (AgentOsException ex)
{
    return Fail($"{ex.Code}: {ex.Message}");
}
catch (Exception ex)
{
    return Fail($"unexpected {ex.GetType().Name}: {ex.Message}");
}

static int Fail(string message)
{
    Console.Error.WriteLine("error: " + message);
    return 1;
}
