using System.ComponentModel.DataAnnotations;
using AiSystem.Messages.Cluster;
using AiSystem.Messages.Configuration;
using AiSystem.Messages.Mqtt;
using AiSystem.Messages.Tls;

namespace AiSystem.Master.Configuration;

public static class OptionsRegistration
{
    /// <summary>
    /// Binds every section the master reads and validates it now, so a bad setting stops start-up with a message
    /// that names it (e.g. <c>Master__GrpcPort</c>) instead of failing later.
    /// </summary>
    public static (MasterOptions Master, MqttOptions Mqtt, AkkaOptions Akka, PersistenceOptions Persistence, ListenPolicy Listen, MasterTls Tls) AddMasterOptions(
        this WebApplicationBuilder builder)
    {
        var config = builder.Configuration;
        var master = Bind<MasterOptions>(config, MasterOptions.Section);
        var mqtt = Bind<MqttOptions>(config, MqttOptions.Section);
        var dispatch = Bind<DispatchOptions>(config, DispatchOptions.Section);
        var limits = Bind<LimitsOptions>(config, LimitsOptions.Section);
        var sessions = Bind<SessionsOptions>(config, SessionsOptions.Section);
        var akka = Bind<AkkaOptions>(config, AkkaOptions.Section);
        var admin = Bind<Api.AdminOptions>(config, Api.AdminOptions.Section);
        var persistence = Bind<PersistenceOptions>(config, PersistenceOptions.Section);
        var network = Bind<NetworkOptions>(config, NetworkOptions.Section);
        var security = Bind<SecurityOptions>(config, SecurityOptions.Section);
        var tlsFiles = Bind<TlsOptions>(config, TlsOptions.Section);
        var chat = Bind<ChatOptions>(config, ChatOptions.Section);
        var models = Bind<ModelListOptions>(config, ModelListOptions.Section);

        var errors = new List<string>();
        Validate(master, MasterOptions.Section, errors);
        Validate(dispatch, DispatchOptions.Section, errors);
        Validate(limits, LimitsOptions.Section, errors);
        Validate(sessions, SessionsOptions.Section, errors);
        Validate(chat, ChatOptions.Section, errors);
        if (chat.SystemPrompt.Length > chat.ContextChars)
            errors.Add($"Chat__SystemPrompt is {chat.SystemPrompt.Length} characters long, more than Chat__ContextChars ({chat.ContextChars}).");
        if (models.List.FirstOrDefault(m => m.Length > 128 || m.Any(c => char.IsWhiteSpace(c) || char.IsControl(c))) is { } badModel)
            errors.Add($"Llm__Models names '{(badModel.Length > 64 ? badModel[..64] + "…" : badModel)}': a model name has no spaces and at most 128 characters.");
        if (persistence.Provider.Trim().ToLowerInvariant() is not ("sqlite" or "postgresql" or "postgres"))
            errors.Add($"Persistence__Provider must be sqlite or postgresql, got '{persistence.Provider}'.");
        if (mqtt.Validate() is { } mqttError) errors.Add(mqttError);
        if (akka.Validate() is { } akkaError) errors.Add(akkaError);
        if (master.DrainTimeout < TimeSpan.Zero) errors.Add($"Master__DrainTimeout must not be negative, got {master.DrainTimeout}.");
        if (master.HttpPort == master.GrpcPort)
            errors.Add($"Master__HttpPort and Master__GrpcPort must differ (both are {master.GrpcPort}).");
        if (dispatch.TaskTimeout <= TimeSpan.Zero) errors.Add($"Dispatch__TaskTimeout must be positive, got {dispatch.TaskTimeout}.");
        if (sessions.IdleTimeout <= TimeSpan.Zero) errors.Add($"Sessions__IdleTimeout must be positive, got {sessions.IdleTimeout}.");
        var listen = ListenPolicy.Decide(network, mqtt, security, admin.Token);
        errors.AddRange(listen.Errors);
        var tls = errors.Count == 0 ? MasterTls.Load(master, akka, mqtt, tlsFiles, errors) : MasterTls.None;
        if (errors.Count > 0)
            throw new OptionsValidationException(string.Join(" ", errors));
        admin.Token = listen.AdminToken; // generated when listening beyond loopback without one

        builder.Services.AddSingleton(Microsoft.Extensions.Options.Options.Create(master));
        builder.Services.AddSingleton(Microsoft.Extensions.Options.Options.Create(mqtt));
        builder.Services.AddSingleton(Microsoft.Extensions.Options.Options.Create(dispatch));
        builder.Services.AddSingleton(Microsoft.Extensions.Options.Options.Create(limits));
        builder.Services.AddSingleton(Microsoft.Extensions.Options.Options.Create(sessions));
        builder.Services.AddSingleton(Microsoft.Extensions.Options.Options.Create(chat));
        builder.Services.AddSingleton(Microsoft.Extensions.Options.Options.Create(models));
        builder.Services.AddSingleton(Microsoft.Extensions.Options.Options.Create(akka));
        builder.Services.AddSingleton(Microsoft.Extensions.Options.Options.Create(admin));
        builder.Services.AddSingleton(listen);
        return (master, mqtt, akka, persistence, listen, tls);
    }

    private static T Bind<T>(IConfiguration config, string section) where T : new()
    {
        var value = new T();
        try
        {
            config.GetSection(section).Bind(value);
        }
        catch (InvalidOperationException e)
        {
            // The binder says which key failed to convert; say it in the operator's (environment variable) words.
            throw new OptionsValidationException($"{System.Text.RegularExpressions.Regex.Replace(e.Message, @"'(\w+):(\w+)'", "'$1__$2'")} Fix that setting.");
        }
        return value;
    }

    private static void Validate(object options, string section, List<string> errors)
    {
        var results = new List<ValidationResult>();
        if (Validator.TryValidateObject(options, new ValidationContext(options), results, validateAllProperties: true)) return;
        foreach (var r in results)
            foreach (var member in r.MemberNames)
                errors.Add($"{section}__{member} is invalid: {r.ErrorMessage}");
    }
}

/// <summary>Start-up stops with this when a setting is wrong; the message names the setting.</summary>
public sealed class OptionsValidationException(string message) : Exception(message);
