using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using PartialReplica.Web.Apis;

namespace PartialReplica.Web.Gateway;

/// <summary>
/// Turns an oversized body into 413 with a message saying the limit. Kestrel enforces the limit while the body
/// is read (also for chunked bodies); a declared Content-Length over it is refused before any handler runs.
/// </summary>
internal sealed class RequestBodyLimit(RequestDelegate next, IOptions<GatewayOptions> options, ILogger<RequestBodyLimit> logger)
{
    public async Task InvokeAsync(HttpContext context)
    {
        var limit = options.Value.MaxRequestBodyBytes;
        if (context.Request.ContentLength > limit)
        {
            await RefuseAsync(context, limit);
            return;
        }

        try
        {
            await next(context);
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge && !context.Response.HasStarted)
        {
            await RefuseAsync(context, limit);
        }
    }

    private async Task RefuseAsync(HttpContext context, long limit)
    {
        GatewayLog.BodyTooLarge(logger, limit, context.Request.Path);
        context.Response.StatusCode = StatusCodes.Status413PayloadTooLarge;
        await context.Response.WriteAsJsonAsync(
            ErrorBody.Of("payload_too_large", $"The request body is larger than the limit of {limit} bytes (Gateway:MaxRequestBodyBytes)."));
    }
}
