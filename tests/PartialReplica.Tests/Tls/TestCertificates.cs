using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace PartialReplica.Tests.Tls;

/// <summary>
/// A certificate authority made by the test (ECDSA P-256) and the server certificates it issues, written as PEM
/// files into a folder of the test's own, removed on dispose.
/// </summary>
public sealed class TestCertificates : IDisposable
{
    private readonly ECDsa _key;
    private readonly X509Certificate2 _certificate;

    private TestCertificates(string name, string folder)
    {
        Folder = folder;
        _key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", _key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        _certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-10), DateTimeOffset.UtcNow.AddDays(2));
        CaPath = Path.Combine(folder, $"{name}.ca.pem");
        File.WriteAllText(CaPath, _certificate.ExportCertificatePem());
    }

    /// <summary>The folder holding this CA's files.</summary>
    public string Folder { get; }

    /// <summary>The CA certificate (PEM file) clients trust.</summary>
    public string CaPath { get; }

    /// <summary>A CA named <paramref name="name"/> in a fresh temporary folder.</summary>
    public static TestCertificates CreateAuthority(string name)
    {
        var folder = Path.Combine(Path.GetTempPath(), $"pr-tls-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4))}");
        Directory.CreateDirectory(folder);
        return new TestCertificates(name, folder);
    }

    /// <summary>
    /// A server certificate for <paramref name="subject"/> naming 127.0.0.1 and localhost; returns the PEM texts
    /// and writes them as <c>{subject}.crt</c> / <c>{subject}.key</c> (key 0600) beside the CA.
    /// </summary>
    public IssuedCertificate Issue(string subject)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={subject}", key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddIpAddress(IPAddress.Loopback);
        names.AddDnsName("localhost");
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(_certificate, true, false));
        using var issued = request.Create(_certificate, DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1),
            RandomNumberGenerator.GetBytes(12));
        var certificatePem = issued.ExportCertificatePem();
        var keyPem = key.ExportPkcs8PrivateKeyPem();
        var certificatePath = Path.Combine(Folder, subject + ".crt");
        var keyPath = Path.Combine(Folder, subject + ".key");
        File.WriteAllText(certificatePath, certificatePem);
        File.WriteAllText(keyPath, keyPem);
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(keyPath, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }
        return new IssuedCertificate(certificatePem, keyPem, certificatePath, keyPath);
    }

    public void Dispose()
    {
        _certificate.Dispose();
        _key.Dispose();
        Directory.Delete(Folder, recursive: true);
    }
}

/// <summary>A server certificate and its key, as PEM text and as files.</summary>
public sealed record IssuedCertificate(string CertificatePem, string KeyPem, string CertificatePath, string KeyPath);
