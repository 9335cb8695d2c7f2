namespace PartialReplica.Web.Hosting.Tls;

/// <summary>
/// The HTTPS certificate of a host is Kestrel's default certificate (<c>Kestrel:Certificates:Default:Path</c> and
/// <c>:KeyPath</c>, PEM), which every <c>https://</c> address in <c>--urls</c> uses; the flat variables below set it too.
/// </summary>
internal static class ServerCertificate
{
    public static readonly (string Variable, string Key)[] FlatNames =
    [
        ("PARTIALREPLICA_TLS_CERT", "Kestrel:Certificates:Default:Path"),
        ("PARTIALREPLICA_TLS_KEY", "Kestrel:Certificates:Default:KeyPath"),
    ];
}
