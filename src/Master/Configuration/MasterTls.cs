using System.Security.Cryptography.X509Certificates;
using AiSystem.Messages.Cluster;
using AiSystem.Messages.Mqtt;
using AiSystem.Messages.Tls;

namespace AiSystem.Master.Configuration;

/// <summary>
/// The master's TLS material, loaded once at start so that a missing or wrong file stops it with a line naming the
/// setting and the path: the HTTPS certificate (<c>Master__Https</c>) and remoting's (<c>Akka__Tls</c>). With nothing
/// configured, nothing is loaded and every listener speaks plain TCP on loopback, as before.
/// </summary>
public sealed record MasterTls(X509Certificate2? HttpsCertificate, RemotingTls? Remoting)
{
    public static readonly MasterTls None = new(null, null);

    public static MasterTls Load(MasterOptions master, AkkaOptions akka, MqttOptions mqtt, TlsOptions files, List<string> errors)
    {
        X509Certificate2? https = null;
        RemotingTls? remoting = null;
        try
        {
            if (master.Https) https = NodeCertificate.Load(files, "Master__Https=true");
        }
        catch (TlsSettingException e) { errors.Add(e.Message); }
        try
        {
            remoting = RemotingTls.Load(akka, files);
        }
        catch (TlsSettingException e) { errors.Add(e.Message); }
        if (mqtt.Tls && string.IsNullOrWhiteSpace(mqtt.Host))
            errors.Add("Mqtt__Tls=true needs an external broker (Mqtt__Host): the embedded broker speaks plain MQTT on loopback.");
        try
        {
            MqttTls.From(mqtt);
        }
        catch (TlsSettingException e) { errors.Add(e.Message); }
        return new MasterTls(https, remoting);
    }
}
