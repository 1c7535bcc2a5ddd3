namespace AiSystem.Ctl;

/// <summary>
/// Lays out rows of cells as aligned columns: every column is padded to its widest cell (header included),
/// columns are joined by <see cref="Separator"/>, and the last column is not padded (no trailing blanks).
/// </summary>
public sealed class TableWriter
{
    private readonly List<string[]> _rows = [];
    private readonly string[]? _header;
    private readonly HashSet<int> _rightAligned = [];

    /// <param name="header">Column titles, or null for a table without a header line.</param>
    /// <param name="separator">Put between columns, e.g. <c>"  "</c> or <c>" | "</c>.</param>
    public TableWriter(IReadOnlyList<string>? header = null, string separator = "  ")
    {
        _header = header?.ToArray();
        Separator = separator;
    }

    public string Separator { get; }

    public int RowCount => _rows.Count;

    /// <summary>Pads the cells of column <paramref name="column"/> on the left (numbers).</summary>
    public TableWriter AlignRight(int column)
    {
        _rightAligned.Add(column);
        return this;
    }

    public TableWriter AddRow(params string?[] cells)
    {
        _rows.Add(cells.Select(c => Text.OneLine(c)).ToArray());
        return this;
    }

    /// <summary>The lines of the table, header first.</summary>
    public IReadOnlyList<string> Lines()
    {
        var all = _header is null ? _rows : _rows.Prepend(_header).ToList();
        var columns = all.Count == 0 ? 0 : all.Max(r => r.Length);
        var widths = new int[columns];
        foreach (var row in all)
            for (var i = 0; i < row.Length; i++)
                widths[i] = Math.Max(widths[i], row[i].Length);

        var lines = new List<string>(all.Count);
        foreach (var row in all)
        {
            var cells = new string[columns];
            for (var i = 0; i < columns; i++)
            {
                var cell = i < row.Length ? row[i] : "";
                var last = i == columns - 1;
                cells[i] = _rightAligned.Contains(i) ? cell.PadLeft(widths[i])
                    : last ? cell
                    : cell.PadRight(widths[i]);
            }
            lines.Add(string.Join(Separator, cells).TrimEnd());
        }
        return lines;
    }

    public void WriteTo(TextWriter writer)
    {
        foreach (var line in Lines()) writer.WriteLine(line);
    }

    public override string ToString() => string.Join(Environment.NewLine, Lines());
}
