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

    /// <summary>Awaits <paramref name="call"/>, or fails with <see cref="AgentOsErrorCode.ServerUnavailable"/> when the connection drops first.</summary>
    public async Task<T> GuardAsync<T>(Task<T> call, string what)
    {
        var lost = ConnectionLost;
        try
        {
            return await call.WaitAsync(lost).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (lost.IsCancellationRequested)
        {
            _ = call.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
            throw new AgentOsException(AgentOsErrorCode.ServerUnavailable,
                $"Lost the connection to the AgentOs server during {what}. Events committed before the loss are in the transcript; reconnect and continue (a prompt to a suspended session resumes it).");
        }
    }

    public async Task GuardAsync(Task call, string what) =>
        await GuardAsync(call.ContinueWith(static t => { t.GetAwaiter().GetResult(); return true; }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default), what).ConfigureAwait(false);
}
