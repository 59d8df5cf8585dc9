using Microsoft.Data.Sqlite;

namespace AgentOs.Events;

/// <summary>Events of one session that could not be committed within the retry budget, since <paramref name="FirstLostAtMs"/>.</summary>
internal sealed record EventsLost(string SessionId, int Count, long FirstLostAtMs, string Reason);

/// <summary>What a storage failure is called, to a client and in the transcript.</summary>
internal static class StorageFault
{
    /// <summary>One line a user can act on: the SQLite result by name, not only its number.</summary>
    public static string Describe(Exception error) => error switch
    {
        SqliteException { SqliteErrorCode: 5 or 6 } => "the database is locked by another process (SQLITE_BUSY)",
        SqliteException { SqliteErrorCode: 13 } => "the disk is full (SQLITE_FULL)",
        SqliteException { SqliteErrorCode: 10 } e => $"an I/O error (SQLITE_IOERR: {e.Message})",
        SqliteException e => $"SQLite error {e.SqliteErrorCode}: {e.Message}",
        _ => error.GetType().Name + ": " + error.Message,
    };

    public static AgentOsException Unavailable(string vmId, string sessionId, TimeSpan budget, EventsLost? lost) =>
        new(AgentOsErrorCode.StorageUnavailable,
            $"VM '{vmId}' could not store events of session '{sessionId}' for {budget.TotalSeconds:0.#} s (AgentOs:StorageRetryTimeout): "
            + $"{lost?.Reason ?? "the database refused them"}. {lost?.Count ?? 0} event(s) were lost (never published); the loss is recorded "
            + "in the transcript as _agentos/events_lost once storage works again. The agent was stopped; resume the session when storage is back.")
        {
            SessionId = sessionId,
        };
}
