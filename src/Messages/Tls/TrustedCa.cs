using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace AiSystem.Messages.Tls;

/// <summary>
/// The certificate authorities one setting names (a PEM file). A peer is trusted only when its certificate chains to
/// one of them: the system's trust store plays no part, so a certificate from a public CA does not pass either.
/// </summary>
public sealed class TrustedCa
{
    private readonly X509Certificate2Collection _roots;

    private TrustedCa(string path, X509Certificate2Collection roots)
    {
        Path = path;
        _roots = roots;
    }

    public string Path { get; }

    /// <summary>Reads the PEM certificates of <paramref name="path"/>; a <see cref="TlsSettingException"/> naming <paramref name="setting"/> when it cannot.</summary>
    public static TrustedCa Load(string path, string setting)
    {
        if (!File.Exists(path))
            throw new TlsSettingException($"{setting} is '{path}', which does not exist.");
        var roots = new X509Certificate2Collection();
        try
        {
            roots.ImportFromPemFile(path);
        }
        catch (Exception e) when (e is CryptographicException or IOException or UnauthorizedAccessException)
        {
            throw new TlsSettingException($"{setting} is '{path}', which cannot be read as PEM certificates: {e.Message}", e);
        }
        if (roots.Count == 0)
            throw new TlsSettingException($"{setting} is '{path}', which holds no PEM certificate (-----BEGIN CERTIFICATE-----).");
        return new TrustedCa(path, roots);
    }

    /// <summary>
    /// Whether a peer's certificate is one to trust: presented, chaining to these authorities, and (when
    /// <paramref name="checkName"/>, for a server dialled by name) naming the host, as <paramref name="errors"/> says.
    /// </summary>
    public bool Trusts(X509Certificate? certificate, SslPolicyErrors errors, bool checkName)
    {
        if (certificate is null || errors.HasFlag(SslPolicyErrors.RemoteCertificateNotAvailable)) return false;
        if (checkName && errors.HasFlag(SslPolicyErrors.RemoteCertificateNameMismatch)) return false;
        using var leaf = X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(_roots);
        // A private stack CA publishes no revocation lists.
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        return chain.Build(leaf);
    }

    /// <summary>A validation callback for <see cref="SslStream"/>, <c>SocketsHttpHandler</c> and the like.</summary>
    public RemoteCertificateValidationCallback ServerValidator() =>
        (_, certificate, _, errors) => Trusts(certificate, errors, checkName: true);
}
