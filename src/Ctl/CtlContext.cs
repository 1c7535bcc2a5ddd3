namespace AiSystem.Ctl;

/// <summary>What one run of aictl talks to: its streams, environment, clock and network. Tests inject their own.</summary>
public sealed class CtlContext
{
    public required TextWriter Out { get; init; }
    public required TextWriter Error { get; init; }

    /// <summary>Reads AICTL_MASTER, AICTL_TOKEN, AICTL_BROKER, ...; empty values count as unset.</summary>
    public Func<string, string?> GetEnvironmentVariable { get; init; } = Environment.GetEnvironmentVariable;

    /// <summary>null: real sockets.</summary>
    public HttpMessageHandler? HttpHandler { get; init; }

    /// <summary>"Now" for ages, and the time zone for clock times.</summary>
    public TimeProvider Time { get; init; } = TimeProvider.System;

    /// <summary>Ctrl+C / SIGTERM end streaming commands cleanly (the real process); off in tests.</summary>
    public bool HandleProcessTermination { get; init; }

    public TimeSpan RequestTimeout { get; init; } = MasterClient.DefaultTimeout;
    public TimeSpan BrokerConnectTimeout { get; init; } = TimeSpan.FromSeconds(5);

    public string? Env(string name) => GetEnvironmentVariable(name) is { Length: > 0 } value ? value : null;
}
