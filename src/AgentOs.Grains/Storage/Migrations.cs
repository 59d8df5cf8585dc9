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
    ];

    public static int LatestVersion => All.Length;
}
