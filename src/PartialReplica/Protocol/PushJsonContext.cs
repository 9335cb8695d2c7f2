using System.Text.Json;
using System.Text.Json.Serialization;

namespace PartialReplica.Protocol;

/// <summary>
/// Compiled JSON metadata for the push protocol's JSON parts (the agent's report, batches sent as JSON).
/// Measured in <c>bench</c> (P1): building that metadata by reflection on first use held a new follower's
/// first batch up by 100–300 ms on each side.
/// </summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(ApplyReport))]
[JsonSerializable(typeof(PushBatch))]
public sealed partial class PushJsonContext : JsonSerializerContext;
