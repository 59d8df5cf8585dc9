using Microsoft.Data.Sqlite;
using SQLitePCL;

namespace AgentOs.Storage;

/// <summary>
/// A read-only connection of its own for history reads, used by one thread at a time: opened
/// without SQLite's per-call mutex (a lock and an unlock around every step and column read)
/// and with the database memory-mapped (no read system call and copy per page), its
/// statement prepared once.
/// </summary>
internal sealed class EventReader : IDisposable
{
    private readonly sqlite3 _db;
    private readonly sqlite3_stmt _select;

    private EventReader(sqlite3 db, sqlite3_stmt select)
    {
        _db = db;
        _select = select;
    }

    public static EventReader Open(string path)
    {
        var rc = raw.sqlite3_open_v2(path, out var db, raw.SQLITE_OPEN_READONLY | raw.SQLITE_OPEN_NOMUTEX, null);
        try
        {
            SqliteException.ThrowExceptionForRC(rc, db);
            SqliteException.ThrowExceptionForRC(raw.sqlite3_busy_timeout(db, 5000), db);
            SqliteException.ThrowExceptionForRC(raw.sqlite3_exec(db, "PRAGMA mmap_size = 268435456"), db);
            return new EventReader(db, VmStore.Prepare(db, "SELECT seq, created_at, method, params FROM events WHERE session_id = ? AND seq > ? ORDER BY seq LIMIT ?"));
        }
        catch
        {
            db.Dispose();
            throw;
        }
    }

    /// <summary>Events after <paramref name="since"/>: at most <paramref name="limit"/>, and none more once their params reach <paramref name="maxBytes"/>.</summary>
    public SessionEventBatch Read(string sessionId, long since, int limit, long maxBytes)
    {
        try
        {
            Check(raw.sqlite3_bind_text(_select, 1, sessionId));
            Check(raw.sqlite3_bind_int64(_select, 2, since));
            Check(raw.sqlite3_bind_int64(_select, 3, limit));
            var writer = new SessionEventCodec.Writer(SessionEventCodec.ChunkSize, SessionEventCodec.ChunkSize);
            var rc = raw.SQLITE_DONE;
            long bytes = 0;
            while (bytes < maxBytes && (rc = raw.sqlite3_step(_select)) == raw.SQLITE_ROW)
            {
                var paramsUtf8 = raw.sqlite3_column_blob(_select, 3);
                bytes += paramsUtf8.Length;
                writer.Add(sessionId, raw.sqlite3_column_int64(_select, 0), raw.sqlite3_column_int64(_select, 1),
                    raw.sqlite3_column_blob(_select, 2), paramsUtf8);
            }

            if (rc is not raw.SQLITE_DONE and not raw.SQLITE_ROW) // ROW: stopped at the byte bound
            {
                SqliteException.ThrowExceptionForRC(rc, _db);
            }

            return new SessionEventBatch(writer.ToChunks());
        }
        finally
        {
            raw.sqlite3_reset(_select); // ends the read transaction: the next read sees new commits
        }
    }

    private void Check(int rc) => SqliteException.ThrowExceptionForRC(rc, _db);

    public void Dispose()
    {
        _select.Dispose();
        _db.Dispose();
    }
}
