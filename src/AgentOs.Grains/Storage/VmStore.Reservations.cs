using Dapper;

namespace AgentOs.Storage;

/// <summary>How far a session's seqs are handed out: every seq up to <paramref name="Reserved"/> may have been published.</summary>
internal readonly record struct SeqReservation(string SessionId, long Reserved);

/// <summary>A range of a session's seqs that was handed out in an earlier boot but holds no stored event: lost in a power cut.</summary>
internal readonly record struct LostSeqRange(string SessionId, long First, long Last);

/// <summary>
/// Seq reservations: with <see cref="Durability.Process"/> (WAL, <c>synchronous=NORMAL</c>) a commit is not fsynced,
/// so a power cut can take the last committed events with it, after clients saw them. So that their seqs are never
/// given to other events, the pipeline makes a range of seqs durable (one fsynced commit, ranges growing to
/// <see cref="MaxReservationStep"/>) before it publishes any seq in it. At the next activation a range of an earlier
/// boot that holds no stored events was lost: it is filled with <c>_agentos/events_lost</c> markers, one per seq, so
/// seq stays gapless and a client that saw seq N before the cut reads a marker there now, never other content. In the
/// same boot (the process was killed, the kernel kept the WAL) nothing can be lost and the ranges are just dropped.
/// </summary>
internal sealed partial class VmStore
{
    public const int MinReservationStep = 256;
    public const int MaxReservationStep = 16384;

    public Durability Durability { get; }

    private string SynchronousMode => Durability == Durability.Power ? "FULL" : "NORMAL";

    /// <summary>
    /// Ranges of an earlier boot with no stored events after <c>MAX(seq)</c>: what a power cut took. Null when no
    /// reservation is stored at all (a clean stop left none): nothing to recover, nothing to clear.
    /// </summary>
    public IReadOnlyList<LostSeqRange>? FindLostSeqRanges()
    {
        lock (_writeLock)
        {
            var rows = _writer.Query<(string SessionId, long Reserved, string BootId, long? Last)>(
                "SELECT r.session_id, r.reserved, r.boot_id, (SELECT MAX(seq) FROM events e WHERE e.session_id = r.session_id) FROM seq_reservations r").ToList();
            return rows.Count == 0 ? null : rows
                .Where(r => r.BootId != BootId.Current && r.Reserved > (r.Last ?? 0))
                .Select(r => new LostSeqRange(r.SessionId, (r.Last ?? 0) + 1, r.Reserved))
                .ToList();
        }
    }

    /// <summary>Stores <paramref name="markers"/> (the lost ranges filled) and drops every reservation, in one fsynced commit.</summary>
    public void ClearSeqReservations(IReadOnlyList<EventRow>? markers = null)
    {
        lock (_writeLock)
        {
            Fsynced(() =>
            {
                using var tx = _writer.BeginTransaction();
                foreach (var m in markers ?? [])
                {
                    Bind(_insertOne, 0, m);
                    Step(_insertOne);
                }

                _writer.Execute("DELETE FROM seq_reservations", transaction: tx);
                tx.Commit();
            });
        }
    }

    /// <summary>Runs <paramref name="commit"/> with <c>synchronous=FULL</c> (its commit fsynced), then back to the store's own mode. Under the write lock.</summary>
    private void Fsynced(Action commit)
    {
        if (Durability == Durability.Power)
        {
            commit(); // every commit is fsynced already
            return;
        }

        _writer.Execute("PRAGMA synchronous=FULL");
        try
        {
            commit();
        }
        finally
        {
            _writer.Execute($"PRAGMA synchronous={SynchronousMode}");
        }
    }
}

/// <summary>The kernel's id of this boot (Linux), to tell a power cut or reboot from a killed process.</summary>
internal static class BootId
{
    /// <summary>The boot id, or "unknown-&lt;start time&gt;" where the kernel gives none (every restart then counts as a new boot: the safe side).</summary>
    public static string Current { get; } = Read();

    private static string Read()
    {
        try
        {
            return File.ReadAllText("/proc/sys/kernel/random/boot_id").Trim();
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return "unknown-" + Environment.ProcessId + "-" + DateTime.UtcNow.Ticks;
        }
    }
}
