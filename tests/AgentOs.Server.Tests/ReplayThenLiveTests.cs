using AgentOs.Client;
using AgentOs.Server.Tests.Infrastructure;

namespace AgentOs.Server.Tests;

/// <summary>
/// <see cref="VmHandle.StreamSessionEventsAsync"/> and <see cref="VmHandle.SessionEventsFrom"/>:
/// history then live, exactly once, in seq order, with no gap.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class ReplayThenLiveTests(ClusterFixture fixture)
{
    [Fact]
    public async Task StreamSessionEvents_FromZeroDuringAConcurrentStream_YieldsExactly1ToN()
    {
        var vm = fixture.NewVm();
        using var live = await EventCollector.SubscribeAsync(vm);
        var session = await vm.CreateSessionAsync(TestAgents.Default);
        // The agent streams until the gate file exists, so the turn is still producing events while the
        // stream reads history and joins live: the overlap this test is about, whatever the machine's speed.
        var gate = Path.Combine(fixture.VmHome(vm.Id), "gate");
        var turn = vm.SendPromptAsync(session.SessionId, "chunks-until gate");
        await live.WaitForAsync(e => e.SessionId == session.SessionId && e.GetUpdateKind() == "agent_message_chunk", "the first chunk of the running turn");
        turn.IsCompleted.Should().BeFalse("the turn runs until the gate opens");

        using var timeout = new CancellationTokenSource(TestTimeouts.Default);
        var streamed = new List<SessionEvent>();
        await foreach (var e in vm.StreamSessionEventsAsync(session.SessionId, afterSeq: 0).WithCancellation(timeout.Token))
        {
            streamed.Add(e);
            if (streamed.Count == 5000)
            {
                turn.IsCompleted.Should().BeFalse("the gate is still closed");
                File.WriteAllText(gate, "open");
            }
            if (e.Method == AgentOsEventMethods.TurnEnd)
            {
                break;
            }
        }

        var result = await turn.WaitAsync(TestTimeouts.Default);
        result.StopReason.Should().Be("end_turn");
        streamed.Select(e => e.Seq).Should().Equal(Seqs(1, result.LastSeq), "every seq 1..LastSeq exactly once, in order");
        var persisted = await vm.GetEventsAsync(session.SessionId);
        streamed.Should().Equal(persisted, "the stream yields the persisted events themselves");
        streamed.Count(e => e.GetUpdateKind() == "agent_message_chunk").Should().BeGreaterThan(5000);
    }

    [Fact]
    public async Task StreamSessionEvents_FromAMiddleSeq_StartsRightAfterIt()
    {
        var vm = fixture.NewVm();
        var session = await vm.CreateSessionAsync(TestAgents.Default);
        var first = await vm.SendPromptAsync(session.SessionId, "chunks 100");
        first.LastSeq.Should().BeGreaterThan(50);
        using var timeout = new CancellationTokenSource(TestTimeouts.Default);
        var collected = new List<SessionEvent>();
        await using var stream = vm.StreamSessionEventsAsync(session.SessionId, afterSeq: 50).GetAsyncEnumerator(timeout.Token);

        while (collected.Count == 0 || collected[^1].Seq < first.LastSeq)
        {
            (await stream.MoveNextAsync()).Should().BeTrue("the stream never completes on its own");
            collected.Add(stream.Current);
        }

        var second = await vm.SendPromptAsync(session.SessionId, "hello");
        while (collected[^1].Seq < second.LastSeq)
        {
            (await stream.MoveNextAsync()).Should().BeTrue("the stream never completes on its own");
            collected.Add(stream.Current);
        }

        second.Text.Should().Be("echo: hello");
        collected.Select(e => e.Seq).Should().Equal(Seqs(51, second.LastSeq), "history after seq 50, then the new turn live, with no gap");
        collected.Should().Equal((await vm.GetEventsAsync(session.SessionId)).Skip(50));
        collected[^1].Method.Should().Be(AgentOsEventMethods.TurnEnd);
    }

    [Fact]
    public async Task SessionEventsFrom_AsObservable_DeliversTheSameSequence()
    {
        var vm = fixture.NewVm();
        var session = await vm.CreateSessionAsync(TestAgents.Default);
        var collected = new List<SessionEvent>();
        var turnEnded = new TaskCompletionSource<List<SessionEvent>>(TaskCreationOptions.RunContinuationsAsynchronously);

        using var subscription = vm.SessionEventsFrom(session.SessionId).Subscribe(
            e =>
            {
                collected.Add(e); // Rx serializes OnNext calls
                if (e.Method == AgentOsEventMethods.TurnEnd)
                {
                    turnEnded.TrySetResult([.. collected]);
                }
            },
            ex => turnEnded.TrySetException(ex),
            () => turnEnded.TrySetException(new InvalidOperationException("The observable completed, but it never completes on its own.")));
        var result = await vm.SendPromptAsync(session.SessionId, "chunks 3000");
        var observed = await turnEnded.Task.WaitAsync(TestTimeouts.Default);

        observed[^1].Seq.Should().Be(result.LastSeq, "the turn end is the turn's last event");
        observed.Select(e => e.Seq).Should().Equal(Seqs(1, result.LastSeq));
        observed.Should().Equal(await vm.GetEventsAsync(session.SessionId));
        observed.Count(e => e.GetUpdateKind() == "agent_message_chunk").Should().Be(3000);
    }

    [Fact]
    public async Task StreamSessionEvents_TwoConcurrentSessions_EachGetOnlyTheirOwn()
    {
        var vm = fixture.NewVm();
        var a = await vm.CreateSessionAsync(TestAgents.Default);
        var b = await vm.CreateSessionAsync(TestAgents.Default);
        var streamA = CollectUntilTurnEndAsync(vm.StreamSessionEventsAsync(a.SessionId), a.SessionId);
        var streamB = CollectUntilTurnEndAsync(vm.StreamSessionEventsAsync(b.SessionId), b.SessionId);

        var results = await Task.WhenAll(vm.SendPromptAsync(a.SessionId, "chunks 4000"), vm.SendPromptAsync(b.SessionId, "chunks 3000")).WaitAsync(TestTimeouts.Default);
        var streamed = await Task.WhenAll(streamA, streamB);

        foreach (var (session, result, events, chunks) in new[] { (a, results[0], streamed[0], 4000), (b, results[1], streamed[1], 3000) })
        {
            events.Should().OnlyContain(e => e.SessionId == session.SessionId, "a session's stream carries only that session's events");
            events.Select(e => e.Seq).Should().Equal(Seqs(1, result.LastSeq));
            events.Should().Equal(await vm.GetEventsAsync(session.SessionId));
            events.Count(e => e.GetUpdateKind() == "agent_message_chunk").Should().Be(chunks);
        }
    }

    private static IEnumerable<long> Seqs(long from, long to)
    {
        for (var seq = from; seq <= to; seq++)
        {
            yield return seq;
        }
    }

    /// <summary>Enumerates <paramref name="events"/> until the first turn end, within <see cref="TestTimeouts.Default"/>.</summary>
    private static async Task<List<SessionEvent>> CollectUntilTurnEndAsync(IAsyncEnumerable<SessionEvent> events, string sessionId)
    {
        using var timeout = new CancellationTokenSource(TestTimeouts.Default);
        var collected = new List<SessionEvent>();
        try
        {
            await foreach (var e in events.WithCancellation(timeout.Token))
            {
                collected.Add(e);
                if (e.Method == AgentOsEventMethods.TurnEnd)
                {
                    return collected;
                }
            }
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested)
        {
            var last = collected.LastOrDefault();
            throw new TimeoutException($"Waited {TestTimeouts.Default.TotalSeconds} s for the turn end of session {sessionId}; streamed {collected.Count} events (last: seq {last?.Seq} {last?.Method}).");
        }

        throw new InvalidOperationException("The stream completed, but it never completes on its own.");
    }
}
