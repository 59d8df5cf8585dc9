namespace AgentOs.Layout;

/// <summary>
/// The data directory is the server's alone: folders are created 0700 and databases 0600, so no other
/// local user can list a VM, read a transcript or a key (the README's threat model). On Windows the
/// ACLs of the parent apply.
/// </summary>
internal static class PrivateFiles
{
    public const UnixFileMode DirectoryMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    public const UnixFileMode FileMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    private const UnixFileMode GroupOrOther = UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute
        | UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute;

    /// <summary>Creates <paramref name="path"/> and every missing folder above it, each 0700.</summary>
    public static void CreateDirectory(string path)
    {
        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(path);
            return;
        }

        var full = Path.GetFullPath(path);
        if (Directory.Exists(full))
        {
            return;
        }

        if (Path.GetDirectoryName(full) is { } parent)
        {
            CreateDirectory(parent);
        }

        Directory.CreateDirectory(full, DirectoryMode);
    }

    /// <summary>
    /// Makes the data directory private: created 0700, or, when it exists with rights for group or others,
    /// set to 0700. Returns true when an existing folder's mode was changed.
    /// </summary>
    public static bool RestrictDataDirectory(string path)
    {
        CreateDirectory(path);
        if (OperatingSystem.IsWindows() || (File.GetUnixFileMode(path) & GroupOrOther) == 0)
        {
            return false;
        }

        File.SetUnixFileMode(path, File.GetUnixFileMode(path) & ~GroupOrOther);
        return true;
    }

    /// <summary>Opens <paramref name="path"/> for writing; a file it creates is 0600.</summary>
    public static FileStream Create(string path, System.IO.FileMode mode, FileShare share = FileShare.Read)
    {
        var options = new FileStreamOptions { Mode = mode, Access = FileAccess.Write, Share = share };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = FileMode;
        }

        return new FileStream(path, options);
    }

    /// <summary>Creates an empty file 0600 if there is none (SQLite gives its -wal and -shm files the mode of the database).</summary>
    public static void CreateFile(string path)
    {
        if (File.Exists(path))
        {
            return;
        }

        try
        {
            using var _ = Create(path, System.IO.FileMode.CreateNew);
        }
        catch (IOException) when (File.Exists(path))
        {
            // Created by someone else meanwhile.
        }
    }
}
