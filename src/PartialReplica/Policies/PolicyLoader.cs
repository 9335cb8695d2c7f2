using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Logging;
using Npgsql;
using PartialReplica.Authn;
using PartialReplica.Conjur;
using PartialReplica.Schema;

namespace PartialReplica.Policies;

/// <summary>
/// F3: loads a policy into a branch with Conjur's semantics, in one transaction: records, ownership
/// memberships, grants, permits, annotations, deletions, <c>policy_versions</c> (and through Conjur's triggers
/// <c>policy_log</c>), the
/// refresh of every registered follower's granted set and the matching 'grant'/'revoke' outbox rows.
/// Any error (parse, missing reference, database) leaves the database as it was.
/// <para>Semantics decided here, as Conjur has them unless noted:</para>
/// <list type="bullet">
/// <item>Records are owned by the policy that encloses them (at root: by the root policy's owner) unless
/// <c>owner:</c> says otherwise; for every role record the owner is made a member of it (<c>ownership = true</c>,
/// admin option). Ownership rows are memberships like any other, so grant resolution follows them transitively.
/// Owning a <em>resource</em> (<c>resources.owner_id</c>) is administrative and does not grant <c>execute</c> or
/// <c>replicate</c>: only permissions do (SPEC F4 reads "permitted ... through role memberships").</item>
/// <item>Every row a load writes has <c>policy_id</c> = the loaded branch (Conjur stamps its whole load so).
/// load adds missing rows and leaves existing ones untouched; <c>!delete</c>/<c>!revoke</c>/<c>!deny</c>
/// are refused. update and replace also bring the branch's existing rows to the file (owner, annotations,
/// admin option, restricted_to); a row another branch wrote is left to it (Conjur's "shadowed" rows).</item>
/// <item>replace deletes the rows whose <c>policy_id</c> is the branch that the file does not state (rows a load of
/// a sub-branch wrote stay, and go only with their policy, as Conjur's foreign keys cascade); deleting a record first
/// deletes (and logs) every row naming it. References are checked after the deletions, so one to a record the load
/// removes is refused.</item>
/// <item>Each public key a user declares is stored as the secret of its <c>public_key</c> resource, encrypted with the
/// data key, when it differs from the newest one; a load with public keys and no data key is refused.</item>
/// <item>Explicit deletions, revokes and denies run before the file's rows are written, so what the file
/// declares, grants or permits stands (Conjur's order). Revokes and denies remove only rows the loaded branch
/// wrote, as Conjur's do.</item>
/// </list>
/// </summary>
public sealed class PolicyLoader(ILogger logger)
{
    // Serialises policy loads on a leader: each computes its grant difference against the previous one.
    // ChangeNotifier.RequeueFollowerAsync takes the same key.
    internal const long PolicyLockKey = 0x5056_504f_4c49;

    /// <summary>Parses and loads a policy; see <see cref="PolicyMode"/> for the modes.</summary>
    public async Task<PolicyLoadResult> LoadAsync(NpgsqlDataSource leader, PolicyLoadRequest request, CancellationToken cancellationToken)
    {
        var document = PolicyParser.Parse(request.PolicyText, request.FileName, request.Account, request.Branch);
        if (request.Mode == PolicyMode.Load)
        {
            RejectDeletions(document);
        }

        PolicyPublicKeys.RequireDataKey(document, request);

        try
        {
            return await LoadDocumentAsync(leader, request, document, cancellationToken);
        }
        catch (PostgresException e) when (e.SqlState.StartsWith("54", StringComparison.Ordinal))
        {
            // Class 54, program limit exceeded: an index entry, a text search vector or a statement too large for
            // PostgreSQL. The transaction rolled back; the cause is the policy's size, not the database.
            throw new PartialReplicaException(
                $"{request.FileName}: the policy is too large for PostgreSQL to store ({e.SqlState}: {e.MessageText}); nothing was changed. Shorten the value or split the policy into branches.");
        }
    }

    private async Task<PolicyLoadResult> LoadDocumentAsync(
        NpgsqlDataSource leader, PolicyLoadRequest request, PolicyDocument document, CancellationToken cancellationToken)
    {
        var branchId = document.Branch.ToString();
        var loader = request.LoaderRoleId ?? ConjurRecords.Admin(request.Account).ToString();

        await using var connection = await leader.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await connection.ExecuteAsync("SELECT pg_advisory_xact_lock($1)", cancellationToken, PolicyLockKey);

        // Records a root policy declares without an owner belong to the root policy's owner, as in Conjur.
        var branchOwner = await connection.ScalarAsync<string?>("SELECT owner_id FROM resources WHERE resource_id = $1", cancellationToken, branchId);
        if (branchOwner is null)
        {
            throw new PartialReplicaException(
                $"Policy branch {branchId} does not exist. Declare it with '!policy' in its parent branch and load that first.");
        }

        var rows = PolicyRows.From(document, branchOwner);

        // Conjur's policy_versions_version trigger numbers the version (and only_one_current finishes any other
        // unfinished one); the value given here is replaced.
        var version = await connection.ScalarAsync<int>("""
            INSERT INTO policy_versions (resource_id, role_id, version, policy_text, policy_sha256)
            VALUES ($1, $2, 0, $3, $4)
            RETURNING version
            """, cancellationToken, branchId, loader, request.PolicyText,
            Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(request.PolicyText))));

        await rows.CopyAsync(connection, cancellationToken);
        object?[] scope = [branchId, version, branchId];

        if (request.Mode == PolicyMode.Replace)
        {
            await RunAsync(connection, PolicyStatements.CollectOmittedRecords, scope, cancellationToken);
        }

        if (request.Mode != PolicyMode.Load)
        {
            // As Conjur: explicit deletions (!delete, !revoke, !deny) run before the file's rows are written, so a
            // file that both denies and permits a privilege (or revokes and grants a role) ends with it given.
            await RunAsync(connection, PolicyStatements.CollectDeletedRecords, scope, cancellationToken);
            await RunAsync(connection, PolicyStatements.RemoveRecords, scope, cancellationToken);
            await RunAsync(connection, PolicyStatements.RevokeAndDeny, scope, cancellationToken);
        }

        if (request.Mode == PolicyMode.Replace)
        {
            await RunAsync(connection, PolicyStatements.RemoveOmittedRows, scope, cancellationToken);
        }

        await PolicyReferences.CheckAsync(connection, document, rows, cancellationToken);

        var created = await ReadColumnAsync(connection, PolicyStatements.UpsertRoles(request.Mode), scope, cancellationToken);
        await RunAsync(connection, PolicyStatements.UpsertRest(request.Mode), scope, cancellationToken);
        await connection.ExecuteAsync(PolicyStatements.UpsertCredentials(request.Mode), cancellationToken, new object?[] { created.ToArray() });

        // Only users and hosts get API keys; a custom-kind role (!role) is not theirs to parse.
        var createdLogins = created.Where(id => id.Split(':', 3) is [_, "user" or "host", _]).ToList();
        var createdRoles = await IssueApiKeysAsync(connection, createdLogins, request, cancellationToken);
        if (!request.DryRun && document.PublicKeys.Count > 0)
        {
            // After the rows: a key's secret needs its public_key resource. A dry run stores none (nor needs the key).
            await PolicyPublicKeys.StoreAsync(connection, document.PublicKeys, request.DataKey!, cancellationToken);
        }

        var changes = await RefreshGrantsAsync(connection, cancellationToken);
        await connection.ExecuteAsync(
            "UPDATE policy_versions SET finished_at = clock_timestamp() WHERE resource_id = $1 AND version = $2",
            cancellationToken, branchId, version);

        if (request.DryRun)
        {
            await transaction.RollbackAsync(cancellationToken);
        }
        else
        {
            await transaction.CommitAsync(cancellationToken);
        }

        LogMessages.PolicyLoaded(logger, branchId, request.Mode.ToString(), version, request.DryRun,
            document.Records.Count, createdRoles.Count, changes.Count);
        return new PolicyLoadResult(createdRoles, version, request.DryRun, changes);
    }

    private static void RejectDeletions(PolicyDocument document)
    {
        var mark = document.Deletions.Select(d => d.Mark)
            .Concat(document.Memberships.Where(m => m.Revoke).Select(m => m.Mark))
            .Concat(document.Permissions.Where(p => p.Deny).Select(p => p.Mark))
            .MinBy(m => (m.Line, m.Column));
        if (mark is not null)
        {
            throw PolicyErrors.At(mark, "!delete, !revoke and !deny are not allowed when loading (add only); use update or replace");
        }
    }

    /// <summary>
    /// New users and hosts get an API key, stored as Conjur stores it (<see cref="ApiKeys"/>); the key itself is returned
    /// once. A dry run issues none: everything it wrote is rolled back.
    /// </summary>
    private static async Task<Dictionary<string, CreatedRole>> IssueApiKeysAsync(
        NpgsqlConnection connection, List<string> created, PolicyLoadRequest request, CancellationToken cancellationToken)
    {
        var roles = created.Where(id => ConjurId.Parse(id).Kind is "user" or "host").Order(StringComparer.Ordinal).ToList();
        var keys = request.DryRun ? new string?[roles.Count] : await ApiKeys.IssueAsync(connection, roles, request.DataKey, cancellationToken);
        var result = new Dictionary<string, CreatedRole>(StringComparer.Ordinal);
        for (var i = 0; i < roles.Count; i++)
        {
            result[roles[i]] = new CreatedRole(roles[i], keys[i]);
        }

        return result;
    }

    /// <summary>Refreshes every follower's materialised grants, queues the differences in the outbox and wakes the gateway.</summary>
    private static async Task<List<FollowerGrantChange>> RefreshGrantsAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        var byFollower = new Dictionary<string, (string RoleId, List<string> Added, List<string> Removed)>(StringComparer.Ordinal);
        await using (var command = new NpgsqlCommand(PolicyStatements.RefreshGrants, connection))
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                var follower = reader.GetString(0);
                if (!byFollower.TryGetValue(follower, out var entry))
                {
                    entry = (reader.GetString(1), [], []);
                    byFollower[follower] = entry;
                }

                (reader.GetString(3) == "grant" ? entry.Added : entry.Removed).Add(reader.GetString(2));
            }
        }

        if (byFollower.Count > 0)
        {
            // Wake-up only: the outbox rows are the truth, and a payload would be visible to every user.
            await connection.ExecuteAsync("SELECT pg_notify('partial_replica_changes', '')", cancellationToken);
        }

        return byFollower.Select(f => new FollowerGrantChange(f.Key, f.Value.RoleId, f.Value.Added, f.Value.Removed)).ToList();
    }

    private static async Task RunAsync(NpgsqlConnection connection, IEnumerable<string> statements, object?[] scope, CancellationToken cancellationToken)
    {
        foreach (var sql in statements)
        {
            await connection.ExecuteAsync(sql, cancellationToken, scope);
        }
    }

    private static async Task<List<string>> ReadColumnAsync(NpgsqlConnection connection, string sql, object?[] parameters, CancellationToken cancellationToken)
    {
        var values = new List<string>();
        await using var command = ConnectionExtensions.Command(connection, sql, parameters);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            values.Add(reader.GetString(0));
        }

        return values;
    }
}
