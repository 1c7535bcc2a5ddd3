using System.Text.Json.Serialization;

namespace AiSystem.Worker.Models;

// Wire shapes of the Gemini REST API (v1beta generateContent / streamGenerateContent).
// Only the fields the worker uses; unknown fields are ignored when reading.

internal sealed class GeminiRequest
{
    public List<GeminiContent> Contents { get; set; } = [];

    public GeminiContent? SystemInstruction { get; set; }

    public GeminiGenerationConfig? GenerationConfig { get; set; }
}

internal sealed class GeminiContent
{
    public string? Role { get; set; }

    public List<GeminiPart>? Parts { get; set; }
}

internal sealed class GeminiPart
{
    public string? Text { get; set; }

    public bool? Thought { get; set; }
}

internal sealed class GeminiGenerationConfig
{
    public float? Temperature { get; set; }

    public int? MaxOutputTokens { get; set; }

    public float? TopP { get; set; }

    public int? TopK { get; set; }

    public List<string>? StopSequences { get; set; }
}

/// <summary>A generateContent body, or one SSE chunk of streamGenerateContent (which may also carry an error).</summary>
internal sealed class GeminiResponse
{
    public List<GeminiCandidate>? Candidates { get; set; }

    public GeminiPromptFeedback? PromptFeedback { get; set; }

    public GeminiUsageMetadata? UsageMetadata { get; set; }

    public string? ModelVersion { get; set; }

    public string? ResponseId { get; set; }

    public GeminiError? Error { get; set; }
}

internal sealed class GeminiCandidate
{
    public GeminiContent? Content { get; set; }

    public string? FinishReason { get; set; }

    public int? Index { get; set; }
}

internal sealed class GeminiPromptFeedback
{
    public string? BlockReason { get; set; }

    public string? BlockReasonMessage { get; set; }
}

internal sealed class GeminiUsageMetadata
{
    public int? PromptTokenCount { get; set; }

    public int? CandidatesTokenCount { get; set; }

    public int? TotalTokenCount { get; set; }

    public int? ThoughtsTokenCount { get; set; }
}

internal sealed class GeminiErrorEnvelope
{
    public GeminiError? Error { get; set; }
}

internal sealed class GeminiError
{
    public int? Code { get; set; }

    public string? Message { get; set; }

    public string? Status { get; set; }

    public List<GeminiErrorDetail>? Details { get; set; }
}

internal sealed class GeminiErrorDetail
{
    [JsonPropertyName("@type")]
    public string? Type { get; set; }

    /// <summary>google.rpc.ErrorInfo.reason, e.g. API_KEY_INVALID.</summary>
    public string? Reason { get; set; }

    /// <summary>google.rpc.RetryInfo.retryDelay, a protobuf Duration such as "37s" or "1.5s".</summary>
    public string? RetryDelay { get; set; }
}

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    NumberHandling = JsonNumberHandling.AllowReadingFromString)]
[JsonSerializable(typeof(GeminiRequest))]
[JsonSerializable(typeof(GeminiResponse))]
[JsonSerializable(typeof(GeminiErrorEnvelope))]
internal sealed partial class GeminiJsonContext : JsonSerializerContext;
