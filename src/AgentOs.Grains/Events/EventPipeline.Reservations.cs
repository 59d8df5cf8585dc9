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

        // Seqs rise within a session: a session's last row in the batch holds its highest. Rows of one session come in
        // runs, so the dictionary is touched once a run, not once a row.
        _batchMax.Clear();
        string? run = null;
        for (var i = 0; i < events.Count; i++)
        {
            if (!ReferenceEquals(events[i].SessionId, run))
            {
                run = events[i].SessionId;
            }

            if (i + 1 == events.Count || !ReferenceEquals(events[i + 1].SessionId, run))
            {
                ref var max = ref System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrAddDefault(_batchMax, run, out _);
                max = Math.Max(max, events[i].Seq);
            }
        }

        _reservations.Clear();
        foreach (var (session, max) in _batchMax)
        {
            var (reserved, step) = _reserved.GetValueOrDefault(session);
            if (max > reserved)
            {
                step = Math.Max(step, VmStore.MinReservationStep);
                _reserved[session] = (reserved, step);
                _reservations.Add(new SeqReservation(session, max + step));
            }
        }

        return _reservations.Count == 0 ? null : _reservations;
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
