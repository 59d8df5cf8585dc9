using System.Text;
using AgentOs.Sessions;
using AgentOs.Storage;

namespace AgentOs.Server.Tests;

/// <summary>The compact event encoding shared by stream batches and history reads.</summary>
public sealed class SessionEventCodecTests
{
    private static readonly DateTimeOffset T0 = DateTimeOffset.FromUnixTimeMilliseconds(1_764_000_000_123);

    [Fact]
    public void Decode_OfEncodedEvents_GivesThemBackExactly()
    {
        SessionEvent[] events =
        [
            new("s1", 1, T0, AgentOsEventMethods.Prompt, """{"prompt":[{"type":"text","text":"hi"}]}"""),
            new("s1", 2, T0.AddMilliseconds(1), "session/update", """{"update":{"sessionUpdate":"agent_message_chunk","content":{"type":"text","text":"a\"b\\c\n\u0001"}}}"""),
            new("s1", 3, T0.AddMilliseconds(1), "session/update", """{"text":"héllo wörld — 日本語 🎉"}"""),
            new("s2", 1, T0.AddMilliseconds(2), "session/update", "{}"),
            new("s1", 4, T0.AddMilliseconds(3), "x/custom-método", "null"),
            new("s1", 5, T0.AddMilliseconds(3), "", ""),
        ];

        var decoded = SessionEventCodec.Decode(SessionEventCodec.Encode(events));

        decoded.Should().Equal(events);
    }

    [Fact]
    public void Decode_ReusesOneStringForRepeatedSessionIdsAndMethods()
    {
        var decoded = SessionEventCodec.Decode(SessionEventCodec.Encode(
        [
            new("session-a", 1, T0, "session/update", "{}"),
            new("session-a", 2, T0, "session/update", "{}"),
            new("session-a", 3, T0, "x/other", "{}"),
            new("session-a", 4, T0, "x/other", "{}"),
        ]));

        decoded[1].SessionId.Should().BeSameAs(decoded[0].SessionId);
        decoded[0].Method.Should().BeSameAs(AcpMethodNames.SessionUpdate);
        decoded[3].Method.Should().BeSameAs(decoded[2].Method);
    }

    [Fact]
    public void Writer_WithUtf8Methods_MatchesTheStringForm()
    {
        var fromStrings = new SessionEventCodec.Writer(16);
        var fromBytes = new SessionEventCodec.Writer(16);
        foreach (var (seq, method) in new[] { (1L, "session/update"), (2L, "session/update"), (3L, "_agentos/turn_end"), (4L, "session/update") })
        {
            fromStrings.Add("s", seq, 42, method, "{\"n\":1}"u8);
            fromBytes.Add("s", seq, 42, Encoding.UTF8.GetBytes(method), "{\"n\":1}"u8);
        }

        fromBytes.ToArray().Should().Equal(fromStrings.ToArray());
        SessionEventCodec.Decode(fromBytes.ToArray()).Select(e => e.Method).Should().Equal("session/update", "session/update", "_agentos/turn_end", "session/update");
    }

    [Fact]
    public void Writer_AfterReset_StartsAFreshPayload()
    {
        var writer = new SessionEventCodec.Writer(8);
        writer.Add("s", 1, 0, "m", "{}"u8);
        writer.Reset();
        writer.Add("t", 7, 0, "m", "[]"u8);

        SessionEventCodec.Decode(writer.ToArray()).Should().Equal(new SessionEvent("t", 7, DateTimeOffset.FromUnixTimeMilliseconds(0), "m", "[]"));
    }

    [Fact]
    public void Decode_OfHugeParams_RoundTrips()
    {
        var huge = "{\"text\":\"" + new string('x', 3_000_000) + "\"}";
        var decoded = SessionEventCodec.Decode(SessionEventCodec.Encode([new("s", 1, T0, "session/update", huge), new("s", 2, T0, "session/update", "{}")]));

        decoded.Should().HaveCount(2);
        decoded[0].Params.Should().Be(huge);
    }

    [Fact]
    public void Batch_FromPayload_CountsWithoutDecodingAndEnumeratesInOrder()
    {
        var events = Enumerable.Range(1, 100).Select(i => new SessionEvent("s", i, T0, "session/update", $"{{\"i\":{i}}}")).ToArray();
        var batch = new SessionEventBatch([SessionEventCodec.Encode(events)]);

        batch.Count.Should().Be(100);
        batch.Should().Equal(events);
        batch[99].Seq.Should().Be(100);
        new SessionEventBatch(events).Events.Should().BeSameAs(events);
    }

    [Fact]
    public void Writer_WithAChunkSize_SplitsIntoSelfContainedChunksBelowIt()
    {
        // Two sessions and two methods alternating in runs, so chunk starts fall inside runs.
        var events = Enumerable.Range(1, 5_000)
            .Select(i => new SessionEvent(i / 7 % 2 == 0 ? "session-a" : "session-b", i, T0.AddMilliseconds(i), i / 5 % 2 == 0 ? "session/update" : "x/ü", $"{{\"i\":{i},\"pad\":\"{new string('p', i % 200)}\"}}"))
            .ToArray();

        var chunks = SessionEventCodec.EncodeChunks(events);

        chunks.Length.Should().BeGreaterThan(5);
        chunks.Should().AllSatisfy(c => c.Length.Should().BeLessThanOrEqualTo(SessionEventCodec.ChunkSize));
        chunks.SelectMany(c => SessionEventCodec.Decode(c)).Should().Equal(events);
        SessionEventCodec.Decode(chunks, events.Length).Should().Equal(events);
        new SessionEventBatch(chunks).Should().Equal(events);
        new SessionEventBatch(events).Count.Should().Be(events.Length);
    }

    [Fact]
    public void Of_InterleavedSessions_GivesEachItsOwnEventsInOrder()
    {
        // Three sessions in runs that change session and method at different points, over several chunks,
        // so a run of one session often starts with "same method as the previous (other session's) event".
        var sessions = new[] { "session-a", "session-b", "session-c" };
        var seqs = new Dictionary<string, long>();
        var events = Enumerable.Range(1, 5_000)
            .Select(i =>
            {
                var id = sessions[i / 3 % 3];
                seqs[id] = seqs.GetValueOrDefault(id) + 1;
                return new SessionEvent(id, seqs[id], T0.AddMilliseconds(i), i / 11 % 2 == 0 ? "session/update" : "x/ü", $"{{\"i\":{i},\"pad\":\"{new string('p', i % 300)}\"}}");
            })
            .ToArray();
        var batch = new SessionEventBatch(SessionEventCodec.EncodeChunks(events));

        var parts = sessions.Select(id => (SessionId: id, Part: batch.Of(id))).ToList();

        foreach (var (sessionId, part) in parts)
        {
            part.Should().Equal(events.Where(e => e.SessionId == sessionId), "each part holds exactly its session's events, in order");
            part.Count.Should().Be(events.Count(e => e.SessionId == sessionId));
        }
    }

    [Fact]
    public void Of_TheOnlySessionOfABatch_IsTheBatchItself()
    {
        var batch = new SessionEventBatch(SessionEventCodec.EncodeChunks(
            Enumerable.Range(1, 3_000).Select(i => new SessionEvent("only", i, T0, "session/update", $"{{\"i\":{i},\"pad\":\"{new string('p', 50)}\"}}")).ToArray()));

        batch.Of("only").Should().BeSameAs(batch, "a batch of one session is handed on as it is, not copied");
        batch.Of("other").Should().BeEmpty();
        new SessionEventBatch(SessionEventCodec.EncodeChunks([])).Of("only").Should().BeEmpty();
    }

    [Fact]
    public void Writer_WithAChunkSize_GivesAnEventLargerThanAChunkItsOwnChunk()
    {
        var big = "{\"t\":\"" + new string('b', SessionEventCodec.ChunkSize * 2) + "\"}";
        SessionEvent[] events = [new("s", 1, T0, "m", "{}"), new("s", 2, T0, "m", big), new("s", 3, T0, "m", "{}")];

        var chunks = SessionEventCodec.EncodeChunks(events);

        chunks.Select(c => SessionEventCodec.Count(c)).Should().Equal(1, 1, 1);
        SessionEventCodec.Decode(chunks, 3).Should().Equal(events);
    }

    [Fact]
    public void Decode_OfChunksWithAWrongTotal_ThrowsInvalidData()
    {
        var chunks = SessionEventCodec.EncodeChunks([new("s", 1, T0, "m", "{}")]);
        var tooMany = () => SessionEventCodec.Decode([chunks[0], chunks[0]], 3);
        var tooFew = () => SessionEventCodec.Decode([chunks[0], chunks[0]], 1);

        tooMany.Should().Throw<InvalidDataException>();
        tooFew.Should().Throw<InvalidDataException>();
    }

    [Fact]
    public void Decode_OfEmptyBatch_IsEmpty() =>
        SessionEventCodec.Decode(SessionEventCodec.Encode([])).Should().BeEmpty();

    public static TheoryData<string, byte[]> MalformedPayloads()
    {
        var good = SessionEventCodec.Encode([new("s", 1, T0, "m", "{}"), new("s", 2, T0, "m", "{}")]);
        var badCount = (byte[])good.Clone();
        badCount[1] = 0xFF; // claims far more events than the bytes hold
        var wrongVersion = (byte[])good.Clone();
        wrongVersion[0] = 9;
        var badLength = (byte[])good.Clone();
        badLength[6] = 0xFF; // the first session id's length
        var refersBack = new SessionEventCodec.Writer(16);
        refersBack.Add("s", 1, 0, "m", "{}"u8);
        var orphan = refersBack.ToArray();
        orphan[5] = 3; // the first event claims the previous session id and method
        return new TheoryData<string, byte[]>
        {
            { "empty", [] },
            { "header only, truncated", [SessionEventCodec.Version, 1, 0] },
            { "wrong version", wrongVersion },
            { "count too large", badCount },
            { "truncated", good[..^3] },
            { "trailing bytes", [.. good, 0] },
            { "bad length", badLength },
            { "refers to a previous event", orphan },
        };
    }

    [Theory]
    [MemberData(nameof(MalformedPayloads))]
    public void Decode_OfMalformedPayload_ThrowsInvalidData(string what, byte[] payload)
    {
        var decode = () => SessionEventCodec.Decode(payload);

        decode.Should().Throw<InvalidDataException>(what);
    }

    [Fact]
    public void EventRows_InsertedInMultiRowStatements_ReadBackInOrder()
    {
        var directory = Directory.CreateTempSubdirectory("agentos-codec-");
        try
        {
            using var store = new VmStore(Path.Combine(directory.FullName, "vm.db"));
            // 2.5 statements' worth and a remainder row by row; two sessions interleaved.
            var rows = Enumerable.Range(1, VmStore.RowsPerInsert * 2 + 7)
                .Select(i => new EventRow(i % 3 == 0 ? "b" : "a", 0, 1000 + i, i % 5 == 0 ? "x/ü" : "session/update", Encoding.UTF8.GetBytes($"{{\"i\":{i},\"t\":\"é\\n\"}}")))
                .ToList();
            var seqs = new Dictionary<string, long>();
            rows = rows.Select(r => r with { Seq = seqs[r.SessionId] = seqs.GetValueOrDefault(r.SessionId) + 1 }).ToList();

            store.AppendEvents(rows);

            foreach (var session in new[] { "a", "b" })
            {
                var expected = rows.Where(r => r.SessionId == session)
                    .Select(r => new SessionEvent(session, r.Seq, DateTimeOffset.FromUnixTimeMilliseconds(r.CreatedAtMs), r.Method, Encoding.UTF8.GetString(r.Params.Span)))
                    .ToList();
                store.ReadEvents(session, 0, int.MaxValue).Should().Equal(expected);
                store.ReadEvents(session, 3, 4).Should().Equal(expected.Skip(3).Take(4));
            }
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    private static class AcpMethodNames
    {
        public const string SessionUpdate = "session/update";
    }
}
