using AgentOs.Layout;
using Dapper;
using Microsoft.Data.Sqlite;
using SQLitePCL;

namespace AgentOs.Storage;

/// <summary>A session row as stored.</summary>
internal sealed record SessionRecord(
    string SessionId,
    string AgentType,
    long CreatedAt,
    SessionStatus Status,
    string Cwd,
    string? AcpSessionId,
    string OptionsJson,
    string? ConfigJson = null);

/// <summary>An event row to insert: params stay the UTF-8 JSON the agent wrote.</summary>
internal readonly record struct EventRow(string SessionId, long Seq, long CreatedAtMs, string Method, ReadOnlyMemory<byte> Params);

/// <summary>
/// One VM's SQLite database (<c>vm.db</c>, WAL). One writer connection guarded by a lock (SQLite
/// has one writer anyway); reads use pooled connections of their own, which WAL lets run beside the
/// writer. Events are inserted by prepared statements of <see cref="RowsPerInsert"/> rows, bound
/// through the raw SQLite API straight from the agent's UTF-8 bytes, a whole batch in one
/// transaction: that is what makes hundreds of thousands of events per second durable (one row per
/// transaction tops out near 19k rows/s here). ADO.NET per row (parameter objects, a UTF-16 string
/// per params, a step per row) cost more CPU than SQLite itself.
/// </summary>
internal sealed partial class VmStore : IDisposable
{
    private readonly object _writeLock = new();
    private readonly SqliteConnection _writer;
    /// <summary>Rows per multi-row INSERT; the rest of a batch goes row by row.</summary>
    internal const int RowsPerInsert = 32;

    private readonly sqlite3_stmt _insertMany;
    private readonly sqlite3_stmt _insertOne;
    private string? _boundSession;
    private byte[] _boundSessionUtf8 = [];
    private string? _boundMethod;
    private byte[] _boundMethodUtf8 = [];
    private readonly string _readConnectionString;

    /// <summary>History readers kept for reuse (their page cache and prepared statement with them).</summary>
    private const int MaxPooledEventReaders = 4;

    private readonly System.Collections.Concurrent.ConcurrentBag<EventReader> _eventReaders = [];
    private bool _disposed;

    public VmStore(string databasePath, Durability durability = Durability.Process)
    {
        Durability = durability;
        DatabasePath = databasePath;
        PrivateFiles.CreateDirectory(Path.GetDirectoryName(databasePath)!);
        PrivateFiles.CreateFile(databasePath); // 0600, and so its -wal and -shm
        // DefaultTimeout: Microsoft.Data.Sqlite retries a busy command for this long (30 s unless told) on top of busy_timeout;
        // one commit attempt is bounded by the two, and the pipeline retries attempts within AgentOs:StorageRetryTimeout.
        var builder = new SqliteConnectionStringBuilder { DataSource = databasePath, Mode = SqliteOpenMode.ReadWriteCreate, Pooling = false, DefaultTimeout = 5 };
        _writer = new SqliteConnection(builder.ToString());
        _writer.Open();
        // WAL + NORMAL (Durability.Process): a committed transaction survives a killed process, not a power cut; the seq
        // reservations (VmStore.Reservations.cs) keep a seq from being reused even then. FULL fsyncs every commit.
        _writer.Execute($"PRAGMA journal_mode=WAL; PRAGMA synchronous={SynchronousMode}; PRAGMA busy_timeout=5000; PRAGMA foreign_keys=ON;");
        Migrate();

        _insertMany = Prepare(_writer.Handle!, InsertSql(RowsPerInsert));
        _insertOne = Prepare(_writer.Handle!, InsertSql(1));

        _readConnectionString = new SqliteConnectionStringBuilder { DataSource = databasePath, Mode = SqliteOpenMode.ReadOnly, Pooling = true }.ToString();
    }

    public string DatabasePath { get; }

    private void Migrate()
    {
        var version = _writer.ExecuteScalar<int>("PRAGMA user_version");
        if (version > Migrations.LatestVersion)
        {
            throw new InvalidOperationException(
                $"The database {DatabasePath} has schema version {version}, newer than this server knows ({Migrations.LatestVersion}). Upgrade AgentOs.");
        }

        for (var v = version; v < Migrations.LatestVersion; v++)
        {
            using var tx = _writer.BeginTransaction();
            _writer.Execute(Migrations.All[v], transaction: tx);
            _writer.Execute($"PRAGMA user_version = {v + 1}", transaction: tx);
            tx.Commit();
        }
    }

    private static string InsertSql(int rows) =>
        "INSERT INTO events (session_id, seq, created_at, method, params) VALUES " + string.Join(", ", Enumerable.Repeat("(?, ?, ?, ?, ?)", rows));

    /// <summary>A statement prepared through the raw API (raw handles are checked with <see cref="SqliteException.ThrowExceptionForRC"/>, which passes OK, ROW and DONE).</summary>
    internal static sqlite3_stmt Prepare(sqlite3 db, string sql)
    {
        SqliteException.ThrowExceptionForRC(raw.sqlite3_prepare_v2(db, sql, out var statement), db);
        return statement;
    }

    /// <summary>
    /// Commits events in one transaction, with the seq reservations that must be durable before they are published
    /// (that transaction is then fsynced: <c>synchronous=FULL</c> for it alone).
    /// </summary>
    public void AppendEvents(IReadOnlyList<EventRow> events, IReadOnlyList<SeqReservation>? reservations = null)
    {
        lock (_writeLock)
        {
            if (reservations is { Count: > 0 } && Durability == Durability.Process)
            {
                Fsynced(() => AppendLocked(events, reservations));
            }
            else
            {
                AppendLocked(events, []);
            }
        }
    }

    private void AppendLocked(IReadOnlyList<EventRow> events, IReadOnlyList<SeqReservation> reservations)
    {
        using var tx = _writer.BeginTransaction();
        foreach (var r in reservations)
        {
            _writer.Execute(
                "INSERT INTO seq_reservations (session_id, reserved, boot_id) VALUES ($s, $r, $b) ON CONFLICT (session_id) DO UPDATE SET reserved = excluded.reserved, boot_id = excluded.boot_id",
                new { s = r.SessionId, r = r.Reserved, b = BootId.Current }, tx);
        }

        var i = 0;
        for (; events.Count - i >= RowsPerInsert; i += RowsPerInsert)
        {
            for (var r = 0; r < RowsPerInsert; r++)
            {
                Bind(_insertMany, r * 5, events[i + r]);
            }

            Step(_insertMany);
        }

        for (; i < events.Count; i++)
        {
            Bind(_insertOne, 0, events[i]);
            Step(_insertOne);
        }

        foreach (var row in events)
        {
            foreach (var update in SessionSummary.UpdatesFor(row))
            {
                _writer.Execute(update, new { id = row.SessionId, p = System.Text.Encoding.UTF8.GetString(row.Params.Span) }, tx);
            }
        }

        tx.Commit();
    }

    private void Bind(sqlite3_stmt statement, int first, in EventRow row)
    {
        if (!ReferenceEquals(row.SessionId, _boundSession))
        {
            _boundSessionUtf8 = System.Text.Encoding.UTF8.GetBytes(row.SessionId);
            _boundSession = row.SessionId;
        }

        if (!ReferenceEquals(row.Method, _boundMethod))
        {
            _boundMethodUtf8 = System.Text.Encoding.UTF8.GetBytes(row.Method);
            _boundMethod = row.Method;
        }

        // Text binds copy (SQLITE_TRANSIENT): the bytes need not outlive the call.
        Check(raw.sqlite3_bind_text(statement, first + 1, _boundSessionUtf8));
        Check(raw.sqlite3_bind_int64(statement, first + 2, row.Seq));
        Check(raw.sqlite3_bind_int64(statement, first + 3, row.CreatedAtMs));
        Check(raw.sqlite3_bind_text(statement, first + 4, _boundMethodUtf8));
        Check(raw.sqlite3_bind_text(statement, first + 5, row.Params.Span));
    }

    private void Step(sqlite3_stmt statement)
    {
        var rc = raw.sqlite3_step(statement);
        raw.sqlite3_reset(statement);
        Check(rc);
    }

    private void Check(int rc) => SqliteException.ThrowExceptionForRC(rc, _writer.Handle);

    public long GetLastSeq(string sessionId)
    {
        lock (_writeLock)
        {
            return _writer.ExecuteScalar<long?>("SELECT MAX(seq) FROM events WHERE session_id = $id", new { id = sessionId }) ?? 0;
        }
    }

    public void InsertSession(SessionRecord session)
    {
        lock (_writeLock)
        {
            _writer.Execute(
                "INSERT INTO sessions (session_id, agent_type, created_at, status, cwd, acp_session_id, options_json) VALUES ($SessionId, $AgentType, $CreatedAt, $Status, $Cwd, $AcpSessionId, $OptionsJson)",
                new { session.SessionId, session.AgentType, session.CreatedAt, Status = (int)session.Status, session.Cwd, session.AcpSessionId, session.OptionsJson });
        }
    }

    /// <summary>
    /// Sets a session's status to <paramref name="to"/> if it is one of <paramref name="from"/> (all sessions in
    /// such a state when <paramref name="sessionId"/> is null), with its ACP session id and configuration when
    /// given, in one statement. Returns the rows changed. Only <c>SessionLifecycle</c> calls this.
    /// </summary>
    public int SetStatus(string? sessionId, IReadOnlyCollection<SessionStatus> from, SessionStatus to, string? acpSessionId = null, string? configJson = null)
    {
        var states = string.Join(", ", from.Select(f => (int)f));
        lock (_writeLock)
        {
            return _writer.Execute(
                $"UPDATE sessions SET status = $to, acp_session_id = COALESCE($acp, acp_session_id), config_json = COALESCE($config, config_json) WHERE status IN ({states}) AND ($id IS NULL OR session_id = $id)",
                new { id = sessionId, to = (int)to, acp = acpSessionId, config = configJson });
        }
    }

    /// <summary>Stores the session's runtime configuration (mode, model, thought level), to re-apply on resume.</summary>
    public void UpdateConfig(string sessionId, string configJson)
    {
        lock (_writeLock)
        {
            _writer.Execute("UPDATE sessions SET config_json = $config WHERE session_id = $id", new { id = sessionId, config = configJson });
        }
    }

    /// <summary>Deletes a session and every event of it, in one transaction.</summary>
    public void DeleteSession(string sessionId)
    {
        lock (_writeLock)
        {
            using var tx = _writer.BeginTransaction();
            _writer.Execute("DELETE FROM events WHERE session_id = $id", new { id = sessionId }, tx);
            _writer.Execute("DELETE FROM seq_reservations WHERE session_id = $id", new { id = sessionId }, tx);
            _writer.Execute("DELETE FROM sessions WHERE session_id = $id", new { id = sessionId }, tx);
            tx.Commit();
        }
    }

    public SessionRecord? GetSession(string sessionId)
    {
        using var connection = OpenReader();
        return connection.QuerySingleOrDefault<SessionRecordRow>(
            "SELECT session_id AS SessionId, agent_type AS AgentType, created_at AS CreatedAt, status AS Status, cwd AS Cwd, acp_session_id AS AcpSessionId, options_json AS OptionsJson, config_json AS ConfigJson FROM sessions WHERE session_id = $id",
            new { id = sessionId })?.ToRecord();
    }

    /// <summary>
    /// A session's use, from its row, kept with every event committed (<see cref="SessionSummary"/>): the tokens of every
    /// <c>_agentos/turn_end</c> with <c>usage</c>, summed, and the last <c>usage_update</c>'s context and cost. Null for a
    /// session the VM does not have.
    /// </summary>
    public SessionUsage? GetUsage(string sessionId)
    {
        using var connection = OpenReader();
        return connection.QuerySingleOrDefault<SummaryRow>($"SELECT {SessionSummary.Columns} FROM sessions WHERE session_id = $id", new { id = sessionId })?.Usage();
    }

    public int CountSessions()
    {
        using var connection = OpenReader();
        return connection.ExecuteScalar<int>("SELECT COUNT(*) FROM sessions");
    }

    public IReadOnlyList<PersistedSession> ListSessions()
    {
        using var connection = OpenReader();
        return connection.Query<PersistedSessionRow>(
                """
                SELECT s.session_id AS SessionId, s.agent_type AS AgentType, s.created_at AS CreatedAt, s.status AS Status,
                       s.cwd AS Cwd, s.acp_session_id AS AcpSessionId,
                       COALESCE((SELECT MAX(e.seq) FROM events e WHERE e.session_id = s.session_id), 0) AS LastSeq,
                """ + SessionSummary.Columns + """

                FROM sessions s ORDER BY s.created_at DESC, s.session_id
                """)
            .Select(r => new PersistedSession
            {
                SessionId = r.SessionId,
                AgentType = r.AgentType,
                CreatedAt = DateTimeOffset.FromUnixTimeMilliseconds(r.CreatedAt),
                Status = (SessionStatus)r.Status,
                Cwd = r.Cwd,
                AcpSessionId = r.AcpSessionId,
                LastSeq = r.LastSeq,
                Title = r.Title,
                Usage = r.Usage(),
            })
            .ToList();
    }

    /// <summary>
    /// Events with seq &gt; <paramref name="since"/>, in order, at most <paramref name="limit"/> (and none more once
    /// their params reach <paramref name="maxBytes"/>): read
    /// through the raw SQLite API into one encoded batch, params copied as the UTF-8 bytes stored,
    /// never turned into strings here.
    /// </summary>
    public SessionEventBatch ReadEvents(string sessionId, long since, int limit, long maxBytes = long.MaxValue)
    {
        var reader = _eventReaders.TryTake(out var pooled) ? pooled : EventReader.Open(DatabasePath);
        try
        {
            var batch = reader.Read(sessionId, since, limit, maxBytes);
            ReturnReader(reader);
            return batch;
        }
        catch
        {
            reader.Dispose(); // in an unknown state: not reused
            throw;
        }
    }

    private void ReturnReader(EventReader reader)
    {
        if (Volatile.Read(ref _disposed) || _eventReaders.Count >= MaxPooledEventReaders)
        {
            reader.Dispose();
            return;
        }

        _eventReaders.Add(reader);
        if (Volatile.Read(ref _disposed) && _eventReaders.TryTake(out var late))
        {
            late.Dispose(); // the store was disposed meanwhile
        }
    }

    private SqliteConnection OpenReader()
    {
        var connection = new SqliteConnection(_readConnectionString);
        connection.Open();
        return connection;
    }

    public void Dispose()
    {
        Volatile.Write(ref _disposed, true);
        while (_eventReaders.TryTake(out var reader))
        {
            reader.Dispose();
        }

        lock (_writeLock)
        {
            _insertMany.Dispose();
            _insertOne.Dispose();
            _writer.Dispose();
        }

        // The pooled read connections would keep vm.db (and its -wal, -shm) open after the VM is gone.
        using var pooled = new SqliteConnection(_readConnectionString);
        SqliteConnection.ClearPool(pooled);
    }

    // Dapper materialization targets (SQLite hands back Int64 for INTEGER columns).

    /// <summary>What a session's row says of its title and use.</summary>
    private class SummaryRow
    {
        public string? Title { get; set; }
        public long UsageTurns { get; set; }
        public long InputTokens { get; set; }
        public long OutputTokens { get; set; }
        public long TotalTokens { get; set; }
        public long ThoughtTokens { get; set; }
        public long CachedReadTokens { get; set; }
        public long CachedWriteTokens { get; set; }
        public long? ContextUsed { get; set; }
        public long? ContextSize { get; set; }
        public double? Cost { get; set; }
        public string? CostCurrency { get; set; }

        public SessionUsage Usage() => new()
        {
            TurnsWithUsage = (int)UsageTurns,
            Tokens = new TokenUsage
            {
                InputTokens = InputTokens, OutputTokens = OutputTokens, TotalTokens = TotalTokens,
                ThoughtTokens = ThoughtTokens, CachedReadTokens = CachedReadTokens, CachedWriteTokens = CachedWriteTokens,
            },
            ContextUsed = ContextUsed,
            ContextSize = ContextSize,
            Cost = Cost,
            CostCurrency = CostCurrency,
        };
    }

    private sealed class SessionRecordRow
    {
        public string SessionId { get; set; } = "";
        public string AgentType { get; set; } = "";
        public long CreatedAt { get; set; }
        public long Status { get; set; }
        public string Cwd { get; set; } = "";
        public string? AcpSessionId { get; set; }
        public string OptionsJson { get; set; } = "{}";
        public string? ConfigJson { get; set; }

        public SessionRecord ToRecord() => new(SessionId, AgentType, CreatedAt, (SessionStatus)Status, Cwd, AcpSessionId, OptionsJson, ConfigJson);
    }

    private sealed class PersistedSessionRow : SummaryRow
    {
        public string SessionId { get; set; } = "";
        public string AgentType { get; set; } = "";
        public long CreatedAt { get; set; }
        public long Status { get; set; }
        public string? Cwd { get; set; }
        public string? AcpSessionId { get; set; }
        public long LastSeq { get; set; }
    }
}
