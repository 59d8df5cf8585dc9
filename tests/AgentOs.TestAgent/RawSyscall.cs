using System.Globalization;
using System.Runtime.InteropServices;

namespace AgentOs.TestAgent;

/// <summary>libc's <c>syscall(2)</c>: the attack tests' way to try what the seccomp filter refuses.</summary>
internal static partial class RawSyscall
{
    /// <summary>"NR [ARG…]" (decimal or 0x hex) → "RESULT errno N".</summary>
    public static string Call(string text)
    {
        var words = text.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(Parse).ToArray();
        if (words.Length == 0)
        {
            return "usage: syscall NR [ARG...]";
        }

        var args = new long[6];
        words.AsSpan(1).CopyTo(args);
        var result = Syscall(words[0], args[0], args[1], args[2], args[3], args[4], args[5]);
        return $"{result} errno {(result == -1 ? Marshal.GetLastPInvokeError() : 0)}";
    }

    private static long Parse(string word) => word.StartsWith("0x", StringComparison.Ordinal)
        ? long.Parse(word.AsSpan(2), NumberStyles.HexNumber, CultureInfo.InvariantCulture)
        : long.Parse(word, CultureInfo.InvariantCulture);

    [LibraryImport("libc", EntryPoint = "syscall", SetLastError = true)]
    private static partial long Syscall(long number, long a0, long a1, long a2, long a3, long a4, long a5);
}
