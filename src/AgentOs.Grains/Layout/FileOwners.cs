using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace AgentOs.Layout;

/// <summary>A file's owner on the host: its uid and gid.</summary>
internal readonly record struct FileOwner(uint Uid, uint Gid);

/// <summary>
/// Who owns what in a VM's home. Sandboxed agents run as a uid of their VM's own (Sandbox/VmUsers.cs), and
/// the home's owner is that identity: what the server makes in a home (an <c>fs/write_text_file</c>, the folders it needs)
/// is given to the home's owner, and <see cref="Adopt"/> hands it whatever the server's user or an operator put there.
/// Every step is taken relative to a handle of a folder already opened beneath the home, never by a path the agent could
/// redirect with a symlink: <c>statx</c> and <c>fchownat</c> with <c>AT_SYMLINK_NOFOLLOW</c>, folders opened with
/// <c>O_NOFOLLOW</c>.
/// </summary>
internal static partial class FileOwners
{
    private const int AtFdCwd = -100;
    private const int AtSymlinkNoFollow = 0x100;
    private const int AtEmptyPath = 0x1000;
    private const uint StatxBasic = 0x7ff; // STATX_BASIC_STATS
    private const ushort TypeMask = 0xF000, Directory = 0x4000, Regular = 0x8000;
    private const int ORdOnly = 0, ONoFollow = 0x20000, OCloexec = 0x80000;
    private static readonly int ODirectory = RuntimeInformation.ProcessArchitecture == Architecture.Arm64 ? 0x4000 : 0x10000;

    /// <summary>The server's own uid and gid.</summary>
    public static FileOwner Server { get; } = new(geteuid(), getegid());

    /// <summary>The owner of <paramref name="path"/> itself (a symlink is not followed).</summary>
    public static FileOwner Of(string path) =>
        Statx(new SafeFileHandle(AtFdCwd, ownsHandle: false), path, AtSymlinkNoFollow, out var status) == 0
            ? new FileOwner(status.Uid, status.Gid)
            : throw Failure(path);

    /// <summary>The owner of the file or folder <paramref name="handle"/> is open on.</summary>
    public static FileOwner Of(SafeFileHandle handle) =>
        Statx(handle, "", AtEmptyPath | AtSymlinkNoFollow, out var status) == 0 ? new FileOwner(status.Uid, status.Gid) : throw Failure("an open file");

    /// <summary>Gives the file <paramref name="handle"/> is open on to <paramref name="owner"/>.</summary>
    public static void Give(SafeFileHandle handle, FileOwner owner)
    {
        if (fchown(handle, owner.Uid, owner.Gid) != 0)
        {
            throw Failure("an open file");
        }
    }

    /// <summary>Gives <paramref name="name"/> in the folder <paramref name="folder"/> to <paramref name="owner"/>; a symlink itself, not its target.</summary>
    public static void Give(SafeFileHandle folder, string name, FileOwner owner)
    {
        if (fchownat(folder, name, owner.Uid, owner.Gid, AtSymlinkNoFollow) != 0)
        {
            throw Failure(name);
        }
    }

    /// <summary>Gives the server-made file at <paramref name="path"/> (outside any home) to <paramref name="owner"/>.</summary>
    public static void Give(string path, FileOwner owner)
    {
        if (fchownat(new SafeFileHandle(AtFdCwd, ownsHandle: false), path, owner.Uid, owner.Gid, AtSymlinkNoFollow) != 0)
        {
            throw Failure(path);
        }
    }

    /// <summary>
    /// Gives <paramref name="owner"/> everything under the folder <paramref name="home"/> (and the folder) that belongs to one of
    /// <paramref name="from"/>: files an operator or the server's user put in a VM's home, or the whole home of a VM its agents
    /// used under another uid. Everything else is left as it is; symlinks are given, never followed; a regular file with more
    /// than one link is left alone (it could be another file's second name); no other filesystem is entered. Returns how many
    /// entries changed hands.
    /// </summary>
    public static int Adopt(string home, FileOwner owner, IReadOnlyCollection<uint> from)
    {
        using var root = OpenFolder(new SafeFileHandle(AtFdCwd, ownsHandle: false), home, followLast: true) ?? throw Failure(home);
        if (Statx(root, "", AtEmptyPath, out var top) != 0)
        {
            throw Failure(home);
        }

        var changed = 0;
        if (from.Contains(top.Uid))
        {
            Give(root, owner);
            changed++;
        }

        return changed + AdoptBelow(root, top.DevMajor, top.DevMinor, owner, from);
    }

    private static int AdoptBelow(SafeFileHandle folder, uint devMajor, uint devMinor, FileOwner owner, IReadOnlyCollection<uint> from)
    {
        var changed = 0;
        // The kernel resolves /proc/self/fd/N to the folder this handle holds: the listing is of that folder, wherever it has moved.
        foreach (var name in System.IO.Directory.EnumerateFileSystemEntries($"/proc/self/fd/{folder.DangerousGetHandle()}").Select(Path.GetFileName))
        {
            if (name is null || Statx(folder, name, AtSymlinkNoFollow, out var entry) != 0)
            {
                continue; // gone meanwhile
            }

            var type = entry.Mode & TypeMask;
            if (from.Contains(entry.Uid) && (type != Regular || entry.Links == 1) && fchownat(folder, name, owner.Uid, owner.Gid, AtSymlinkNoFollow) == 0)
            {
                changed++;
            }

            if (type == Directory && entry.DevMajor == devMajor && entry.DevMinor == devMinor && OpenFolder(folder, name, followLast: false) is { } child)
            {
                using (child)
                {
                    changed += AdoptBelow(child, devMajor, devMinor, owner, from);
                }
            }
        }

        return changed;
    }

    private static SafeFileHandle? OpenFolder(SafeFileHandle parent, string name, bool followLast)
    {
        var handle = openat(parent, name, ORdOnly | ODirectory | OCloexec | (followLast ? 0 : ONoFollow), 0);
        if (handle.IsInvalid)
        {
            handle.Dispose();
            return null;
        }

        return handle;
    }

    private static int Statx(SafeFileHandle dir, string path, int flags, out StatxBuffer status) => statx(dir, path, flags, StatxBasic, out status);

    private static IOException Failure(string what) => new($"'{what}': {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");

    /// <summary>The kernel's <c>struct statx</c>, the same on every architecture (256 bytes).</summary>
    [StructLayout(LayoutKind.Explicit, Size = 256)]
    private struct StatxBuffer
    {
        [FieldOffset(16)] public uint Links;
        [FieldOffset(20)] public uint Uid;
        [FieldOffset(24)] public uint Gid;
        [FieldOffset(28)] public ushort Mode;
        [FieldOffset(136)] public uint DevMajor;
        [FieldOffset(140)] public uint DevMinor;
    }

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int statx(SafeFileHandle dirfd, string path, int flags, uint mask, out StatxBuffer buffer);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int fchownat(SafeFileHandle dirfd, string path, uint owner, uint group, int flags);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int fchown(SafeFileHandle fd, uint owner, uint group);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial SafeFileHandle openat(SafeFileHandle dirfd, string path, int flags, uint mode);

    [LibraryImport("libc")]
    private static partial uint geteuid();

    [LibraryImport("libc")]
    private static partial uint getegid();
}
