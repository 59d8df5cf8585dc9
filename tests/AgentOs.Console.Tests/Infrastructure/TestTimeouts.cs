namespace AgentOs.Console.Tests.Infrastructure;

/// <summary>One timeout for every wait of the console tests (as the server tests' own), so a hang fails fast and says what it waited for.</summary>
public static class TestTimeouts
{
    public static readonly TimeSpan Default = TimeSpan.FromSeconds(30);
}
