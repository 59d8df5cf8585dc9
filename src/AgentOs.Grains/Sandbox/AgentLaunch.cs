namespace AgentOs.Sandbox;

/// <summary>How to start one agent process, already wrapped by the sandbox (<see cref="AgentSandbox.Prepare"/>).</summary>
internal sealed record AgentLaunch(string Command, IReadOnlyList<string> Args, IReadOnlyDictionary<string, string> Env, string WorkingDirectory);
