using AiSystem.Messages.Tls;
using MQTTnet;

namespace AiSystem.Messages.Mqtt;

/// <summary>
/// The client side of <c>Mqtt__Tls</c>: the TLS options every MQTT client of ours connects with. The broker's certificate
/// must name the host dialled and chain to <c>Mqtt__CaFile</c> (or the system's trust store when none is set); there is
/// no setting that turns validation off.
/// </summary>
public sealed class MqttTls
{
    private readonly TrustedCa? _ca;

    private MqttTls(TrustedCa? ca) => _ca = ca;

    /// <summary>null when <c>Mqtt__Tls</c> is off; a <see cref="TlsSettingException"/> when <c>Mqtt__CaFile</c> is unusable.</summary>
    public static MqttTls? From(MqttOptions options) =>
        !options.Tls ? null
        : new MqttTls(string.IsNullOrWhiteSpace(options.CaFile) ? null : TrustedCa.Load(options.CaFile.Trim(), "Mqtt__CaFile"));

    public MqttClientTlsOptions OptionsFor(string host) => new()
    {
        UseTls = true,
        TargetHost = host,
        CertificateValidationHandler = _ca is null
            ? args => args.SslPolicyErrors == System.Net.Security.SslPolicyErrors.None
            : args => _ca.Trusts(args.Certificate, args.SslPolicyErrors, checkName: true),
    };
}
