using Microsoft.Extensions.Options;
using PartialReplica.Authn;

namespace PartialReplica.Web.Gateway;

/// <summary>
/// Checks at start what data annotations cannot: that the gateway key is there and is base64 of 32 bytes.
/// The failure is the one line <see cref="GatewayKey.FromBase64"/> writes, naming the variable and how to
/// make a key; it never quotes the value.
/// </summary>
internal sealed class GatewayOptionsValidator : IValidateOptions<GatewayOptions>
{
    public ValidateOptionsResult Validate(string? name, GatewayOptions options)
    {
        try
        {
            GatewayKey.FromBase64(options.GatewayKey);
            return ValidateOptionsResult.Success;
        }
        catch (PartialReplicaException e)
        {
            return ValidateOptionsResult.Fail(e.Message);
        }
    }
}
