using System.Text.Json;
using AiSystem.LoadGen;

// The benchmark's load generator; bench/run.sh drives it. Each scenario prints one JSON object on stdout and its
// progress on stderr. Usage:
//   LoadGen latency     --master URL --count N
//   LoadGen floor       --mqtt-host H --mqtt-port P --count N
//   LoadGen throughput  --master URL --browsers B --warmup W --seconds S --master-pid PID [--window-file PATH]
//   LoadGen connections --master URL --sessions N --parallel P --master-pid PID --budget-seconds S --delay-ms D --answer-cap-seconds C
//   LoadGen failover    --master URL --workers id=pid,id=pid --delay-ms D --trials T --busy-ms B
//   LoadGen charts      --results FILE.json --prefix bench/results/DATE
var scenario = args.Length > 0 ? args[0] : "";
string Arg(string name, string? fallback = null)
{
    var i = Array.IndexOf(args, "--" + name);
    return i >= 0 && i + 1 < args.Length ? args[i + 1]
        : fallback ?? throw new ArgumentException($"{scenario} needs --{name}");
}
int Int(string name, string? fallback = null) =>
    int.TryParse(Arg(name, fallback), out var v) ? v : throw new ArgumentException($"--{name} must be a whole number");

try
{
    object result = scenario switch
    {
        "latency" => await Scenarios.Latency(Arg("master"), Int("count", "2000")),
        "floor" => await Floor.Run(Arg("mqtt-host", "127.0.0.1"), Int("mqtt-port"), Int("count", "2000")),
        "throughput" => await Scenarios.Throughput(Arg("master"), Int("browsers", "200"), Int("warmup", "10"), Int("seconds", "30"),
            Int("master-pid"), Arg("window-file", "") is { Length: > 0 } wf ? wf : null),
        "connections" => await Scenarios.Connections(Arg("master"), Int("sessions", "10000"), Int("parallel", "64"), Int("master-pid"),
            TimeSpan.FromSeconds(Int("budget-seconds", "60")), TimeSpan.FromMilliseconds(Int("delay-ms", "10000")),
            TimeSpan.FromSeconds(Int("answer-cap-seconds", "60"))),
        "failover" => await Scenarios.Failover(Arg("master"),
            Arg("workers").Split(',', StringSplitOptions.RemoveEmptyEntries).Select(p => p.Split('='))
                .ToDictionary(p => p[0], p => int.Parse(p[1])),
            TimeSpan.FromMilliseconds(Int("delay-ms")), Int("trials", "3"), TimeSpan.FromMilliseconds(Int("busy-ms", "500"))),
        "charts" => Charts.Draw(Arg("results"), Arg("prefix")),
        _ => throw new ArgumentException($"unknown scenario '{scenario}': latency, floor, throughput, connections, failover or charts"),
    };
    Console.WriteLine(JsonSerializer.Serialize(result));
    return 0;
}
catch (ArgumentException e)
{
    Console.Error.WriteLine($"LoadGen: {e.Message}");
    return 2;
}
