using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace PartialReplica.Web.Hosting.Tls;

/// <summary>
/// The CA (one or more PEM certificates) a host trusts for its peer instead of the system store: the gateway for its
/// agents (<c>Gateway:AgentCa</c>), an agent for its gateway (<c>Agent:GatewayCa</c>). A peer's certificate must chain
/// to one of them and name the host of the URL it was reached at.
/// </summary>
public sealed class CertificateAuthority
{
    private readonly X509Certificate2Collection _roots;

    private CertificateAuthority(string path, X509Certificate2Collection roots)
    {
        Path = path;
        _roots = roots;
    }

    /// <summary>The PEM file the certificates came from.</summary>
    public string Path { get; }

    /// <summary>Reads the CA file; a missing or certificate-less file is a one-line error naming the option.</summary>
    public static CertificateAuthority Load(string path, string option)
    {
        var roots = new X509Certificate2Collection();
        try
        {
            roots.ImportFromPemFile(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or CryptographicException)
        {
            throw new PartialReplicaException($"{option}: cannot read CA certificates from {path} ({e.Message}).", e);
        }

        return roots.Count > 0
            ? new CertificateAuthority(path, roots)
            : throw new PartialReplicaException($"{option}: {path} holds no PEM certificate (-----BEGIN CERTIFICATE-----).");
    }

    /// <summary>A handler whose TLS connections accept only peers this CA vouches for.</summary>
    public SocketsHttpHandler CreateHandler() => new()
    {
        SslOptions = new SslClientAuthenticationOptions { RemoteCertificateValidationCallback = Validate },
    };

    /// <summary>
    /// Checks the name (SslStream's own check against the URL's host) and the chain against this CA only. A refusal
    /// throws <see cref="PeerCertificateRefusedException"/> so the error that reaches the operator names the
    /// certificate and why, not .NET's "rejected by the callback".
    /// </summary>
    public bool Validate(object sender, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors)
    {
        var host = (sender as SslStream)?.TargetHostName ?? "?";
        if (certificate is null || errors.HasFlag(SslPolicyErrors.RemoteCertificateNotAvailable))
        {
            throw new PeerCertificateRefusedException($"TLS peer {host} presented no certificate.");
        }

        // SslStream hands over an X509Certificate2 it owns; copy only the rare other kind.
        using var copy = certificate as X509Certificate2 is null ? new X509Certificate2(certificate) : null;
        var presented = copy ?? (X509Certificate2)certificate;
        var described = $"certificate \"{presented.Subject}\" (SHA-256 {presented.GetCertHashString(HashAlgorithmName.SHA256)}, issued by \"{presented.Issuer}\")";
        if (errors.HasFlag(SslPolicyErrors.RemoteCertificateNameMismatch))
        {
            throw new PeerCertificateRefusedException($"TLS peer {host} presented {described}, which does not name {host}.");
        }

        using var custom = new X509Chain();
        custom.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        custom.ChainPolicy.CustomTrustStore.AddRange(_roots);
        // A private CA seldom publishes revocation lists; trust is exactly "issued by this CA".
        custom.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        if (chain is not null)
        {
            custom.ChainPolicy.ExtraStore.AddRange(chain.ChainPolicy.ExtraStore);
        }

        if (!custom.Build(presented))
        {
            var why = string.Join(", ", custom.ChainStatus.Select(s => s.Status).Distinct());
            throw new PeerCertificateRefusedException(
                $"TLS peer {host} presented {described}, which the CA in {Path} does not vouch for ({why}).");
        }

        return true;
    }
}

/// <summary>A peer's TLS certificate refused by <see cref="CertificateAuthority"/>; the message names the certificate.</summary>
internal sealed class PeerCertificateRefusedException : AuthenticationException
{
    public PeerCertificateRefusedException(string message) : base(message) { }

    public PeerCertificateRefusedException(string message, Exception innerException) : base(message, innerException) { }

    public PeerCertificateRefusedException() { }
}

/// <summary>The CA a host trusts for its peer (none: the system's store), loaded once from its options.</summary>
internal sealed record PeerTrust(CertificateAuthority? Authority)
{
    public static PeerTrust From(string? path, string option) =>
        new(string.IsNullOrEmpty(path) ? null : CertificateAuthority.Load(path, option));
}
