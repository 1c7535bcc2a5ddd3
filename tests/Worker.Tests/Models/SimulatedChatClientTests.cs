using AiSystem.Worker.Models;
using Microsoft.Extensions.AI;

namespace AiSystem.Worker.Tests;

public sealed class SimulatedChatClientTests
{
    private const string Banner = "(Simulated answer — no Gemini key configured.)";

    [Fact]
    public async Task Same_question_gives_the_same_answer_across_instances()
    {
        using var first = new SimulatedChatClient();
        using var second = new SimulatedChatClient();

        var a = await first.GetResponseAsync([new ChatMessage(ChatRole.User, "Why is the sky blue?")]);
        var b = await second.GetResponseAsync([new ChatMessage(ChatRole.User, "Why is the sky blue?")]);

        Assert.Equal(a.Text, b.Text);
        Assert.Equal(SimulatedChatClient.AnswerFor("Why is the sky blue?"), a.Text);
    }

    [Fact]
    public async Task Answer_says_it_is_simulated_and_restates_the_question()
    {
        using var client = new SimulatedChatClient();

        var response = await client.GetResponseAsync([new ChatMessage(ChatRole.User, "How do magnets work?")]);

        Assert.StartsWith(Banner, response.Text, StringComparison.Ordinal);
        Assert.Contains("> How do magnets work?", response.Text, StringComparison.Ordinal);
        Assert.Contains("Gemini API key", response.Text, StringComparison.Ordinal);
        Assert.Equal("simulated", response.ModelId);
        Assert.Equal(ChatFinishReason.Stop, response.FinishReason);
        Assert.Equal(ChatRole.Assistant, Assert.Single(response.Messages).Role);
    }

    [Fact]
    public void Different_questions_give_different_answers()
    {
        var answers = new[] { "What is 2+2?", "Who wrote Hamlet?", "How far is the Moon?", "What is Rust?" }
            .Select(SimulatedChatClient.AnswerFor)
            .ToList();

        Assert.Equal(answers.Count, answers.Distinct().Count());
        Assert.All(answers, a => Assert.StartsWith(Banner, a, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Answers_the_last_user_message()
    {
        using var client = new SimulatedChatClient();
        List<ChatMessage> messages =
        [
            new(ChatRole.System, "Be nice."),
            new(ChatRole.User, "First question"),
            new(ChatRole.Assistant, "First answer"),
            new(ChatRole.User, "Second question"),
        ];

        var response = await client.GetResponseAsync(messages);

        Assert.Contains("> Second question", response.Text, StringComparison.Ordinal);
        Assert.DoesNotContain("First question", response.Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Streaming_yields_the_same_answer_word_by_word()
    {
        using var client = new SimulatedChatClient("offline-model");
        List<ChatMessage> question = [new(ChatRole.User, "Explain   photosynthesis\nin two lines.")];

        var full = (await client.GetResponseAsync(question)).Text;
        var updates = new List<ChatResponseUpdate>();
        await foreach (var update in client.GetStreamingResponseAsync(question))
        {
            updates.Add(update);
        }

        Assert.Equal(full, string.Concat(updates.Select(u => u.Text)));
        Assert.True(updates.Count > 10);
        Assert.All(updates, u => Assert.Single(u.Text.Trim().Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries)));
        Assert.All(updates, u => Assert.Equal("offline-model", u.ModelId));
        Assert.Equal(ChatFinishReason.Stop, updates[^1].FinishReason);
        Assert.StartsWith("(Simulated", updates[0].Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Empty_conversation_still_answers()
    {
        using var client = new SimulatedChatClient();

        var response = await client.GetResponseAsync([]);

        Assert.StartsWith(Banner, response.Text, StringComparison.Ordinal);
        Assert.Contains("(empty question)", response.Text, StringComparison.Ordinal);
    }

    [Fact]
    public void Metadata_names_the_simulated_provider()
    {
        using var client = new SimulatedChatClient("sim-1");

        var metadata = Assert.IsType<ChatClientMetadata>(client.GetService(typeof(ChatClientMetadata)));

        Assert.Equal("simulated", metadata.ProviderName);
        Assert.Equal("sim-1", metadata.DefaultModelId);
        Assert.Null(client.GetService(typeof(string)));
    }
}
