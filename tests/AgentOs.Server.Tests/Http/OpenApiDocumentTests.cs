using System.Net;
using System.Text.RegularExpressions;
using AgentOs.Server.Tests.Infrastructure;
using Microsoft.OpenApi;

namespace AgentOs.Server.Tests.Http;

/// <summary>
/// The OpenAPI document the server serves at <c>/openapi/v1.json</c> reads and validates with Microsoft.OpenApi, and
/// holds every endpoint the source maps (each <c>WithName</c> of <c>src/AgentOs.Server/Http</c> is an operation), each
/// with its request body, its answers (problem details among them) and the bearer scheme; <c>/docs</c> serves the reference.
/// </summary>
[Collection(HttpServerCollection.Name)]
public sealed partial class OpenApiDocumentTests(HttpServerFixture fixture)
{
    [Fact]
    public async Task TheDocument_Validates_AndHoldsEveryEndpointTheSourceMaps_WithItsSchemas()
    {
        var json = await fixture.Http.GetStringAsync("/openapi/v1.json");
        var read = OpenApiDocument.Parse(json, "json");

        read.Diagnostic!.Errors.Should().BeEmpty("the document reads without errors");
        var document = read.Document!;
        document.Validate(Microsoft.OpenApi.ValidationRuleSet.GetDefaultRuleSet()).Should().BeEmpty("the document validates");
        var operations = document.Paths.SelectMany(p => p.Value.Operations!.Select(o => (Path: p.Key, Method: o.Key, Operation: o.Value))).ToList();

        var mapped = MappedEndpoints();
        mapped.Should().HaveCountGreaterThan(20);
        operations.Select(o => o.Operation.OperationId).Should().BeEquivalentTo(mapped.Select(m => m.Name), "every endpoint of src/AgentOs.Server/Http is in the document, and nothing else under /v1");
        foreach (var (path, method, operation) in operations)
        {
            var what = $"{method} {path} ({operation.OperationId})";
            operation.Summary.Should().NotBeNullOrWhiteSpace(what);
            operation.Responses!.Keys.Should().Contain(k => k.StartsWith('2'), what);
            operation.Responses.Keys.Should().Contain(["401", "403"], what);
            operation.Security.Should().NotBeNullOrEmpty(what);
            foreach (var problem in operation.Responses.Where(r => r.Key[0] is '4' or '5' && r.Key is not "401" and not "403"))
            {
                problem.Value.Content!.Keys.Should().Contain("application/problem+json", $"{what} {problem.Key}");
            }

            if (method == HttpMethod.Put || (method == HttpMethod.Post && operation.RequestBody is not null))
            {
                operation.RequestBody!.Content!["application/json"].Schema.Should().NotBeNull(what);
            }

            var success = operation.Responses.First(r => r.Key.StartsWith('2'));
            if (success.Key != "204")
            {
                success.Value.Content.Should().NotBeNullOrEmpty($"{what} describes its answer");
                success.Value.Content!.Values.Should().OnlyContain(c => c.Schema != null, what);
            }
        }

        var schemas = document.Components!.Schemas!;
        schemas.Keys.Should().Contain(["SessionEventJson", "AcpMessageJson", "EventsPage", "CreateSessionRequest", "SessionInfoResponse", "PromptRequest",
            "PromptResult", "PersistedSession", "PendingPermissionResponse", "VmSummary", "VmInfo", "ProblemDetails"]);
        schemas["SessionEventJson"].Properties!.Keys.Should().Equal("sessionId", "seq", "createdAt", "event");
        schemas["SessionEventJson"].Properties!["seq"].Type.Should().Be(JsonSchemaType.Integer, "numbers are written as numbers");
        Operation("StreamSessionEvents").Responses!["200"].Content!.Should().ContainKey("text/event-stream");
        Operation("StreamVmEvents").Responses!["200"].Content!.Should().ContainKey("text/event-stream");
        Operation("GetSequencedEvents").Responses!["200"].Content!.Keys.Should().Contain(["application/json", "application/x-ndjson"]);
        document.Components.SecuritySchemes!.Should().ContainKey("ApiKey");

        OpenApiOperation Operation(string id) => operations.Single(o => o.Operation.OperationId == id).Operation;
    }

    [Fact]
    public async Task Docs_ServesTheInteractiveReference_OnTheDocument()
    {
        using var response = await fixture.Http.GetAsync("/docs/");
        await HttpApi.ExpectAsync(response, HttpStatusCode.OK);
        var html = await response.Content.ReadAsStringAsync();
        html.Should().Contain("scalar").And.Contain("openapi/v1.json");
        (await fixture.Http.GetAsync("/docs/scalar.js")).StatusCode.Should().Be(HttpStatusCode.OK, "the script is served by the server itself, no CDN");
    }

    /// <summary>Each <c>Map{Get,Post,Put,Delete}</c> of the HTTP API's source with the <c>WithName</c> that follows it.</summary>
    private static List<(string Method, string Name)> MappedEndpoints()
    {
        var folder = Path.Combine(TestPaths.RepositoryRoot, "src", "AgentOs.Server", "Http");
        var found = new List<(string, string)>();
        foreach (var file in Directory.EnumerateFiles(folder, "*Endpoints.cs"))
        {
            var code = LineComment().Replace(File.ReadAllText(file), "");
            var maps = MapCall().Matches(code);
            var names = WithName().Matches(code);
            maps.Count.Should().Be(names.Count, $"every endpoint mapped in {Path.GetFileName(file)} has a WithName");
            found.AddRange(maps.Zip(names, (m, n) => (m.Groups[1].Value, n.Groups[1].Value)));
        }

        return found;
    }

    [GeneratedRegex(@"//[^\n]*")]
    private static partial Regex LineComment();

    [GeneratedRegex(@"\.Map(Get|Post|Put|Delete)\(")]
    private static partial Regex MapCall();

    [GeneratedRegex(@"\.WithName\(""([A-Za-z]+)""\)")]
    private static partial Regex WithName();
}
