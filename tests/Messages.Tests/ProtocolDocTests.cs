using System.Buffers;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace AiSystem.Messages.Tests;

/// <summary>docs/protocol.md stays true: its examples parse with our own parser and its proto is ours.</summary>
public partial class ProtocolDocTests
{
    private static readonly string Root = FindRoot();
    private static readonly string Doc = File.ReadAllText(Path.Combine(Root, "docs", "protocol.md"));

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "AiSystem.sln"))) return dir.FullName;
        throw new InvalidOperationException("repository root not found");
    }

    [GeneratedRegex(@"```(?<info>[^\n]*)\n(?<body>.*?)\n```", RegexOptions.Singleline)]
    private static partial Regex FencedBlock();

    private static IEnumerable<(string Kind, string Json)> Examples() =>
        FencedBlock().Matches(Doc)
            .Select(m => (Info: m.Groups["info"].Value.Trim(), Body: m.Groups["body"].Value))
            .Where(b => b.Info.StartsWith("json ", StringComparison.Ordinal))
            .Select(b => (b.Info["json ".Length..].Trim(), b.Body));

    [Fact]
    public void Every_kind_of_MQTT_payload_has_an_example()
    {
        var kinds = Examples().Select(e => e.Kind).Distinct().Order().ToList();
        Assert.Equal(["heartbeat", "log", "registration", "status", "task"], kinds);
    }

    [Fact]
    public void Every_example_parses_and_round_trips_through_the_wire_records()
    {
        foreach (var (kind, json) in Examples())
        {
            var payload = new ReadOnlySequence<byte>(Encoding.UTF8.GetBytes(json));
            string? error;
            byte[]? again = kind switch
            {
                "registration" => WireJson.TryParse(payload, out WorkerRegistration? r, out error) ? WireJson.Serialize(r) : null,
                "status" => WireJson.TryParse(payload, out WorkerStatusUpdate? s, out error) ? WireJson.Serialize(s) : null,
                "heartbeat" => WireJson.TryParse(payload, out WorkerHeartbeat? h, out error) ? WireJson.Serialize(h) : null,
                "task" => WireJson.TryParse(payload, out TaskMessage? t, out error) ? WireJson.Serialize(t) : null,
                "log" => WireJson.TryParse(payload, out LogMessage? l, out error) ? WireJson.Serialize(l) : null,
                _ => throw new InvalidOperationException($"unknown example kind '{kind}'"),
            };
            Assert.True(again is not null, $"the {kind} example does not parse: {error}\n{json}");
            Assert.True(JsonNode.DeepEquals(JsonNode.Parse(json), JsonNode.Parse(again)),
                $"the {kind} example has a field the code does not know or writes differently:\n{json}\nwritten back as\n{Encoding.UTF8.GetString(again)}");
        }
    }

    [Fact]
    public void The_proto_in_the_doc_is_the_one_in_protos()
    {
        static string Normalize(string proto) => string.Join('\n', proto.Split('\n')
            .Select(l => Regex.Replace(l, @"//.*$", "").Trim())
            .Where(l => l.Length > 0 && !l.StartsWith("syntax") && !l.StartsWith("option") && !l.StartsWith("package")));

        var block = FencedBlock().Matches(Doc).Single(m => m.Groups["info"].Value.Trim() == "proto").Groups["body"].Value;
        var file = File.ReadAllText(Path.Combine(Root, "protos", "worker.proto"));
        Assert.Equal(Normalize(file), Normalize(block));
    }
}
