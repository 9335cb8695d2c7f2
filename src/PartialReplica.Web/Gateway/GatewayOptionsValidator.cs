using Microsoft.Extensions.Options;
using PartialReplica.Authn;
using PartialReplica.Crypto;

namespace PartialReplica.Web.Gateway;

/// <summary>
/// Checks at start what data annotations cannot: that the gateway key and the data key are there and are base64 of
/// 32 bytes. Each failure is the one line <see cref="GatewayKey.FromBase64"/> or <see cref="Slosilo.FromBase64Key"/>
/// writes, naming the variable and how to make a key; it never quotes the value.
/// </summary>
internal sealed class GatewayOptionsValidator : IValidateOptions<GatewayOptions>
{
    public ValidateOptionsResult Validate(string? name, GatewayOptions options)
    {
        var failures = new List<string>();
        foreach (var check in new Action[] { () => GatewayKey.FromBase64(options.GatewayKey), () => Slosilo.FromBase64Key(options.DataKey) })
        {
            try
            {
                check();
            }
            catch (PartialReplicaException e)
            {
                failures.Add(e.Message);
            }
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
