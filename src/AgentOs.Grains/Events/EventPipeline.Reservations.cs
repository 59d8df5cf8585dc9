using AgentOs.Storage;
using Microsoft.Extensions.Logging;

namespace AgentOs.Events;

/// <summary>Seq reservations (see <c>VmStore.Reservations.cs</c>): made durable before publishing, recovered after a power cut.</summary>
internal sealed partial class EventPipeline
{
    /// <summary>Per session, the seq up to which seqs are durably reserved, and the next range's size. Writer loop only.</summary>
    private readonly Dictionary<string, (long Reserved, int Step)> _reserved = new(StringComparer.Ordinal);
    private readonly Dictionary<string, long> _batchMax = new(StringComparer.Ordinal);
    private readonly List<SeqReservation> _reservations = [];

    /// <summary>
    /// The seq ranges this batch needs made durable before it is published (with <see cref="Durability.Process"/>):
    /// one per session whose highest seq here is past its reservation, reaching that seq plus the session's next step
    /// (256, doubling to 16,384), so a long stream costs one fsync per few thousand events. Null when none is needed.
    /// </summary>
    private List<SeqReservation>? ReservationsFor(List<EventRow> events)
    {
        if (_store.Durability != Durability.Process)
        {
            return null;
        }

        // Seqs rise within a session, and its rows come in runs: the dictionary is touched at the last row of a run only.
        _batchMax.Clear();
        for (var i = 0; i < events.Count; i++)
        {
            var session = events[i].SessionId;
            if (i + 1 < events.Count && ReferenceEquals(events[i + 1].SessionId, session))
            {
                continue;
            }

            ref var max = ref System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrAddDefault(_batchMax, session, out _);
            max = Math.Max(max, events[i].Seq);
        }

        _reservations.Clear();
        foreach (var (session, max) in _batchMax)
        {
            if (max > _reserved.GetValueOrDefault(session).Reserved)
            {
                _reservations.Add(new SeqReservation(session, max + StepOf(session)));
            }
        }

        return _reservations.Count == 0 ? null : _reservations;
    }

    /// <summary>The next range's size for <paramref name="sessionId"/>: 256, doubling with each range up to 16,384.</summary>
    private int StepOf(string sessionId) => Math.Max(_reserved.GetValueOrDefault(sessionId).Step, VmStore.MinReservationStep);

    /// <summary>After <paramref name="reservations"/> are committed: they are the sessions' reach, and their next ranges are twice as long.</summary>
    private void Reserved(List<SeqReservation>? reservations)
    {
        foreach (var r in reservations ?? [])
        {
            _reserved[r.SessionId] = (r.Reserved, Math.Min(StepOf(r.SessionId) * 2, VmStore.MaxReservationStep));
        }
    }

    /// <summary>
    /// At activation: seqs an earlier boot handed out that hold no stored event (a power cut took them) are filled with
    /// <c>_agentos/events_lost</c> markers, and every reservation is dropped, in one fsynced commit.
    /// </summary>
    private void RecoverLostSeqs()
    {
        if (_store.FindLostSeqRanges() is not { } ranges)
        {
            return; // no reservation stored: the last stop was clean (the common case, and every new VM)
        }

        var markers = new List<EventRow>();
        foreach (var range in ranges)
        {
            var count = (int)(range.Last - range.First + 1);
            var reason = $"power loss: seqs {range.First} to {range.Last} were handed out before the host lost power or rebooted, and no event "
                + "with them was stored (AgentOs:Durability=process keeps what a killed server committed, not what a power cut took); "
                + "anything seen at these seqs before is gone";
            var (method, json) = AgentOsEvents.EventsLost(new EventsLost(range.SessionId, count, Now(), reason));
            for (var seq = range.First; seq <= range.Last; seq++)
            {
                markers.Add(new EventRow(range.SessionId, seq, Now(), method, json));
            }

            Log.PowerLossFilled(_logger, _vmId, range.SessionId, range.First, range.Last);
        }

        _store.ClearSeqReservations(markers);
    }
}
