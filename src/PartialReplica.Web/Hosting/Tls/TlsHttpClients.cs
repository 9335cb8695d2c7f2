using Microsoft.Extensions.DependencyInjection;

namespace PartialReplica.Web.Hosting.Tls;

/// <summary>Named HttpClients that trust a configured CA for their peer (SPEC S5: the gateway verifies its agents).</summary>
internal static class TlsHttpClients
{
    /// <summary>
    /// When <paramref name="caOf"/> names a CA file, the client's TLS connections trust only that CA; without one,
    /// the system's trust store as usual. Refusals surface as an <see cref="HttpRequestException"/> whose message
    /// names the peer's certificate.
    /// </summary>
    public static IHttpClientBuilder TrustingConfiguredCa(this IHttpClientBuilder client, Func<IServiceProvider, CertificateAuthority?> caOf) =>
        client
            .ConfigurePrimaryHttpMessageHandler(sp => caOf(sp)?.CreateHandler() ?? new SocketsHttpHandler())
            .AddHttpMessageHandler(() => new CertificateRefusalMessages());

    /// <summary>Lifts the certificate refusal out of .NET's generic "The SSL connection could not be established".</summary>
    private sealed class CertificateRefusalMessages : DelegatingHandler
    {
        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            try
            {
                return await base.SendAsync(request, cancellationToken);
            }
            catch (HttpRequestException e) when (Refusal(e) is { } refused)
            {
                throw new HttpRequestException(HttpRequestError.SecureConnectionError, refused.Message, refused);
            }
        }

        private static PeerCertificateRefusedException? Refusal(Exception? e)
        {
            for (; e is not null; e = e.InnerException)
            {
                if (e is PeerCertificateRefusedException refused)
                {
                    return refused;
                }
            }

            return null;
        }
    }
}
