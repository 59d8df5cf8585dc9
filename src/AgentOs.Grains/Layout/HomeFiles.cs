using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace AgentOs.Layout;

/// <summary>
/// Opens files beneath a VM's home in one kernel step: <c>openat2(home, path, …, RESOLVE_BENEATH |
/// RESOLVE_NO_MAGICLINKS)</c> relative to a handle of the home, so every component (symlinks included) is
/// resolved by the kernel and may not leave the home, with no gap between a check and the open for an agent
/// to swap a directory and a symlink in. Folders a write needs are made one at a time with <c>mkdirat</c> in a
/// parent opened the same way. These are the server's <c>fs/*</c> handlers' only way to the VM's files.
/// </summary>
internal static partial class HomeFiles
{
    private const long SysOpenat2 = 437; // the same on x86-64 and arm64 (syscalls added since 5.x share numbers)
    private const ulong ResolveNoMagicLinks = 0x02;
    private const ulong ResolveBeneath = 0x08;
    private const int ENOENT = 2;
    private const int EEXIST = 17;
    private const int EXDEV = 18;
    private const int ELOOP = 40;
    private const int ENOSYS = 38;

    private static readonly bool Arm = RuntimeInformation.ProcessArchitecture == Architecture.Arm64;
    private static readonly int ODirectory = Arm ? 0x4000 : 0x10000;
    private const int OWrOnly = 0x1;
    private const int OCreat = 0x40;
    private const int OTrunc = 0x200;
    private const int OCloexec = 0x80000;
    private const int OPath = 0x200000;

    /// <summary>Opens <paramref name="relative"/> (a path under the home, no leading '/') for reading.</summary>
    public static SafeFileHandle OpenRead(string home, string relative)
    {
        using var root = OpenHome(home);
        return Open(root, relative, OCloexec, 0, relative);
    }

    /// <summary>
    /// Creates or truncates <paramref name="relative"/> for writing, making the folders above it (0755) as needed. What it
    /// makes belongs to the home's owner (the VM's own uid, when agents run as one), as if the agent had made it, and so
    /// does a file the server's user had there.
    /// </summary>
    public static SafeFileHandle OpenWrite(string home, string relative)
    {
        using var root = OpenHome(home);
        var owner = FileOwners.Of(root);
        var give = owner.Uid != FileOwners.Server.Uid;
        var parent = Path.GetDirectoryName(relative) ?? "";
        if (parent.Length > 0)
        {
            CreateDirectories(root, parent, relative, give ? owner : null);
        }

        var file = Open(root, relative, OWrOnly | OCreat | OTrunc | OCloexec, 0b110_100_100, relative);
        if (give && FileOwners.Of(file).Uid == FileOwners.Server.Uid)
        {
            FileOwners.Give(file, owner);
        }

        return file;
    }

    /// <summary>The handle every path is resolved beneath: the VM's home itself (the server's, not the agent's, to name).</summary>
    private static SafeFileHandle OpenHome(string home)
    {
        var root = open(home, OPath | ODirectory | OCloexec, 0);
        if (root.IsInvalid)
        {
            var error = Marshal.GetLastPInvokeError();
            root.Dispose();
            throw Failure(error, home);
        }

        return root;
    }

    private static void CreateDirectories(SafeFileHandle root, string parent, string requested, FileOwner? owner)
    {
        var parts = parent.Split('/', StringSplitOptions.RemoveEmptyEntries);
        for (var i = 0; i < parts.Length; i++)
        {
            using (var existing = TryOpen(root, string.Join('/', parts[..(i + 1)]), OPath | ODirectory | OCloexec, 0, out var error))
            {
                if (existing is not null)
                {
                    continue;
                }

                if (error != ENOENT)
                {
                    throw Failure(error, requested);
                }
            }

            using var above = Open(root, string.Join('/', parts[..i]), OPath | ODirectory | OCloexec, 0, requested);
            if (mkdirat(above, parts[i], 0b111_101_101) == 0)
            {
                if (owner is { } given)
                {
                    FileOwners.Give(above, parts[i], given);
                }
            }
            else if (Marshal.GetLastPInvokeError() is var e && e != EEXIST)
            {
                throw Failure(e, requested);
            }
        }
    }

    private static SafeFileHandle Open(SafeFileHandle root, string relative, int flags, uint mode, string requested) =>
        TryOpen(root, relative, flags, mode, out var error) ?? throw Failure(error, requested);

    /// <summary>One <c>openat2</c> beneath <paramref name="root"/> ("" is the root itself); null with the errno when it fails.</summary>
    private static SafeFileHandle? TryOpen(SafeFileHandle root, string relative, int flags, uint mode, out int error)
    {
        var how = new OpenHow { Flags = (ulong)flags, Mode = mode, Resolve = ResolveBeneath | ResolveNoMagicLinks };
        var fd = syscall(SysOpenat2, root, relative.Length == 0 ? "." : relative, ref how, (nuint)Marshal.SizeOf<OpenHow>());
        if (fd < 0)
        {
            error = Marshal.GetLastPInvokeError();
            return null;
        }

        error = 0;
        return new SafeFileHandle((nint)fd, ownsHandle: true);
    }

    private static Exception Failure(int error, string requested) => error switch
    {
        ENOENT => new FileNotFoundException($"No such file: {requested}"),
        EXDEV or ELOOP => new AgentOsException(AgentOsErrorCode.InvalidPath, $"'{requested}' leads outside the VM's home (through a symlink); it is refused."),
        ENOSYS => new PlatformNotSupportedException("openat2 is not available (Linux 5.6 or later is needed for the fs/* handlers)."),
        _ => new IOException($"'{requested}': {Marshal.GetPInvokeErrorMessage(error)}"),
    };

    [StructLayout(LayoutKind.Sequential)]
    private struct OpenHow
    {
        public ulong Flags;
        public ulong Mode;
        public ulong Resolve;
    }

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial SafeFileHandle open(string path, int flags, uint mode);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial long syscall(long number, SafeFileHandle dirfd, string path, ref OpenHow how, nuint size);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int mkdirat(SafeFileHandle dirfd, string path, uint mode);
}
