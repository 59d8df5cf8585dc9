using AgentOs.Hosting;

namespace AgentOs.Server.Tests.Infrastructure;

/// <summary>The scripted test agent (tests/AgentOs.TestAgent) declared as agent types, one per start-up behaviour.</summary>
public static class TestAgents
{
    public const string Default = "test";
    public const string ExitsAtOnce = "test-exit";
    public const string GarbageThenExit = "test-garbage";
    public const string HangsOnNew = "test-hang";
    public const string Chatty = "test-chatty";
    public const string LoadsSessions = "test-load";
    public const string ResumesSessions = "test-resume";
    public const string LegacyConfig = "test-legacy-config";
    public const string ModelsToo = "test-models-too";
    public const string InstructionsAsFile = "test-instructions-file";
    public const string InstructionsAsEnv = "test-instructions-env";

    /// <summary>Misconfigured on purpose by <see cref="ClusterFixture"/>: its ReadOnlyPaths name the data directory.</summary>
    public const string ExposesDataDirectory = "test-exposes-data";

    /// <summary>Sees <see cref="ClusterFixture.ExposedFolder"/>, a host folder, read-only (declared by <see cref="ClusterFixture"/>).</summary>
    public const string ExposesHostFolder = "test-exposes-folder";

    public static Dictionary<string, AgentTypeOptions> All() => new(StringComparer.Ordinal)
    {
        [Default] = Make(),
        [ExitsAtOnce] = Make("--exit-immediately", "9"),
        [GarbageThenExit] = Make("--garbage-then-exit"),
        [HangsOnNew] = Make("--hang-on-new"),
        [Chatty] = Make("--chatty"),
        [LoadsSessions] = Make("--load-session"),
        [ResumesSessions] = Make("--resume-session"),
        [LegacyConfig] = Make("--legacy-config"),
        [ModelsToo] = Make("--models-too"),
        [InstructionsAsFile] = With(Make(), o => o.InstructionsArgs = ["--instructions-file", "{file}"]),
        [InstructionsAsEnv] = With(Make(), o => o.InstructionsEnv["AGENTOS_TEST_INSTRUCTIONS"] = "{text}"),
    };

    private static AgentTypeOptions With(AgentTypeOptions options, Action<AgentTypeOptions> change)
    {
        change(options);
        return options;
    }

    public static AgentTypeOptions Make(params string[] flags) => new()
    {
        Command = TestPaths.Dotnet,
        Args = [TestPaths.TestAgentDll, .. flags],
        Env = new Dictionary<string, string>(StringComparer.Ordinal) { ["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1" },
    };

    /// <summary>The same types as environment variables, the way a user declares them for a real server.</summary>
    public static Dictionary<string, string> AsEnvironment(string name = Default, params string[] flags)
    {
        var env = new Dictionary<string, string>
        {
            [$"AgentOs__Agents__{name}__Command"] = TestPaths.Dotnet,
            [$"AgentOs__Agents__{name}__Args__0"] = TestPaths.TestAgentDll,
        };
        for (var i = 0; i < flags.Length; i++)
        {
            env[$"AgentOs__Agents__{name}__Args__{i + 1}"] = flags[i];
        }

        return env;
    }
}
