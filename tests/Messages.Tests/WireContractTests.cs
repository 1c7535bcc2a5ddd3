using System.Buffers;
using System.Text;
using System.Text.Json.Nodes;
using AiSystem.Messages;
using AiSystem.Messages.Grpc;

namespace AiSystem.Messages.Tests;

/// <summary>The exact examples of PROTOCOL.md §1 and §2 round-trip field for field.</summary>
public class WireContractTests
{
    private const string RegistrationExample = """
        {"worker_id":"csharp-worker-5f2c1a9e","language":"CSharp","status":"idle","timestamp":1702345670000,
         "capacity":4,"heartbeat_interval_ms":2000,"version":"1.0.0","host":"node-2",
         "cluster_address":"akka.tcp://ai-system@10.0.1.7:4053","provider":"gemini"}
        """;

    private const string TaskExample = """
        {"worker_id":"csharp-worker-5f2c1a9e","session_id":"550e8400-e29b-41d4-a716-446655440000",
         "query":"¿Qué es Docker Swarm?","api_key":"","grpc_endpoint":"master:50051","timestamp":1702345678901,
         "task_id":"0b7e6f0e-8a2d-4d8e-9d41-0f3c9a1b2c3d","attempt":1,"deadline":1702345798901}
        """;

    private static ReadOnlySequence<byte> Bytes(string json) => new(Encoding.UTF8.GetBytes(json));

    private static void AssertSameJson(string expected, byte[] actual) =>
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(expected), JsonNode.Parse(actual)),
            $"expected {expected}\nactual   {Encoding.UTF8.GetString(actual)}");

    [Fact]
    public void Registration_example_round_trips()
    {
        Assert.True(WireJson.TryParse(Bytes(RegistrationExample), out WorkerRegistration? r, out var error), error);
        Assert.Equal("csharp-worker-5f2c1a9e", r.WorkerId);
        Assert.Equal(4, r.Capacity);
        Assert.Equal(2000, r.HeartbeatIntervalMs);
        Assert.Equal("akka.tcp://ai-system@10.0.1.7:4053", r.ClusterAddress);
        AssertSameJson(RegistrationExample, WireJson.Serialize(r));
    }

    [Fact]
    public void Task_example_round_trips_including_empty_api_key()
    {
        Assert.True(WireJson.TryParse(Bytes(TaskExample), out TaskMessage? t, out var error), error);
        Assert.Equal("¿Qué es Docker Swarm?", t.Query);
        Assert.Equal("master:50051", t.GrpcEndpoint);
        Assert.Equal(1, t.Attempt);
        Assert.Equal(1702345798901, t.Deadline);
        AssertSameJson(TaskExample, WireJson.Serialize(t));
    }

    [Fact]
    public void Original_registration_without_extra_fields_is_accepted()
    {
        const string old = """{"worker_id":"python-worker-1","language":"Python","status":"idle","timestamp":1702345670000}""";
        Assert.True(WireJson.TryParse(Bytes(old), out WorkerRegistration? r, out var error), error);
        Assert.Null(r.Capacity);
        Assert.Null(r.HeartbeatIntervalMs);
        AssertSameJson(old, WireJson.Serialize(r));
    }

    [Fact]
    public void Status_heartbeat_and_log_use_the_protocol_field_names()
    {
        AssertSameJson("""{"worker_id":"w","status":"busy","timestamp":5,"active_tasks":1,"capacity":2}""",
            WireJson.Serialize(new WorkerStatusUpdate { WorkerId = "w", Status = "busy", Timestamp = 5, ActiveTasks = 1, Capacity = 2 }));
        AssertSameJson("""{"worker_id":"w","status":"idle","timestamp":5,"active_tasks":0,"capacity":2,"tasks_completed":7}""",
            WireJson.Serialize(new WorkerHeartbeat { WorkerId = "w", Status = "idle", Timestamp = 5, ActiveTasks = 0, Capacity = 2, TasksCompleted = 7 }));
        AssertSameJson("""{"timestamp":5,"source":"master","message":"hi","level":"info","task_id":"t","session_id":"s"}""",
            WireJson.Serialize(new LogMessage { Timestamp = 5, Source = "master", Message = "hi", Level = "info", TaskId = "t", SessionId = "s" }));
    }

    [Fact]
    public void Unknown_fields_are_ignored()
    {
        Assert.True(WireJson.TryParse(Bytes("""{"worker_id":"w","status":"offline","timestamp":1,"future_field":{"x":[1,2]}}"""),
            out WorkerStatusUpdate? s, out var error), error);
        Assert.Equal(WorkerStatuses.Offline, s.Status);
    }

    [Theory]
    [InlineData("not json", "not a valid")]
    [InlineData("[1,2,3]", "not a valid")]
    [InlineData("null", "null")]
    [InlineData("""{"status":"idle","timestamp":1}""", "worker_id")]
    [InlineData("""{"worker_id":"","status":"idle","timestamp":1}""", "worker_id")]
    [InlineData("""{"worker_id":"w","status":"sleeping","timestamp":1}""", "status")]
    [InlineData("""{"worker_id":"w","status":"idle","timestamp":"yesterday"}""", "timestamp")]
    [InlineData("""{"worker_id":42,"status":"idle","timestamp":1}""", "worker_id")]
    [InlineData("""{"worker_id":"w","status":"idle","timestamp":1,"capacity":"four"}""", "capacity")]
    [InlineData("""{"worker_id":"w","status":"idle","timestamp":1,"capacity":0}""", "capacity")]
    [InlineData("""{"worker_id":"w","status":"idle","timestamp":1,"capacity":-3}""", "capacity")]
    [InlineData("""{"worker_id":"w","status":"idle","timestamp":1,"capacity":100000}""", "capacity")]
    [InlineData("""{"worker_id":"w","status":"idle","timestamp":1,"capacity":2147483648}""", "capacity")]
    [InlineData("""{"worker_id":"w","status":"idle","timestamp":1,"heartbeat_interval_ms":-1}""", "heartbeat_interval_ms")]
    [InlineData("""{"worker_id":"a/b","status":"idle","timestamp":1}""", "worker_id")]
    [InlineData("""{"worker_id":"#","status":"idle","timestamp":1}""", "worker_id")]
    [InlineData("""{"worker_id":"w","status":null,"timestamp":1}""", "status")]
    [InlineData("""{"worker_id":null,"status":"idle","timestamp":1}""", "worker_id")]
    public void Malformed_registrations_are_refused_with_a_reason(string json, string mentioned)
    {
        Assert.False(WireJson.TryParse(Bytes(json), out WorkerRegistration? _, out var error));
        Assert.Contains(mentioned, error, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void Huge_strings_are_refused_not_stored()
    {
        var huge = new string('x', 100_000);
        Assert.False(WireJson.TryParse(Bytes($$"""{"worker_id":"{{huge}}","status":"idle","timestamp":1}"""), out WorkerRegistration? _, out var e1));
        Assert.Contains("worker_id", e1);
        Assert.False(WireJson.TryParse(Bytes($$"""{"worker_id":"w","status":"idle","timestamp":1,"host":"{{huge}}"}"""), out WorkerRegistration? _, out var e2));
        Assert.Contains("host", e2);
        Assert.DoesNotContain(huge[..200], e2); // the error names the field, it does not echo the payload
    }

    [Fact]
    public void A_task_without_a_grpc_endpoint_is_refused()
    {
        Assert.False(WireJson.TryParse(Bytes("""{"worker_id":"w","session_id":"s","query":"q","grpc_endpoint":"","timestamp":1}"""),
            out TaskMessage? _, out var error));
        Assert.Contains("grpc_endpoint", error);
    }

    [Fact]
    public void Task_ToString_never_shows_the_api_key()
    {
        var task = new TaskMessage { WorkerId = "w", SessionId = "s", Query = "q", ApiKey = "AIzaSECRET", GrpcEndpoint = "m:1", Timestamp = 1 };
        Assert.DoesNotContain("AIzaSECRET", task.ToString());
    }

    [Fact]
    public void Grpc_field_numbers_are_the_protocol_ones()
    {
        var expected = new Dictionary<string, int>
        {
            ["worker_id"] = 1, ["session_id"] = 2, ["original_query"] = 3, ["ai_response"] = 4, ["api_key"] = 5,
            ["processing_time_ms"] = 6, ["query_timestamp"] = 7, ["completion_timestamp"] = 8,
            ["task_id"] = 9, ["error"] = 10, ["provider"] = 11, ["permanent_error"] = 12, ["prompt_tokens"] = 13, ["output_tokens"] = 14,
        };
        var fields = TaskResult.Descriptor.Fields.InFieldNumberOrder().ToDictionary(f => f.Name, f => f.FieldNumber);
        Assert.Equal(expected, fields);
        Assert.Equal("worker.WorkerCallback", WorkerCallback.Descriptor.FullName);
        // SendResult first, unchanged; StreamResult, Deliver and FetchKey are the additions (docs/protocol.md §3.5, §3.6, §3.8).
        Assert.Equal(["SendResult", "StreamResult", "Deliver", "FetchKey"], WorkerCallback.Descriptor.Methods.Select(m => m.Name));
        var send = WorkerCallback.Descriptor.Methods[0];
        Assert.Equal((false, false, "TaskResult"), (send.IsClientStreaming, send.IsServerStreaming, send.InputType.Name));
        var stream = WorkerCallback.Descriptor.Methods[1];
        Assert.Equal((true, false, "TaskChunk", "ResultAck"), (stream.IsClientStreaming, stream.IsServerStreaming, stream.InputType.Name, stream.OutputType.Name));
        Assert.Equal(["task_id", "worker_id", "session_id", "attempt", "sequence", "text", "restart", "result"],
            TaskChunk.Descriptor.Fields.InFieldNumberOrder().Select(f => f.Name));
        var deliver = WorkerCallback.Descriptor.Methods[2];
        Assert.Equal((true, true, "TaskChunk", "ResultAck"), (deliver.IsClientStreaming, deliver.IsServerStreaming, deliver.InputType.Name, deliver.OutputType.Name));
        Assert.Equal([("success", 1), ("message", 2), ("task_id", 3), ("retry", 4)],
            ResultAck.Descriptor.Fields.InFieldNumberOrder().Select(f => (f.Name, f.FieldNumber)));
        var fetch = WorkerCallback.Descriptor.Methods[3];
        Assert.Equal((false, false, "KeyRequest", "KeyReply"), (fetch.IsClientStreaming, fetch.IsServerStreaming, fetch.InputType.Name, fetch.OutputType.Name));
        Assert.Equal([("task_id", 1), ("worker_id", 2), ("session_id", 3)], KeyRequest.Descriptor.Fields.InFieldNumberOrder().Select(f => (f.Name, f.FieldNumber)));
        Assert.Equal([("found", 1), ("api_key", 2), ("message", 3)], KeyReply.Descriptor.Fields.InFieldNumberOrder().Select(f => (f.Name, f.FieldNumber)));
    }

    [Fact]
    public void Topics_follow_the_prefix()
    {
        var topics = new Topics("upb");
        Assert.Equal("upb/workers/register", topics.Register);
        Assert.Equal("upb/workers/status", topics.Status);
        Assert.Equal("upb/workers/heartbeat", topics.Heartbeat);
        Assert.Equal("upb/logs", topics.Logs);
        Assert.Equal("upb/workers/w-1/tasks", topics.TasksFor("w-1"));
        Assert.Equal("x/workers/register", new Topics("x").Register);
    }
}
