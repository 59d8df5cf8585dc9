using System.Diagnostics;
using System.Text.Json;
using AgentOs.Client;
using AgentOs.Server.Tests.Infrastructure;
using Microsoft.Data.Sqlite;

namespace AgentOs.Server.Tests;

/// <summary>Mode, model and thought level at runtime: config options first, else set_mode / set_model.</summary>
[Collection(ClusterCollection.Name)]
public sealed class RuntimeConfigTests(ClusterFixture fixture)
{
    [Fact]
    public async Task SetModeModelAndThoughtLevel_RoundTrip_ThroughGetters_TheAgent_AndTheTranscript()
    {
        var vm = fixture.NewVm();
        var session = await vm.CreateSessionAsync(TestAgents.Default);

        await vm.SetModeAsync(session.SessionId, "plan");
        await vm.SetModelAsync(session.SessionId, "smart");
        await vm.SetThoughtLevelAsync(session.SessionId, "high");

        var modes = await vm.GetModesAsync(session.SessionId);
        modes!.CurrentModeId.Should().Be("plan");
        modes.AvailableModes.Select(m => m.Id).Should().Equal("default", "plan");
        var options = await vm.GetConfigOptionsAsync(session.SessionId);
        options.Single(o => o.Category == "model").CurrentValue.Should().Be("smart");
        options.Single(o => o.Category == "thought_level").CurrentValue.Should().Be("high");
        var info = JsonDocument.Parse((await vm.SendPromptAsync(session.SessionId, "info")).Text).RootElement;
        info.GetProperty("modeId").GetString().Should().Be("plan");
        info.GetProperty("model").GetString().Should().Be("smart");
        info.GetProperty("thoughtLevel").GetString().Should().Be("high");
        (await vm.ResumeSessionAsync(session.SessionId)).Modes!.CurrentModeId.Should().Be("plan", "a live session's info carries the current values");

        var events = await vm.GetEventsAsync(session.SessionId);
        events.Should().ContainSingle(e => e.GetUpdateKind() == "current_mode_update").Which.Params.Should().Contain("\"currentModeId\":\"plan\"");
        events.Count(e => e.GetUpdateKind() == "config_option_update").Should().Be(2, "the agent reported each config change");
    }

    [Fact]
    public async Task TheAgentsOwnNotifications_MoveTheCurrentValues()
    {
        var vm = fixture.NewVm();
        var session = await vm.CreateSessionAsync(TestAgents.Default);

        (await vm.SendPromptAsync(session.SessionId, "switch-mode plan")).Text.Should().Be("switched");
        (await vm.SendPromptAsync(session.SessionId, "switch-option thought_level high")).Text.Should().Be("switched");

        (await vm.GetModesAsync(session.SessionId))!.CurrentModeId.Should().Be("plan");
        (await vm.GetConfigOptionsAsync(session.SessionId)).Select(o => o.CurrentValue).Should().Equal("fast", "high");

        // set_config_option's reply carries every option: setting one keeps the others.
        await vm.SetModelAsync(session.SessionId, "smart");
        (await vm.GetConfigOptionsAsync(session.SessionId)).Select(o => o.CurrentValue).Should().Equal("smart", "high");
    }

    [Fact]
    public async Task UnknownValues_ThrowInvalidArgument_ListingTheOfferedOnes_AndChangeNothing()
    {
        var vm = fixture.NewVm();
        var session = await vm.CreateSessionAsync(TestAgents.Default);

        var mode = () => vm.SetModeAsync(session.SessionId, "yolo");
        var model = () => vm.SetModelAsync(session.SessionId, "huge");
        var level = () => vm.SetThoughtLevelAsync(session.SessionId, "max");
        var empty = () => vm.SetModeAsync(session.SessionId, " ");

        var modeError = (await mode.Should().ThrowAsync<AgentOsException>()).Which;
        modeError.Code.Should().Be(AgentOsErrorCode.InvalidArgument);
        modeError.Message.Should().Contain("'yolo'").And.Contain("default, plan");
        var modelError = (await model.Should().ThrowAsync<AgentOsException>()).Which;
        modelError.Code.Should().Be(AgentOsErrorCode.InvalidArgument);
        modelError.Message.Should().Contain("'huge'").And.Contain("fast, smart");
        var levelError = (await level.Should().ThrowAsync<AgentOsException>()).Which;
        levelError.Code.Should().Be(AgentOsErrorCode.InvalidArgument);
        levelError.Message.Should().Contain("'max'").And.Contain("low, high");
        (await empty.Should().ThrowAsync<AgentOsException>()).Which.Code.Should().Be(AgentOsErrorCode.InvalidArgument);

        (await vm.GetModesAsync(session.SessionId))!.CurrentModeId.Should().Be("default");
        (await vm.GetConfigOptionsAsync(session.SessionId)).Select(o => o.CurrentValue).Should().Equal("fast", "low");
        var info = JsonDocument.Parse((await vm.SendPromptAsync(session.SessionId, "info")).Text).RootElement;
        info.GetProperty("modeId").GetString().Should().Be("default");
        info.GetProperty("model").GetString().Should().Be("fast");
        info.GetProperty("thoughtLevel").GetString().Should().Be("low");
        (await vm.GetEventsAsync(session.SessionId)).Should().NotContain(e => e.GetUpdateKind() == "current_mode_update" || e.GetUpdateKind() == "config_option_update",
            "the agent was never asked");
    }

    [Fact]
    public async Task AgentWithoutConfigOptions_GetsSetModel_AndSetThoughtLevelSaysItOffersNone()
    {
        var vm = fixture.NewVm();
        var session = await vm.CreateSessionAsync(TestAgents.LegacyConfig);
        session.Info!.ConfigOptions.Should().BeEmpty();
        session.Info!.Models!.AvailableModels.Select(m => m.ModelId).Should().Equal("fast", "smart");

        (await vm.GetModelsAsync(session.SessionId))!.CurrentModelId.Should().Be("fast");
        await vm.SetModelAsync(session.SessionId, "smart");
        var models = await vm.GetModelsAsync(session.SessionId);
        models!.CurrentModelId.Should().Be("smart", "GetModels follows SetModel");
        models.AvailableModels.Select(m => m.ModelId).Should().Equal("fast", "smart");
        var unknownModel = () => vm.SetModelAsync(session.SessionId, "huge");
        var level = () => vm.SetThoughtLevelAsync(session.SessionId, "high");

        (await unknownModel.Should().ThrowAsync<AgentOsException>()).Which.Message.Should().Contain("fast, smart");
        var levelError = (await level.Should().ThrowAsync<AgentOsException>()).Which;
        levelError.Code.Should().Be(AgentOsErrorCode.InvalidArgument);
        levelError.Message.Should().Contain("offers no thought level");
        (await vm.ResumeSessionAsync(session.SessionId)).Models!.CurrentModelId.Should().Be("smart");
        var info = JsonDocument.Parse((await vm.SendPromptAsync(session.SessionId, "info")).Text).RootElement;
        info.GetProperty("model").GetString().Should().Be("smart", "session/set_model reached the agent");
        await Poll.UntilAsync(() => fixture.Stderr.Any(c => c.SessionId == session.SessionId && c.Chunk.Contains("session/set_model", StringComparison.Ordinal)),
            "the agent says on stderr that it was asked session/set_model");
    }

    [Fact]
    public async Task AnAgentOfferingAModelConfigOption_AndModelsToo_GetsSetConfigOption_NeverSetModel()
    {
        var vm = fixture.NewVm();
        var session = await vm.CreateSessionAsync(TestAgents.ModelsToo);
        session.Info!.Models!.AvailableModels.Select(m => m.ModelId).Should().Equal("fast", "smart");
        session.Info!.ConfigOptions.Should().Contain(o => o.Category == "model");

        await vm.SetModelAsync(session.SessionId, "smart");

        (await vm.GetEventsAsync(session.SessionId)).Should().ContainSingle(e => e.GetUpdateKind() == "config_option_update", "the agent reports set_config_option");
        fixture.Stderr.Should().NotContain(c => c.SessionId == session.SessionId && c.Chunk.Contains("session/set_model", StringComparison.Ordinal),
            "session/set_model is the fallback for agents without a model config option (ACP removed it in 2026-06)");
        var info = JsonDocument.Parse((await vm.SendPromptAsync(session.SessionId, "info")).Text).RootElement;
        info.GetProperty("model").GetString().Should().Be("smart");
        var live = await vm.ResumeSessionAsync(session.SessionId);
        live.Models!.CurrentModelId.Should().Be("smart", "the models list says the same as the config option");
        live.ConfigOptions.Single(o => o.Category == "model").CurrentValue.Should().Be("smart");
    }

    [Fact]
    public async Task TheConfiguration_SurvivesSleepAndResume_IncludingTheAgentsOwnChanges()
    {
        var vm = fixture.NewVm();
        var session = await vm.CreateSessionAsync(TestAgents.Default);
        await vm.SetModeAsync(session.SessionId, "plan");
        await vm.SetThoughtLevelAsync(session.SessionId, "high");
        (await vm.SendPromptAsync(session.SessionId, "switch-option model smart")).Text.Should().Be("switched");

        await vm.SleepAsync();
        await AgentProcesses.WaitForExitAsync(session.Info!.ProcessId);
        var resumed = await vm.ResumeSessionAsync(session.SessionId);

        resumed.ProcessId.Should().NotBe(session.Info!.ProcessId, "a new agent process, which starts from its own defaults");
        resumed.Modes!.CurrentModeId.Should().Be("plan");
        (await vm.GetModesAsync(session.SessionId))!.CurrentModeId.Should().Be("plan");
        (await vm.GetConfigOptionsAsync(session.SessionId)).Select(o => o.CurrentValue).Should().Equal("smart", "high");
        var info = JsonDocument.Parse((await vm.SendPromptAsync(session.SessionId, "info")).Text).RootElement;
        info.GetProperty("restoredVia").GetString().Should().Be("new");
        info.GetProperty("modeId").GetString().Should().Be("plan");
        info.GetProperty("model").GetString().Should().Be("smart");
        info.GetProperty("thoughtLevel").GetString().Should().Be("high");
    }

    [Fact]
    public async Task AVersion1Database_IsMigrated_AndItsSessionsGetTheirConfigurationStored()
    {
        var vm = fixture.NewVm();
        var database = Path.Combine(fixture.DataDirectory, "vms", vm.Id, "vm.db");
        Directory.CreateDirectory(Path.GetDirectoryName(database)!);
        using (var v1 = new SqliteConnection($"Data Source={database};Pooling=False"))
        {
            v1.Open();
            using var create = v1.CreateCommand();
            // Migration 1 as it shipped.
            create.CommandText = """
                CREATE TABLE sessions (
                    session_id     TEXT    NOT NULL PRIMARY KEY,
                    agent_type     TEXT    NOT NULL,
                    created_at     INTEGER NOT NULL,
                    status         INTEGER NOT NULL,
                    cwd            TEXT    NOT NULL,
                    acp_session_id TEXT,
                    options_json   TEXT    NOT NULL DEFAULT '{}'
                );
                CREATE TABLE events (
                    session_id TEXT    NOT NULL,
                    seq        INTEGER NOT NULL,
                    created_at INTEGER NOT NULL,
                    method     TEXT    NOT NULL,
                    params     TEXT    NOT NULL,
                    PRIMARY KEY (session_id, seq)
                ) WITHOUT ROWID;
                PRAGMA user_version = 1;
                """;
            create.ExecuteNonQuery();
        }

        var session = await vm.CreateSessionAsync(TestAgents.Default);
        await vm.SetModeAsync(session.SessionId, "plan");

        using var reader = new SqliteConnection($"Data Source={database};Mode=ReadOnly;Pooling=False");
        reader.Open();
        using var query = reader.CreateCommand();
        query.CommandText = "PRAGMA user_version";
        Convert.ToInt32(query.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture).Should().Be(AgentOs.Storage.Migrations.LatestVersion, "migrated to the newest schema");
        query.CommandText = "SELECT config_json FROM sessions WHERE session_id = $id";
        query.Parameters.AddWithValue("$id", session.SessionId);
        var stored = JsonDocument.Parse((string)query.ExecuteScalar()!).RootElement;
        stored.GetProperty("mode").GetString().Should().Be("plan");
        stored.GetProperty("model").GetString().Should().Be("fast");
        stored.GetProperty("thought_level").GetString().Should().Be("low");
    }

    [Fact]
    public async Task RuntimeConfig_OnSuspendedOrUnknownSession_ThrowsUnknownSession()
    {
        var vm = fixture.NewVm();
        var session = await vm.CreateSessionAsync(TestAgents.Default);
        await vm.CloseSessionAsync(session.SessionId);

        var set = () => vm.SetModeAsync(session.SessionId, "plan");
        var get = () => vm.GetConfigOptionsAsync(session.SessionId);
        var unknown = () => vm.GetModesAsync("nope");

        (await set.Should().ThrowAsync<AgentOsException>()).Which.Message.Should().Contain("ResumeSession");
        (await get.Should().ThrowAsync<AgentOsException>()).Which.Code.Should().Be(AgentOsErrorCode.UnknownSession);
        (await unknown.Should().ThrowAsync<AgentOsException>()).Which.Code.Should().Be(AgentOsErrorCode.UnknownSession);
    }
}
