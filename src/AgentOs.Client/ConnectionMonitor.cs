namespace AgentOs.Client;

/// <summary>
/// Knows when the client lost its gateways. The Orleans client does not fail calls already in
/// flight when its gateway dies (they wait out their response timeout: hours for a prompt), so the
/// SDK races each call against this signal and fails it at once.
/// </summary>
internal sealed class ConnectionMonitor
{
    private CancellationTokenSource _epoch = new();

    /// <summary>Cancelled when the connection that was current at the time of the call is lost.</summary>
    public CancellationToken ConnectionLost => Volatile.Read(ref _epoch).Token;

    public void OnGatewayCountChanged(int current, int previous)
    {
        if (current == 0 && previous > 0)
        {
            OnConnectionLost();
        }
        else if (current > 0 && previous == 0)
        {
            // Reconnected: calls from now on belong to the new connection.
            Interlocked.Exchange(ref _epoch, new CancellationTokenSource()).Dispose();
        }
    }

    public void OnConnectionLost() => Volatile.Read(ref _epoch).Cancel();

    /// <summary>
    /// Makes a grain call and awaits it, or stops waiting: with <see cref="OperationCanceledException"/>
    /// when <paramref name="cancellationToken"/> fires (the call is not sent at all when it fired
    /// already), with <see cref="AgentOsErrorCode.ServerUnavailable"/> when the connection drops first.
    /// Grain methods take no token, so a call already sent runs to its end on the server either way.
    /// </summary>
    public async Task<T> CallAsync<T>(Func<Task<T>> call, string what, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var lost = ConnectionLost;
        var task = call();
        using var linked = cancellationToken.CanBeCanceled ? CancellationTokenSource.CreateLinkedTokenSource(lost, cancellationToken) : null;
        var stop = linked?.Token ?? lost;
        try
        {
            return await task.WaitAsync(stop).ConfigureAwait(false);
        }
        catch (OperationCanceledException ex) when (ex.CancellationToken == stop)
        {
            _ = task.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
            if (cancellationToken.IsCancellationRequested)
            {
                throw new OperationCanceledException($"Stopped waiting for {what}: the caller cancelled. A call the server had received runs to its end there.", ex, cancellationToken);
            }

            throw new AgentOsException(AgentOsErrorCode.ServerUnavailable,
                $"Lost the connection to the AgentOs server during {what}. Events committed before the loss are in the transcript; reconnect and continue (a prompt to a suspended session resumes it).");
        }
    }

    /// <inheritdoc cref="CallAsync{T}"/>
    public Task CallAsync(Func<Task> call, string what, CancellationToken cancellationToken) =>
        CallAsync(async () =>
        {
            await call().ConfigureAwait(false);
            return true;
        }, what, cancellationToken);
}
