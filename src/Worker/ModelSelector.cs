using AiSystem.Worker.Models;
using Microsoft.Extensions.AI;

namespace AiSystem.Worker;

/// <summary>A model client chosen for one task, and how results name it (<c>provider</c>).</summary>
public sealed record ModelChoice(IChatClient Client, string Provider);

/// <summary>
/// Picks the model for a task: the task's key, else the worker's own; <c>auto</c> means Gemini when there is a key
/// and the simulated model when there is none.
/// </summary>
/// <param name="simulatedPace">How long the simulated model takes to stream an answer (<c>Worker__SimulatedDelay</c>).</param>
public sealed class ModelSelector(LlmOptions llm, GeminiOptions gemini, HttpClient http, TimeSpan simulatedPace = default)
{
    private readonly SimulatedChatClient _simulated = new(pace: simulatedPace);
    private readonly Uri _baseUrl = new(gemini.BaseUrl);

    public ModelChoice Choose(string? taskApiKey, string? taskModel)
    {
        var key = string.IsNullOrWhiteSpace(taskApiKey) ? gemini.ApiKey : taskApiKey.Trim();
        var model = string.IsNullOrWhiteSpace(taskModel) ? llm.Model : taskModel.Trim();
        if (!llm.Allows(model))
            throw new ModelException(ModelErrorKind.UnknownModel,
                $"This worker does not run the model '{(model.Length > 64 ? model[..64] + "…" : model)}' (allowed: Llm__Model, Llm__AllowedModels and Llm__Models).");
        var useGemini = llm.Provider switch
        {
            "gemini" => true,
            "simulated" => false,
            _ => !string.IsNullOrEmpty(key),
        };
        if (!useGemini) return new ModelChoice(_simulated, SimulatedChatClient.ProviderName);
        if (string.IsNullOrEmpty(key))
            throw new ModelException(ModelErrorKind.InvalidKey,
                "No Gemini API key is available: enter one in the page, or ask the operator to set GEMINI_API_KEY on the workers.");
        return new ModelChoice(new GeminiChatClient(http, _baseUrl, key, model), $"{GeminiChatClient.ProviderName}:{model}");
    }
}
