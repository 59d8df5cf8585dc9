using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using AgentOs.Server.Tests.Infrastructure;

namespace AgentOs.Server.Tests;

/// <summary>
/// A large file an agent reads or writes through fs/* reaches the agent whole, while the transcript keeps its
/// first 64 KiB with its size and SHA-256: a transcript can always be read back, however large the files.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class FsTranscriptTests(ClusterFixture fixture)
{
    private const int Large = 3_000_000;

    [Fact]
    public async Task ALargeFileRead_ReachesTheAgentWhole_AndIsRecordedBounded_WithItsSizeAndDigest()
    {
        var vm = fixture.NewVm();
        var session = await vm.CreateSessionAsync(TestAgents.Default);
        var content = string.Concat(Enumerable.Repeat("héllo wörld ", Large / 12));
        var bytes = Encoding.UTF8.GetBytes(content);
        var sha = Convert.ToHexStringLower(SHA256.HashData(bytes));
        await File.WriteAllTextAsync(Path.Combine(fixture.VmHome(vm.Id), "large.txt"), content);

        (await session.SendPromptAsync("read-digest /home/agentos/large.txt")).Text.Should().Be($"{content.Length} {sha}", "the agent gets the whole file");

        var response = (await vm.GetEventsAsync(session.SessionId)).Last(e => e.Method == AgentOsEventMethods.ClientResponse);
        response.Params.Length.Should().BeLessThan(6 * 65_536 + 1_000, "the transcript keeps a bounded part of the file (64 KiB of UTF-8; JSON escapes a non-ASCII character in at most 6)");
        var result = JsonDocument.Parse(response.Params).RootElement.GetProperty("result");
        result.GetProperty("contentTruncated").GetBoolean().Should().BeTrue();
        result.GetProperty("contentBytes").GetInt64().Should().Be(bytes.Length);
        result.GetProperty("contentSha256").GetString().Should().Be(sha);
        content.Should().StartWith(result.GetProperty("content").GetString(), "the part kept is the file's beginning, cut on a character boundary");
    }

    [Fact]
    public async Task ALargeFileWrite_IsWrittenWhole_AndItsRequestIsRecordedBounded()
    {
        var vm = fixture.NewVm();
        var session = await vm.CreateSessionAsync(TestAgents.Default);

        (await session.SendPromptAsync($"write-big /home/agentos/out.txt {Large}")).Text.Should().Be("wrote /home/agentos/out.txt");

        new FileInfo(Path.Combine(fixture.VmHome(vm.Id), "out.txt")).Length.Should().Be(Large);
        var request = (await vm.GetEventsAsync(session.SessionId)).Last(e => e.Method == "fs/write_text_file");
        request.Params.Length.Should().BeLessThan(80_000);
        var recorded = JsonDocument.Parse(request.Params).RootElement;
        recorded.GetProperty("path").GetString().Should().Be("/home/agentos/out.txt");
        recorded.GetProperty("contentBytes").GetInt64().Should().Be(Large);
        recorded.GetProperty("contentSha256").GetString().Should().Be(Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(new string('y', Large)))));
    }

    [Fact]
    public async Task ASmallFile_IsRecordedWhole_AsBefore()
    {
        var vm = fixture.NewVm();
        var session = await vm.CreateSessionAsync(TestAgents.Default);
        (await session.SendPromptAsync("write /home/agentos/small.txt hello")).Text.Should().Be("wrote /home/agentos/small.txt");
        (await session.SendPromptAsync("read /home/agentos/small.txt")).Text.Should().Be("hello");

        var events = await vm.GetEventsAsync(session.SessionId);
        JsonDocument.Parse(events.Last(e => e.Method == "fs/write_text_file").Params).RootElement.GetProperty("content").GetString().Should().Be("hello");
        var result = JsonDocument.Parse(events.Last(e => e.Method == AgentOsEventMethods.ClientResponse).Params).RootElement.GetProperty("result");
        result.GetProperty("content").GetString().Should().Be("hello");
        result.TryGetProperty("contentTruncated", out _).Should().BeFalse();
    }
}
