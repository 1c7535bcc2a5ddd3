using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;

namespace AiSystem.SwarmCheck;

/// <summary>
/// `akka-tls --host H --port P --ca-file F` (run inside the master's container, where remoting listens): the Akka port
/// speaks TLS, with a certificate that chains to the stack's CA, and refuses a client that presents no certificate
/// (mutual TLS). A plain-TCP remoting port fails the first expectation: it never answers a TLS ClientHello.
/// </summary>
public static class AkkaTlsCheck
{
    public static async Task<int> RunAsync(CheckArgs args)
    {
        var host = args.Get("host");
        var port = args.Int("port");
        var ca = new StackCa(args.Get("ca-file"));
        var v = new Verdicts("akka-tls");

        using var tcp = new TcpClient();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await tcp.ConnectAsync(host, port, timeout.Token);
        System.Security.Cryptography.X509Certificates.X509Certificate? presented = null;
        await using var tls = new SslStream(tcp.GetStream(), false, (_, certificate, _, _) =>
        {
            presented = certificate is null ? null : System.Security.Cryptography.X509Certificates.X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
            return true; // judged below, so that a wrong certificate is told apart from no TLS at all
        });
        string? handshakeError = null;
        try
        {
            // No client certificate: the server must refuse us, during the handshake (TLS 1.2) or right after it (1.3).
            await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions { TargetHost = host, EnabledSslProtocols = SslProtocols.None }, timeout.Token);
        }
        catch (Exception e) when (e is AuthenticationException or IOException or OperationCanceledException)
        {
            handshakeError = $"{e.GetType().Name}: {e.Message}";
        }
        v.Expect(presented is not null, $"{host}:{port} answers a TLS ClientHello with a certificate", presented is null ? handshakeError ?? "none" : presented.Subject);
        v.Expect(presented is not null && ca.Chains(presented), "the remoting certificate chains to the stack's CA");

        var refused = handshakeError is not null;
        string detail = handshakeError ?? "";
        if (!refused)
        {
            try
            {
                // Akka waits for the client to speak first; a server that accepted us would keep the connection open.
                var buffer = new byte[16];
                using var read = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                var n = await tls.ReadAsync(buffer, read.Token);
                refused = n == 0;
                detail = n == 0 ? "closed after the handshake" : $"read {n} bytes";
            }
            catch (OperationCanceledException) { detail = "still open after 10 s"; }
            catch (Exception e) when (e is IOException or AuthenticationException) { refused = true; detail = $"{e.GetType().Name}: {e.Message}"; }
        }
        v.Expect(refused, "a client without a certificate is refused (mutual TLS)", detail);
        return v.ExitCode;
    }
}
