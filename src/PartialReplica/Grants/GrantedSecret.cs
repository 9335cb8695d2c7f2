using PartialReplica.Protocol;

namespace PartialReplica.Grants;

/// <summary>A granted variable with its kept versions, values as stored (Slosilo ciphertext, never decrypted).</summary>
public sealed record GrantedSecret(string Id, IReadOnlyList<SecretVersion> Versions);

/// <summary>A variable's current state for a follower: its kept versions, or null when it may not hold it (or it has none).</summary>
public sealed record GrantedState(string Id, IReadOnlyList<SecretVersion>? Versions);

/// <summary>A page of the granted list: offset paging, or keyset paging after an id (both ordered by id, bytewise).</summary>
public sealed record GrantedPage(int Limit, int Offset = 0, string? After = null);
