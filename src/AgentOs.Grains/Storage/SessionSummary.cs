namespace AgentOs.Storage;

/// <summary>
/// What a session's row keeps of its transcript, so a listing reads no events: the agent's title (its last
/// <c>session_info_update</c> that names one; <c>null</c> clears it) and its use (the tokens of every <c>_agentos/turn_end</c>
/// with <c>usage</c>, summed; the last <c>usage_update</c>'s context and cost). <see cref="VmStore"/> applies an event's change
/// in the transaction that inserts it, so the row is never out of step with what is committed; migration 4 applied the same
/// rules to the transcripts of older databases. Only events whose bytes name one of those kinds are looked at (a vectorised
/// search): a stream of chunks costs nothing here.
/// </summary>
internal static class SessionSummary
{
    /// <summary>The row's summary columns, named as <c>VmStore</c>'s summary row reads them.</summary>
    public const string Columns =
        """
        title AS Title, usage_turns AS UsageTurns, input_tokens AS InputTokens, output_tokens AS OutputTokens, total_tokens AS TotalTokens,
        thought_tokens AS ThoughtTokens, cached_read_tokens AS CachedReadTokens, cached_write_tokens AS CachedWriteTokens,
        context_used AS ContextUsed, context_size AS ContextSize, cost AS Cost, cost_currency AS CostCurrency
        """;

    private const string Title =
        """
        UPDATE sessions SET title = json_extract($p, '$.update.title')
        WHERE session_id = $id AND json_valid($p) AND json_extract($p, '$.update.sessionUpdate') = 'session_info_update'
            AND json_type($p, '$.update.title') IS NOT NULL
        """;

    private const string Context =
        """
        UPDATE sessions SET context_used = json_extract($p, '$.update.used'), context_size = json_extract($p, '$.update.size'),
            cost = json_extract($p, '$.update.cost.amount'), cost_currency = json_extract($p, '$.update.cost.currency')
        WHERE session_id = $id AND json_valid($p) AND json_extract($p, '$.update.sessionUpdate') = 'usage_update'
        """;

    private const string Tokens =
        """
        UPDATE sessions SET usage_turns = usage_turns + 1,
            input_tokens = input_tokens + CAST(COALESCE(json_extract($p, '$.usage.inputTokens'), 0) AS INTEGER),
            output_tokens = output_tokens + CAST(COALESCE(json_extract($p, '$.usage.outputTokens'), 0) AS INTEGER),
            total_tokens = total_tokens + CAST(COALESCE(json_extract($p, '$.usage.totalTokens'), 0) AS INTEGER),
            thought_tokens = thought_tokens + CAST(COALESCE(json_extract($p, '$.usage.thoughtTokens'), 0) AS INTEGER),
            cached_read_tokens = cached_read_tokens + CAST(COALESCE(json_extract($p, '$.usage.cachedReadTokens'), 0) AS INTEGER),
            cached_write_tokens = cached_write_tokens + CAST(COALESCE(json_extract($p, '$.usage.cachedWriteTokens'), 0) AS INTEGER)
        WHERE session_id = $id AND json_valid($p) AND json_extract($p, '$.usage') IS NOT NULL
        """;

    /// <summary>The statements (with <c>$id</c> and <c>$p</c>, the event's params) that bring the row up to date with <paramref name="row"/>; none for most events.</summary>
    public static IEnumerable<string> UpdatesFor(EventRow row)
    {
        if (row.Method == "_agentos/turn_end")
        {
            if (row.Params.Span.IndexOf("\"usage\""u8) >= 0)
            {
                yield return Tokens;
            }
        }
        else if (row.Method == AgentOs.Acp.AcpMethods.SessionUpdate)
        {
            if (row.Params.Span.IndexOf("session_info_update"u8) >= 0)
            {
                yield return Title;
            }

            if (row.Params.Span.IndexOf("usage_update"u8) >= 0)
            {
                yield return Context;
            }
        }
    }
}
