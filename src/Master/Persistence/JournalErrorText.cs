using System.Text;
using System.Text.RegularExpressions;

namespace AiSystem.Master.Persistence;

/// <summary>
/// A database error's message made fit to show operators (readiness, <c>/api/journal</c>, the dashboard): its first
/// line only, no password, no connection string, one line of at most <see cref="MaxLength"/> characters.
/// </summary>
public static partial class JournalErrorText
{
    public const int MaxLength = 300;

    /// <param name="connection">The journal's connection: its connection string and password are blanked out.</param>
    public static string Clean(string? message, JournalConnection? connection = null)
    {
        var text = (message ?? "").Trim();
        // The first line only: PostgreSQL's DETAIL (after a blank line) may quote a row, and a row holds conversation text.
        var end = text.IndexOfAny(['\r', '\n']);
        if (end >= 0) text = text[..end].TrimEnd();
        if (connection is not null)
        {
            if (connection.ConnectionString.Length > 0) text = text.Replace(connection.ConnectionString, "[connection string]", StringComparison.Ordinal);
            if (connection.Password is { Length: > 0 } password) text = text.Replace(password, "[password]", StringComparison.Ordinal);
        }
        text = Secret().Replace(text, "$1=[password]");

        var line = new StringBuilder(Math.Min(text.Length, MaxLength));
        foreach (var c in text) line.Append(char.IsControl(c) ? ' ' : c);
        if (line.Length > MaxLength)
        {
            line.Length = MaxLength - 1;
            line.Append('…');
        }
        return line.ToString();
    }

    /// <summary>A <c>Password=…</c> or <c>Pwd=…</c> pair, as in a connection string, up to its <c>;</c> (or the end).</summary>
    [GeneratedRegex("""\b(password|pwd)\s*=\s*(?!\[password\])("[^"]*"|'[^']*'|[^;]*)""", RegexOptions.IgnoreCase)]
    private static partial Regex Secret();
}
