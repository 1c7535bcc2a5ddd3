using AiSystem.Messages;
using Microsoft.Extensions.AI;

namespace AiSystem.Worker.Tests;

/// <summary>What the model is sent for a task: the system instruction, the conversation's turns, then the question.</summary>
public class ConversationTurnsTests
{
    private static TaskMessage Task(IReadOnlyList<ChatTurn>? history = null, string? system = null) => new()
    {
        WorkerId = "w1", SessionId = "alias", Query = "And its population?", GrpcEndpoint = "localhost:1", Timestamp = 1,
        History = history, SystemInstruction = system,
    };

    [Fact]
    public void A_task_from_an_older_master_is_the_question_alone()
    {
        var messages = TaskRunner.MessagesFor(Task());
        Assert.Equal([(ChatRole.User, "And its population?")], messages.Select(m => (m.Role, m.Text)));
    }

    [Fact]
    public void The_history_becomes_user_and_assistant_turns_after_the_system_instruction()
    {
        var messages = TaskRunner.MessagesFor(Task(
            [new ChatTurn(ChatTurn.User, "What is the capital of France?"), new ChatTurn(ChatTurn.Model, "Paris.")], "Be brief."));

        Assert.Equal(
        [
            (ChatRole.System, "Be brief."), (ChatRole.User, "What is the capital of France?"), (ChatRole.Assistant, "Paris."),
            (ChatRole.User, "And its population?"),
        ], messages.Select(m => (m.Role, m.Text)));
    }

    [Theory]
    [InlineData("""{"worker_id":"w1","session_id":"s","query":"q","grpc_endpoint":"h:1","timestamp":1,"history":[{"role":"system","text":"x"}]}""", "history[0].role")]
    [InlineData("""{"worker_id":"w1","session_id":"s","query":"q","grpc_endpoint":"h:1","timestamp":1,"history":[{"role":"user"}]}""", "history[0]")]
    public void A_history_with_an_unknown_role_or_no_text_is_refused_with_the_field_named(string json, string field)
    {
        Assert.False(WireJson.TryParse(new System.Buffers.ReadOnlySequence<byte>(System.Text.Encoding.UTF8.GetBytes(json)), out TaskMessage? _, out var error));
        Assert.Contains(field, error);
    }
}
