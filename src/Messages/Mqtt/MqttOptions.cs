namespace AiSystem.Messages.Mqtt;

/// <summary>The <c>Mqtt</c> configuration section, shared by master, workers and tools.</summary>
public sealed class MqttOptions
{
    public const string Section = "Mqtt";

    /// <summary>Broker host. Empty on the master means: start the embedded broker.</summary>
    public string Host { get; set; } = "";
    public int Port { get; set; } = 1883;
    public string Username { get; set; } = "";
    public string Password { get; set; } = "";
    public string TopicPrefix { get; set; } = Topics.DefaultPrefix;
    /// <summary>The largest MQTT packet the embedded broker reads; a bigger one closes its connection unread.</summary>
    public int MaxMessageBytes { get; set; } = 256 * 1024;
    /// <summary>Connect to the broker over TLS, checking its certificate (chain and host name). Off by default: loopback.</summary>
    public bool Tls { get; set; }
    /// <summary>With <see cref="Tls"/>: PEM of the CA the broker's certificate must chain to; empty = the system's trust store.</summary>
    public string CaFile { get; set; } = "";

    public Topics Topics => new(TopicPrefix);

    /// <summary>Returns a message naming the bad setting, or null when the section is valid.</summary>
    public string? Validate()
    {
        if (Port is < 1 or > 65535) return $"Mqtt__Port must be between 1 and 65535, got {Port}.";
        if (string.IsNullOrWhiteSpace(TopicPrefix) || TopicPrefix.IndexOfAny(['#', '+', '/']) >= 0)
            return $"Mqtt__TopicPrefix must be one non-empty topic level without '/', '#' or '+', got '{TopicPrefix}'.";
        if (MaxMessageBytes is < 1024 or > 256 * 1024 * 1024)
            return $"Mqtt__MaxMessageBytes must be between 1024 and 268435456, got {MaxMessageBytes}.";
        if (!string.IsNullOrWhiteSpace(CaFile) && !Tls)
            return $"Mqtt__CaFile is '{CaFile}' but Mqtt__Tls is not true: set Mqtt__Tls=true to connect to the broker over TLS.";
        if (Tls && !string.IsNullOrWhiteSpace(CaFile) && !File.Exists(CaFile))
            return $"Mqtt__CaFile is '{CaFile}', which does not exist.";
        return null;
    }
}
