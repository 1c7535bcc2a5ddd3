using System.Globalization;
using System.Text.Json.Nodes;
using ScottPlot;

namespace AiSystem.LoadGen;

/// <summary>Draws the PNG charts of one results file (the .json run.sh writes); a chart whose data is missing is skipped.</summary>
public static class Charts
{
    private const int Width = 900, Height = 500;
    private static readonly IPalette Palette = new ScottPlot.Palettes.Category10();
    private static readonly Color Original = Palette.GetColor(1), Ours = Palette.GetColor(0);

    public static IReadOnlyList<string> Draw(string resultsJson, string prefix)
    {
        var r = JsonNode.Parse(File.ReadAllText(resultsJson))!.AsObject();
        var written = new List<string>();
        void Save(Func<Plot?> make, string name)
        {
            try
            {
                if (make() is not { } plot) return;
                var path = $"{prefix}-{name}.png";
                plot.SavePng(path, Width, Height);
                written.Add(path);
            }
            catch (Exception e) when (e is InvalidOperationException or NullReferenceException or FormatException or KeyNotFoundException)
            {
                Console.Error.WriteLine($"  charts: {name} skipped: {e.Message}");
            }
        }
        var runs = (r["runs"] as JsonArray)?.OfType<JsonObject>().ToList() ?? [];
        Save(() => AnswersPerSecond(runs), "answers-per-second");
        foreach (var run in runs.Where(x => x["original"]?["p50_ms"] is not null && x["ours"]?["p50_ms"] is not null))
            Save(() => LatencySideBySide(run), $"latency-{run["id"]!.GetValue<string>().ToLowerInvariant()}");
        var one = runs.FirstOrDefault(x => x["browsers"]?.GetValue<int>() == 1)?["ours"] as JsonObject;
        if (one?["percentile_curve"] is not null) Save(() => Percentiles(one, r["floor"] as JsonObject), "latency-curve");
        if (one?["distribution"] is not null) Save(() => Distribution(one), "latency-distribution");
        Save(() => ThroughputOverTime(runs), "throughput");
        Save(() => ThroughputMemory(runs), "throughput-memory");
        if (r["connections"] is JsonObject connections && connections["series"] is JsonArray { Count: > 0 })
        {
            Save(() => Sessions(connections), "memory-per-session");
            Save(() => SessionsOverTime(connections), "connections");
        }
        if (r["profile"]?["passes"] is JsonArray { Count: > 0 } passes) Save(() => Profile(passes), "profile");
        return written;
    }

    private static double[][] Points(JsonNode? node) =>
        node is JsonArray a ? [.. a.Select(p => p!.AsArray().Select(v => v!.GetValue<double>()).ToArray())] : [];

    private static double? Num(JsonNode? n) => n is JsonValue v && v.TryGetValue<double>(out var d) ? d : null;

    private static string Fmt(double v) => v >= 100 ? v.ToString("0", CultureInfo.InvariantCulture)
        : v >= 10 ? v.ToString("0.0", CultureInfo.InvariantCulture) : v.ToString("0.00", CultureInfo.InvariantCulture);

    private static void Legend(Plot plot, Alignment where, params (string Label, Color Color)[] items)
    {
        foreach (var (label, color) in items) plot.Legend.ManualItems.Add(new LegendItem { LabelText = label, FillColor = color });
        plot.ShowLegend(where);
    }

    /// <summary>Answers per second in the window: original and ours side by side for each seed shape, ours alone for the others.</summary>
    private static Plot? AnswersPerSecond(List<JsonObject> runs)
    {
        if (runs.Count == 0) return null;
        var plot = new Plot();
        var bars = new List<Bar>();
        var (ticks, labels) = (new List<double>(), new List<string>());
        for (var i = 0; i < runs.Count; i++)
        {
            var x = i * 3.0;
            if (Num(runs[i]["original"]?["answers_per_second"]) is { } o)
                bars.Add(new Bar { Position = x - 0.45, Value = o, Size = 0.8, FillColor = Original, Label = Fmt(o) });
            if (Num(runs[i]["ours"]?["answers_per_second"]) is { } u)
                bars.Add(new Bar { Position = x + 0.45, Value = u, Size = 0.8, FillColor = Ours, Label = Fmt(u) });
            ticks.Add(x);
            var ratio = Num(runs[i]["ratio"]?["answers_per_second"]);
            labels.Add(runs[i]["short"]?.GetValue<string>() + (ratio is { } q ? $"\nours/original {q:0.00}×" : ""));
        }
        plot.Add.Bars(bars);
        plot.Axes.Bottom.SetTicks([.. ticks], [.. labels]);
        plot.Axes.Margins(bottom: 0);
        plot.Title("Answers per second in the measured window");
        plot.YLabel("answers/s");
        Legend(plot, Alignment.UpperLeft, ("original (Node master)", Original), ("ours (default settings)", Ours));
        return plot;
    }

    /// <summary>p50 / p90 / p99 / max of one seed shape, original beside ours.</summary>
    private static Plot LatencySideBySide(JsonObject run)
    {
        var plot = new Plot();
        string[] keys = ["p50_ms", "p90_ms", "p99_ms", "max_ms"];
        var bars = new List<Bar>();
        for (var i = 0; i < keys.Length; i++)
        {
            if (Num(run["original"]?[keys[i]]) is { } o)
                bars.Add(new Bar { Position = i * 3 - 0.45, Value = o, Size = 0.8, FillColor = Original, Label = Fmt(o) });
            if (Num(run["ours"]?[keys[i]]) is { } u)
                bars.Add(new Bar { Position = i * 3 + 0.45, Value = u, Size = 0.8, FillColor = Ours, Label = Fmt(u) });
        }
        plot.Add.Bars(bars);
        plot.Axes.Bottom.SetTicks([0, 3, 6, 9], ["p50", "p90", "p99", "max"]);
        plot.Axes.Margins(bottom: 0);
        plot.Title($"Latency, question to answer: {run["title"]}");
        plot.YLabel("ms");
        Legend(plot, Alignment.UpperLeft, ("original (Node master)", Original), ("ours (default settings)", Ours));
        return plot;
    }

    // Percentile p on a "nines" axis: 50% → 0.3, 90% → 1, 99% → 2, 99.9% → 3.
    private static double Nines(double p) => -Math.Log10(Math.Max(1 - p / 100, 1e-5));

    private static Plot Percentiles(JsonObject latency, JsonObject? floor)
    {
        var plot = new Plot();
        void Curve(JsonNode? curve, string label)
        {
            var pts = Points(curve);
            if (pts.Length == 0) return;
            var s = plot.Add.Scatter(pts.Select(p => Nines(p[0])).ToArray(), pts.Select(p => Math.Log10(Math.Max(p[1], 0.01))).ToArray());
            s.LegendText = label;
        }
        Curve(latency["percentile_curve"], "ours end to end (one browser, shape A)");
        if (floor is not null)
        {
            Curve(floor["signalr_echo"]?["percentile_curve"], "floor: SignalR echo");
            Curve(floor["mqtt_publish_receive"]?["percentile_curve"], "floor: MQTT publish→receive (embedded broker)");
            Curve(floor["grpc_unary"]?["percentile_curve"], "floor: gRPC unary");
        }
        plot.Axes.Bottom.SetTicks([Nines(0), Nines(50), Nines(90), Nines(99), Nines(99.9), Nines(99.99)],
            ["0%", "50%", "90%", "99%", "99.9%", "99.99%"]);
        double[] ms = [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000];
        plot.Axes.Left.SetTicks([.. ms.Select(Math.Log10)], [.. ms.Select(v => v.ToString(CultureInfo.InvariantCulture))]);
        plot.Title("Latency by percentile, one browser, and the transport floor (last point: max)");
        plot.XLabel("percentile");
        plot.YLabel("ms (log scale)");
        plot.ShowLegend(Alignment.LowerRight);
        return plot;
    }

    private static Plot Distribution(JsonObject latency)
    {
        var plot = new Plot();
        var pts = Points(latency["distribution"]);
        var width = pts.Length > 1 ? pts[1][0] - pts[0][0] : 1;
        var bars = plot.Add.Bars(pts.Select(p => p[0] + width / 2).ToArray(), pts.Select(p => p[1]).ToArray());
        foreach (var b in bars.Bars) b.Size = width * 0.9;
        plot.Title("Latency distribution, ours, one browser (last bar: everything above the p99.9)");
        plot.XLabel("ms");
        plot.YLabel("answers");
        return plot;
    }

    private static Plot? ThroughputOverTime(List<JsonObject> runs)
    {
        var plot = new Plot();
        var any = false;
        for (var i = 0; i < runs.Count; i++)
            foreach (var (side, pattern) in new[] { ("original", LinePattern.Dashed), ("ours", LinePattern.Solid) })
            {
                var run = runs[i];
                var pts = Points(run[side]?["per_second"]);
                if (pts.Length == 0) continue;
                var s = plot.Add.Scatter(pts.Select(p => p[0]).ToArray(), pts.Select(p => p[1]).ToArray());
                s.LinePattern = pattern;
                s.Color = Palette.GetColor(i);
                s.LegendText = $"{side}, {run["short"]}";
                any = true;
            }
        if (!any) return null;
        plot.Title("Answers per second over the measured window (original dashed, ours solid)");
        plot.XLabel("s into the window");
        plot.YLabel("answers/s");
        plot.ShowLegend(Edge.Bottom);
        return plot;
    }

    private static Plot? ThroughputMemory(List<JsonObject> runs)
    {
        var plot = new Plot();
        var any = false;
        foreach (var run in runs)
        {
            var pts = Points(run["ours"]?["master"]?["samples"]);
            if (pts.Length == 0) continue;
            var s = plot.Add.Scatter(pts.Select(p => p[0]).ToArray(), pts.Select(p => p[1]).ToArray());
            s.LegendText = $"ours, {run["short"]}";
            any = true;
        }
        if (!any) return null;
        plot.Title("Master memory (RSS) during the measured windows");
        plot.XLabel("s into the window");
        plot.YLabel("RSS MiB");
        plot.ShowLegend(Alignment.LowerRight);
        return plot;
    }

    private static Plot Sessions(JsonObject connections)
    {
        var plot = new Plot();
        var pts = Points(connections["series"]); // [s, connected, answered, rss]
        var s = plot.Add.Scatter(pts.Select(p => p[1]).ToArray(), pts.Select(p => p[3]).ToArray());
        s.LegendText = "master RSS";
        plot.Title($"Master memory per session: {connections["master_kib_per_session"]} KiB ({connections["connected"]} sessions)");
        plot.XLabel("connected sessions (each with a question in flight)");
        plot.YLabel("RSS MiB");
        plot.ShowLegend(Alignment.UpperLeft);
        return plot;
    }

    private static Plot SessionsOverTime(JsonObject connections)
    {
        var plot = new Plot();
        var pts = Points(connections["series"]);
        var c = plot.Add.Scatter(pts.Select(p => p[0]).ToArray(), pts.Select(p => p[1]).ToArray());
        c.LegendText = "sessions connected";
        var a = plot.Add.Scatter(pts.Select(p => p[0]).ToArray(), pts.Select(p => p[2]).ToArray());
        a.LegendText = "answered";
        plot.Add.VerticalLine(30, pattern: LinePattern.Dashed).LegendText = "target: all connected by 30 s";
        plot.Title($"{connections["sessions"]} sessions: connected and answered over time");
        plot.XLabel("s");
        plot.YLabel("sessions");
        plot.ShowLegend(Alignment.LowerRight);
        return plot;
    }

    /// <summary>The master's CPU per answer by component (the 10 largest over all passes), one bar per profiled load.</summary>
    private static Plot Profile(JsonArray passes)
    {
        var plot = new Plot();
        var list = passes.OfType<JsonObject>().Where(p => p["components"] is JsonArray).ToList();
        var rows = list.Select(p => p["components"]!.AsArray().OfType<JsonObject>()
            .ToDictionary(c => c["short"]?.GetValue<string>() ?? c["name"]!.GetValue<string>(), c => Num(c["ms_per_answer"]) ?? 0)).ToList();
        var names = rows.SelectMany(r => r).GroupBy(kv => kv.Key).OrderByDescending(g => g.Max(kv => kv.Value)).Select(g => g.Key).Take(10).ToList();
        var bars = new List<Bar>();
        var width = 0.8 / Math.Max(list.Count, 1);
        for (var k = 0; k < list.Count; k++)
            for (var i = 0; i < names.Count; i++)
            {
                var v = rows[k].GetValueOrDefault(names[i]);
                bars.Add(new Bar { Position = i + (k - (list.Count - 1) / 2.0) * width, Value = v, Size = width * 0.95, FillColor = Palette.GetColor(k),
                    Label = v >= 0.01 ? Fmt(v) : "" });
            }
        plot.Add.Bars(bars);
        plot.Axes.Bottom.SetTicks([.. Enumerable.Range(0, names.Count).Select(i => (double)i)], [.. names]);
        plot.Axes.Margins(bottom: 0);
        plot.Title("Master CPU per answer by component (perf; the 10 largest)");
        plot.YLabel("CPU ms per answer");
        Legend(plot, Alignment.UpperRight, [.. list.Select((p, k) => (p["title"]?.GetValue<string>() ?? $"pass {k}", Palette.GetColor(k)))]);
        return plot;
    }
}
