using System.Text.RegularExpressions;

namespace AgentOs;

/// <summary>
/// VM ids double as directory names, so they are validated before any use. An id is one name or a path of
/// names (<c>tenant-a/project-1</c>): the segments let an HTTP API key be scoped to a prefix such as
/// <c>tenant-a/</c>. A VM's folder is its id with each <c>/</c> written as <c>+</c> (<see cref="ToDirectoryName"/>),
/// a character no segment may hold: every VM has one flat folder, never one inside another VM's.
/// </summary>
public static partial class VmId
{
    /// <summary>Letters, digits, '.', '_' and '-'; starts with a letter or digit; 1 to 64 characters; up to 4 of them joined by '/'.</summary>
    public const string Rule = "1 to 64 characters: letters, digits, '.', '_' or '-', starting with a letter or digit; or up to 4 such names joined by '/' (tenant-a/project-1)";

    /// <summary>The most characters a VM id may have (4 segments of 64 and their 3 separators).</summary>
    public const int MaxLength = (4 * 64) + 3;

    /// <summary>What stands for '/' in a VM's folder name.</summary>
    private const char DirectorySeparator = '+';

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._-]{0,63}(/[A-Za-z0-9][A-Za-z0-9._-]{0,63}){0,3}$", RegexOptions.CultureInvariant)]
    private static partial Regex Pattern();

    public static bool IsValid(string? id) => id is not null && Pattern().IsMatch(id) && !id.Contains("..", StringComparison.Ordinal);

    /// <summary>Throws <see cref="AgentOsException"/> with <see cref="AgentOsErrorCode.InvalidVmId"/> for a bad id.</summary>
    public static string Validate(string? id) => IsValid(id)
        ? id!
        : throw new AgentOsException(AgentOsErrorCode.InvalidVmId, $"Invalid VM id '{id}'. A VM id is {Rule}.");

    /// <summary>The name of a (valid) VM id's folder: the id with '/' written as '+'.</summary>
    public static string ToDirectoryName(string id) => Validate(id).Replace('/', DirectorySeparator);

    /// <summary>The VM id a folder name stands for; null when the name is not one a VM's folder has.</summary>
    public static string? FromDirectoryName(string name)
    {
        var id = name.Replace(DirectorySeparator, '/');
        return IsValid(id) ? id : null;
    }
}
