using System.Text;

namespace AiSystem.Ctl;

/// <summary>Makes text from the network safe to print on one terminal line.</summary>
public static class Text
{
    /// <summary>
    /// Line breaks become <c>\n</c>, tabs a space, other control characters (terminal escapes included) <c>?</c>;
    /// longer than <paramref name="max"/> characters is cut with an ellipsis.
    /// </summary>
    public static string OneLine(string? value, int max = int.MaxValue)
    {
        if (string.IsNullOrEmpty(value)) return "";
        var sb = new StringBuilder(Math.Min(value.Length, max == int.MaxValue ? value.Length : max + 1));
        for (var i = 0; i < value.Length; i++)
        {
            var c = value[i];
            if (c == '\r')
            {
                if (i + 1 < value.Length && value[i + 1] == '\n') i++;
                sb.Append("\\n");
            }
            else if (c == '\n') sb.Append("\\n");
            else if (c == '\t') sb.Append(' ');
            else if (char.IsControl(c)) sb.Append('?');
            else sb.Append(c);
        }
        if (sb.Length > max && max > 1)
        {
            sb.Length = max - 1;
            sb.Append('…');
        }
        return sb.ToString();
    }

    /// <summary><see cref="OneLine"/>, or <c>-</c> for null or empty.</summary>
    public static string Cell(string? value) => string.IsNullOrEmpty(value) ? "-" : OneLine(value, 200);
}
