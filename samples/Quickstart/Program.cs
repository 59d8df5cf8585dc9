// AgentOs Quickstart: connect, create a session in VM "quickstart", stream its events (replay
// then live), send one prompt, print the reply, list the persisted sessions.
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

    var session = await vm.CreateSessionAsync(agent, new CreateSessionOptions { Env = env });
    var info = session.Info!;
    Console.WriteLine($"Session {session.Id}: {info.AgentInfo?.Name} {info.AgentInfo?.Version} (agent type '{agent}', pid {info.ProcessId})");

    // Replay then live: every event of this session from seq 1, each exactly once, however late the
    // reading starts; the server sends this session's events only.
    using var stop = new CancellationTokenSource();
    var printing = PrintUntilTurnEndAsync(session, stop.Token);

    var result = await session.SendPromptAsync(prompt);

    // The reply can overtake the live stream by a moment: let the stream show the turn's end first.
    stop.CancelAfter(TimeSpan.FromSeconds(10));
    await printing.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);

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

static async Task PrintUntilTurnEndAsync(SessionHandle session, CancellationToken cancellationToken)
{
    await foreach (var e in session.StreamEventsAsync(cancellationToken: cancellationToken))
    {
        Console.WriteLine($"  [{e.Seq,5}] {e.GetUpdateKind() ?? e.Method}{(e.GetText() is { } text ? ": " + text : "")}");
        if (e.Method == AgentOsEventMethods.TurnEnd)
        {
            return;
        }
    }
}

static int Fail(string message)
{
    Console.Error.WriteLine("error: " + message);
    return 1;
}
