using System.Collections.Frozen;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;

namespace PartialReplica.Web.Gateway.Apis;

/// <summary>
/// The dashboard (SPEC F11): a static page embedded in this assembly, no CDN, that signs in as the admin and
/// polls <see cref="StatusApi"/>. The page itself carries no data, so it is served without authentication.
/// </summary>
internal static class DashboardApi
{
    public const string Route = "/dashboard";

    // The page may load only its own files and talk only to this gateway.
    private const string ContentSecurityPolicy =
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; " +
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

    private static readonly FrozenDictionary<string, (byte[] Body, string ContentType)> Assets = new Dictionary<string, (byte[], string)>
    {
        ["index.html"] = (Read("index.html"), "text/html; charset=utf-8"),
        ["dashboard.css"] = (Read("dashboard.css"), "text/css; charset=utf-8"),
        ["dashboard.js"] = (Read("dashboard.js"), "text/javascript; charset=utf-8"),
        ["charts.js"] = (Read("charts.js"), "text/javascript; charset=utf-8"),
        ["explain.js"] = (Read("explain.js"), "text/javascript; charset=utf-8"),
    }.ToFrozenDictionary(StringComparer.Ordinal);

    public static IEndpointRouteBuilder MapDashboardApi(this IEndpointRouteBuilder app)
    {
        var dashboard = app.MapGroup(Route).ExcludeFromDescription();
        dashboard.MapGet("", (HttpResponse response) => Serve(response, "index.html"));
        dashboard.MapGet("/{file}", GetAsset);
        return app;
    }

    public static Results<FileContentHttpResult, NotFound> GetAsset(string file, HttpResponse response) =>
        Assets.ContainsKey(file) ? Serve(response, file) : TypedResults.NotFound();

    private static FileContentHttpResult Serve(HttpResponse response, string file)
    {
        var (body, contentType) = Assets[file];
        response.Headers.ContentSecurityPolicy = ContentSecurityPolicy;
        response.Headers.XContentTypeOptions = "nosniff";
        response.Headers["Referrer-Policy"] = "no-referrer";
        response.Headers.CacheControl = "no-cache";
        return TypedResults.File(body, contentType);
    }

    private static byte[] Read(string file)
    {
        using var stream = typeof(DashboardApi).Assembly.GetManifestResourceStream("PartialReplica.Web.Dashboard." + file)
            ?? throw new InvalidOperationException($"The dashboard file {file} is not embedded in {typeof(DashboardApi).Assembly.GetName().Name}.");
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }
}
