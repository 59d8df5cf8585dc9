using AgentOs.Server.Tests.Infrastructure;
using AgentOs.Storage;
using Dapper;
using Microsoft.Data.Sqlite;

namespace AgentOs.Server.Tests;

/// <summary>
/// Issue 15, item 4: <c>ListPersistedSessions</c> shows each session's title (the agent's <c>session_info_update</c>) and its use,
/// kept in the session's row by the database itself as events are committed, so a listing reads no transcript.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class SessionListingTests(ClusterFixture fixture)
{
    [Fact]
    public async Task TheListing_ShowsTheAgentsLastTitle_AndTheSessionsUse()
    {
        var vm = fixture.NewVm();
        var session = await vm.CreateSessionAsync(TestAgents.Default);
        var quiet = await vm.CreateSessionAsync(TestAgents.Default);
        (await Listed()).Title.Should().BeNull("the agent has not named it");

        await session.SendPromptAsync("title Fix the build");
        (await Listed()).Title.Should().Be("Fix the build");
        await session.SendPromptAsync("title"); // an update that leaves the title out keeps it
        (await Listed()).Title.Should().Be("Fix the build");
        await session.SendPromptAsync("usage");
        await session.SendPromptAsync("usage");
        var listed = await Listed();
        listed.Usage.Should().BeEquivalentTo(await session.GetUsageAsync());
        listed.Usage.TurnsWithUsage.Should().Be(2);
        listed.Usage.Tokens.TotalTokens.Should().Be(250);
        listed.Usage.ContextUsed.Should().Be(2400);
        listed.Usage.Cost.Should().Be(0.5);
        await session.SendPromptAsync("title-null");
        (await Listed()).Title.Should().BeNull("null clears it");
        var other = (await vm.ListPersistedSessionsAsync()).Single(s => s.SessionId == quiet.Id);
        other.Title.Should().BeNull();
        other.Usage.Should().BeEquivalentTo(new SessionUsage(), "another session's events are not its own");

        async Task<PersistedSession> Listed() => (await vm.ListPersistedSessionsAsync()).Single(s => s.SessionId == session.Id);
    }

    [Fact]
    public void ADatabaseOfAnOlderVersion_GetsTitlesAndUseFromItsTranscripts_Once()
    {
        using var dir = new TempDirectory("agentos-listing");
        var path = Path.Combine(dir.Path, "vm.db");
        using (var old = new SqliteConnection($"Data Source={path};Pooling=False"))
        {
            old.Open();
            foreach (var migration in Migrations.All.Take(3))
            {
                old.Execute(migration);
            }

            old.Execute("PRAGMA user_version = 3");
            old.Execute("INSERT INTO sessions (session_id, agent_type, created_at, status, cwd) VALUES ('s1', 'test', 1, 1, '/home/agentos'), ('s2', 'test', 2, 1, '/home/agentos')");
            var events = new[]
            {
                ("session/update", """{"sessionId":"a","update":{"sessionUpdate":"session_info_update","title":"First"}}"""),
                ("_agentos/turn_end", """{"stopReason":"end_turn","usage":{"inputTokens":10,"outputTokens":2,"totalTokens":12}}"""),
                ("session/update", """{"sessionId":"a","update":{"sessionUpdate":"agent_message_chunk","content":{"type":"text","text":"usage_update session_info_update"}}}"""),
                ("session/update", """{"sessionId":"a","update":{"sessionUpdate":"session_info_update","title":"Second"}}"""),
                ("session/update", """{"sessionId":"a","update":{"sessionUpdate":"session_info_update","updatedAt":"2026-01-01T00:00:00Z"}}"""),
                ("_agentos/turn_end", """{"stopReason":"end_turn"}"""),
                ("session/update", """{"sessionId":"a","update":{"sessionUpdate":"usage_update","used":7,"size":100,"cost":{"amount":0.1,"currency":"EUR"}}}"""),
                ("_agentos/turn_end", """{"stopReason":"end_turn","usage":{"inputTokens":5,"outputTokens":1,"totalTokens":6,"thoughtTokens":3}}"""),
            };
            var seq = 0;
            foreach (var (method, json) in events)
            {
                old.Execute("INSERT INTO events (session_id, seq, created_at, method, params) VALUES ('s1', $seq, 0, $method, $json)", new { seq = ++seq, method, json });
            }
        }

        using var store = new VmStore(path);
        var sessions = store.ListSessions();

        var s1 = sessions.Single(s => s.SessionId == "s1");
        s1.Title.Should().Be("Second", "the last update that names a title; one without keeps it");
        s1.Usage.TurnsWithUsage.Should().Be(2);
        s1.Usage.Tokens.Should().BeEquivalentTo(new TokenUsage { InputTokens = 15, OutputTokens = 3, TotalTokens = 18, ThoughtTokens = 3 });
        (s1.Usage.ContextUsed, s1.Usage.ContextSize, s1.Usage.Cost, s1.Usage.CostCurrency).Should().Be((7L, 100L, 0.1, "EUR"));
        sessions.Single(s => s.SessionId == "s2").Usage.Should().BeEquivalentTo(new SessionUsage());
        store.GetUsage("s1").Should().BeEquivalentTo(s1.Usage);
    }
}
