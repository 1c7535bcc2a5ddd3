namespace AiSystem.Messages.Tls;

/// <summary>A TLS file that cannot be used; the message names the setting, the path and what is wrong with it.</summary>
public sealed class TlsSettingException(string message, Exception? inner = null) : Exception(message, inner);
