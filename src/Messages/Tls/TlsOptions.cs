namespace AiSystem.Messages.Tls;

/// <summary>
/// The <c>Tls</c> section: this node's own certificate and the certificate authority it trusts. Off by default (nothing
/// set, nothing loaded): on loopback nobody needs TLS. Which transports use them is up to their own switches
/// (<c>Master__Https</c>, <c>Akka__Tls</c>, <c>Mqtt__Tls</c>). In the Swarm stack every path here is a Docker secret.
/// </summary>
public sealed class TlsOptions
{
    public const string Section = "Tls";

    /// <summary>This node's certificate: PEM (with <see cref="KeyPath"/>) or PKCS#12 (<c>.pfx</c>/<c>.p12</c>, with <see cref="CertificatePassword"/>).</summary>
    public string CertificatePath { get; set; } = "";
    /// <summary>The PEM private key of a PEM <see cref="CertificatePath"/>.</summary>
    public string KeyPath { get; set; } = "";
    /// <summary>The password of a PKCS#12 <see cref="CertificatePath"/> (a secret: a Docker secret file, never the environment).</summary>
    public string CertificatePassword { get; set; } = "";
    /// <summary>
    /// PEM file of the CA certificate(s) the stack's certificates are signed by. When set, the master's gRPC endpoint
    /// (for a worker) and every Akka peer must present a certificate that chains to it. Empty: the system's trust store.
    /// </summary>
    public string CaFile { get; set; } = "";

    public static TlsOptions From(Microsoft.Extensions.Configuration.IConfiguration config) =>
        Microsoft.Extensions.Configuration.ConfigurationBinder.Get<TlsOptions>(config.GetSection(Section)) ?? new TlsOptions();
}
