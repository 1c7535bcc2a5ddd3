using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using Microsoft.Extensions.AI;

namespace AiSystem.Worker.Models;

/// <summary>
/// Offline <see cref="IChatClient"/> for when no Gemini key is configured. Answers are deterministic
/// (same question → same answer, derived from the question text), and say clearly that they are simulated.
/// Streaming yields the answer word by word, spread evenly across <c>pace</c> (none: no delays).
/// </summary>
public sealed partial class SimulatedChatClient : IChatClient
{
    public const string ProviderName = "simulated";

    /// <summary>The first line of every simulated answer.</summary>
    public const string Banner = "(Simulated answer — no Gemini key configured.)";

    private static readonly string[] Sentences =
    [
        "A real model would weigh the details of the question before answering.",
        "Breaking the problem into smaller steps is usually a good first move.",
        "The short answer depends on context that a real model would consider.",
        "It often helps to check the assumptions behind a question like this one.",
        "A concrete example usually makes an explanation like this easier to follow.",
        "Reliable sources and a quick experiment are the best ways to confirm the answer.",
        "There are usually several reasonable approaches, each with its own trade-offs.",
        "Starting from the simplest case and generalising tends to work well here.",
    ];

    private readonly string _modelName;
    private readonly ChatClientMetadata _metadata;
    private readonly TimeSpan _pace;

    /// <param name="pace">How long a streamed answer takes from the first word to the last.</param>
    public SimulatedChatClient(string modelName = "simulated", TimeSpan pace = default)
    {
        _pace = pace < TimeSpan.Zero ? TimeSpan.Zero : pace;
        _modelName = string.IsNullOrWhiteSpace(modelName) ? "simulated" : modelName;
        _metadata = new ChatClientMetadata(ProviderName, null, _modelName);
    }

    /// <summary>The deterministic simulated answer for a question (pure function of the text).</summary>
    public static string AnswerFor(string question)
    {
        ArgumentNullException.ThrowIfNull(question);
        var trimmed = question.Trim();
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes(trimmed));
        var sentence = Sentences[BitConverter.ToUInt32(hash, 0) % (uint)Sentences.Length];
        var fingerprint = Convert.ToHexStringLower(hash.AsSpan(0, 4));

        var quoted = trimmed.Length == 0
            ? "> (empty question)"
            : string.Join('\n', trimmed.ReplaceLineEndings("\n").Split('\n').Select(l => l.Length == 0 ? ">" : "> " + l));

        return $"""
            {Banner}

            **You asked:**

            {quoted}

            {sentence}

            _This text was generated offline (simulation {fingerprint}). Configure a Gemini API key to get a real answer._
            """;
    }

    public Task<ChatResponse> GetResponseAsync(
        IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var answer = AnswerFor(LastQuestion(messages));
        return Task.FromResult(new ChatResponse(new ChatMessage(ChatRole.Assistant, answer))
        {
            ModelId = ModelFor(options),
            FinishReason = ChatFinishReason.Stop,
        });
    }

    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
        IEnumerable<ChatMessage> messages, ChatOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var answer = AnswerFor(LastQuestion(messages));
        var model = ModelFor(options);

        // Each piece is a word with the whitespace that follows it; the pieces concatenate to the exact answer.
        var words = WordBoundary().Split(answer);
        var pieces = words.Count(w => w.Length > 0);
        var step = pieces > 1 ? _pace / (pieces - 1) : TimeSpan.Zero;
        var first = true;
        for (var i = 0; i < words.Length; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (words[i].Length == 0)
            {
                continue;
            }

            // The first word comes at once (the page shows the answer starting), the last one after the whole pace.
            if (!first && step > TimeSpan.Zero)
            {
                await Task.Delay(step, cancellationToken).ConfigureAwait(false);
            }

            first = false;

            yield return new ChatResponseUpdate(ChatRole.Assistant, words[i])
            {
                ModelId = model,
                FinishReason = i == words.Length - 1 ? ChatFinishReason.Stop : null,
            };
        }
    }

    public object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        return serviceKey is null && serviceType == typeof(ChatClientMetadata) ? _metadata : null;
    }

    public void Dispose()
    {
    }

    private string ModelFor(ChatOptions? options) =>
        string.IsNullOrWhiteSpace(options?.ModelId) ? _modelName : options.ModelId;

    private static string LastQuestion(IEnumerable<ChatMessage> messages)
    {
        ArgumentNullException.ThrowIfNull(messages);
        return messages.LastOrDefault(m => m.Role == ChatRole.User)?.Text ?? string.Empty;
    }

    [GeneratedRegex(@"(?<=\s)(?=\S)")]
    private static partial Regex WordBoundary();
}
