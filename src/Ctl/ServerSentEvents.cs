using System.Runtime.CompilerServices;
using System.Text;

namespace AiSystem.Ctl;

/// <summary>
/// Reads a <c>text/event-stream</c>: yields the <c>data</c> of every event (several <c>data:</c> lines joined by
/// a line feed) when its blank line arrives. Comments (<c>:</c>), <c>event:</c>, <c>id:</c> and <c>retry:</c> are
/// ignored; an event cut off by the end of the stream is dropped, as the SSE specification says.
/// </summary>
public static class ServerSentEvents
{
    public static async IAsyncEnumerable<string> ReadDataAsync(TextReader reader, [EnumeratorCancellation] CancellationToken ct = default)
    {
        var data = new StringBuilder();
        var hasData = false;
        while (true)
        {
            var line = await reader.ReadLineAsync(ct).ConfigureAwait(false);
            if (line is null) yield break;
            if (line.Length == 0)
            {
                if (hasData) yield return data.ToString();
                data.Clear();
                hasData = false;
                continue;
            }
            if (line[0] == ':') continue;
            var colon = line.IndexOf(':');
            var field = colon < 0 ? line : line[..colon];
            if (field != "data") continue;
            var value = colon < 0 ? "" : line[(colon + 1)..];
            if (value.StartsWith(' ')) value = value[1..];
            if (hasData) data.Append('\n');
            data.Append(value);
            hasData = true;
        }
    }
}
