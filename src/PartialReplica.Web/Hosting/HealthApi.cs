using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using PartialReplica.Leader.Dispatch;

namespace PartialReplica.Web.Hosting;

/// <summary>
/// Liveness (the process answers) and readiness (its database answers and every background loop runs). Readiness
/// answers its overall status on the first line, then one line per check that is not healthy, with its reason: a
/// loop down is <c>Degraded</c> (200, the host still serves), a database that does not answer <c>Unhealthy</c> (503).
/// </summary>
internal static class HealthApi
{
    public const string ReadyTag = "ready";

    public static IEndpointRouteBuilder MapHealthApi(this IEndpointRouteBuilder app)
    {
        app.MapHealthChecks(HttpBatchSender.LivenessRoute, new HealthCheckOptions { Predicate = _ => false });
        app.MapHealthChecks("/health/ready", new HealthCheckOptions { Predicate = check => check.Tags.Contains(ReadyTag), ResponseWriter = WriteAsync });
        return app;
    }

    private static Task WriteAsync(HttpContext context, HealthReport report)
    {
        var text = new StringBuilder(report.Status.ToString());
        foreach (var (name, entry) in report.Entries.Where(e => e.Value.Status != HealthStatus.Healthy).OrderBy(e => e.Key, StringComparer.Ordinal))
        {
            // Descriptions only: an entry's exception could carry a server's message.
            text.Append('\n').Append(name).Append(": ").Append(entry.Status).Append(": ").Append(entry.Description);
        }

        context.Response.ContentType = "text/plain; charset=utf-8";
        return context.Response.WriteAsync(text.ToString(), context.RequestAborted);
    }
}
