using System.Buffers;
using System.Reflection;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Metadata;
using PartialReplica.Grants;

namespace PartialReplica.Web.Gateway.Apis;

/// <summary>
/// A full pull's page (<see cref="EdgeSecretsResponse"/>) written as JSON straight from the grant reader's rows, with
/// the gateway's serializer options (names, encoder), so its bytes are those <c>Ok(EdgeSecretsResponse)</c> writes;
/// nothing is built per secret. The body is complete before the response starts: a failed read still answers 500.
/// </summary>
public sealed class EdgeSecretsPageJson : IGrantedPageSink, IResult, IEndpointMetadataProvider
{
    private readonly ArrayBufferWriter<byte> _body = new(64 * 1024);
    private readonly Utf8JsonWriter _writer;

    public EdgeSecretsPageJson(JsonSerializerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _writer = new Utf8JsonWriter(_body, new JsonWriterOptions { Encoder = options.Encoder, Indented = options.WriteIndented });
        _writer.WriteStartObject();
        _writer.WritePropertyName("secrets");
        _writer.WriteStartArray();
    }

    /// <summary>How many secrets the page holds.</summary>
    public int Count { get; private set; }

    public void BeginSecret(string id)
    {
        Count++;
        _writer.WriteStartObject();
        _writer.WriteString("id", id);
        _writer.WritePropertyName("versions");
        _writer.WriteStartArray();
    }

    public void AddVersion(int version, byte[] value, DateTime? expiresAt) => EdgeSecretVersionJson.Write(_writer, version, value, expiresAt);

    public void EndSecret()
    {
        _writer.WriteEndArray();
        _writer.WriteEndObject();
    }

    /// <summary>Closes the list and adds the position (null when the caller has no deltas); the body is then complete.</summary>
    public EdgeSecretsPageJson Finish(string? position)
    {
        _writer.WriteEndArray();
        if (position is null)
        {
            _writer.WriteNull("position");
        }
        else
        {
            _writer.WriteString("position", position);
        }

        _writer.WriteEndObject();
        _writer.Dispose();
        return this;
    }

    public async Task ExecuteAsync(HttpContext httpContext)
    {
        ArgumentNullException.ThrowIfNull(httpContext);
        httpContext.Response.StatusCode = StatusCodes.Status200OK;
        httpContext.Response.ContentType = "application/json; charset=utf-8";
        httpContext.Response.ContentLength = _body.WrittenCount;
        await httpContext.Response.Body.WriteAsync(_body.WrittenMemory, httpContext.RequestAborted);
    }

    public static void PopulateMetadata(MethodInfo method, EndpointBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Metadata.Add(new ProducesResponseTypeMetadata(StatusCodes.Status200OK, typeof(EdgeSecretsResponse), ["application/json"]));
    }
}
