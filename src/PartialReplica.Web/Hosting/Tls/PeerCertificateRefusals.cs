using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using PartialReplica.Web.Gateway;

namespace PartialReplica.Web.Hosting.Tls;

/// <summary>
/// When a request cannot be served because this host refused its peer's certificate (an agent fetching the gateway's
/// keys, say), answers 503 with a short reason and logs the certificate in full here, where its operator looks;
/// the caller, who is not authenticated yet, learns only which setting refused it.
/// </summary>
internal static class PeerCertificateRefusals
{
    public static IApplicationBuilder UsePeerCertificateRefusals(this IApplicationBuilder app, string setting) =>
        app.Use(async (context, next) =>
        {
            try
            {
                await next(context);
            }
            catch (Exception e) when (Refusal(e) is { } refused && !context.Response.HasStarted)
            {
                var logger = context.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(PeerCertificateRefusals));
                LogMessages.PeerCertificateRefused(logger, context.Request.Path, refused);
                context.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
                await context.Response.WriteAsJsonAsync(
                    ErrorBody.Of("peer_certificate_refused", $"This host's TLS peer presented a certificate that {setting} does not vouch for; see this host's log."),
                    context.RequestAborted);
            }
        });

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
