using System.Security.Cryptography.X509Certificates;
using Akka.Event;
using Akka.Remote.Hosting;
using AiSystem.Messages.Tls;

namespace AiSystem.Messages.Cluster;

/// <summary>
/// Akka remoting over TLS (<c>Akka__Tls=true</c>): DotNetty's TLS with this node's certificate, mutual (a node that
/// presents no certificate is refused), and a peer is trusted only when its certificate chains to <c>Tls__CaFile</c>.
/// Host names are not checked: workers are reached by container addresses that no certificate names; the CA is the
/// identity. The certificate is handed to Akka as an object, so its password never enters the HOCON configuration.
/// </summary>
public sealed class RemotingTls
{
    private readonly X509Certificate2 _certificate;
    private readonly TrustedCa _ca;

    private RemotingTls(X509Certificate2 certificate, TrustedCa ca)
    {
        _certificate = certificate;
        _ca = ca;
    }

    /// <summary>null when <c>Akka__Tls</c> is off; a <see cref="TlsSettingException"/> naming the setting when a file is missing or wrong.</summary>
    public static RemotingTls? Load(AkkaOptions akka, TlsOptions tls)
    {
        if (!akka.Tls) return null;
        if (string.IsNullOrWhiteSpace(tls.CaFile))
            throw new TlsSettingException("Akka__Tls=true needs Tls__CaFile: the CA that every cluster node's certificate must chain to.");
        var ca = TrustedCa.Load(tls.CaFile.Trim(), "Tls__CaFile");
        return new RemotingTls(NodeCertificate.Load(tls, "Akka__Tls=true"), ca);
    }

    public string Subject => _certificate.Subject;

    internal void ApplyTo(RemoteOptions remote)
    {
        remote.EnableSsl = true;
        remote.Ssl = new SslOptions
        {
            X509Certificate = _certificate,
            SuppressValidation = false,
            RequireMutualAuthentication = true,
            ValidateCertificateHostname = false,
            CustomValidator = Validate,
        };
    }

    private bool Validate(X509Certificate2? certificate, X509Chain? chain, string remotePeer, System.Net.Security.SslPolicyErrors errors, ILoggingAdapter log)
    {
        if (_ca.Trusts(certificate, errors, checkName: false)) return true;
        log.Warning("Refused the TLS peer {0}: {1}", remotePeer,
            certificate is null ? "it presented no certificate" : $"its certificate ({certificate.Subject}) does not chain to Tls__CaFile");
        return false;
    }
}
