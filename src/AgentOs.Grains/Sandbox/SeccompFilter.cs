using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace AgentOs.Sandbox;

/// <summary>
/// The seccomp filter bwrap installs on every agent (<c>--seccomp FD</c>), as a classic BPF program: the
/// system calls a coding agent never needs and that are the usual way into the kernel, after Docker's and
/// Flatpak's default profiles. Refused with <c>EPERM</c> (or <c>ENOSYS</c>, so callers fall back): new
/// namespaces (<c>unshare</c>, <c>setns</c>, <c>clone</c> with namespace flags; <c>clone3</c>, whose flags a
/// filter cannot read), setuid/setgid mode bits (<c>chmod</c> family), mounts and the new mount API, kernel
/// modules, kexec, keyrings, <c>bpf</c>, <c>perf_event_open</c>, <c>userfaultfd</c>, <c>io_uring</c>, file handles
/// (<c>open_by_handle_at</c>), the clock, swap, reboot, accounting, quotas, port I/O and the terminal
/// injection ioctls. Other architectures' system calls (the 32-bit ABIs) are refused whole. x86-64 only; on
/// another machine <see cref="ForThisMachine"/> is null and the start log says so.
/// </summary>
internal static class SeccompFilter
{
    private const uint AuditArchX8664 = 0xC000003E;
    private const uint X32Bit = 0x40000000;
    private const int Eperm = 1;
    private const int Enosys = 38;

    /// <summary>CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET (Docker's mask).</summary>
    private const uint NamespaceFlags = 0x7E020000;
    private const uint CloneNewTime = 0x80; // in unshare's flags (in clone's, the low byte is the exit signal)
    private const uint SetIds = 0x800 | 0x400; // S_ISUID | S_ISGID
    private const uint Tiocsti = 0x5412;
    private const uint Tioclinux = 0x541C;

    /// <summary>System calls refused whatever their arguments (x86-64 numbers).</summary>
    private static readonly (string Name, uint Number, int Errno)[] Refused =
    [
        ("setns", 308, Eperm), ("clone3", 435, Enosys),
        ("mount", 165, Eperm), ("umount2", 166, Eperm), ("pivot_root", 155, Eperm), ("chroot", 161, Eperm),
        ("open_tree", 428, Eperm), ("move_mount", 429, Eperm), ("fsopen", 430, Eperm), ("fsconfig", 431, Eperm),
        ("fsmount", 432, Eperm), ("fspick", 433, Eperm), ("mount_setattr", 442, Eperm),
        ("init_module", 175, Eperm), ("finit_module", 313, Eperm), ("delete_module", 176, Eperm),
        ("kexec_load", 246, Eperm), ("kexec_file_load", 320, Eperm),
        ("add_key", 248, Eperm), ("request_key", 249, Eperm), ("keyctl", 250, Eperm),
        ("bpf", 321, Eperm), ("perf_event_open", 298, Eperm), ("userfaultfd", 323, Eperm),
        ("io_uring_setup", 425, Enosys), ("io_uring_enter", 426, Enosys), ("io_uring_register", 427, Enosys),
        ("open_by_handle_at", 304, Eperm), ("name_to_handle_at", 303, Eperm),
        ("settimeofday", 164, Eperm), ("clock_settime", 227, Eperm), ("clock_adjtime", 305, Eperm), ("adjtimex", 159, Eperm),
        ("swapon", 167, Eperm), ("swapoff", 168, Eperm), ("reboot", 169, Eperm), ("acct", 163, Eperm),
        ("quotactl", 179, Eperm), ("lookup_dcookie", 212, Eperm),
        ("uselib", 134, Eperm), ("iopl", 172, Eperm), ("ioperm", 173, Eperm), ("vhangup", 153, Eperm),
    ];

    /// <summary>System calls refused when an argument has a bit of a mask set (or, for ioctl, equals a value).</summary>
    private static readonly (string Name, uint Number, int Arg, uint Mask, bool Exact)[] Conditional =
    [
        ("clone", 56, 0, NamespaceFlags, false),
        ("unshare", 272, 0, NamespaceFlags | CloneNewTime, false),
        ("chmod", 90, 1, SetIds, false),
        ("fchmod", 91, 1, SetIds, false),
        ("fchmodat", 268, 2, SetIds, false),
        ("fchmodat2", 452, 2, SetIds, false),
        ("ioctl", 16, 1, Tiocsti, true),
        ("ioctl", 16, 1, Tioclinux, true),
    ];

    /// <summary>What the filter refuses, for the start log.</summary>
    public static string Summary => $"{Refused.Length} system calls refused, {Conditional.Length} refused by argument (new namespaces, setuid/setgid bits, terminal injection), 32-bit ABIs refused";

    /// <summary>The compiled program for this machine, or null when it is not x86-64.</summary>
    public static byte[]? ForThisMachine() => RuntimeInformation.OSArchitecture == Architecture.X64 ? Compile() : null;

    private static byte[] Compile()
    {
        var program = new List<(ushort Code, byte True, byte False, uint K)>();
        void Emit(ushort code, uint k, byte jt = 0, byte jf = 0) => program.Add((code, jt, jf, k));
        const ushort LoadWord = 0x20; // BPF_LD | BPF_W | BPF_ABS
        const ushort JumpEqual = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
        const ushort JumpAtLeast = 0x35; // BPF_JMP | BPF_JGE | BPF_K
        const ushort JumpAnyBit = 0x45; // BPF_JMP | BPF_JSET | BPF_K
        const ushort Return = 0x06; // BPF_RET | BPF_K
        const uint Allow = 0x7FFF0000;
        static uint Errno(int errno) => 0x00050000u | (uint)errno;
        const uint ArchOffset = 4;
        const uint NumberOffset = 0;
        static uint ArgLow(int index) => 16 + (8 * (uint)index); // little-endian: the low 32 bits first

        Emit(LoadWord, ArchOffset);
        Emit(JumpEqual, AuditArchX8664, jt: 1);
        Emit(Return, Errno(Enosys));
        Emit(LoadWord, NumberOffset);
        Emit(JumpAtLeast, X32Bit, jf: 1);
        Emit(Return, Errno(Enosys));
        foreach (var (_, number, errno) in Refused)
        {
            Emit(JumpEqual, number, jf: 1);
            Emit(Return, Errno(errno));
        }

        foreach (var (_, number, arg, mask, exact) in Conditional)
        {
            Emit(JumpEqual, number, jf: 4);
            Emit(LoadWord, ArgLow(arg));
            Emit(exact ? JumpEqual : JumpAnyBit, mask, jf: 1);
            Emit(Return, Errno(Eperm));
            Emit(LoadWord, NumberOffset);
        }

        Emit(Return, Allow);

        var bytes = new byte[program.Count * 8];
        for (var i = 0; i < program.Count; i++)
        {
            var span = bytes.AsSpan(i * 8, 8);
            BinaryPrimitives.WriteUInt16LittleEndian(span, program[i].Code);
            span[2] = program[i].True;
            span[3] = program[i].False;
            BinaryPrimitives.WriteUInt32LittleEndian(span[4..], program[i].K);
        }

        return bytes;
    }
}
