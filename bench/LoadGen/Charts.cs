using System.Text.Json.Nodes;
using ScottPlot;

namespace AiSystem.LoadGen;

/// <summary>Draws the PNG charts of one results file (the .json run.sh writes).</summary>
public static class Charts
{
    private const int Width = 900, Height = 500;

    public static IReadOnlyList<string> Draw(string resultsJson, string prefix)
    {
        var r = JsonNode.Parse(File.ReadAllText(resultsJson))!.AsObject();
        var written = new List<string>();
        void Save(Plot plot, string name)
        {
            var path = $"{prefix}-{name}.png";
            plot.SavePng(path, Width, Height);
            written.Add(path);
        }
        if (r["latency"] is JsonObject latency) { Save(Percentiles(latency, r["floor"] as JsonObject), "latency"); Save(Distribution(latency), "latency-distribution"); }
        var throughputs = (r["throughput"] as JsonArray)?.OfType<JsonObject>().ToList() ?? [];
        if (throughputs.Count > 0) { Save(Throughput(throughputs), "throughput"); Save(ThroughputMemory(throughputs), "throughput-memory"); }
        if (r["connections"] is JsonObject connections) Save(Sessions(connections), "memory-per-session");
        return written;
    }

    private static double[][] Points(JsonNode? node) =>
        node is JsonArray a ? [.. a.Select(p => p!.AsArray().Select(v => v!.GetValue<double>()).ToArray())] : [];

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
        Curve(latency["percentile_curve"], "end to end (one browser)");
        if (floor is not null)
        {
            Curve(floor["signalr_echo"]?["percentile_curve"], "floor: SignalR echo");
            Curve(floor["mqtt_publish_receive"]?["percentile_curve"], "floor: MQTT publish→receive");
            Curve(floor["grpc_unary"]?["percentile_curve"], "floor: gRPC unary");
        }
        plot.Axes.Bottom.SetTicks([Nines(0), Nines(50), Nines(90), Nines(99), Nines(99.9), Nines(99.99)],
            ["0%", "50%", "90%", "99%", "99.9%", "99.99%"]);
        double[] ms = [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000];
        plot.Axes.Left.SetTicks([.. ms.Select(Math.Log10)], [.. ms.Select(v => v.ToString(System.Globalization.CultureInfo.InvariantCulture))]);
        plot.Title("Latency by percentile, scenario 1 and the transport floor (last point: max)");
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
        plot.Title("Latency distribution, one browser (last bar: everything above the p99.9)");
        plot.XLabel("ms");
        plot.YLabel("answers");
        return plot;
    }

    private static Plot Throughput(List<JsonObject> runs)
    {
        var plot = new Plot();
        foreach (var run in runs)
        {
            var pts = Points(run["per_second"]);
            var s = plot.Add.Scatter(pts.Select(p => p[0]).ToArray(), pts.Select(p => p[1]).ToArray());
            s.LegendText = $"{run["workers"]} workers, {run["browsers"]} browsers";
        }
        plot.Title("Throughput over time (answers per second)");
        plot.XLabel("s");
        plot.YLabel("answers/s");
        plot.ShowLegend(Alignment.LowerRight);
        return plot;
    }

    private static Plot ThroughputMemory(List<JsonObject> runs)
    {
        var plot = new Plot();
        foreach (var run in runs)
        {
            var pts = Points(run["master"]?["samples"]);
            var s = plot.Add.Scatter(pts.Select(p => p[0]).ToArray(), pts.Select(p => p[1]).ToArray());
            s.LegendText = $"master RSS, {run["workers"]} workers";
        }
        plot.Title("Master memory during the throughput runs");
        plot.XLabel("s");
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
}
