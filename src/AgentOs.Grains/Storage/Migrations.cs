namespace AgentOs.Storage;

/// <summary>
/// The VM database schema, versioned through <c>PRAGMA user_version</c>. Append a migration;
/// never edit one that has shipped.
/// </summary>
internal static class Migrations
{
    public static readonly string[] All =
    [
        // 1: sessions and their events.
        """
        CREATE TABLE sessions (
            session_id     TEXT    NOT NULL PRIMARY KEY,
            agent_type     TEXT    NOT NULL,
            created_at     INTEGER NOT NULL,
            status         INTEGER NOT NULL,
            cwd            TEXT    NOT NULL,
            acp_session_id TEXT,
            options_json   TEXT    NOT NULL DEFAULT '{}'
        );
        CREATE TABLE events (
            session_id TEXT    NOT NULL,
            seq        INTEGER NOT NULL,
            created_at INTEGER NOT NULL,
            method     TEXT    NOT NULL,
            params     TEXT    NOT NULL,
            PRIMARY KEY (session_id, seq)
        ) WITHOUT ROWID;
        """,

        // 2: the runtime configuration a session had ({ "mode", "model", "thought_level" }), re-applied on resume.
        "ALTER TABLE sessions ADD COLUMN config_json TEXT;",

        // 3: seqs handed out ahead of their events' durability (AgentOs:Durability = process), each range made durable
        // (fsynced) before any seq in it is published, with the boot it was made in: after a power loss, a seq a client
        // may have seen is never given to another event.
        """
        CREATE TABLE seq_reservations (
            session_id TEXT    NOT NULL PRIMARY KEY,
            reserved   INTEGER NOT NULL,
            boot_id    TEXT    NOT NULL
        ) WITHOUT ROWID;
        """,

        // 4: what a listing shows of a session without reading its transcript: the agent's title (its last session_info_update
        // that names one) and its use (tokens summed over turn ends, the last usage_update's context and cost). VmStore keeps them
        // in the same transaction as the events that change them (SessionSummary); sessions of older versions are filled from
        // their transcripts here, once, by the same rules.
        """
        ALTER TABLE sessions ADD COLUMN title TEXT;
        ALTER TABLE sessions ADD COLUMN usage_turns INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE sessions ADD COLUMN input_tokens INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE sessions ADD COLUMN output_tokens INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE sessions ADD COLUMN total_tokens INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE sessions ADD COLUMN thought_tokens INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE sessions ADD COLUMN cached_read_tokens INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE sessions ADD COLUMN cached_write_tokens INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE sessions ADD COLUMN context_used INTEGER;
        ALTER TABLE sessions ADD COLUMN context_size INTEGER;
        ALTER TABLE sessions ADD COLUMN cost REAL;
        ALTER TABLE sessions ADD COLUMN cost_currency TEXT;

        UPDATE sessions SET title = (
            SELECT json_extract(e.params, '$.update.title') FROM events e
            WHERE e.session_id = sessions.session_id AND e.method = 'session/update' AND instr(e.params, 'session_info_update') > 0 AND json_valid(e.params)
                AND json_extract(e.params, '$.update.sessionUpdate') = 'session_info_update' AND json_type(e.params, '$.update.title') IS NOT NULL
            ORDER BY e.seq DESC LIMIT 1);
        UPDATE sessions SET (context_used, context_size, cost, cost_currency) = (
            SELECT json_extract(e.params, '$.update.used'), json_extract(e.params, '$.update.size'),
                json_extract(e.params, '$.update.cost.amount'), json_extract(e.params, '$.update.cost.currency') FROM events e
            WHERE e.session_id = sessions.session_id AND e.method = 'session/update' AND instr(e.params, 'usage_update') > 0 AND json_valid(e.params)
                AND json_extract(e.params, '$.update.sessionUpdate') = 'usage_update'
            ORDER BY e.seq DESC LIMIT 1);
        UPDATE sessions SET (usage_turns, input_tokens, output_tokens, total_tokens, thought_tokens, cached_read_tokens, cached_write_tokens) = (
            SELECT COUNT(*),
                COALESCE(SUM(CAST(COALESCE(json_extract(e.params, '$.usage.inputTokens'), 0) AS INTEGER)), 0),
                COALESCE(SUM(CAST(COALESCE(json_extract(e.params, '$.usage.outputTokens'), 0) AS INTEGER)), 0),
                COALESCE(SUM(CAST(COALESCE(json_extract(e.params, '$.usage.totalTokens'), 0) AS INTEGER)), 0),
                COALESCE(SUM(CAST(COALESCE(json_extract(e.params, '$.usage.thoughtTokens'), 0) AS INTEGER)), 0),
                COALESCE(SUM(CAST(COALESCE(json_extract(e.params, '$.usage.cachedReadTokens'), 0) AS INTEGER)), 0),
                COALESCE(SUM(CAST(COALESCE(json_extract(e.params, '$.usage.cachedWriteTokens'), 0) AS INTEGER)), 0)
            FROM events e
            WHERE e.session_id = sessions.session_id AND e.method = '_agentos/turn_end' AND json_valid(e.params) AND json_extract(e.params, '$.usage') IS NOT NULL);
        """,
    ];

    public static int LatestVersion => All.Length;
}
