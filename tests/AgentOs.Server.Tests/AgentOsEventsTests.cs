using System.Text.Json;
using System.Text.RegularExpressions;
using System.Xml.Linq;
using AgentOs.Acp;
using AgentOs.Events;
using AgentOs.Server.Tests.Infrastructure;
using AgentOs.Storage;
using Microsoft.Extensions.Logging.Abstractions;

namespace AgentOs.Server.Tests;

/// <summary>
/// AgentOs' own events are written as documented: each <c>_agentos/*</c> event, written through
/// <see cref="AgentOsEvents"/> into a real pipeline and SQLite store, has exactly the fields that
/// <see cref="AgentOsEventMethods"/> documents for it (read from the Abstractions' XML documentation,
/// what clients see in their IDE); and nothing in the Grains writes one any other way.
/// </summary>
public sealed partial class AgentOsEventsTests : IAsyncLifetime
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "agentos-events-" + Guid.NewGuid().ToString("N"));
    private VmStore _store = null!;
    private EventPipeline _pipeline = null!;

    public Task InitializeAsync()
    {
        Directory.CreateDirectory(_dir);
        _store = new VmStore(Path.Combine(_dir, "vm.db"));
        _pipeline = new EventPipeline("vm-events", _store, new NoPublisher(), NullLogger.Instance);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await _pipeline.DisposeAsync();
        _store.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public async Task EveryAgentOsEvent_HasTheFieldsItsDocumentationNames()
    {
        var events = new AgentOsEvents(_pipeline, "s1");
        var info = new Implementation { Name = "agent", Version = "1.0" };
        events.AgentStart("test", 42, "/usr/bin/agent", "bubblewrap", "/home/agentos", 120);
        events.SessionStart("acp-1", "new", info);
        events.Resume("acp-1", "load", 3, 0, info);
        events.Prompt(new PromptRequest { SessionId = "acp-1", Prompt = [new TextContentBlock { Text = "hi" }] });
        events.PromptQueued(1, [new TextContentBlock { Text = "next" }]);
        await events.TurnEndAsync("end_turn");
        await events.TurnFailedAsync(new AgentOsException(AgentOsErrorCode.AgentExited, "gone"));
        await events.TurnEndForcedAsync(TimeSpan.FromSeconds(5));
        await events.AgentRestartAsync("cancel_ignored", 42);
        await events.AgentExitAsync(0, "", expected: true);
        await events.AgentExitAsync(137, "killed", expected: false);
        await events.AgentExitAsync(137, "", expected: false, reason: "memory_limit", limit: 268_435_456);
        events.LimitMet("processes", 64, 3);
        events.MalformedOutput("not JSON", "garbage", 1);
        await events.TerminalExitAsync("term_1", 0, null, "exited", "done\n", truncated: false, bytesWritten: 5);
        await events.TerminalExitAsync("term_2", null, "SIGKILL", "killed", new string('z', 100_000), truncated: true, bytesWritten: 3_000_000);
        using var id = JsonDocument.Parse("7");
        events.ClientResponse(5, id.RootElement, AcpMethods.SessionRequestPermission, AcpReply.Result("""{"outcome":{"outcome":"selected","optionId":"allow"}}"""), "policy");
        events.ClientResponse(6, id.RootElement, AcpMethods.FsReadTextFile, AcpReply.Error(JsonRpcErrorCodes.InvalidParams, "No such file"), reason: null);
        var (lostMethod, lostParams) = AgentOsEvents.EventsLost(new EventsLost("s1", 3, 1_700_000_000_000, "the disk is full (SQLITE_FULL)"));
        _pipeline.Append("s1", lostMethod, lostParams);
        var (truncatedMethod, truncatedParams) = AgentOsEvents.Bounded(AcpMethods.SessionUpdate, new byte[200_000], maxBytes: 100_000);
        _pipeline.Append("s1", truncatedMethod, truncatedParams);
        await _pipeline.FlushAsync();

        var written = _store.ReadEvents("s1", 0, int.MaxValue);
        var documented = DocumentedFields();
        written.Select(e => e.Method).Distinct().Should().BeEquivalentTo(documented.Keys, "every documented _agentos event is written by AgentOsEvents, and no other");
        foreach (var e in written)
        {
            using var json = JsonDocument.Parse(e.Params);
            var fields = json.RootElement.EnumerateObject().Select(p => p.Name).ToHashSet();
            documented[e.Method].Check(fields).Should().BeEmpty($"the params of {e.Method} ({e.Params}) are what AgentOsEventMethods documents");
        }
    }

    [Fact]
    public void TheGrains_WriteAgentOsEventsOnlyThroughAgentOsEvents()
    {
        var grains = Path.Combine(TestPaths.RepositoryRoot, "src", "AgentOs.Grains");
        var writers = Directory.EnumerateFiles(grains, "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal)
                && Path.GetFileName(f) != "AgentOsEvents.cs")
            .SelectMany(f => File.ReadLines(f).Select((line, i) => (File: Path.GetRelativePath(grains, f), Line: i + 1, Text: line)))
            .Where(l => l.Text.Contains("AgentOsEventMethods.", StringComparison.Ordinal) && l.Text.Contains("Append", StringComparison.Ordinal))
            .Select(l => $"{l.File}:{l.Line}: {l.Text.Trim()}");
        writers.Should().BeEmpty("an _agentos event is defined and written in Events/AgentOsEvents.cs only");
    }

    /// <summary>Each <c>_agentos/*</c> method's fields, from the first <c>{ … }</c> in its XML doc.</summary>
    private static Dictionary<string, FieldSpec> DocumentedFields()
    {
        var xml = XDocument.Load(Path.ChangeExtension(typeof(AgentOsEventMethods).Assembly.Location, ".xml"));
        var result = new Dictionary<string, FieldSpec>(StringComparer.Ordinal);
        foreach (var field in typeof(AgentOsEventMethods).GetFields())
        {
            var member = xml.Descendants("member").Single(m => (string?)m.Attribute("name") == $"F:{typeof(AgentOsEventMethods).FullName}.{field.Name}");
            var shape = member.Descendants("c").Select(c => c.Value.Trim()).First(c => c.StartsWith('{'));
            result[(string)field.GetValue(null)!] = FieldSpec.Parse(shape);
        }

        return result;
    }

    /// <summary>
    /// A documented shape such as <c>{ "a", "b"?: n, "c" | "d" }</c>: required fields, optional ones (<c>?</c>) and
    /// groups of which exactly one is present (<c>|</c>). Values after <c>:</c> are ignored.
    /// </summary>
    private sealed partial record FieldSpec(IReadOnlyList<IReadOnlyList<string>> Required, IReadOnlySet<string> Optional)
    {
        public static FieldSpec Parse(string shape)
        {
            var required = new List<IReadOnlyList<string>>();
            var optional = new HashSet<string>(StringComparer.Ordinal);
            foreach (var element in TopLevel(shape.Trim()[1..^1]))
            {
                var key = element.Split(':', 2)[0];
                var names = KeyName().Matches(key).Select(m => (Name: m.Groups[1].Value, Optional: m.Groups[2].Success)).ToList();
                if (names.Count == 1 && names[0].Optional)
                {
                    optional.Add(names[0].Name);
                }
                else if (names.Count > 0)
                {
                    required.Add(names.Select(n => n.Name).ToList());
                }
            }

            return new FieldSpec(required, optional);
        }

        /// <summary>What is wrong with <paramref name="written"/>, or nothing.</summary>
        public IEnumerable<string> Check(IReadOnlySet<string> written)
        {
            var known = Required.SelectMany(g => g).Concat(Optional).ToHashSet(StringComparer.Ordinal);
            foreach (var extra in written.Where(f => !known.Contains(f)))
            {
                yield return $"'{extra}' is written but not documented";
            }

            foreach (var group in Required.Where(g => g.Count(written.Contains) != 1))
            {
                yield return group.Count == 1 ? $"'{group[0]}' is documented but not written" : $"exactly one of {string.Join(" | ", group)} should be written";
            }
        }

        private static IEnumerable<string> TopLevel(string body)
        {
            var depth = 0;
            var quoted = false;
            var start = 0;
            for (var i = 0; i < body.Length; i++)
            {
                var c = body[i];
                if (c == '"')
                {
                    quoted = !quoted;
                }
                else if (!quoted && c is '[' or '{' or '(')
                {
                    depth++;
                }
                else if (!quoted && c is ']' or '}' or ')')
                {
                    depth--;
                }
                else if (!quoted && depth == 0 && c == ',')
                {
                    yield return body[start..i];
                    start = i + 1;
                }
            }

            yield return body[start..];
        }

        [GeneratedRegex("\"(\\w+)\"(\\?)?")]
        private static partial Regex KeyName();
    }

    private sealed class NoPublisher : IEventPublisher
    {
        public Task PublishAsync(SessionEventBatch batch) => Task.CompletedTask;
    }
}
