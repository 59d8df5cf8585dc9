using System.Text.RegularExpressions;

namespace AgentOs;

/// <summary>VM ids double as directory names, so they are validated before any use.</summary>
public static partial class VmId
{
    /// <summary>Letters, digits, '.', '_' and '-'; starts with a letter or digit; 1 to 64 characters.</summary>
    public const string Rule = "1 to 64 characters: letters, digits, '.', '_' or '-', starting with a letter or digit";

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$", RegexOptions.CultureInvariant)]
    private static partial Regex Pattern();

    public static bool IsValid(string? id) => id is not null && Pattern().IsMatch(id) && !id.Contains("..", StringComparison.Ordinal);

    /// <summary>Throws <see cref="AgentOsException"/> with <see cref="AgentOsErrorCode.InvalidVmId"/> for a bad id.</summary>
    public static string Validate(string? id) => IsValid(id)
        ? id!
        : throw new AgentOsException(AgentOsErrorCode.InvalidVmId, $"Invalid VM id '{id}'. A VM id is {Rule}.");
}
