using AgentOs.Events;

namespace AgentOs.Sessions;

/// <summary>
/// One session's prompt queue: one turn at a time, the others wait first in, first out, at most
/// <c>maxQueued</c> of them (recorded as <c>_agentos/prompt_queued</c>). The VM owns it per session id,
/// apart from the agent process, so it outlives an agent that is restarted: prompts queued behind a turn
/// whose agent had to be restarted then run on the restarted agent, in order. Thread-safe.
/// </summary>
internal sealed class TurnQueue(string sessionId, AgentOsEvents events, int maxQueued)
{
    private readonly object _lock = new();
    private readonly Queue<TaskCompletionSource> _waiting = new();
    private bool _running;

    /// <summary>Takes the turn, or waits for it behind the prompts queued before this one.</summary>
    /// <exception cref="AgentOsException"><see cref="AgentOsErrorCode.SessionBusy"/> when the queue is full.</exception>
    public Task EnterAsync(IReadOnlyList<Acp.ContentBlock> prompt)
    {
        TaskCompletionSource waiter;
        lock (_lock)
        {
            if (!_running)
            {
                _running = true;
                return Task.CompletedTask;
            }

            if (_waiting.Count >= maxQueued)
            {
                throw new AgentOsException(AgentOsErrorCode.SessionBusy,
                    $"Session '{sessionId}' is running a prompt and its queue is full ({_waiting.Count} of {maxQueued} queued, AgentOs:MaxQueuedPrompts). Wait for a turn to finish or cancel the running one with CancelPrompt.")
                { SessionId = sessionId };
            }

            waiter = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _waiting.Enqueue(waiter);
            var position = _waiting.Count;
            // Appended under the lock, so queued events are in queue order.
            events.PromptQueued(position, prompt);
        }

        return waiter.Task;
    }

    /// <summary>Hands the turn to the next queued prompt, if any.</summary>
    public void Leave()
    {
        lock (_lock)
        {
            if (_waiting.TryDequeue(out var next))
            {
                next.SetResult();
            }
            else
            {
                _running = false;
            }
        }
    }
}
