using System.Text.Json;
using AgentOs.Acp;

namespace AgentOs.Sessions;

/// <summary>
/// Runtime configuration: mode, model and thought level. The current values start from the agent's
/// answer to <c>session/new</c> (or load/resume) and then follow its <c>current_mode_update</c> and
/// <c>config_option_update</c> notifications (applied on the read loop) and the replies of
/// <c>session/set_config_option</c>. <see cref="Info"/> is replaced as a whole under a lock, so
/// readers on any thread see a consistent snapshot.
/// </summary>
internal sealed partial class AgentSession
{
    /// <summary>The config option category of modes.</summary>
    public const string ModeCategory = "mode";

    /// <summary>The config option category of models.</summary>
    public const string ModelCategory = "model";

    /// <summary>The config option category of thought levels.</summary>
    public const string ThoughtLevelCategory = "thought_level";

    /// <summary>The categories AgentOs sets, in the order it re-applies them.</summary>
    private static readonly string[] ConfigCategories = [ModeCategory, ModelCategory, ThoughtLevelCategory];

    private readonly object _configLock = new();
    private SessionInfo? _info;

    /// <summary>The session as set up, with its current modes, models and config options.</summary>
    public SessionInfo Info => Volatile.Read(ref _info)!;

    private void SetInfo(SessionInfo info)
    {
        lock (_configLock)
        {
            Volatile.Write(ref _info, info);
        }
    }

    private void UpdateInfo(Func<SessionInfo, SessionInfo> change)
    {
        lock (_configLock)
        {
            if (_info is { } current)
            {
                Volatile.Write(ref _info, change(current));
            }
        }
    }

    /// <summary>
    /// Sets the value of <paramref name="category"/> (<see cref="ModeCategory"/>, <see cref="ModelCategory"/>,
    /// <see cref="ThoughtLevelCategory"/>): through <c>session/set_config_option</c> when the agent offers a
    /// config option of that category, else <c>session/set_mode</c> / <c>session/set_model</c>. A value the
    /// agent does not offer is refused before the agent is asked.
    /// </summary>
    public async Task SetConfigAsync(string category, string value)
    {
        ThrowIfExited();
        var label = Label(category);
        if (string.IsNullOrWhiteSpace(value))
        {
            throw Invalid($"The {label} is empty.");
        }

        var info = Info;
        if (info.ConfigOptions.FirstOrDefault(o => o.Category == category) is { } option)
        {
            if (option.Options.Count > 0 && !option.Options.Any(v => v.Value == value))
            {
                throw NotOffered(label, value, option.Options.Select(v => v.Value));
            }

            var reply = await CallAgentAsync(AcpMethods.SessionSetConfigOption, () => _connection.SetConfigOptionAsync(
                new SetConfigOptionRequest { SessionId = AcpSessionId!, ConfigId = option.Id, Value = value }, Options.RequestTimeout));
            if (reply.ConfigOptions is { } all)
            {
                ApplyConfigOptions(all);
            }
            else
            {
                UpdateInfo(i => i with { ConfigOptions = i.ConfigOptions.Select(o => o.Id == option.Id ? o with { CurrentValue = value } : o).ToList() });
            }

            if (category == ModelCategory)
            {
                // An agent that lists models too (between the two ways) has its list say the same.
                UpdateInfo(i => i.Models is { } m ? i with { Models = m with { CurrentModelId = value } } : i);
            }

            return;
        }

        switch (category)
        {
            case ModeCategory:
                if (info.Modes is not { } modes || modes.AvailableModes.Count == 0)
                {
                    throw Invalid($"The agent '{AgentType.Name}' offers no modes.");
                }

                if (!modes.AvailableModes.Any(m => m.Id == value))
                {
                    throw NotOffered(label, value, modes.AvailableModes.Select(m => m.Id));
                }

                await CallAgentAsync(AcpMethods.SessionSetMode, () => _connection.SetModeAsync(
                    new SetModeRequest { SessionId = AcpSessionId!, ModeId = value }, Options.RequestTimeout));
                UpdateInfo(i => i with { Modes = (i.Modes ?? modes) with { CurrentModeId = value } });
                return;

            case ModelCategory:
                // An agent that lists no models (Claude Code accepts any id) is asked as it is.
                if (info.Models is { AvailableModels.Count: > 0 } models && !models.AvailableModels.Any(m => m.ModelId == value))
                {
                    throw NotOffered(label, value, models.AvailableModels.Select(m => m.ModelId));
                }

                await CallAgentAsync(AcpMethods.SessionSetModel, () => _connection.SetModelAsync(
                    new SetModelRequest { SessionId = AcpSessionId!, ModelId = value }, Options.RequestTimeout));
                UpdateInfo(i => i with { Models = (i.Models ?? new SessionModels(null, [])) with { CurrentModelId = value } });
                return;

            default:
                throw Invalid($"The agent '{AgentType.Name}' offers no {label} (no config option of category '{category}'). Some agents express thinking levels as modes (pi does): see GetModes and SetMode.");
        }
    }

    /// <summary>The current mode, model and thought level by category, as JSON (<c>{ "mode": "plan", … }</c>), for the store.</summary>
    public string CurrentConfigJson()
    {
        var info = Info;
        using var stream = new MemoryStream();
        using (var writer = new Utf8JsonWriter(stream))
        {
            writer.WriteStartObject();
            foreach (var category in ConfigCategories)
            {
                var value = info.ConfigOptions.FirstOrDefault(o => o.Category == category)?.CurrentValue ?? category switch
                {
                    ModeCategory => info.Modes?.CurrentModeId,
                    ModelCategory => info.Models?.CurrentModelId,
                    _ => null,
                };
                if (value is not null)
                {
                    writer.WriteString(category, value);
                }
            }

            writer.WriteEndObject();
        }

        return System.Text.Encoding.UTF8.GetString(stream.GetBuffer(), 0, (int)stream.Length);
    }

    /// <summary>
    /// After a resume: sets again each value of <paramref name="savedJson"/> (from <see cref="CurrentConfigJson"/>)
    /// that the restored agent does not already have. A value it refuses is logged and skipped.
    /// </summary>
    public async Task ReapplyConfigAsync(string? savedJson)
    {
        if (string.IsNullOrEmpty(savedJson))
        {
            return;
        }

        Dictionary<string, string> saved = new(StringComparer.Ordinal), current = new(StringComparer.Ordinal);
        try
        {
            Read(savedJson, saved);
            Read(CurrentConfigJson(), current);
        }
        catch (JsonException)
        {
            return;
        }

        foreach (var category in ConfigCategories)
        {
            if (!saved.TryGetValue(category, out var value) || (current.TryGetValue(category, out var now) && now == value))
            {
                continue;
            }

            try
            {
                await SetConfigAsync(category, value);
            }
            catch (AgentOsException ex)
            {
                Log.ConfigNotRestored(_context.Logger, _context.VmId, SessionId, category, value, ex.Message);
            }
        }

        static void Read(string json, Dictionary<string, string> into)
        {
            using var document = JsonDocument.Parse(json);
            foreach (var property in document.RootElement.EnumerateObject())
            {
                if (property.Value.ValueKind == JsonValueKind.String)
                {
                    into[property.Name] = property.Value.GetString()!;
                }
            }
        }
    }

    private void ApplyConfigOptions(IReadOnlyList<ConfigOptionWire> options)
    {
        var mapped = options.Select(SessionInfoMapping.ToConfigOption).ToList();
        UpdateInfo(i => i with { ConfigOptions = mapped });
    }

    /// <summary>Follows <c>current_mode_update</c> and <c>config_option_update</c>; never throws (it runs on the read loop).</summary>
    private void TrackConfigUpdate(JsonElement @params)
    {
        if (@params.ValueKind != JsonValueKind.Object
            || !@params.TryGetProperty("update"u8, out var update)
            || update.ValueKind != JsonValueKind.Object
            || !update.TryGetProperty("sessionUpdate"u8, out var kind))
        {
            return;
        }

        if (kind.ValueEquals("current_mode_update"u8))
        {
            if (update.TryGetProperty("currentModeId"u8, out var modeId) && modeId.ValueKind == JsonValueKind.String && modeId.GetString() is { Length: > 0 } id)
            {
                UpdateInfo(i => i with { Modes = i.Modes is null ? new SessionModes(id, []) : i.Modes with { CurrentModeId = id } });
            }
        }
        else if (kind.ValueEquals("config_option_update"u8))
        {
            try
            {
                if (update.Deserialize(AcpJsonContext.Default.ConfigOptionsPayload)?.ConfigOptions is { } options)
                {
                    ApplyConfigOptions(options);
                }
            }
            catch (JsonException)
            {
                // Recorded in the transcript as it came; the current values stay as they were.
            }
        }
    }

    private static string Label(string category) => category switch
    {
        ThoughtLevelCategory => "thought level",
        _ => category,
    };

    private AgentOsException Invalid(string message) => new(AgentOsErrorCode.InvalidArgument, message) { SessionId = SessionId };

    private AgentOsException NotOffered(string label, string value, IEnumerable<string> offered) =>
        Invalid($"The agent '{AgentType.Name}' offers no {label} '{value}'; it offers: {string.Join(", ", offered)}.");
}
