namespace PartialReplica.Leader.Edge;

/// <summary>A granted variable with its kept versions, values as stored (Slosilo ciphertext, never decrypted).</summary>
public sealed record GrantedSecret(string Id, IReadOnlyList<SecretVersion> Versions);

/// <summary>One stored version of a secret.</summary>
public sealed record SecretVersion(int Version, DateTimeOffset? ExpiresAt, byte[] Value);

/// <summary>A page of the granted list: offset paging, or keyset paging after an id (both ordered by id, bytewise).</summary>
public sealed record GrantedPage(int Limit, int Offset = 0, string? After = null);

/// <summary>A page of the full pull and the position to start delta pulls from (null: the caller has no deltas).</summary>
public sealed record GrantedSecretsPage(IReadOnlyList<GrantedSecret> Secrets, EdgePosition? Position);
