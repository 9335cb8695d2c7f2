using System.Text.Json;
using System.Text.Json.Serialization;

namespace PartialReplica.Protocol;

/// <summary>
/// Compiled JSON metadata for the push protocol's JSON parts (the agent's report, batches sent as JSON).
/// Compiled so a new follower's first batch does not wait, on either side, for that metadata to be built by reflection.
/// </summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(ApplyReport))]
[JsonSerializable(typeof(PushBatch))]
public sealed partial class PushJsonContext : JsonSerializerContext;
