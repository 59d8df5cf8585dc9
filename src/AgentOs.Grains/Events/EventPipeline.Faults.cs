using System.Threading.Channels;
using AgentOs.Storage;
using Microsoft.Extensions.Logging;

namespace AgentOs.Events;

/// <summary>
/// The pipeline under storage faults: a batch the database refuses is retried with backoff while appenders are held
/// back, renumbered after a foreign row, and past the retry budget its sessions' events count as lost (never
/// published, their seqs handed back), with an <c>_agentos/events_lost</c> marker first in the next batch of each.
/// </summary>
internal sealed partial class EventPipeline
{
    /// <summary>
    /// Calls <paramref name="onLost"/> (on the writer's thread; it must not block) when events of
    /// <paramref name="sessionId"/> could not be committed within the retry budget. One watcher per session.
    /// </summary>
    public IDisposable WatchLoss(string sessionId, Action<EventsLost> onLost)
    {
        _lossWatchers[sessionId] = onLost;
        return new LossWatch(this, sessionId, onLost);
    }

    private sealed class LossWatch(EventPipeline pipeline, string sessionId, Action<EventsLost> onLost) : IDisposable
    {
        public void Dispose() => pipeline._lossWatchers.TryRemove(new KeyValuePair<string, Action<EventsLost>>(sessionId, onLost));
    }

    /// <summary>Waits for events; while a loss is still to be recorded, also wakes now and then to record it.</summary>
    private async Task<bool> WaitForWorkAsync(ChannelReader<Pending> reader)
    {
        if (_lost.Count == 0)
        {
            return await reader.WaitToReadAsync().ConfigureAwait(false);
        }

        try
        {
            return await reader.WaitToReadAsync().AsTask().WaitAsync(LossMarkerRetry).ConfigureAwait(false) || _lost.Count > 0;
        }
        catch (TimeoutException)
        {
            return true;
        }
    }

    /// <summary>Puts an <c>_agentos/events_lost</c> marker first in the batch for every session with an unrecorded loss.</summary>
    private HashSet<string> AddLossMarkers(List<EventRow> rows)
    {
        var sessions = new HashSet<string>(_lost.Keys, StringComparer.Ordinal);
        foreach (var session in sessions)
        {
            rows.Add(LossMarker(session));
        }

        return sessions;
    }

    private EventRow LossMarker(string sessionId)
    {
        var (method, json) = AgentOsEvents.EventsLost(_lost[sessionId]);
        return new EventRow(sessionId, NextSeq(sessionId), Now(), method, json);
    }

    /// <summary>
    /// Commits the batch, retrying a failure with backoff for up to the retry budget while appenders are held back.
    /// Returns null when all of it is committed, else the sessions whose events are lost: when storage stays broken the
    /// batch is split by session, so a fault that is one session's (its events) costs no other session anything.
    /// </summary>
    private async Task<HashSet<string>?> CommitAsync(List<EventRow> events, List<Waiter> waiters)
    {
        var error = await TryCommitAsync(events, waiters).ConfigureAwait(false);
        if (error is null)
        {
            return null;
        }

        var failed = new HashSet<string>(StringComparer.Ordinal);
        var sessions = events.Select(e => e.SessionId).Distinct(StringComparer.Ordinal).ToList();
        foreach (var session in sessions)
        {
            var own = events.Where(e => e.SessionId == session).ToList();
            var ownError = sessions.Count == 1 ? error : TryCommitOnce(own, waiters);
            if (ownError is null)
            {
                // Committed on its own, perhaps renumbered: what is published must carry the seqs stored.
                for (int i = 0, k = 0; i < events.Count; i++)
                {
                    if (events[i].SessionId == session)
                    {
                        events[i] = own[k++];
                    }
                }

                continue;
            }

            failed.Add(session);
            HandBack(own);
            var count = own.Count(e => e.Method != AgentOsEventMethods.EventsLost);
            var reason = StorageFault.Describe(ownError);
            var lost = _lost.TryGetValue(session, out var earlier)
                ? earlier with { Count = earlier.Count + count }
                : new EventsLost(session, count, own[0].CreatedAtMs, reason);
            _lost[session] = lost;
            Log.LostEvents(_logger, _vmId, session, count, _retryBudget.TotalSeconds, ownError);
            if (_lossWatchers.TryGetValue(session, out var watcher))
            {
                try
                {
                    watcher(lost);
                }
                catch (Exception ex)
                {
                    Log.CommitFailed(_logger, _vmId, count, 0, ex);
                }
            }
        }

        return failed.Count == 0 ? null : failed;
    }

    /// <summary>One commit with its renumbering after a conflict, then retries with backoff until the budget is spent. Returns the last error, or null.</summary>
    private async Task<Exception?> TryCommitAsync(List<EventRow> events, List<Waiter> waiters)
    {
        var started = _time.GetTimestamp();
        var delay = TimeSpan.FromMilliseconds(50);
        for (var attempt = 1; ; attempt++)
        {
            var error = TryCommitOnce(events, waiters);
            if (error is null)
            {
                if (_retrying)
                {
                    Log.CommitRecovered(_logger, _vmId, events.Count, attempt, _time.GetElapsedTime(started).TotalSeconds);
                }

                return null;
            }

            if (error is Microsoft.Data.Sqlite.SqliteException { SqliteErrorCode: 13 } && _disk?.Release() == true)
            {
                continue; // SQLITE_FULL, and the reserve is free space now: at once
            }

            Log.CommitFailed(_logger, _vmId, events.Count, attempt, error);
            if (_time.GetElapsedTime(started) + delay > _retryBudget)
            {
                return error;
            }

            _retrying = true; // appenders wait from now on: the agents' pipes fill and they block
            await Task.Delay(delay, _time).ConfigureAwait(false);
            delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, TimeSpan.FromSeconds(1).Ticks));
        }
    }

    /// <summary>Commits once; a unique-key conflict (another writer's row at a seq this pipeline thought free) is renumbered and tried again, at most twice.</summary>
    private Exception? TryCommitOnce(List<EventRow> events, List<Waiter> waiters)
    {
        for (var renumbered = 0; ; renumbered++)
        {
            try
            {
                var reservations = ReservationsFor(events);
                _store.AppendEvents(events, reservations);
                Reserved(reservations);
                return null;
            }
            catch (Microsoft.Data.Sqlite.SqliteException ex) when (ex.SqliteErrorCode == 19 && renumbered < MaxRenumbers)
            {
                // SQLITE_CONSTRAINT: the cache is wrong, not the batch: reload MAX(seq) of the batch's sessions and
                // number the batch after it, once more.
                Log.SeqConflict(_logger, _vmId, ex.Message);
                Renumber(events, waiters);
            }
            catch (Exception ex)
            {
                return ex;
            }
        }
    }

    /// <summary>Nothing of these events is durable and nothing was published: their seqs go back, so the sequence stays gapless (the loss marker takes the next one).</summary>
    private void HandBack(List<EventRow> events)
    {
        foreach (var e in events)
        {
            if (_lastSeq.TryGetValue(e.SessionId, out var last) && last >= e.Seq)
            {
                _lastSeq[e.SessionId] = e.Seq - 1;
            }
        }
    }

    /// <summary>Numbers <paramref name="events"/> after what the store holds, in order per session, and their waiters with them.</summary>
    private void Renumber(List<EventRow> events, List<Waiter> waiters)
    {
        var renumbered = new Dictionary<(string Session, long Seq), long>();
        foreach (var session in events.Select(e => e.SessionId).Distinct(StringComparer.Ordinal).ToList())
        {
            _lastSeq[session] = _store.GetLastSeq(session);
        }

        for (var i = 0; i < events.Count; i++)
        {
            var row = events[i];
            var seq = ++LastSeqRef(row.SessionId);
            renumbered[(row.SessionId, row.Seq)] = seq;
            events[i] = row with { Seq = seq };
        }

        for (var i = 0; i < waiters.Count; i++)
        {
            if (waiters[i].SessionId is { } session && renumbered.TryGetValue((session, waiters[i].Seq), out var seq))
            {
                waiters[i] = waiters[i] with { Seq = seq };
            }
        }
    }

    private ref long LastSeqRef(string sessionId) =>
        ref System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrAddDefault(_lastSeq, sessionId, out _);

    private void CompleteWaiters(List<Waiter> waiters, HashSet<string>? failed)
    {
        _retrying = false;
        foreach (var (done, session, seq) in waiters)
        {
            if (failed is null || session is null || !failed.Contains(session))
            {
                done.TrySetResult(seq);
            }
            else
            {
                done.TrySetException(StorageFault.Unavailable(_vmId, session, _retryBudget, _lost.GetValueOrDefault(session)));
            }
        }
    }
}
