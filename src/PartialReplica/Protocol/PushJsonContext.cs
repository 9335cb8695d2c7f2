using System.Text.Json;
using System.Text.Json.Serialization;

namespace PartialReplica.Protocol;

/// <summary>
/// Compiled JSON metadata for the push protocol's JSON part (the agent's report).
/// Compiled so a new follower's first batch does not wait, on either side, for that metadata to be built by reflection.
/// </summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(ApplyReport))]
public sealed partial class PushJsonContext : JsonSerializerContext;
