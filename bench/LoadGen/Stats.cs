using System.Diagnostics;
using HdrHistogram;

namespace AiSystem.LoadGen;

/// <summary>Latency summaries and distributions from HdrHistograms recorded in Stopwatch ticks.</summary>
public static class Stats
{
    public static LongHistogram NewHistogram() => new(TimeStamp.Seconds(120), 3);

    public static double Ms(long ticks) => Math.Round(ticks * 1000.0 / Stopwatch.Frequency, 3);

    public static Dictionary<string, object> Percentiles(HistogramBase h) => new()
    {
        ["count"] = h.TotalCount,
        ["p50_ms"] = Ms(h.GetValueAtPercentile(50)),
        ["p90_ms"] = Ms(h.GetValueAtPercentile(90)),
        ["p99_ms"] = Ms(h.GetValueAtPercentile(99)),
        ["p999_ms"] = Ms(h.GetValueAtPercentile(99.9)),
        ["max_ms"] = Ms(h.GetMaxValue()),
        ["mean_ms"] = h.TotalCount == 0 ? 0 : Math.Round(h.GetMean() * 1000.0 / Stopwatch.Frequency, 3),
    };

    /// <summary>The percentile curve (percentile → ms), for the chart: 1 − 1/2^k steps out to the maximum.</summary>
    public static double[][] PercentileCurve(HistogramBase h)
    {
        var points = new List<double[]>();
        for (var k = 0; k <= 40; k++)
        {
            var p = 100.0 * (1 - Math.Pow(2, -k / 4.0));
            if (p > 99.99) break;
            points.Add([Math.Round(p, 4), Ms(h.GetValueAtPercentile(p))]);
        }
        points.Add([100.0, Ms(h.GetMaxValue())]);
        return [.. points];
    }

    /// <summary>Counts per latency bucket (bucket start in ms, count), 60 linear buckets up to the p99.9.</summary>
    public static double[][] Distribution(HistogramBase h)
    {
        var top = Math.Max(h.GetValueAtPercentile(99.9), 1);
        var width = Math.Max(top / 60, 1);
        var counts = new long[61];
        foreach (var v in h.RecordedValues())
            counts[Math.Min((int)(v.ValueIteratedTo / width), 60)] += v.CountAddedInThisIterationStep;
        return [.. counts.Select((c, i) => new[] { Ms(i * width), (double)c })];
    }
}
