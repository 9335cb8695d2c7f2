using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using PartialReplica.Web.Gateway.Apis;
using PartialReplica.Web.Hosting;

namespace PartialReplica.Web.Gateway;

/// <summary>
/// Turns an oversized body into 413 with a message saying the limit. Kestrel enforces the limit while the body
/// is read (also for chunked bodies); a declared Content-Length over it is refused before any handler runs.
/// The policy endpoints carry their own limit (<see cref="PolicyBodyLimit"/>, shared with the CLI), applied here
/// per request in place of <c>Gateway:MaxRequestBodyBytes</c>.
/// </summary>
internal sealed class RequestBodyLimit(RequestDelegate next, IOptions<GatewayOptions> options, ILogger<RequestBodyLimit> logger)
{
    public async Task InvokeAsync(HttpContext context)
    {
        var policyLimit = context.GetEndpoint()?.Metadata.GetMetadata<PolicyBodyLimit>();
        var limit = policyLimit?.MaxRequestBodySize ?? options.Value.MaxRequestBodyBytes;
        if (policyLimit is not null && context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } feature)
        {
            feature.MaxRequestBodySize = limit;
        }

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
        LogMessages.BodyTooLarge(logger, limit, context.Request.Path);
        context.Response.StatusCode = StatusCodes.Status413PayloadTooLarge;
        var message = context.GetEndpoint()?.Metadata.GetMetadata<PolicyBodyLimit>() is not null
            ? PartialReplica.Policies.PolicyLimits.TooLargeMessage("The policy body")
            : $"The request body is larger than the limit of {limit} bytes (Gateway:MaxRequestBodyBytes).";
        await context.Response.WriteAsJsonAsync(ErrorBody.Of("payload_too_large", message));
    }
}
