using System.Net.Security;
using System.Security.Cryptography.X509Certificates;

namespace AiSystem.SwarmCheck;

/// <summary>
/// The stack's CA (deploy.sh's <c>ca.crt</c>), checked here with the framework alone, not with the code under test:
/// a server is trusted when its certificate names the host dialled and chains to this CA.
/// </summary>
public sealed class StackCa(string path)
{
    private readonly X509Certificate2Collection _roots = Load(path);

    private static X509Certificate2Collection Load(string path)
    {
        var roots = new X509Certificate2Collection();
        roots.ImportFromPemFile(path);
        if (roots.Count == 0) throw new ArgumentException($"--ca-file {path} holds no PEM certificate");
        return roots;
    }

    public bool Chains(X509Certificate? certificate)
    {
        if (certificate is null) return false;
        using var leaf = X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(_roots);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        return chain.Build(leaf);
    }

    public bool TrustsServer(X509Certificate? certificate, SslPolicyErrors errors) =>
        (errors & (SslPolicyErrors.RemoteCertificateNameMismatch | SslPolicyErrors.RemoteCertificateNotAvailable)) == 0 && Chains(certificate);

    public RemoteCertificateValidationCallback Validator => (_, certificate, _, errors) => TrustsServer(certificate, errors);

    public SocketsHttpHandler Handler() => new() { SslOptions = { RemoteCertificateValidationCallback = Validator } };
}
