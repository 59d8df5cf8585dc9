namespace AgentOs.Layout;

/// <summary>
/// One server per data directory, as Postgres and etcd do it: an exclusive <c>flock</c> on <c>&lt;data&gt;/LOCK</c>
/// (.NET takes it for <see cref="FileShare.None"/>), held for the process lifetime and let go by the kernel
/// when the process dies, even by <c>kill -9</c>. The holder's pid is in <c>&lt;data&gt;/LOCK.pid</c> (the
/// locked file itself cannot be read by another process through .NET), so a second server names it.
/// </summary>
internal sealed class DataDirectoryLock : IDisposable
{
    private readonly FileStream _lock;

    private DataDirectoryLock(FileStream held) => _lock = held;

    /// <summary>Takes the lock, or throws <see cref="InvalidOperationException"/> naming the holder.</summary>
    public static DataDirectoryLock Acquire(string dataDirectory)
    {
        PrivateFiles.CreateDirectory(dataDirectory);
        var path = Path.Combine(dataDirectory, "LOCK");
        FileStream held;
        try
        {
            held = PrivateFiles.Create(path, FileMode.OpenOrCreate, FileShare.None);
        }
        catch (IOException)
        {
            var pid = File.Exists(path + ".pid") ? File.ReadAllText(path + ".pid").Trim() : "unknown";
            throw new InvalidOperationException(
                $"another AgentOs server (pid {pid}) uses the data directory {dataDirectory}: one server per data directory (it holds {path}). Stop it, or give this one its own AgentOs:DataDirectory.");
        }

        File.WriteAllText(path + ".pid", Environment.ProcessId + "\n");
        return new DataDirectoryLock(held);
    }

    public void Dispose() => _lock.Dispose();
}
