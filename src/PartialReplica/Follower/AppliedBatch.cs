using PartialReplica.Protocol;

namespace PartialReplica.Follower;

/// <summary>A batch applied in a transaction not yet made durable: its report, and its row in <c>partial_replica.apply_log</c>.</summary>
internal sealed record AppliedBatch(ApplyReport Report, long LogId);
