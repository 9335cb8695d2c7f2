using System.Security.Cryptography;
using Npgsql;
using PartialReplica.Schema;

namespace PartialReplica.Authn;

/// <summary>
/// The gateway's ES256 signing keys, kept in <c>partial_replica.signing_keys</c> on the leader so that every
/// gateway instance signs and verifies with the same keys. Private keys are stored encrypted with the
/// <see cref="GatewayKey"/> (SPEC S5), so the leader database, a dump of it or its decoded WAL gives no usable key.
/// The active key is created on first use; <see cref="RotateAsync"/> retires it and makes a new one. Reads are
/// cached briefly; a token naming an unknown key id triggers a fresh read, so a rotation on another instance is
/// seen at once, and signing first checks that the cached key is still the active one, so a retired key never
/// signs again.
/// </summary>
public sealed class SigningKeyRing(NpgsqlDataSource leader, GatewayKey gatewayKey, TimeProvider timeProvider) : IJwksSource
{
    // Serialises key creation and rotation across gateway instances.
    private const long KeyLockKey = 0x5052_4a57_4b53;
    private static readonly TimeSpan CacheFor = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan MinRefreshInterval = TimeSpan.FromSeconds(1);

    private readonly SemaphoreSlim _gate = new(1, 1);
    private Snapshot? _snapshot;

    /// <summary>
    /// The key that signs new tokens: the leader's active key, checked against the leader at each call (one
    /// indexed read), since another gateway may have retired the cached one.
    /// </summary>
    public async Task<SigningKey> GetSigningKeyAsync(CancellationToken cancellationToken)
    {
        var snapshot = await GetSnapshotAsync(refresh: false, cancellationToken);
        string? activeKid;
        await using (var connection = await leader.OpenConnectionAsync(cancellationToken))
        {
            activeKid = await connection.ScalarAsync<string>(
                "SELECT kid FROM partial_replica.signing_keys WHERE retired_at IS NULL", cancellationToken);
        }

        if (activeKid == snapshot.Active.KeyId)
        {
            return snapshot.Active;
        }

        _snapshot = null;
        return (await GetSnapshotAsync(refresh: false, cancellationToken)).Active;
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<VerificationKey>> GetKeysAsync(bool refresh, CancellationToken cancellationToken) =>
        (await GetSnapshotAsync(refresh, cancellationToken)).Published;

    /// <summary>The public keys to publish as a JWKS document, each retired one with its retirement time.</summary>
    public async Task<JwksDocument> GetJwksAsync(CancellationToken cancellationToken) =>
        JwksDocument.From((await GetSnapshotAsync(refresh: false, cancellationToken)).Published);

    /// <summary>Retires the active key and makes a new one; returns the new key id.</summary>
    public async Task<string> RotateAsync(CancellationToken cancellationToken)
    {
        await using var connection = await leader.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await connection.ExecuteAsync("SELECT pg_advisory_xact_lock($1)", cancellationToken, KeyLockKey);
        await connection.ExecuteAsync(
            "UPDATE partial_replica.signing_keys SET retired_at = clock_timestamp() WHERE retired_at IS NULL", cancellationToken);
        var kid = await InsertKeyAsync(connection, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        _snapshot = null;
        return kid;
    }

    /// <summary>
    /// Checks that the gateway key decrypts every stored signing key, without creating one. Throws a
    /// <see cref="PartialReplicaException"/> saying so when it does not; a leader without the table (not set up
    /// yet) passes, the first use reports that.
    /// </summary>
    public async Task CheckGatewayKeyAsync(CancellationToken cancellationToken)
    {
        await using var connection = await leader.OpenConnectionAsync(cancellationToken);
        try
        {
            await ReadPublishedAsync(connection, cancellationToken);
        }
        catch (PostgresException e) when (e.SqlState is PostgresErrorCodes.UndefinedTable or PostgresErrorCodes.InvalidSchemaName or PostgresErrorCodes.UndefinedColumn)
        {
            // Not set up (or not migrated) yet.
        }
    }

    private async Task<Snapshot> GetSnapshotAsync(bool refresh, CancellationToken cancellationToken)
    {
        var now = timeProvider.GetUtcNow();
        var current = _snapshot;
        if (current is not null && now - current.ReadAt < (refresh ? MinRefreshInterval : CacheFor))
        {
            return current;
        }

        await _gate.WaitAsync(cancellationToken);
        try
        {
            current = _snapshot;
            if (current is not null && now - current.ReadAt < (refresh ? MinRefreshInterval : CacheFor))
            {
                return current;
            }

            _snapshot = current = await ReadAsync(cancellationToken);
            return current;
        }
        finally
        {
            _gate.Release();
        }
    }

    private async Task<Snapshot> ReadAsync(CancellationToken cancellationToken)
    {
        await using var connection = await leader.OpenConnectionAsync(cancellationToken);
        try
        {
            var keys = await ReadPublishedAsync(connection, cancellationToken);
            if (!keys.Any(k => k.RetiredAt is null))
            {
                await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
                await connection.ExecuteAsync("SELECT pg_advisory_xact_lock($1)", cancellationToken, KeyLockKey);
                if (!await connection.ScalarAsync<bool>(
                        "SELECT EXISTS (SELECT 1 FROM partial_replica.signing_keys WHERE retired_at IS NULL)", cancellationToken))
                {
                    await InsertKeyAsync(connection, cancellationToken);
                }

                await transaction.CommitAsync(cancellationToken);
                keys = await ReadPublishedAsync(connection, cancellationToken);
            }

            var active = keys.First(k => k.RetiredAt is null);
            return new Snapshot(
                active.Signing,
                keys.Select(k => VerificationKey.PublicHalfOf(k.Signing.KeyId, k.Signing.ECDsa, k.RetiredAt)).ToList(),
                timeProvider.GetUtcNow());
        }
        catch (PostgresException e) when (e.SqlState is PostgresErrorCodes.UndefinedTable or PostgresErrorCodes.InvalidSchemaName)
        {
            throw new PartialReplicaException(
                $"The leader database {connection.Database} has no signing key table; run 'partial-replica setup' against it first.", e);
        }
    }

    private async Task<List<StoredKey>> ReadPublishedAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        var keys = new List<StoredKey>();
        await using var command = ConnectionExtensions.Command(connection, """
            SELECT kid, encrypted_private_key, retired_at
              FROM partial_replica.signing_keys
             WHERE retired_at IS NULL OR retired_at > clock_timestamp() - $1::interval
             ORDER BY created_at DESC
            """, TokenLifetimes.RetiredKeyGrace);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            var kid = reader.GetString(0);
            var privateKey = gatewayKey.Unprotect(reader.GetFieldValue<byte[]>(1), kid);
            var ecdsa = ECDsa.Create();
            try
            {
                ecdsa.ImportPkcs8PrivateKey(privateKey, out _);
            }
            finally
            {
                CryptographicOperations.ZeroMemory(privateKey);
            }

            keys.Add(new StoredKey(
                new SigningKey(kid, ecdsa),
                reader.IsDBNull(2) ? null : reader.GetFieldValue<DateTimeOffset>(2)));
        }

        return keys;
    }

    private async Task<string> InsertKeyAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        using var ecdsa = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var kid = System.Buffers.Text.Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(12));
        var privateKey = ecdsa.ExportPkcs8PrivateKey();
        try
        {
            await connection.ExecuteAsync(
                "INSERT INTO partial_replica.signing_keys (kid, encrypted_private_key) VALUES ($1, $2)",
                cancellationToken, kid, gatewayKey.Protect(privateKey, kid));
        }
        finally
        {
            CryptographicOperations.ZeroMemory(privateKey);
        }

        // Keys retired long ago verify nothing any more.
        await connection.ExecuteAsync(
            "DELETE FROM partial_replica.signing_keys WHERE retired_at < clock_timestamp() - interval '1 day'", cancellationToken);
        return kid;
    }

    private sealed record StoredKey(SigningKey Signing, DateTimeOffset? RetiredAt);

    private sealed record Snapshot(SigningKey Active, IReadOnlyList<VerificationKey> Published, DateTimeOffset ReadAt);
}
