-- Baseline, every side (leader, follower, relay): Conjur's tables in Conjur's own shape, and the bookkeeping
-- every side shares.
--
-- Conjur's shape (SPEC §2): the columns, types, keys and defaults that Conjur's own migrations make, so a
-- leader this product made and one Conjur made are interchangeable, and a relay or follower holds exactly the
-- leader's published tables (a subscriber whose table lacks a published column, or types it differently, stops
-- applying). Everything is IF NOT EXISTS: on a database whose schema Conjur made (adoption), nothing here
-- creates a second copy of what is there. Conjur's foreign keys, triggers and functions are leader rules
-- (0002): on a subscriber the apply worker runs with session_replication_role = replica, so they neither fire
-- nor hold for replicated rows, and a pushed secret may arrive before its resources row.
-- Not copied: Conjur's CHECK constraints (has_account, has_kind, verify_policy_kind) and its expression indexes;
-- they are Conjur's to keep and neither the publication nor this product reads them.

-- Conjur keeps policy_log.subject as hstore (trusted extension: the database owner may create it).
CREATE EXTENSION IF NOT EXISTS hstore;

DO $types$
BEGIN
    IF to_regtype('policy_log_op') IS NULL THEN
        CREATE TYPE policy_log_op AS ENUM ('INSERT', 'DELETE', 'UPDATE');
    END IF;
    IF to_regtype('policy_log_kind') IS NULL THEN
        CREATE TYPE policy_log_kind AS ENUM ('roles', 'role_memberships', 'resources', 'permissions', 'annotations');
    END IF;
END
$types$;

-- Conjur's timestamps: created_at, expires_at and expiration are timestamp WITHOUT time zone, read as UTC
-- (Rails' convention); policy_versions and policy_log keep theirs with time zone.
CREATE TABLE IF NOT EXISTS roles (
    role_id    text NOT NULL PRIMARY KEY,
    created_at timestamp without time zone NOT NULL DEFAULT transaction_timestamp(),
    policy_id  text
);

CREATE TABLE IF NOT EXISTS resources (
    resource_id text NOT NULL PRIMARY KEY,
    owner_id    text NOT NULL,
    created_at  timestamp without time zone NOT NULL DEFAULT transaction_timestamp(),
    policy_id   text
);

CREATE TABLE IF NOT EXISTS role_memberships (
    role_id      text NOT NULL,
    member_id    text NOT NULL,
    admin_option boolean NOT NULL DEFAULT false,
    ownership    boolean NOT NULL DEFAULT false,
    policy_id    text,
    PRIMARY KEY (role_id, member_id, ownership)
);
CREATE INDEX IF NOT EXISTS role_memberships_member ON role_memberships (member_id);

CREATE TABLE IF NOT EXISTS permissions (
    privilege   text NOT NULL,
    resource_id text NOT NULL,
    role_id     text NOT NULL,
    policy_id   text,
    PRIMARY KEY (resource_id, role_id, privilege)
);
-- Not Conjur's: the grant rule (below) walks permissions by role and privilege.
CREATE INDEX IF NOT EXISTS permissions_role_privilege ON permissions (role_id, privilege);

CREATE TABLE IF NOT EXISTS annotations (
    resource_id text NOT NULL,
    name        text NOT NULL,
    value       text NOT NULL,
    policy_id   text,
    PRIMARY KEY (resource_id, name)
);
CREATE INDEX IF NOT EXISTS annotations_name_index ON annotations (name);

CREATE TABLE IF NOT EXISTS credentials (
    role_id        text NOT NULL PRIMARY KEY,
    client_id      text,
    api_key        bytea,
    encrypted_hash bytea,
    expiration     timestamp without time zone,
    restricted_to  cidr[] NOT NULL DEFAULT '{}'::cidr[],
    updated_at     timestamp without time zone
);

CREATE TABLE IF NOT EXISTS secrets (
    resource_id text NOT NULL,
    version     integer NOT NULL,
    value       bytea NOT NULL,
    expires_at  timestamp without time zone,
    PRIMARY KEY (resource_id, version)
);
CREATE INDEX IF NOT EXISTS secrets_resource_id_index ON secrets (resource_id);

CREATE TABLE IF NOT EXISTS policy_versions (
    resource_id   text NOT NULL,
    role_id       text NOT NULL,
    version       integer NOT NULL,
    created_at    timestamp with time zone NOT NULL DEFAULT transaction_timestamp(),
    policy_text   text NOT NULL,
    policy_sha256 text NOT NULL,
    finished_at   timestamp with time zone,
    client_ip     text,
    PRIMARY KEY (resource_id, version),
    CONSTRAINT created_before_finish CHECK (created_at <= finished_at)
);
CREATE INDEX IF NOT EXISTS policy_versions_finished_at_index ON policy_versions (finished_at);

-- No primary key (as in Conjur): setup gives it REPLICA IDENTITY FULL before publishing it.
CREATE TABLE IF NOT EXISTS policy_log (
    policy_id text NOT NULL,
    version   integer NOT NULL,
    operation policy_log_op NOT NULL,
    kind      policy_log_kind NOT NULL,
    subject   hstore NOT NULL,
    at        timestamp with time zone NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX IF NOT EXISTS policy_log_policy_id_version_index ON policy_log (policy_id, version);

CREATE TABLE IF NOT EXISTS slosilo_keystore (
    id          text NOT NULL PRIMARY KEY,
    key         bytea NOT NULL,
    fingerprint text NOT NULL UNIQUE
);

CREATE TABLE IF NOT EXISTS resources_textsearch (
    resource_id text NOT NULL PRIMARY KEY,
    textsearch  tsvector
);
CREATE INDEX IF NOT EXISTS resources_ts_index ON resources_textsearch USING gist (textsearch);

CREATE TABLE IF NOT EXISTS host_factory_tokens (
    token_sha256 character varying(64) NOT NULL PRIMARY KEY,
    token        bytea NOT NULL,
    resource_id  text NOT NULL,
    cidr         cidr[] NOT NULL DEFAULT '{}'::cidr[],
    expiration   timestamp without time zone
);

CREATE TABLE IF NOT EXISTS authenticator_configs (
    id          integer GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    resource_id text NOT NULL UNIQUE,
    enabled     boolean NOT NULL DEFAULT false
);

CREATE TABLE IF NOT EXISTS issuers (
    issuer_id   text NOT NULL,
    account     text NOT NULL,
    issuer_type text NOT NULL,
    max_ttl     integer NOT NULL,
    data        bytea,
    created_at  timestamp without time zone NOT NULL DEFAULT transaction_timestamp(),
    modified_at timestamp without time zone NOT NULL,
    policy_id   text NOT NULL,
    CONSTRAINT issuer_pk PRIMARY KEY (account, issuer_id)
);

-- Bookkeeping present on every side.

-- The gateway bumps this row periodically; it is in the publication so that idle followers' slots keep
-- confirming WAL (a quiet publication on a busy server would otherwise retain WAL). leader_lsn is the
-- leader's WAL position (bytes since 0/0, as the stamps count it) when the beat was written: a follower that
-- has replayed a beat has replayed every leader commit before it, so a batch stamped at most this is one whose
-- grants the follower's own tables already show.
CREATE TABLE partial_replica.heartbeat (
    id         integer PRIMARY KEY CHECK (id = 1),
    beat_at    timestamptz NOT NULL,
    leader_lsn bigint NOT NULL DEFAULT 0
);

-- Batches an agent refused (written by agents; a leader's stays empty). Ids and counts only, never values.
CREATE TABLE partial_replica.refusals (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    refused_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    batch_id    text NOT NULL,
    gateway     text NOT NULL,
    reason      text NOT NULL,
    detail      text NOT NULL
);

-- The grant rule (SPEC F4), with one text on every side: the leader's push path and status ask it, and the agent
-- does not trust a push blindly (S6): before a pushed variable becomes visible it asks its own follower's
-- replicated policy tables, once its subscription has replayed up to the position the batch is stamped with.
-- SchemaTests compare the definitions on a leader and a follower.
--
-- Replica set N is the branch conjur/replication-sets/N: the webservice <acct>:webservice:conjur/replication-sets/N
-- (the set), the group .../N/replicated-data (what it carries), the layer .../N/followers (who receives it).
-- F receives V iff for some N, F can 'replicate' the set's webservice and replicated-data can 'execute' V,
-- both through role memberships, transitively. The set 'full' carries every variable of the account.

-- Conjur's all_roles: the role itself and every role it is (transitively) a member of.
CREATE FUNCTION partial_replica.all_roles(p_role_id text)
RETURNS TABLE (role_id text) LANGUAGE sql STABLE AS $$
    WITH RECURSIVE closure(role_id) AS (
        SELECT p_role_id
        UNION
        SELECT rm.role_id FROM role_memberships rm JOIN closure c ON rm.member_id = c.role_id
    )
    SELECT closure.role_id FROM closure
$$;

-- The replica sets (webservice ids) a follower host may replicate.
CREATE FUNCTION partial_replica.follower_replica_sets(p_follower_role_id text)
RETURNS TABLE (set_id text) LANGUAGE sql STABLE AS $$
    SELECT DISTINCT p.resource_id
      FROM partial_replica.all_roles(p_follower_role_id) r
      JOIN permissions p ON p.role_id = r.role_id AND p.privilege = 'replicate'
     WHERE starts_with(p.resource_id, split_part(p_follower_role_id, ':', 1) || ':webservice:conjur/replication-sets/')
       AND position('/' IN substr(p.resource_id,
             length(split_part(p_follower_role_id, ':', 1) || ':webservice:conjur/replication-sets/') + 1)) = 0
$$;

-- Whether the follower receives the reserved set 'full' (every variable of its account).
CREATE FUNCTION partial_replica.follower_has_full(p_follower_role_id text)
RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT EXISTS (
        SELECT 1 FROM partial_replica.follower_replica_sets(p_follower_role_id) s
         WHERE s.set_id = split_part(p_follower_role_id, ':', 1) || ':webservice:conjur/replication-sets/full')
$$;

-- The roles whose 'execute' permissions reach the follower: each of its sets' replicated-data group and
-- every role that group is (transitively) a member of.
CREATE FUNCTION partial_replica.follower_carriers(p_follower_role_id text)
RETURNS TABLE (role_id text) LANGUAGE sql STABLE AS $$
    SELECT DISTINCT r.role_id
      FROM partial_replica.follower_replica_sets(p_follower_role_id) s,
           partial_replica.all_roles(split_part(p_follower_role_id, ':', 1) || ':group:'
                                     || split_part(s.set_id, ':', 3) || '/replicated-data') r
$$;

-- Which of these variables the follower may hold: a few index probes per variable, however many it holds.
CREATE FUNCTION partial_replica.granted_among(p_follower_role_id text, p_ids text[])
RETURNS TABLE (resource_id text) LANGUAGE sql STABLE AS $$
    -- MATERIALIZED: each computed once per call, not once per probed variable. The 'full' set is a one-time
    -- condition and the permissions side a plain join: one pass over the ids (an OR of two correlated subqueries
    -- would evaluate each id twice).
    WITH carriers AS MATERIALIZED (SELECT c.role_id FROM partial_replica.follower_carriers(p_follower_role_id) c),
    ids AS MATERIALIZED (SELECT DISTINCT i.id FROM unnest(p_ids) AS i(id)
                          WHERE starts_with(i.id, split_part(p_follower_role_id, ':', 1) || ':variable:'))
    SELECT ids.id FROM ids
     WHERE partial_replica.follower_has_full(p_follower_role_id)
       AND EXISTS (SELECT 1 FROM resources res WHERE res.resource_id = ids.id)
    UNION
    SELECT p.resource_id FROM ids
      JOIN permissions p ON p.resource_id = ids.id AND p.privilege = 'execute'
      JOIN carriers c ON c.role_id = p.role_id
$$;
