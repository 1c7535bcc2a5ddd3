using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace AiSystem.Messages.Tls;

/// <summary>Loads this node's certificate with its private key (<c>Tls__CertificatePath</c> and its key or password).</summary>
public static class NodeCertificate
{
    /// <param name="neededBy">The setting that asked for it, for the message (e.g. <c>Master__Https=true</c>).</param>
    public static X509Certificate2 Load(TlsOptions tls, string neededBy)
    {
        var path = tls.CertificatePath.Trim();
        if (path.Length == 0)
            throw new TlsSettingException($"{neededBy} needs this node's certificate: set Tls__CertificatePath (PEM with Tls__KeyPath, or PKCS#12 with Tls__CertificatePassword).");
        if (!File.Exists(path))
            throw new TlsSettingException($"Tls__CertificatePath is '{path}', which does not exist (needed by {neededBy}).");
        var keyPath = tls.KeyPath.Trim();
        if (keyPath.Length > 0 && !File.Exists(keyPath))
            throw new TlsSettingException($"Tls__KeyPath is '{keyPath}', which does not exist (needed by {neededBy}).");
        X509Certificate2 certificate;
        try
        {
            certificate = keyPath.Length > 0
                ? X509Certificate2.CreateFromPemFile(path, keyPath)
                : IsPem(path)
                    ? throw new TlsSettingException($"Tls__CertificatePath '{path}' is a PEM certificate: set Tls__KeyPath to its private key (needed by {neededBy}).")
                    : X509CertificateLoader.LoadPkcs12FromFile(path, tls.CertificatePassword);
        }
        catch (CryptographicException e)
        {
            // Never the password itself: only which settings to look at.
            throw new TlsSettingException(keyPath.Length > 0
                ? $"Tls__CertificatePath '{path}' and Tls__KeyPath '{keyPath}' are not a PEM certificate and its private key ({e.Message}; needed by {neededBy})."
                : $"Tls__CertificatePath '{path}' cannot be opened as PKCS#12 with Tls__CertificatePassword ({e.Message}; needed by {neededBy}).", e);
        }
        if (!certificate.HasPrivateKey)
        {
            certificate.Dispose();
            throw new TlsSettingException($"Tls__CertificatePath '{path}' has no private key (needed by {neededBy}).");
        }
        if (certificate.NotAfter < DateTime.Now)
        {
            var expired = certificate.NotAfter;
            certificate.Dispose();
            throw new TlsSettingException($"Tls__CertificatePath '{path}' expired on {expired:yyyy-MM-dd} (needed by {neededBy}).");
        }
        return certificate;
    }

    private static bool IsPem(string path)
    {
        var begin = "-----BEGIN "u8;
        Span<byte> head = stackalloc byte[begin.Length];
        using var file = File.OpenRead(path);
        return file.ReadAtLeast(head, head.Length, throwOnEndOfStream: false) == head.Length && head.SequenceEqual(begin);
    }
}
