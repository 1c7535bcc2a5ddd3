using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using AiSystem.Messages.Cluster;
using AiSystem.Messages.Mqtt;
using AiSystem.Messages.Tls;

namespace AiSystem.Messages.Tests;

/// <summary>The TLS settings' rules: what is trusted, and what a wrong file says at start. Certificates made in memory.</summary>
public sealed class TlsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("aisystem-tls-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static X509Certificate2 NewCa(string name)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        return request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));
    }

    private static X509Certificate2 NewLeaf(X509Certificate2 ca, string name = "master")
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        san.AddDnsName(name);
        request.CertificateExtensions.Add(san.Build());
        using var issued = request.Create(ca, DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(10), [1, 2, 3, 4]);
        return issued.CopyWithPrivateKey(key);
    }

    private string Write(string name, string text)
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllText(path, text);
        return path;
    }

    [Fact]
    public void A_certificate_signed_by_the_CA_is_trusted_and_others_are_not()
    {
        using var ca = NewCa("stack CA");
        using var otherCa = NewCa("someone else");
        using var leaf = NewLeaf(ca);
        using var stranger = NewLeaf(otherCa);
        var trusted = TrustedCa.Load(Write("ca.crt", ca.ExportCertificatePem()), "Tls__CaFile");

        // The errors SslStream reports against the system store (an unknown root) do not matter; the CA decides.
        Assert.True(trusted.Trusts(leaf, SslPolicyErrors.RemoteCertificateChainErrors, checkName: true));
        Assert.False(trusted.Trusts(stranger, SslPolicyErrors.RemoteCertificateChainErrors, checkName: true));
        Assert.False(trusted.Trusts(null, SslPolicyErrors.RemoteCertificateNotAvailable, checkName: false));
        Assert.False(trusted.Trusts(leaf, SslPolicyErrors.RemoteCertificateNameMismatch, checkName: true));
        Assert.True(trusted.Trusts(leaf, SslPolicyErrors.RemoteCertificateNameMismatch, checkName: false));
    }

    [Fact]
    public void A_missing_or_empty_CA_file_names_the_setting_and_the_path()
    {
        var missing = Path.Combine(_dir, "nope.crt");
        var e = Assert.Throws<TlsSettingException>(() => TrustedCa.Load(missing, "Tls__CaFile"));
        Assert.Equal($"Tls__CaFile is '{missing}', which does not exist.", e.Message);
        var empty = Write("empty.crt", "not a certificate\n");
        Assert.Contains($"Tls__CaFile is '{empty}', which holds no PEM certificate", Assert.Throws<TlsSettingException>(() => TrustedCa.Load(empty, "Tls__CaFile")).Message);
    }

    [Fact]
    public void The_node_certificate_loads_from_PEM_with_its_key_and_says_what_is_missing()
    {
        using var ca = NewCa("stack CA");
        using var leaf = NewLeaf(ca);
        var cert = Write("tls.crt", leaf.ExportCertificatePem());
        var key = Write("tls.key", leaf.GetECDsaPrivateKey()!.ExportPkcs8PrivateKeyPem());

        using var loaded = NodeCertificate.Load(new TlsOptions { CertificatePath = cert, KeyPath = key }, "Master__Https=true");
        Assert.True(loaded.HasPrivateKey);
        Assert.Equal(leaf.Thumbprint, loaded.Thumbprint);

        Assert.Equal("Master__Https=true needs this node's certificate: set Tls__CertificatePath (PEM with Tls__KeyPath, or PKCS#12 with Tls__CertificatePassword).",
            Assert.Throws<TlsSettingException>(() => NodeCertificate.Load(new TlsOptions(), "Master__Https=true")).Message);
        var missing = Path.Combine(_dir, "gone.crt");
        Assert.Equal($"Tls__CertificatePath is '{missing}', which does not exist (needed by Akka__Tls=true).",
            Assert.Throws<TlsSettingException>(() => NodeCertificate.Load(new TlsOptions { CertificatePath = missing }, "Akka__Tls=true")).Message);
        Assert.Contains("set Tls__KeyPath", Assert.Throws<TlsSettingException>(() => NodeCertificate.Load(new TlsOptions { CertificatePath = cert }, "Master__Https=true")).Message);
    }

    [Fact]
    public void A_PKCS12_certificate_with_a_wrong_password_is_refused_without_showing_it()
    {
        using var ca = NewCa("stack CA");
        using var leaf = NewLeaf(ca);
        var pfx = Path.Combine(_dir, "tls.pfx");
        File.WriteAllBytes(pfx, leaf.Export(X509ContentType.Pkcs12, "right-password"));

        using var loaded = NodeCertificate.Load(new TlsOptions { CertificatePath = pfx, CertificatePassword = "right-password" }, "Akka__Tls=true");
        Assert.True(loaded.HasPrivateKey);
        var e = Assert.Throws<TlsSettingException>(() => NodeCertificate.Load(new TlsOptions { CertificatePath = pfx, CertificatePassword = "wrong-password" }, "Akka__Tls=true"));
        Assert.Contains("Tls__CertificatePassword", e.Message);
        Assert.DoesNotContain("wrong-password", e.Message);
    }

    [Fact]
    public void Akka_TLS_speaks_akka_ssl_tcp_and_refuses_plain_seed_nodes()
    {
        var tls = new AkkaOptions { Tls = true, Hostname = "master" };
        Assert.Equal(["akka.ssl.tcp://ai-system@master:4053"], tls.EffectiveSeedNodes(ClusterRoles.Master));
        Assert.Null(tls.Validate());
        var mixed = new AkkaOptions { Tls = true, SeedNodes = "akka.tcp://ai-system@master:4053" };
        Assert.Equal("Akka__SeedNodes has 'akka.tcp://ai-system@master:4053', but with Akka__Tls=true the cluster speaks akka.ssl.tcp: write it akka.ssl.tcp://ai-system@master:4053.",
            mixed.Validate());
        Assert.Equal(["akka.tcp://ai-system@localhost:4053"], new AkkaOptions().EffectiveSeedNodes(ClusterRoles.Worker));
    }

    [Fact]
    public void Akka_TLS_needs_a_CA_and_is_nothing_when_off()
    {
        Assert.Null(RemotingTls.Load(new AkkaOptions(), new TlsOptions()));
        Assert.Equal("Akka__Tls=true needs Tls__CaFile: the CA that every cluster node's certificate must chain to.",
            Assert.Throws<TlsSettingException>(() => RemotingTls.Load(new AkkaOptions { Tls = true }, new TlsOptions())).Message);
    }

    [Fact]
    public void An_MQTT_CA_file_without_TLS_is_a_mistake_the_settings_name()
    {
        Assert.Equal("Mqtt__CaFile is 'ca.crt' but Mqtt__Tls is not true: set Mqtt__Tls=true to connect to the broker over TLS.",
            new MqttOptions { CaFile = "ca.crt" }.Validate());
        Assert.Null(new MqttOptions().Validate());
        Assert.Null(MqttTls.From(new MqttOptions()));
        Assert.NotNull(MqttTls.From(new MqttOptions { Tls = true }));
    }
}
