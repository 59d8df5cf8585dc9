using System.Text.RegularExpressions;

namespace AgentOs.Agents;

/// <summary>
/// Checks a session's <c>Env</c> before anything runs with it (at create, and again at every resume, for
/// sessions stored before the check existed): keys are variable names, values hold no NUL, and nothing that
/// steers the dynamic loader or the C library is accepted. Such a variable would reach the loader of the
/// launcher on the host (or, without a sandbox, of the agent itself on the host): <c>LD_PRELOAD</c> naming a
/// library the agent built in its home runs that code as the server's user.
/// </summary>
internal static partial class SessionEnvironment
{
    /// <summary>
    /// glibc's list of variables it ignores for setuid programs (its "unsecure" variables), which is the list of
    /// what changes how a program loads or behaves underneath it; every <c>LD_*</c> is refused besides.
    /// </summary>
    private static readonly HashSet<string> LoaderVariables = new(StringComparer.Ordinal)
    {
        "GCONV_PATH", "GETCONF_DIR", "GLIBC_TUNABLES", "HOSTALIASES", "LOCALDOMAIN", "LOCPATH", "MALLOC_TRACE",
        "NIS_PATH", "NLSPATH", "RESOLV_HOST_CONF", "RES_OPTIONS", "TZDIR", "MALLOC_CHECK_", "MALLOC_PERTURB_",
    };

    [GeneratedRegex("^[A-Za-z_][A-Za-z0-9_]*$", RegexOptions.CultureInvariant)]
    private static partial Regex KeyPattern();

    /// <exception cref="AgentOsException"><see cref="AgentOsErrorCode.InvalidArgument"/> naming the key.</exception>
    public static void Validate(IReadOnlyDictionary<string, string>? env, string? sessionId = null)
    {
        foreach (var (key, value) in env ?? new Dictionary<string, string>())
        {
            if (!KeyPattern().IsMatch(key))
            {
                throw Invalid($"Env key '{Printable(key)}' is not a variable name: letters, digits and '_', not starting with a digit.", sessionId);
            }

            if (value is null || value.Contains('\0', StringComparison.Ordinal))
            {
                throw Invalid($"The value of Env key '{key}' is {(value is null ? "null" : "not text: it holds a NUL character")}.", sessionId);
            }

            if (key.StartsWith("LD_", StringComparison.Ordinal) || LoaderVariables.Contains(key))
            {
                throw Invalid($"Env key '{key}' is refused: it changes how programs are loaded (dynamic loader, C library), and a session may not set it. Agent types may (AgentOs:Agents:<name>:Env).", sessionId);
            }
        }
    }

    private static AgentOsException Invalid(string message, string? sessionId) =>
        new(AgentOsErrorCode.InvalidArgument, message) { SessionId = sessionId };

    private static string Printable(string key) =>
        string.Concat(key.Select(c => char.IsControl(c) ? $"\\u{(int)c:x4}" : c.ToString()));
}
