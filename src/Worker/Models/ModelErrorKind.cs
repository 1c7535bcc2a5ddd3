namespace AiSystem.Worker.Models;

/// <summary>Why a model call failed, in terms the worker can act on (retry or give up).</summary>
public enum ModelErrorKind
{
    /// <summary>The API key was rejected (HTTP 400 API_KEY_INVALID, 401, 403). Not retryable.</summary>
    InvalidKey,

    /// <summary>The model name is unknown (HTTP 404). Not retryable.</summary>
    UnknownModel,

    /// <summary>Rate limit or quota exhausted (HTTP 429); see <see cref="ModelException.RetryAfter"/>.</summary>
    Quota,

    /// <summary>The model is overloaded or the service failed (HTTP 500/502/503/504).</summary>
    Overloaded,

    /// <summary>Gemini declined to answer (safety block). Not retryable.</summary>
    Blocked,

    /// <summary>The service could not be reached, or the call timed out.</summary>
    Network,

    /// <summary>Anything else, including an empty answer.</summary>
    Other,
}
