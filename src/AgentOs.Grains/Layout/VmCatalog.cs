namespace AgentOs.Layout;

/// <summary>
/// The VMs this server's data directory holds, read from disk: a VM exists while its folder under
/// <see cref="AgentOsOptions.DatabaseDirectoryFullPath"/> holds a <c>vm.db</c>. The folders are the one record of
/// which VMs exist (a VM is made by its first session and its folder goes with <c>DestroyVm</c>, and a read of an
/// unused id removes what it made), so listing them needs no second registry to keep in step, and the list holds
/// across restarts and while VMs sleep. A VM whose folder an unused read made shows for the moment it exists.
/// </summary>
internal static class VmCatalog
{
    /// <summary>Every VM id with a database, in ordinal order.</summary>
    public static IReadOnlyList<string> List(AgentOsOptions options)
    {
        var root = options.DatabaseDirectoryFullPath;
        if (!Directory.Exists(root))
        {
            return [];
        }

        return Directory.EnumerateDirectories(root)
            .Where(dir => File.Exists(Path.Combine(dir, "vm.db")))
            .Select(dir => VmId.FromDirectoryName(Path.GetFileName(dir)))
            .OfType<string>()
            .Order(StringComparer.Ordinal)
            .ToList();
    }

    /// <summary>
    /// When VM <paramref name="vmId"/> (a valid id) last wrote to its database (its <c>vm.db</c> or the write-ahead log
    /// beside it): its last event, session change or history read that made its folder. Read from the files, so a
    /// sleeping VM is not woken to say it; null when it has no database.
    /// </summary>
    public static DateTimeOffset? LastWrite(AgentOsOptions options, string vmId)
    {
        var folder = Path.Combine(options.DatabaseDirectoryFullPath, VmId.ToDirectoryName(vmId));
        DateTimeOffset? last = null;
        foreach (var name in (ReadOnlySpan<string>)["vm.db", "vm.db-wal"])
        {
            var file = new FileInfo(Path.Combine(folder, name));
            if (file.Exists && (last is null || file.LastWriteTimeUtc > last))
            {
                last = new DateTimeOffset(file.LastWriteTimeUtc, TimeSpan.Zero);
            }
        }

        return last;
    }

    /// <summary>Whether VM <paramref name="vmId"/> (a valid id) has a database.</summary>
    public static bool Exists(AgentOsOptions options, string vmId) =>
        File.Exists(Path.Combine(options.DatabaseDirectoryFullPath, VmId.ToDirectoryName(vmId), "vm.db"));
}
