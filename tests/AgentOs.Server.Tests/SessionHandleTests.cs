using AgentOs.Client;
using AgentOs.Server.Tests.Infrastructure;
using Orleans.Runtime;
using Orleans.Streams;

namespace AgentOs.Server.Tests;

/// <summary>
/// <see cref="SessionHandle"/>: the session's calls, its events filtered to it on the server
/// (replay then live, gapless), and what cancelling a call's token does.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class SessionHandleTests(ClusterFixture fixture)
{
    private const string RequestPermission = "session/request_permission";

    [Fact]
    public async Task Events_OfTwoSessionsStreamingAtOnce_AreEachSessionsOwn_AndTheServerSendsEachStreamOnlyItsSession()
    {
        var vm = fixture.NewVm();
        var a = await vm.CreateSessionAsync(TestAgents.Default);
        var b = await vm.CreateSessionAsync(TestAgents.Default);
        await using var rawA = await RawSessionStream.SubscribeAsync(fixture, vm, a.Id);
        await using var rawB = await RawSessionStream.SubscribeAsync(fixture, vm, b.Id);
        var streamA = CollectUntilTurnEndAsync(a.StreamEventsAsync());
        var streamB = CollectUntilTurnEndAsync(b.StreamEventsAsync());

        var results = await Task.WhenAll(a.SendPromptAsync("chunks 4000"), b.SendPromptAsync("chunks 3000")).WaitAsync(TestTimeouts.Default);
        var streamed = await Task.WhenAll(streamA, streamB);

        foreach (var (session, result, events, raw, chunks) in new[] { (a, results[0], streamed[0], rawA, 4000), (b, results[1], streamed[1], rawB, 3000) })
        {
            events.Should().OnlyContain(e => e.SessionId == session.Id, "a handle's events are its session's");
            events.Select(e => e.Seq).Should().Equal(Seqs(1, result.LastSeq));
            events.Should().Equal(await session.GetEventsAsync());
            events.Count(e => e.GetUpdateKind() == "agent_message_chunk").Should().Be(chunks);

            // What the silo sent the session's filtered subscription, batch by batch: this session's events,
            // every one from when the subscription took effect (before the prompt) to the turn's end, once each.
            var delivered = await raw.WaitForSeqAsync(result.LastSeq);
            raw.BatchesWithoutTheSession.Should().Be(0, "the silo sends a session's subscriber only the batches that hold its events");
            delivered.Should().Contain(e => e.Method == AgentOsEventMethods.Prompt, "subscribed before the prompt");
            delivered.Select(e => e.Seq).Should().Equal(Seqs(delivered[0].Seq, result.LastSeq));
        }
    }

    [Fact]
    public async Task ASessionsSubscriber_IsSentNoBatchOfAnotherSessionsTurn()
    {
        var vm = fixture.NewVm();
        var idle = await vm.CreateSessionAsync(TestAgents.Default);
        var busy = await vm.CreateSessionAsync(TestAgents.Default);
        await using var raw = await RawSessionStream.SubscribeAsync(fixture, vm, idle.Id);
        using var everything = await EventCollector.SubscribeAsync(vm);

        var turn = await busy.SendPromptAsync("chunks 2000");
        await everything.WaitForAsync(e => e.SessionId == busy.Id && e.Seq == turn.LastSeq, "the busy session's turn end on the VM's stream");
        var own = await idle.SendPromptAsync("chunks 1");
        var delivered = await raw.WaitForSeqAsync(own.LastSeq);

        raw.BatchesWithoutTheSession.Should().Be(0, "none of the busy session's batches reach the idle session's subscriber");
        delivered.Select(e => e.Method).Should().Contain(AgentOsEventMethods.Prompt).And.Contain(AgentOsEventMethods.TurnEnd);
    }

    [Fact]
    public async Task StreamEvents_ReadAgainAfterTheLastSeenSeq_WhileTheSessionStreams_IsGapless()
    {
        var vm = fixture.NewVm();
        var session = await vm.CreateSessionAsync(TestAgents.Default);
        var gate = Path.Combine(fixture.VmHome(vm.Id), "gate");
        var turn = session.SendPromptAsync("chunks-until gate");
        using var timeout = new CancellationTokenSource(TestTimeouts.Default);
        var seen = new List<SessionEvent>();

        await foreach (var e in session.StreamEventsAsync(cancellationToken: timeout.Token))
        {
            seen.Add(e);
            if (seen.Count == 3000)
            {
                break; // the reader goes away mid-stream...
            }
        }

        turn.IsCompleted.Should().BeFalse("the turn runs until the gate opens");
        var reconnectedAt = seen.Count;
        await foreach (var e in vm.Session(session.Id).StreamEventsAsync(afterSeq: seen[^1].Seq, timeout.Token))
        {
            seen.Add(e); // ...and comes back with a new handle, from the last seq it has
            if (seen.Count == reconnectedAt + 2000)
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
        seen.Select(e => e.Seq).Should().Equal(Seqs(1, result.LastSeq), "every seq exactly once across the reconnect");
        seen.Should().Equal(await session.GetEventsAsync());
    }

    [Fact]
    public async Task StreamEvents_OpenWhileTheVmSleepsAndWakes_GoesOnLiveWithNoGap()
    {
        var vm = fixture.NewVm();
        var session = await vm.CreateSessionAsync(TestAgents.Default);
        using var timeout = new CancellationTokenSource(TestTimeouts.Default);
        await using var events = session.StreamEventsAsync(cancellationToken: timeout.Token).GetAsyncEnumerator(timeout.Token);
        var seen = new List<SessionEvent>();

        var before = await session.SendPromptAsync("chunks 50");
        await ReadThroughAsync(events, before.LastSeq, seen);
        await vm.SleepAsync();
        await AgentProcesses.WaitForExitAsync(session.Info!.ProcessId);
        var after = await session.SendPromptAsync("chunks 50"); // wakes the VM and resumes the session
        await ReadThroughAsync(events, after.LastSeq, seen);

        after.StopReason.Should().Be("end_turn");
        seen.Select(e => e.Seq).Should().Equal(Seqs(1, after.LastSeq), "the subscription outlives the grain activation");
        seen.Should().Equal(await session.GetEventsAsync());
        seen.Should().Contain(e => e.Method == AgentOsEventMethods.Resume, "the second turn ran on a resumed session");
    }

    [Fact]
    public async Task SendPrompt_WhenItsTokenFires_StopsWaiting_AndTheTurnRunsOnToItsEnd()
    {
        var vm = fixture.NewVm();
        var session = await vm.CreateSessionAsync(TestAgents.Default);
        var gate = Path.Combine(fixture.VmHome(vm.Id), "gate");
        using var timeout = new CancellationTokenSource(TestTimeouts.Default);
        await using var events = session.StreamEventsAsync(cancellationToken: timeout.Token).GetAsyncEnumerator(timeout.Token);
        var seen = new List<SessionEvent>();
        using var waiting = new CancellationTokenSource();

        var turn = session.SendPromptAsync("chunks-until gate", waiting.Token);
        await ReadUntilAsync(events, seen, e => e.GetUpdateKind() == "agent_message_chunk");
        waiting.Cancel();

        await FluentActions.Awaiting(() => turn.WaitAsync(TestTimeouts.Default)).Should().ThrowAsync<OperationCanceledException>();
        File.WriteAllText(gate, "open");
        var end = await ReadUntilAsync(events, seen, e => e.Method == AgentOsEventMethods.TurnEnd);
        end.Params.Should().Contain("\"stopReason\":\"end_turn\"", "cancelling the wait does not cancel the turn");
        seen.Should().NotContain(e => e.Params.Contains("\"stopReason\":\"cancelled\""));
    }

    [Fact]
    public async Task Calls_WithATokenThatHasFired_SendNothing()
    {
        var vm = fixture.NewVm();
        var session = await vm.CreateSessionAsync(TestAgents.Default);
        var transcript = await session.GetEventsAsync();
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();

        await FluentActions.Awaiting(() => session.SendPromptAsync("hello", cancelled.Token)).Should().ThrowAsync<OperationCanceledException>();
        await FluentActions.Awaiting(() => vm.CreateSessionAsync(TestAgents.Default, cancellationToken: cancelled.Token)).Should().ThrowAsync<OperationCanceledException>();
        await FluentActions.Awaiting(() => session.StreamEventsAsync(cancellationToken: cancelled.Token).GetAsyncEnumerator().MoveNextAsync().AsTask())
            .Should().ThrowAsync<OperationCanceledException>();

        (await session.GetEventsAsync()).Should().Equal(transcript, "no prompt was sent");
        (await vm.ListPersistedSessionsAsync()).Should().ContainSingle("no second session was created");
    }

    [Fact]
    public async Task Session_OfAnExistingId_HasNoInfo_AndItsCallsAreTheVmLevelOnes()
    {
        var vm = fixture.NewVm();
        var created = await vm.CreateSessionAsync(TestAgents.Default, new CreateSessionOptions { PermissionPolicy = PermissionPolicy.Ask });
        created.Info!.SessionId.Should().Be(created.Id);
        created.SessionId.Should().Be(created.Id);
        var session = vm.Session(created.Id);
        session.Info.Should().BeNull("no server call was made");
        session.Vm.Should().BeSameAs(vm);

        await session.SetModeAsync("plan");
        await session.SetModelAsync("smart");
        await session.SetThoughtLevelAsync("high");
        (await session.GetModesAsync())!.CurrentModeId.Should().Be("plan");
        (await vm.GetModesAsync(created.Id)).Should().BeEquivalentTo(await session.GetModesAsync());
        (await session.GetConfigOptionsAsync()).Should().BeEquivalentTo(await vm.GetConfigOptionsAsync(created.Id))
            .And.Contain(o => o.Category == "model" && o.CurrentValue == "smart")
            .And.Contain(o => o.Category == "thought_level" && o.CurrentValue == "high");

        using var timeout = new CancellationTokenSource(TestTimeouts.Default);
        await using var events = session.StreamEventsAsync(cancellationToken: timeout.Token).GetAsyncEnumerator(timeout.Token);
        var seen = new List<SessionEvent>();
        var asking = session.SendPromptAsync("permission");
        var request = await ReadUntilAsync(events, seen, e => e.Method == RequestPermission);
        var pending = (await session.GetPendingPermissionsAsync()).Should().ContainSingle().Which;
        pending.RequestId.Should().Be(request.Seq);
        (await vm.GetPendingPermissionsAsync(created.Id)).Should().BeEquivalentTo([pending]);
        await session.RespondPermissionAsync(pending.RequestId, "allow");
        (await asking.WaitAsync(TestTimeouts.Default)).Text.Should().Be("permission: allow");

        var sleeping = session.SendPromptAsync("sleep 20000");
        await ReadUntilAsync(events, seen, e => e.GetText() == "tick ");
        await session.CancelAsync();
        (await sleeping.WaitAsync(TestTimeouts.Default)).StopReason.Should().Be("cancelled");

        await session.CloseAsync();
        (await vm.ListSessionsAsync()).Should().NotContain(created.Id);
        var resumed = await session.ResumeAsync();
        session.Info.Should().BeSameAs(resumed);
        resumed.SessionId.Should().Be(created.Id);
        resumed.Modes!.CurrentModeId.Should().Be("plan", "the stored mode is set again on the restored agent");
        (await session.GetEventsAsync()).Should().Equal(await vm.GetSessionEventsAsync(created.Id));
        (await session.GetEventsAsync(since: 2, limit: 3)).Select(e => e.Seq).Should().Equal(3, 4, 5);

        await session.DestroyAsync();
        (await vm.ListPersistedSessionsAsync()).Should().NotContain(s => s.SessionId == created.Id);
    }

    private static IEnumerable<long> Seqs(long from, long to)
    {
        for (var seq = from; seq <= to; seq++)
        {
            yield return seq;
        }
    }

    private static async Task<SessionEvent> ReadUntilAsync(IAsyncEnumerator<SessionEvent> events, List<SessionEvent> into, Func<SessionEvent, bool> until)
    {
        while (true)
        {
            (await events.MoveNextAsync()).Should().BeTrue("the stream never completes on its own");
            into.Add(events.Current);
            if (until(events.Current))
            {
                return events.Current;
            }
        }
    }

    private static Task ReadThroughAsync(IAsyncEnumerator<SessionEvent> events, long seq, List<SessionEvent> into) =>
        ReadUntilAsync(events, into, e => e.Seq >= seq);

    private static async Task<List<SessionEvent>> CollectUntilTurnEndAsync(IAsyncEnumerable<SessionEvent> events)
    {
        using var timeout = new CancellationTokenSource(TestTimeouts.Default);
        var collected = new List<SessionEvent>();
        await foreach (var e in events.WithCancellation(timeout.Token))
        {
            collected.Add(e);
            if (e.Method == AgentOsEventMethods.TurnEnd)
            {
                break;
            }
        }

        return collected;
    }

    /// <summary>A filtered subscription to the VM's stream, below the SDK: what the silo sends a session's subscriber.</summary>
    private sealed class RawSessionStream : IAsyncDisposable
    {
        private readonly Lock _gate = new();
        private readonly List<SessionEvent> _events = [];
        private readonly List<(long Seq, TaskCompletionSource Signal)> _waiters = [];
        private StreamSubscriptionHandle<SessionEventBatch>? _handle;
        private string _description = "";
        private string _sessionId = "";
        private int _batches;
        private int _batchesWithoutTheSession;

        /// <summary>Batches the silo sent this subscription.</summary>
        public int Batches => Volatile.Read(ref _batches);

        /// <summary>Batches the silo sent this subscription that hold no event of its session.</summary>
        public int BatchesWithoutTheSession => Volatile.Read(ref _batchesWithoutTheSession);

        /// <summary>Subscribes to the VM's stream with the session id as filter data, as the SDK does.</summary>
        public static async Task<RawSessionStream> SubscribeAsync(ClusterFixture fixture, VmHandle vm, string sessionId)
        {
            var raw = new RawSessionStream { _description = $"session {sessionId} of VM {vm.Id}", _sessionId = sessionId };
            var stream = fixture.Client.ClusterClient.GetStreamProvider(AgentOsNames.StreamProvider)
                .GetStream<SessionEventBatch>(StreamId.Create(AgentOsNames.SessionEventStream, vm.Id));
            raw._handle = await stream.SubscribeAsync(new Observer(raw), token: null, filterData: sessionId);
            return raw;
        }

        private sealed class Observer(RawSessionStream raw) : IAsyncObserver<SessionEventBatch>
        {
            public Task OnNextAsync(SessionEventBatch item, StreamSequenceToken? token = null)
            {
                raw.Add(item);
                return Task.CompletedTask;
            }

            public Task OnCompletedAsync() => Task.CompletedTask;

            public Task OnErrorAsync(Exception ex) => Task.CompletedTask;
        }

        private void Add(SessionEventBatch batch)
        {
            lock (_gate)
            {
                _batches++;
                var own = batch.Events.Where(e => e.SessionId == _sessionId).ToList();
                if (own.Count == 0)
                {
                    _batchesWithoutTheSession++;
                    return;
                }

                _events.AddRange(own);
                foreach (var (seq, signal) in _waiters.Where(w => _events[^1].Seq >= w.Seq).ToList())
                {
                    signal.TrySetResult();
                    _waiters.RemoveAll(w => w.Signal == signal);
                }
            }
        }

        public async Task<List<SessionEvent>> WaitForSeqAsync(long seq)
        {
            var signal = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            lock (_gate)
            {
                if (_events.Count > 0 && _events[^1].Seq >= seq)
                {
                    return [.. _events];
                }

                _waiters.Add((seq, signal));
            }

            try
            {
                await signal.Task.WaitAsync(TestTimeouts.Default);
            }
            catch (TimeoutException)
            {
                throw new TimeoutException($"The stream of {_description} did not deliver seq {seq} within {TestTimeouts.Default.TotalSeconds} s.");
            }

            lock (_gate)
            {
                return [.. _events];
            }
        }

        public async ValueTask DisposeAsync()
        {
            if (_handle is not null)
            {
                await _handle.UnsubscribeAsync();
            }
        }
    }
}
