using System.Collections.Concurrent;
using System.Text.Json.Nodes;

namespace AgentOs.TestAgent;

/// <summary>One session's state: where it came from, its mode and config options.</summary>
internal sealed class Session(string id, string? cwd, string? mcpServersJson, string restoredVia)
{
    /// <summary>How many <c>usage</c> turns this session had (the script's running cost).</summary>
    public int UsageTurns { get; set; }

    private static readonly (string Id, string Name, string? Description)[] Modes =
    [
        ("default", "Default", null),
        ("plan", "Plan", "Plan only"),
    ];

    private static (string Id, string Name, string Default, (string Value, string Name)[] Values)[] Options =
    [
        ("model", "Model", "fast", [("fast", "Fast"), ("smart", "Smart")]),
        ("thought_level", "Thinking", "low", [("low", "Low"), ("high", "High")]),
    ];

    /// <summary>Offers one more model in every session's model option (<c>--extra-model ID</c>), before any session starts.</summary>
    public static void AddModel(string id) =>
        Options = [.. Options.Select(o => o.Id == "model" ? (o.Id, o.Name, o.Default, [.. o.Values, (id, id)]) : o)];

    private readonly ConcurrentDictionary<string, string> _values =
        new(Options.Select(o => KeyValuePair.Create(o.Id, o.Default)));

    private CancellationTokenSource _cancel = new();

    public string Id => id;
    public string? Cwd => cwd;
    public string? McpServersJson => mcpServersJson;
    public string RestoredVia => restoredVia;
    public string ModeId { get; private set; } = "default";
    public string Model => _values["model"];
    public string ThoughtLevel => _values["thought_level"];

    /// <summary>The token a prompt starting now watches; <see cref="CancelPrompts"/> trips it.</summary>
    public CancellationToken PromptToken => Volatile.Read(ref _cancel).Token;

    public void CancelPrompts() => Interlocked.Exchange(ref _cancel, new CancellationTokenSource()).Cancel();

    /// <summary>Switches mode; null when fine, else the error message.</summary>
    public string? SetMode(string? modeId)
    {
        if (modeId is null || !Modes.Any(m => m.Id == modeId))
        {
            return $"unknown mode '{modeId}'";
        }
        ModeId = modeId;
        return null;
    }

    /// <summary>Sets a config option; null when fine, else the error message.</summary>
    public string? SetOption(string? configId, string? value)
    {
        var option = Options.FirstOrDefault(o => o.Id == configId);
        if (option.Id is null)
        {
            return $"unknown config option '{configId}'";
        }
        if (value is null || !option.Values.Any(v => v.Value == value))
        {
            return $"unknown value '{value}' for config option '{configId}'";
        }
        _values[option.Id] = value;
        return null;
    }

    public JsonObject ModesJson()
    {
        var available = new JsonArray();
        foreach (var (modeId, name, description) in Modes)
        {
            var mode = new JsonObject { ["id"] = modeId, ["name"] = name };
            if (description is not null)
            {
                mode["description"] = description;
            }
            available.Add(mode);
        }
        return new JsonObject { ["currentModeId"] = ModeId, ["availableModes"] = available };
    }

    /// <summary>The model option as ACP <c>models</c> (<c>currentModelId</c>, <c>availableModels</c>).</summary>
    public JsonObject ModelsJson()
    {
        var available = new JsonArray();
        foreach (var (value, name) in Options.Single(o => o.Id == "model").Values)
        {
            available.Add(new JsonObject { ["modelId"] = value, ["name"] = name });
        }
        return new JsonObject { ["currentModelId"] = Model, ["availableModels"] = available };
    }

    public JsonArray ConfigOptionsJson()
    {
        var list = new JsonArray();
        foreach (var (optionId, name, _, values) in Options)
        {
            var choices = new JsonArray();
            foreach (var (value, valueName) in values)
            {
                choices.Add(new JsonObject { ["value"] = value, ["name"] = valueName });
            }
            list.Add(new JsonObject
            {
                ["id"] = optionId,
                ["name"] = name,
                ["category"] = optionId,
                ["type"] = "select",
                ["currentValue"] = _values[optionId],
                ["options"] = choices,
            });
        }
        return list;
    }
}
