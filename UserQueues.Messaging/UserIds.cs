using System.Diagnostics.CodeAnalysis;
using System.Text.RegularExpressions;

namespace UserQueues.Messaging;

/// <summary>
/// What a userId may look like. It becomes part of queue names and routing keys, so only
/// characters that are safe there (and in URLs and logs) are accepted.
/// </summary>
public static partial class UserIds
{
    public const int MaxLength = 128;

    /// <summary>
    /// The documented pattern: a letter or digit, then letters, digits, '.', '_', '-' or ':'.
    /// <c>\z</c>, not <c>$</c>: .NET's <c>$</c> also matches before a final newline.
    /// </summary>
    public const string Pattern = @"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}\z";

    [GeneratedRegex(Pattern, RegexOptions.CultureInvariant)]
    private static partial Regex SafeUserId();

    /// <summary>Null when <paramref name="userId"/> is valid, else a sentence saying what is wrong and how to fix it.</summary>
    public static string? Validate([NotNullWhen(false)] string? userId)
    {
        if (string.IsNullOrEmpty(userId))
        {
            return "userId is required: send \"userId\" (or the seed's \"instance_key\") as a non-empty string.";
        }

        if (userId.Length > MaxLength)
        {
            return $"userId is {userId.Length} characters long; at most {MaxLength} are allowed.";
        }

        return SafeUserId().IsMatch(userId)
            ? null
            : "userId may contain only letters, digits, '.', '_', '-' and ':' and must start with a letter or digit " +
              $"(pattern {Pattern}); it becomes part of the queue name.";
    }

    public static bool IsValid([NotNullWhen(true)] string? userId) => Validate(userId) is null;
}
