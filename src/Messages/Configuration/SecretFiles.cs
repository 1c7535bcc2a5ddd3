using Microsoft.Extensions.Configuration;

namespace AiSystem.Messages.Configuration;

/// <summary>
/// Docker secrets as settings. Swarm mounts each secret as a file in <c>/run/secrets</c>; a file named like the
/// environment variable (<c>Gemini__ApiKey</c>, <c>Mqtt__Password</c>, <c>Admin__Token</c>, <c>Persistence__Password</c>)
/// sets that setting, so a key never has to sit in the environment, an image or the stack file. Trailing line breaks
/// are trimmed; a missing folder is fine. <c>SecretsDirectory</c> (environment or command line) points elsewhere.
/// Only files named like a setting (<c>Section__Key</c>) are read: other secrets in the folder (the stack's TLS key
/// <c>tls_key</c>, read by path through <c>Tls__KeyPath</c>) never become configuration values.
/// </summary>
public static class SecretFiles
{
    public const string DefaultDirectory = "/run/secrets";

    public static IConfigurationManager AddSecretFiles(this IConfigurationManager configuration)
    {
        var directory = configuration["SecretsDirectory"] is { Length: > 0 } configured ? configured : DefaultDirectory;
        ((IConfigurationBuilder)configuration).AddKeyPerFile(source =>
        {
            source.FileProvider = Directory.Exists(directory) ? new Microsoft.Extensions.FileProviders.PhysicalFileProvider(directory) : null;
            source.Optional = true;
            source.ReloadOnChange = false;
            source.IgnoreCondition = name => !name.Contains("__", StringComparison.Ordinal);
        });
        return configuration;
    }
}
