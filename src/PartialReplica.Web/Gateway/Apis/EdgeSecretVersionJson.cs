using System.Text.Json;
using System.Text.Json.Serialization;
using PartialReplica.Protocol;

namespace PartialReplica.Web.Gateway.Apis;

/// <summary>
/// The Edge API's JSON for one stored version (the push protocol's <see cref="SecretVersion"/>):
/// <c>{"version":n,"expires_at":"…+00:00"|null,"value":"base64"}</c>. Written by hand because the Edge shape predates the
/// record's field order, and Conjur's expiry is shown with its offset (the column is UTC).
/// </summary>
public sealed class EdgeSecretVersionJson : JsonConverter<SecretVersion>
{
    public override SecretVersion Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        throw new NotSupportedException("The Edge API only writes secret versions.");

    public override void Write(Utf8JsonWriter writer, SecretVersion value, JsonSerializerOptions options)
    {
        writer.WriteStartObject();
        writer.WriteNumber("version", value.Version);
        if (value.ExpiresAt is { } expires)
        {
            writer.WriteString("expires_at", new DateTimeOffset(DateTime.SpecifyKind(expires, DateTimeKind.Utc)));
        }
        else
        {
            writer.WriteNull("expires_at");
        }

        writer.WriteBase64String("value", value.Value);
        writer.WriteEndObject();
    }
}
