-- Baseline, leader only: Conjur's rules (when the database does not have them yet), then this product's
-- bookkeeping, capture and grant boundary. Nothing of this is published.

-- 1. Conjur's rules: foreign keys, triggers and the SQL functions Conjur's application calls, as Conjur's own
-- migrations make them. Written only on a database that lacks them: on a leader whose schema Conjur made
-- (adoption), Conjur's own are kept as they are and nothing here makes a second copy (a second secrets_version
-- trigger would number two `secret set`s 1 and 3, a second set of policy_log triggers would log twice).
-- Conjur's secrets_next_version() marks a database whose rules Conjur wrote.
DO $conjur_rules$
BEGIN
    IF to_regprocedure('secrets_next_version()') IS NOT NULL THEN
        RETURN;
    END IF;

    -- Ids are account:kind:identifier.
    CREATE FUNCTION account(id text) RETURNS text LANGUAGE sql IMMUTABLE
        AS $fn$ SELECT nullif(split_part(id, ':', 1), '') $fn$;
    CREATE FUNCTION kind(id text) RETURNS text LANGUAGE sql IMMUTABLE
        AS $fn$ SELECT nullif(split_part(id, ':', 2), '') $fn$;
    CREATE FUNCTION identifier(id text) RETURNS text LANGUAGE sql IMMUTABLE
        AS $fn$ SELECT substring(id FROM '[^:]+:[^:]+:(.*)') $fn$;

    -- Referential integrity, with Conjur's constraint names; every reference cascades, as in Conjur.
    ALTER TABLE resources ADD CONSTRAINT resources_owner_id_fkey
        FOREIGN KEY (owner_id) REFERENCES roles (role_id) ON DELETE CASCADE;
    ALTER TABLE resources ADD CONSTRAINT resources_policy_id_fkey
        FOREIGN KEY (policy_id) REFERENCES resources (resource_id) ON DELETE CASCADE;
    ALTER TABLE roles ADD CONSTRAINT roles_policy_id_fkey
        FOREIGN KEY (policy_id) REFERENCES resources (resource_id) ON DELETE CASCADE;
    ALTER TABLE role_memberships ADD CONSTRAINT role_memberships_role_id_fkey
        FOREIGN KEY (role_id) REFERENCES roles (role_id) ON DELETE CASCADE;
    ALTER TABLE role_memberships ADD CONSTRAINT role_memberships_member_id_fkey
        FOREIGN KEY (member_id) REFERENCES roles (role_id) ON DELETE CASCADE;
    ALTER TABLE role_memberships ADD CONSTRAINT role_memberships_policy_id_fkey
        FOREIGN KEY (policy_id) REFERENCES resources (resource_id) ON DELETE CASCADE;
    ALTER TABLE permissions ADD CONSTRAINT permissions_resource_id_fkey
        FOREIGN KEY (resource_id) REFERENCES resources (resource_id) ON DELETE CASCADE;
    ALTER TABLE permissions ADD CONSTRAINT permissions_role_id_fkey
        FOREIGN KEY (role_id) REFERENCES roles (role_id) ON DELETE CASCADE;
    ALTER TABLE permissions ADD CONSTRAINT permissions_policy_id_fkey
        FOREIGN KEY (policy_id) REFERENCES resources (resource_id) ON DELETE CASCADE;
    ALTER TABLE annotations ADD CONSTRAINT annotations_resource_id_fkey
        FOREIGN KEY (resource_id) REFERENCES resources (resource_id) ON DELETE CASCADE;
    ALTER TABLE annotations ADD CONSTRAINT annotations_policy_id_fkey
        FOREIGN KEY (policy_id) REFERENCES resources (resource_id) ON DELETE CASCADE;
    ALTER TABLE credentials ADD CONSTRAINT credentials_role_id_fkey
        FOREIGN KEY (role_id) REFERENCES roles (role_id) ON DELETE CASCADE;
    ALTER TABLE credentials ADD CONSTRAINT credentials_client_id_fkey
        FOREIGN KEY (client_id) REFERENCES roles (role_id) ON DELETE CASCADE;
    ALTER TABLE secrets ADD CONSTRAINT secrets_resource_id_fkey
        FOREIGN KEY (resource_id) REFERENCES resources (resource_id) ON DELETE CASCADE;
    ALTER TABLE policy_versions ADD CONSTRAINT policy_versions_resource_id_fkey
        FOREIGN KEY (resource_id) REFERENCES resources (resource_id) ON DELETE CASCADE;
    ALTER TABLE policy_versions ADD CONSTRAINT policy_versions_role_id_fkey
        FOREIGN KEY (role_id) REFERENCES roles (role_id) ON DELETE CASCADE;
    ALTER TABLE policy_log ADD CONSTRAINT policy_log_policy_id_version_fkey
        FOREIGN KEY (policy_id, version) REFERENCES policy_versions (resource_id, version) ON DELETE CASCADE;
    ALTER TABLE resources_textsearch ADD CONSTRAINT resources_textsearch_resource_id_fkey
        FOREIGN KEY (resource_id) REFERENCES resources (resource_id) ON DELETE CASCADE;
    ALTER TABLE host_factory_tokens ADD CONSTRAINT host_factory_tokens_resource_id_fkey
        FOREIGN KEY (resource_id) REFERENCES resources (resource_id) ON DELETE CASCADE;
    ALTER TABLE authenticator_configs ADD CONSTRAINT authenticator_configs_resource_id_fkey
        FOREIGN KEY (resource_id) REFERENCES resources (resource_id) ON DELETE CASCADE;
    ALTER TABLE issuers ADD CONSTRAINT issuers_policy_id_fkey
        FOREIGN KEY (policy_id) REFERENCES resources (resource_id) ON DELETE CASCADE;

    -- Conjur's role graph functions, which its application (and an admin with psql) asks.
    CREATE FUNCTION all_roles(role_id text) RETURNS TABLE (role_id text, admin_option boolean)
    LANGUAGE sql STABLE STRICT AS $fn$
        WITH RECURSIVE m(role_id, admin_option) AS (
            SELECT $1, true
            UNION
            SELECT ms.role_id, ms.admin_option FROM role_memberships ms JOIN m ON ms.member_id = m.role_id)
        SELECT m.role_id, bool_or(m.admin_option) FROM m GROUP BY m.role_id
    $fn$;

    CREATE FUNCTION is_role_ancestor_of_any(role_id text, other_ids text[]) RETURNS boolean
    LANGUAGE sql STABLE STRICT AS $fn$
        SELECT EXISTS (
            WITH RECURSIVE m(id) AS (
                SELECT $1
                UNION
                SELECT rm.role_id FROM role_memberships rm JOIN m ON rm.member_id = m.id)
            SELECT 1 FROM m WHERE m.id = ANY ($2))
    $fn$;

    -- A role may do something on a resource when it is (a member of) the owner or of a role permitted it.
    CREATE FUNCTION is_role_allowed_to(role_id text, privilege text, resource_id text) RETURNS boolean
    LANGUAGE sql STABLE STRICT AS $fn$
        SELECT coalesce(is_role_ancestor_of_any($1,
                   array_append(ARRAY(SELECT p.role_id FROM permissions p
                                       WHERE p.resource_id = $3 AND p.privilege = $2), r.owner_id)), false)
          FROM resources r WHERE r.resource_id = $3
    $fn$;

    CREATE FUNCTION roles_that_can(permission text, resource_id text) RETURNS SETOF roles
    LANGUAGE sql STABLE STRICT ROWS 10 AS $fn$
        WITH RECURSIVE allowed(role_id) AS (
            SELECT p.role_id FROM permissions p WHERE p.privilege = $1 AND p.resource_id = $2
            UNION
            SELECT r.owner_id FROM resources r WHERE r.resource_id = $2
            UNION
            SELECT ms.member_id FROM role_memberships ms JOIN allowed a ON ms.role_id = a.role_id)
        SELECT DISTINCT r.* FROM roles r JOIN allowed a ON a.role_id = r.role_id
    $fn$;

    CREATE FUNCTION visible_resources(role_id text) RETURNS SETOF resources
    LANGUAGE sql STABLE STRICT AS $fn$
        WITH mine AS (SELECT a.role_id FROM all_roles($1) a)
        SELECT r.* FROM resources r
         WHERE r.owner_id IN (SELECT mine.role_id FROM mine)
            OR r.resource_id IN (SELECT p.resource_id FROM permissions p JOIN mine ON mine.role_id = p.role_id)
    $fn$;

    -- Policy versions: numbered per policy by a trigger; one unfinished (current) version at a time, finished at
    -- the latest when its transaction commits.
    CREATE FUNCTION current_policy_version() RETURNS SETOF policy_versions
    LANGUAGE sql STABLE AS $fn$ SELECT * FROM policy_versions WHERE finished_at IS NULL $fn$;

    CREATE FUNCTION current_policy_version_no_policy_text() RETURNS SETOF policy_versions
    LANGUAGE sql STABLE AS $fn$
        SELECT resource_id, role_id, version, created_at, NULL::text, policy_sha256, finished_at, client_ip
          FROM policy_versions WHERE finished_at IS NULL
    $fn$;

    CREATE FUNCTION policy_versions_next_version() RETURNS trigger LANGUAGE plpgsql AS $fn$
    BEGIN
        NEW.version := (SELECT coalesce(max(v.version), 0) + 1 FROM policy_versions v WHERE v.resource_id = NEW.resource_id);
        RETURN NEW;
    END
    $fn$;

    CREATE FUNCTION policy_versions_finish() RETURNS trigger LANGUAGE plpgsql AS $fn$
    BEGIN
        UPDATE policy_versions SET finished_at = clock_timestamp() WHERE finished_at IS NULL;
        RETURN NEW;
    END
    $fn$;

    CREATE TRIGGER policy_versions_version BEFORE INSERT ON policy_versions
        FOR EACH ROW EXECUTE FUNCTION policy_versions_next_version();
    CREATE TRIGGER only_one_current BEFORE INSERT ON policy_versions
        FOR EACH ROW EXECUTE FUNCTION policy_versions_finish();
    CREATE CONSTRAINT TRIGGER finish_current AFTER INSERT ON policy_versions DEFERRABLE INITIALLY DEFERRED
        FOR EACH ROW WHEN (NEW.finished_at IS NULL) EXECUTE FUNCTION policy_versions_finish();

    -- policy_log: every statement on the policy tables logs, as Conjur's statement triggers do, the keys of the
    -- rows it wrote whose policy_id falls under the current (unfinished) policy version; writes outside a policy
    -- load log nothing. The argument is the table's key columns.
    CREATE FUNCTION policy_log_changes() RETURNS trigger LANGUAGE plpgsql AS $fn$
    DECLARE
        current_policy text;
        current_version integer;
    BEGIN
        SELECT v.resource_id, v.version INTO current_policy, current_version
          FROM policy_versions v WHERE v.finished_at IS NULL;
        IF current_policy IS NULL THEN
            RETURN NULL;
        END IF;
        -- Transition tables are visible to EXECUTE in PL/pgSQL; the table and key columns come from the trigger.
        EXECUTE format(
            'INSERT INTO policy_log (policy_id, version, operation, kind, subject)
             SELECT $1, $2, $3::policy_log_op, $4::policy_log_kind, slice(hstore(s), $5)
               FROM %I s WHERE s.policy_id = $1 OR s.policy_id LIKE $1 || ''/%%''',
            CASE TG_OP WHEN 'DELETE' THEN 'old_table' ELSE 'new_table' END)
        USING current_policy, current_version, TG_OP, TG_TABLE_NAME, TG_ARGV::text[];
        RETURN NULL;
    END
    $fn$;

    CREATE TRIGGER policy_log AFTER INSERT ON roles REFERENCING NEW TABLE AS new_table
        FOR EACH STATEMENT EXECUTE FUNCTION policy_log_changes('role_id');
    CREATE TRIGGER policy_log_u AFTER UPDATE ON roles REFERENCING NEW TABLE AS new_table
        FOR EACH STATEMENT EXECUTE FUNCTION policy_log_changes('role_id');
    CREATE TRIGGER policy_log_d AFTER DELETE ON roles REFERENCING OLD TABLE AS old_table
        FOR EACH STATEMENT EXECUTE FUNCTION policy_log_changes('role_id');
    CREATE TRIGGER policy_log AFTER INSERT ON resources REFERENCING NEW TABLE AS new_table
        FOR EACH STATEMENT EXECUTE FUNCTION policy_log_changes('resource_id');
    CREATE TRIGGER policy_log_u AFTER UPDATE ON resources REFERENCING NEW TABLE AS new_table
        FOR EACH STATEMENT EXECUTE FUNCTION policy_log_changes('resource_id');
    CREATE TRIGGER policy_log_d AFTER DELETE ON resources REFERENCING OLD TABLE AS old_table
        FOR EACH STATEMENT EXECUTE FUNCTION policy_log_changes('resource_id');
    CREATE TRIGGER policy_log AFTER INSERT ON role_memberships REFERENCING NEW TABLE AS new_table
        FOR EACH STATEMENT EXECUTE FUNCTION policy_log_changes('role_id', 'member_id', 'ownership');
    CREATE TRIGGER policy_log_u AFTER UPDATE ON role_memberships REFERENCING NEW TABLE AS new_table
        FOR EACH STATEMENT EXECUTE FUNCTION policy_log_changes('role_id', 'member_id', 'ownership');
    CREATE TRIGGER policy_log_d AFTER DELETE ON role_memberships REFERENCING OLD TABLE AS old_table
        FOR EACH STATEMENT EXECUTE FUNCTION policy_log_changes('role_id', 'member_id', 'ownership');
    CREATE TRIGGER policy_log AFTER INSERT ON permissions REFERENCING NEW TABLE AS new_table
        FOR EACH STATEMENT EXECUTE FUNCTION policy_log_changes('privilege', 'resource_id', 'role_id');
    CREATE TRIGGER policy_log_u AFTER UPDATE ON permissions REFERENCING NEW TABLE AS new_table
        FOR EACH STATEMENT EXECUTE FUNCTION policy_log_changes('privilege', 'resource_id', 'role_id');
    CREATE TRIGGER policy_log_d AFTER DELETE ON permissions REFERENCING OLD TABLE AS old_table
        FOR EACH STATEMENT EXECUTE FUNCTION policy_log_changes('privilege', 'resource_id', 'role_id');
    CREATE TRIGGER policy_log AFTER INSERT ON annotations REFERENCING NEW TABLE AS new_table
        FOR EACH STATEMENT EXECUTE FUNCTION policy_log_changes('resource_id', 'name');
    CREATE TRIGGER policy_log_u AFTER UPDATE ON annotations REFERENCING NEW TABLE AS new_table
        FOR EACH STATEMENT EXECUTE FUNCTION policy_log_changes('resource_id', 'name');
    CREATE TRIGGER policy_log_d AFTER DELETE ON annotations REFERENCING OLD TABLE AS old_table
        FOR EACH STATEMENT EXECUTE FUNCTION policy_log_changes('resource_id', 'name');

    -- Ownership: the owner of a resource that is also a role is a member of that role (ownership, admin option),
    -- kept by triggers whoever writes resources.
    CREATE FUNCTION ownership_membership() RETURNS trigger LANGUAGE plpgsql AS $fn$
    BEGIN
        IF TG_OP IN ('UPDATE', 'DELETE') AND (TG_OP = 'DELETE' OR OLD.owner_id IS DISTINCT FROM NEW.owner_id) THEN
            DELETE FROM role_memberships rm
             WHERE rm.role_id = OLD.resource_id AND rm.member_id = OLD.owner_id AND rm.ownership;
        END IF;
        IF TG_OP IN ('INSERT', 'UPDATE') AND (TG_OP = 'INSERT' OR OLD.owner_id IS DISTINCT FROM NEW.owner_id)
           AND EXISTS (SELECT 1 FROM roles r WHERE r.role_id = NEW.resource_id) THEN
            INSERT INTO role_memberships (role_id, member_id, admin_option, ownership)
            VALUES (NEW.resource_id, NEW.owner_id, true, true)
            ON CONFLICT (role_id, member_id, ownership) DO NOTHING;
        END IF;
        RETURN CASE TG_OP WHEN 'DELETE' THEN OLD ELSE NEW END;
    END
    $fn$;
    CREATE TRIGGER grant_role_membership_to_owner BEFORE INSERT ON resources
        FOR EACH ROW EXECUTE FUNCTION ownership_membership();
    CREATE TRIGGER update_role_membership_of_owner BEFORE UPDATE ON resources
        FOR EACH ROW EXECUTE FUNCTION ownership_membership();
    CREATE TRIGGER delete_role_membership_of_owner BEFORE DELETE ON resources
        FOR EACH ROW EXECUTE FUNCTION ownership_membership();

    -- Text search, as Conjur weighs it: the identifier and the 'name' annotation (A), other annotations (B),
    -- the kind (C). Written per statement, not per row: a policy load inserts all its resources in one
    -- statement (P5).
    CREATE FUNCTION resource_textsearch(p_resource_id text) RETURNS tsvector LANGUAGE sql STABLE AS $fn$
        SELECT setweight(to_tsvector('pg_catalog.english', translate(identifier(p_resource_id), './-', '   ')), 'A')
            || setweight(to_tsvector('pg_catalog.english',
                   coalesce((SELECT a.value FROM annotations a WHERE a.resource_id = p_resource_id AND a.name = 'name'), '')), 'A')
            || setweight(to_tsvector('pg_catalog.english',
                   (SELECT coalesce(string_agg(a.value, ' :: '), '') FROM annotations a
                     WHERE a.resource_id = p_resource_id AND a.name <> 'name')), 'B')
            || setweight(to_tsvector('pg_catalog.english', kind(p_resource_id)), 'C')
    $fn$;

    CREATE FUNCTION resource_update_textsearch() RETURNS trigger LANGUAGE plpgsql AS $fn$
    BEGIN
        INSERT INTO resources_textsearch (resource_id, textsearch)
        SELECT n.resource_id, resource_textsearch(n.resource_id) FROM new_table n
        ON CONFLICT (resource_id) DO UPDATE SET textsearch = EXCLUDED.textsearch;
        RETURN NULL;
    END
    $fn$;
    CREATE TRIGGER resource_update_textsearch AFTER INSERT ON resources REFERENCING NEW TABLE AS new_table
        FOR EACH STATEMENT EXECUTE FUNCTION resource_update_textsearch();
    CREATE TRIGGER resource_update_textsearch_u AFTER UPDATE ON resources REFERENCING NEW TABLE AS new_table
        FOR EACH STATEMENT EXECUTE FUNCTION resource_update_textsearch();

    CREATE FUNCTION annotation_update_textsearch() RETURNS trigger LANGUAGE plpgsql AS $fn$
    BEGIN
        -- Only rows that exist: an annotation deleted with its resource has no text search row left to update.
        EXECUTE format(
            'UPDATE resources_textsearch t SET textsearch = resource_textsearch(t.resource_id)
              WHERE t.resource_id IN (SELECT c.resource_id FROM %I c)',
            CASE TG_OP WHEN 'DELETE' THEN 'old_table' ELSE 'new_table' END);
        RETURN NULL;
    END
    $fn$;
    CREATE TRIGGER annotation_update_textsearch AFTER INSERT ON annotations REFERENCING NEW TABLE AS new_table
        FOR EACH STATEMENT EXECUTE FUNCTION annotation_update_textsearch();
    CREATE TRIGGER annotation_update_textsearch_u AFTER UPDATE ON annotations REFERENCING NEW TABLE AS new_table
        FOR EACH STATEMENT EXECUTE FUNCTION annotation_update_textsearch();
    CREATE TRIGGER annotation_update_textsearch_d AFTER DELETE ON annotations REFERENCING OLD TABLE AS old_table
        FOR EACH STATEMENT EXECUTE FUNCTION annotation_update_textsearch();

    -- Secrets: each insert gets version max+1 for its variable; rows are never updated.
    -- Unlike Conjur, concurrent writers of one variable are serialised by a row lock on its resource, so two
    -- simultaneous `secret set`s get versions n+1 and n+2 instead of a key violation. A row lock (not an
    -- advisory lock) because a bulk load touches 100,000 variables in one transaction and advisory locks
    -- would exhaust the shared lock table; NO KEY UPDATE does not block foreign-key checks.
    CREATE FUNCTION secrets_next_version() RETURNS trigger LANGUAGE plpgsql AS $fn$
    BEGIN
        PERFORM 1 FROM resources r WHERE r.resource_id = NEW.resource_id FOR NO KEY UPDATE;
        NEW.version := coalesce((SELECT max(s.version) FROM secrets s WHERE s.resource_id = NEW.resource_id), 0) + 1;
        RETURN NEW;
    END
    $fn$;
    CREATE TRIGGER secrets_version BEFORE INSERT ON secrets
        FOR EACH ROW EXECUTE FUNCTION secrets_next_version();

    -- Only the newest 20 versions of a variable are kept (Conjur's application prunes them; here a trigger does,
    -- so bulk writers need not). The DELETE runs only when the new version can have pushed one out, because
    -- every DELETE statement fires the capture's statement trigger (P4).
    CREATE FUNCTION secrets_prune_versions() RETURNS trigger LANGUAGE plpgsql AS $fn$
    BEGIN
        IF NEW.version > 20 THEN
            DELETE FROM secrets s WHERE s.resource_id = NEW.resource_id AND s.version <= NEW.version - 20;
        END IF;
        RETURN NULL;
    END
    $fn$;
    CREATE TRIGGER secrets_prune_versions AFTER INSERT ON secrets
        FOR EACH ROW EXECUTE FUNCTION secrets_prune_versions();
END
$conjur_rules$;

-- 2. This product's bookkeeping: settings, registered followers, the change outbox and delivery state.

CREATE TABLE partial_replica.settings (
    name  text PRIMARY KEY,
    value text NOT NULL
);
REVOKE ALL ON partial_replica.settings FROM PUBLIC;

-- S6: followers subscribe to a relay database (the published tables only), each with a login of its own made on
-- the relay's server by `follower init`; no password is kept here (each subscription holds the only copy).
CREATE TABLE partial_replica.followers (
    name                  text PRIMARY KEY,        -- Conjur host identifier, e.g. conjur/followers/east-1
    role_id               text NOT NULL UNIQUE,    -- default:host:conjur/followers/east-1
    slot_name             text NOT NULL UNIQUE,    -- pr_conjur_followers_east_1
    agent_url             text,
    created_at            timestamptz NOT NULL DEFAULT now(),
    login                 text,                    -- the follower's replication login on the relay
    subscription_event    text,                    -- what was last done to keep its subscription flowing
    subscription_event_at timestamptz              -- and when
);

-- The durable change outbox, read in (tx, change_id) order, its only index: a reader takes only rows whose
-- transactions can no longer be overtaken by an earlier-numbered row still in flight (change_id order is not
-- commit order).
CREATE TABLE partial_replica.changes (
    change_id   bigint GENERATED ALWAYS AS IDENTITY,
    tx          xid8 NOT NULL DEFAULT pg_current_xact_id(),
    kind        text NOT NULL CHECK (kind IN ('upsert', 'delete', 'grant', 'revoke', 'requeue')),
    resource_id text NOT NULL,
    version     integer,
    follower    text,                     -- null: every follower the grant model allows
    created_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (tx, change_id)
);

CREATE TABLE partial_replica.delivery (
    follower        text PRIMARY KEY REFERENCES partial_replica.followers (name) ON DELETE CASCADE,
    last_tx         xid8 NOT NULL DEFAULT '0',   -- the outbox cursor is (tx, change_id)
    last_change_id  bigint NOT NULL DEFAULT 0,
    delivered_at    timestamptz,
    needs_reconcile boolean NOT NULL DEFAULT true,  -- a full reconcile is owed (new follower, requeue)
    last_error      text,
    updated_at      timestamptz NOT NULL DEFAULT now()
);

-- Wake-ups only when someone sleeps. A transaction that NOTIFYs takes a cluster-wide lock held through its
-- commit, so notifying on every secret write would serialise the leader's commits (no group commit). Each
-- gateway records here whether it is waiting for a wake-up (Leader/Dispatch/WakeupGate); writers notify only while one is,
-- or while no gateway has been seen for 5 s. A busy gateway reads the outbox on its own.
CREATE TABLE partial_replica.listeners (
    instance text PRIMARY KEY,
    waiting  boolean NOT NULL DEFAULT true,
    seen_at  timestamptz NOT NULL DEFAULT clock_timestamp()
);

-- Token signing keys of the gateway (S1). The newest key without retired_at signs; a retired key keeps
-- verifying (and stays in the JWKS) until every token it signed has expired. Each private key is encrypted with
-- the gateway key (PARTIALREPLICA_GATEWAY_KEY), which only gateways hold: Slosilo's AES-256-GCM blob
-- ('G' + tag + IV + ciphertext) with the kid as associated data, so a blob moved to another kid does not decrypt.
CREATE TABLE partial_replica.signing_keys (
    kid                   text PRIMARY KEY,
    algorithm             text NOT NULL DEFAULT 'ES256' CHECK (algorithm = 'ES256'),
    created_at            timestamptz NOT NULL DEFAULT clock_timestamp(),
    retired_at            timestamptz,
    encrypted_private_key bytea NOT NULL
        CHECK (length(encrypted_private_key) > 29 AND get_byte(encrypted_private_key, 0) = 71)  -- 'G', Slosilo's version byte
);
COMMENT ON COLUMN partial_replica.signing_keys.encrypted_private_key IS
    'PKCS#8 DER of a P-256 key, encrypted with the gateway key (AES-256-GCM, Slosilo format, AAD = kid)';
CREATE UNIQUE INDEX signing_keys_one_active ON partial_replica.signing_keys ((true)) WHERE retired_at IS NULL;
REVOKE ALL ON partial_replica.signing_keys FROM PUBLIC;

-- 3. Secrets capture (F5): every insert and delete on secrets writes change rows in the same transaction and,
-- when a gateway waits, wakes it. The NOTIFY payload is empty on purpose: payloads are visible to every user,
-- and identical notifications within one transaction collapse into one. Both triggers name their transition
-- table changed_rows, so one function serves both.
--   * The wake-up check runs once per writing session per 50 ms (P4): when no gateway wants a wake-up, the
--     session remembers when it asked in its own setting partial_replica.quiet_since (epoch seconds) and skips
--     the check for 50 ms. A gateway that turns to waiting reads the outbox again once writers' remembered
--     answers have run out (Leader/Dispatch/WakeupGate.WritersRemember). A value the session did not set this way means
--     ask, never an error: a secret write must not fail because of this setting.
--   * Pruning to 20 versions writes no change row of its own: the DELETE runs inside the insert of a version 20
--     newer of the same variable, whose 'upsert' makes the gateway push the variable's whole kept state. So a
--     deleted version is not captured when this same transaction inserted a version of the same variable at
--     least 20 newer. The test is on the data, not on a setting a session could set.
CREATE FUNCTION partial_replica.capture_secret_changes() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    quiet_since text := current_setting('partial_replica.quiet_since', true);
    captured boolean;
BEGIN
    IF TG_OP = 'INSERT' THEN
        DELETE FROM partial_replica.unset_variables u USING changed_rows c WHERE u.resource_id = c.resource_id;
        INSERT INTO partial_replica.changes (kind, resource_id, version)
        SELECT 'upsert', c.resource_id, c.version FROM changed_rows c;
        captured := FOUND;
    ELSE
        INSERT INTO partial_replica.changes (kind, resource_id, version)
        SELECT 'delete', c.resource_id, c.version
          FROM changed_rows c
         WHERE NOT EXISTS (SELECT 1 FROM secrets s
                            WHERE s.resource_id = c.resource_id AND s.version >= c.version + 20
                              AND s.xmin = pg_current_xact_id()::xid);
        captured := FOUND;
        -- Each variable the DELETE left without a version is unset again (section 4). Its row is locked first: FOR
        -- UPDATE conflicts with the FOR KEY SHARE that inserting a version takes through secrets_resource_id_fkey,
        -- and the check is a later statement, with a newer snapshot, so a version inserted concurrently is either
        -- committed and seen here, or waits for this commit and then removes the variable again itself.
        PERFORM 1 FROM resources r
         WHERE r.resource_id IN (SELECT c.resource_id FROM changed_rows c)
         ORDER BY r.resource_id
           FOR UPDATE;
        INSERT INTO partial_replica.unset_variables (resource_id)
        SELECT DISTINCT c.resource_id FROM changed_rows c
         WHERE EXISTS (SELECT 1 FROM resources r WHERE r.resource_id = c.resource_id)
           AND NOT EXISTS (SELECT 1 FROM secrets s WHERE s.resource_id = c.resource_id)
        ON CONFLICT DO NOTHING;
    END IF;
    IF captured AND (quiet_since IS NULL OR quiet_since !~ '^[0-9]{1,12}(\.[0-9]{1,9})?$'
                  OR date_part('epoch', clock_timestamp()) - quiet_since::float8 NOT BETWEEN 0 AND 0.05) THEN
        -- Wake a gateway only while one waits, or while none has been seen for 5 s; no row: notify.
        IF (SELECT coalesce(bool_or(l.waiting) OR NOT bool_or(l.seen_at > clock_timestamp() - interval '5 seconds'), true)
              FROM partial_replica.listeners l) THEN
            PERFORM pg_notify('partial_replica_changes', '');
        ELSE
            PERFORM set_config('partial_replica.quiet_since', date_part('epoch', clock_timestamp())::text, false);
        END IF;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER partial_replica_capture_inserts AFTER INSERT ON secrets
    REFERENCING NEW TABLE AS changed_rows
    FOR EACH STATEMENT EXECUTE FUNCTION partial_replica.capture_secret_changes();

-- Deletes of secrets made inside another trigger are captured by their cause, and the WHEN condition spares
-- them the transition table and the call (P4). Only two kinds run inside a trigger: Conjur's pruning (captured
-- by the insert's upsert, above) and the cascade of a deleted variable (secrets_resource_id_fkey), captured
-- below as one 'delete' row per deleted variable. A DELETE on secrets by a statement of its own is captured,
-- one row per version.
CREATE TRIGGER partial_replica_capture_deletes AFTER DELETE ON secrets
    REFERENCING OLD TABLE AS changed_rows
    FOR EACH STATEMENT WHEN (pg_trigger_depth() < 1)
    EXECUTE FUNCTION partial_replica.capture_secret_changes();

-- A delete pushes the variable's current state, which is absent, so the follower drops every version. This
-- trigger fires at any depth, so a variable deleted by the cascade of a deleted owner role is captured too.
CREATE FUNCTION partial_replica.capture_deleted_variables() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM partial_replica.unset_variables u USING deleted_resources d WHERE u.resource_id = d.resource_id;
    INSERT INTO partial_replica.changes (kind, resource_id)
    SELECT 'delete', d.resource_id FROM deleted_resources d
     WHERE split_part(d.resource_id, ':', 2) = 'variable';
    IF FOUND THEN
        -- Deleting variables is rare (policy loads); wake-up always, empty payload.
        PERFORM pg_notify('partial_replica_changes', '');
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER partial_replica_capture_variable_deletes AFTER DELETE ON resources
    REFERENCING OLD TABLE AS deleted_resources
    FOR EACH STATEMENT EXECUTE FUNCTION partial_replica.capture_deleted_variables();

-- 4. The materialised grant boundary (F4, P5). granted_variables is the definition (with the rule of 0001);
-- partial_replica.granted holds its answer for every registered follower so that counts and pages are index
-- scans. It is refreshed by every policy load inside the load's transaction, by any other transaction that
-- changes the rule's inputs (section 5), and for a follower when it registers; refresh_granted returns the
-- difference, which becomes 'grant'/'revoke' outbox rows.

CREATE FUNCTION partial_replica.granted_variables(p_follower_role_id text)
RETURNS TABLE (resource_id text) LANGUAGE sql STABLE AS $$
    SELECT res.resource_id FROM resources res
     WHERE partial_replica.follower_has_full(p_follower_role_id)
       AND starts_with(res.resource_id, split_part(p_follower_role_id, ':', 1) || ':variable:')
    UNION
    SELECT p.resource_id
      FROM partial_replica.follower_carriers(p_follower_role_id) c
      JOIN permissions p ON p.role_id = c.role_id AND p.privilege = 'execute'
     WHERE starts_with(p.resource_id, split_part(p_follower_role_id, ':', 1) || ':variable:')
$$;

-- The variables replica set p_set_id (a webservice id) carries, by the same rule as granted_variables.
CREATE FUNCTION partial_replica.set_variables(p_set_id text)
RETURNS TABLE (resource_id text) LANGUAGE sql STABLE AS $$
    WITH account AS (SELECT split_part(p_set_id, ':', 1) AS name)
    SELECT res.resource_id FROM resources res, account
     WHERE p_set_id = account.name || ':webservice:conjur/replication-sets/full'
       AND starts_with(res.resource_id, account.name || ':variable:')
    UNION
    SELECT p.resource_id
      FROM account,
           partial_replica.all_roles(account.name || ':group:' || split_part(p_set_id, ':', 3) || '/replicated-data') r
      JOIN permissions p ON p.role_id = r.role_id AND p.privilege = 'execute'
     WHERE starts_with(p.resource_id, account.name || ':variable:')
$$;

CREATE TABLE partial_replica.granted (
    -- No foreign key to followers: a per-row check on 100,000 inserted rows costs more than the rest of the
    -- refresh; the followers delete trigger below removes a follower's rows instead.
    follower_role_id text NOT NULL,
    -- Byte order: pages are stable whatever the database's default collation.
    resource_id      text COLLATE "C" NOT NULL,
    PRIMARY KEY (follower_role_id, resource_id)
);
-- Who is granted a changed variable: the wake-up gate wakes only those followers' workers (OutboxReader.ConcernedAsync).
CREATE INDEX granted_by_resource ON partial_replica.granted (resource_id, follower_role_id);

-- How many variables each follower is granted, kept by refresh_granted: a count is one row read, whatever the
-- size of the set (P5), and needs no vacuumed visibility map.
CREATE TABLE partial_replica.granted_counts (
    follower_role_id text PRIMARY KEY,
    variables        bigint NOT NULL
);

-- The variables without a stored version (Conjur's "secret not set"), so that counting a follower's granted
-- secrets (status, Edge count=true) reads its granted count and probes only those of its variables that are here,
-- instead of joining its whole granted set to secrets (P9: a count at 100,000 granted stays one small read). Kept
-- in the writer's transaction: a new variable enters (resources trigger below), its first version removes it and
-- a DELETE on secrets that leaves it none puts it back (section 3), a deleted variable leaves (section 3).
CREATE TABLE partial_replica.unset_variables (
    resource_id text COLLATE "C" PRIMARY KEY
);

-- Rebuilds it from what the tables hold: at setup (an adopted leader's variables), and after a TRUNCATE.
CREATE FUNCTION partial_replica.refill_unset_variables() RETURNS void
LANGUAGE sql AS $$
    DELETE FROM partial_replica.unset_variables;
    INSERT INTO partial_replica.unset_variables (resource_id)
    SELECT r.resource_id FROM resources r
     WHERE split_part(r.resource_id, ':', 2) = 'variable'
       AND NOT EXISTS (SELECT 1 FROM secrets s WHERE s.resource_id = r.resource_id);
$$;
SELECT partial_replica.refill_unset_variables();

-- New variables enter; an UPDATE that renames one (nothing in Conjur does) moves it.
CREATE FUNCTION partial_replica.track_unset_variables() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        DELETE FROM partial_replica.unset_variables u
         WHERE u.resource_id IN (SELECT o.resource_id FROM old_rows o EXCEPT SELECT n.resource_id FROM new_rows n);
    END IF;
    INSERT INTO partial_replica.unset_variables (resource_id)
    SELECT n.resource_id FROM new_rows n
     WHERE split_part(n.resource_id, ':', 2) = 'variable'
       AND NOT EXISTS (SELECT 1 FROM secrets s WHERE s.resource_id = n.resource_id)
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END
$$;
CREATE TRIGGER partial_replica_unset_insert AFTER INSERT ON resources
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION partial_replica.track_unset_variables();
CREATE TRIGGER partial_replica_unset_update AFTER UPDATE ON resources
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION partial_replica.track_unset_variables();

-- A TRUNCATE of secrets unsets every variable; one of resources (which cascades to secrets) leaves none.
CREATE FUNCTION partial_replica.reset_unset_variables() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM partial_replica.refill_unset_variables();
    RETURN NULL;
END
$$;
CREATE TRIGGER partial_replica_unset_truncate AFTER TRUNCATE ON secrets
    FOR EACH STATEMENT EXECUTE FUNCTION partial_replica.reset_unset_variables();
CREATE TRIGGER partial_replica_unset_truncate AFTER TRUNCATE ON resources
    FOR EACH STATEMENT EXECUTE FUNCTION partial_replica.reset_unset_variables();

-- Brings partial_replica.granted to granted_variables for one follower (or all when null) and returns what
-- changed: change = 'grant' for a variable the follower gained, 'revoke' for one it lost. One statement (P5):
--   * the wanted set is read once, in memory, and set against the held one by a FULL JOIN, which is planned as
--     a hash or merge join only, never as a nested loop, so stale statistics on either side cannot make it
--     quadratic (a grant table analysed while empty once made a 100,000-variable registration run for minutes);
--   * work_mem is raised for this function alone, so the join and the wanted set stay in memory;
--   * adding, removing and counting are data-modifying CTEs of the same statement, all against the snapshot the
--     diff was read in.
-- Callers that refresh every follower hold the policy-load advisory lock, so two such refreshes never
-- interleave; a follower's own first refresh (trigger below) touches only its uncommitted rows.
CREATE FUNCTION partial_replica.refresh_granted(p_follower_role_id text DEFAULT NULL)
RETURNS TABLE (follower text, follower_role_id text, resource_id text, change text)
LANGUAGE sql VOLATILE
SET work_mem = '64MB'
AS $$
    WITH wanted AS MATERIALIZED (
        SELECT f.role_id AS follower_role_id, g.resource_id COLLATE "C" AS resource_id
          FROM partial_replica.followers f,
               LATERAL partial_replica.granted_variables(f.role_id) g
         WHERE p_follower_role_id IS NULL OR f.role_id = p_follower_role_id),
    held AS (
        SELECT g.follower_role_id, g.resource_id
          FROM partial_replica.granted g
         WHERE p_follower_role_id IS NULL OR g.follower_role_id = p_follower_role_id),
    diff AS MATERIALIZED (
        SELECT coalesce(w.follower_role_id, h.follower_role_id) AS follower_role_id,
               coalesce(w.resource_id, h.resource_id) AS resource_id,
               CASE WHEN h.resource_id IS NULL THEN 'grant' ELSE 'revoke' END AS change
          FROM wanted w
          FULL JOIN held h ON h.follower_role_id = w.follower_role_id AND h.resource_id = w.resource_id
         WHERE w.resource_id IS NULL OR h.resource_id IS NULL),
    added AS (
        INSERT INTO partial_replica.granted (follower_role_id, resource_id)
        SELECT d.follower_role_id, d.resource_id FROM diff d WHERE d.change = 'grant'),
    removed AS (
        DELETE FROM partial_replica.granted g
         USING diff d
         WHERE d.change = 'revoke' AND g.follower_role_id = d.follower_role_id AND g.resource_id = d.resource_id),
    counted AS (
        INSERT INTO partial_replica.granted_counts AS c (follower_role_id, variables)
        SELECT f.role_id, count(w.resource_id)
          FROM partial_replica.followers f
          LEFT JOIN wanted w ON w.follower_role_id = f.role_id
         WHERE p_follower_role_id IS NULL OR f.role_id = p_follower_role_id
         GROUP BY f.role_id
        ON CONFLICT (follower_role_id) DO UPDATE SET variables = EXCLUDED.variables
            WHERE c.variables <> EXCLUDED.variables)
    SELECT f.name, d.follower_role_id, d.resource_id, d.change
      FROM diff d
      JOIN partial_replica.followers f ON f.role_id = d.follower_role_id
$$;

-- A follower registering starts with its full granted set; no outbox rows: its first delivery is a full
-- replicate (pull), not a stream of grants.
CREATE FUNCTION partial_replica.followers_refresh_granted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM partial_replica.refresh_granted(NEW.role_id);
    RETURN NULL;
END
$$;
CREATE TRIGGER partial_replica_followers_granted AFTER INSERT ON partial_replica.followers
    FOR EACH ROW EXECUTE FUNCTION partial_replica.followers_refresh_granted();

CREATE FUNCTION partial_replica.followers_forget_granted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM partial_replica.granted WHERE follower_role_id = OLD.role_id;
    DELETE FROM partial_replica.granted_counts WHERE follower_role_id = OLD.role_id;
    RETURN NULL;
END
$$;
CREATE TRIGGER partial_replica_followers_forget_granted AFTER DELETE ON partial_replica.followers
    FOR EACH ROW EXECUTE FUNCTION partial_replica.followers_forget_granted();

-- Fresh planner statistics for the grant table (P1). A registration or a policy load can add 100,000 grant
-- rows in one statement; until autovacuum analyses the table, the planner believes a follower holds a few
-- hundred and reads each reconcile page by scanning and sorting all of them. A statement that changes many
-- rows therefore analyses the table at once, inside its own transaction (ANALYZE counts the transaction's own
-- rows); ANALYZE samples at most 30,000 rows whatever the table's size.
CREATE FUNCTION partial_replica.analyze_granted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF (SELECT count(*) FROM changed_rows) >= 1000 THEN
        ANALYZE partial_replica.granted;
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER granted_analyze_inserts AFTER INSERT ON partial_replica.granted
    REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION partial_replica.analyze_granted();
CREATE TRIGGER granted_analyze_deletes AFTER DELETE ON partial_replica.granted
    REFERENCING OLD TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION partial_replica.analyze_granted();

-- A follower recorded, its agent moved, or a follower removed: gateways hear it at once (LISTEN
-- partial_replica_followers) rather than at their next refresh (P1). The payload is always empty.
CREATE FUNCTION partial_replica.notify_followers_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('partial_replica_followers', '');
    RETURN NULL;
END
$$;
CREATE TRIGGER followers_changed AFTER INSERT OR UPDATE OR DELETE ON partial_replica.followers
    FOR EACH STATEMENT EXECUTE FUNCTION partial_replica.notify_followers_changed();

-- 5. Grants changed by anyone are captured (F5): this product's policy loader, Conjur's, an admin with psql.
-- How:
--   * Statement-level AFTER triggers on role_memberships, permissions and resources record, per transaction,
--     what each statement changed of the grant rule's inputs (0001): the member side of every membership
--     row added or removed, the role of every 'execute' permission on a variable and 'replicate' permission on a
--     webservice added or removed, and whether the set of variables changed (the reserved set 'full'). Rows
--     whose rule inputs an UPDATE leaves as they were (policy_id, admin_option, a resource's owner) touch
--     nothing: the rule does not read them.
--   * roles has no trigger: the rule never reads it, and deleting a role reaches the rule only through the
--     cascades of Conjur's foreign keys (its memberships, permissions and owned resources), whose deletes fire the triggers
--     here like any other. An owner change of a role record, as Conjur makes it, moves the role's ownership
--     membership, which is a membership like any other.
--   * The first such statement of a transaction also inserts the transaction's row in grants_dirty, whose
--     DEFERRABLE INITIALLY DEFERRED constraint trigger runs once at commit: a loader's transaction of a thousand
--     statements refreshes once.
--   * At commit the refresh takes the policy-load advisory lock, so refreshes (this one, a policy load's,
--     a requeue's) never interleave, and then finds the followers the recorded changes can affect: a follower F
--     whose reach (all_roles(F) and its sets' carriers, follower_carriers(F)) holds a recorded role, or
--     which receives the set 'full' when variables were added or removed. Only those followers are refreshed
--     (refresh_granted, section 4), and only their differences become outbox rows; every other follower gets
--     nothing. Why the reach after the change suffices: of every path that a change opened or closed between F
--     and a role, the first changed edge starts at a role that F still reaches, and that role was recorded.
--   * Snapshot: in READ COMMITTED every statement after the lock sees every refresh committed before this one
--     took the lock (an advisory lock is released after its commit became visible). Under REPEATABLE READ or
--     SERIALIZABLE the transaction's snapshot may predate a refresh committed meanwhile; every refresh updates
--     the one row of grant_refreshes, so such a transaction fails with a serialisation error (and is retried
--     by its client, as those levels require) instead of committing a stale grant table.
--   * The policy loader refreshes every follower itself before it commits (it reports the changes) and clears
--     its transaction's records there (PolicyStatements.RefreshGrants), so the commit-time refresh finds
--     nothing to do: one refresh per load.
--   * A direct-SQL grant change that waits at commit for a policy load holding the lock, while that load waits
--     for a row this transaction changed, is a deadlock that PostgreSQL detects and resolves by failing one of
--     the two; both hold the same lock for the same reason.
-- Unlogged: the rows live only inside their transaction (deleted by the refresh), so they need no WAL.

CREATE UNLOGGED TABLE partial_replica.grant_touches (
    tx      xid8 NOT NULL DEFAULT pg_current_xact_id(),
    role_id text NOT NULL,
    PRIMARY KEY (tx, role_id)
);

CREATE UNLOGGED TABLE partial_replica.grants_dirty (
    tx        xid8 PRIMARY KEY DEFAULT pg_current_xact_id(),
    variables boolean NOT NULL DEFAULT false,  -- variables were added or removed: followers of 'full' are affected
    everyone  boolean NOT NULL DEFAULT false   -- a TRUNCATE: every follower is refreshed
);
REVOKE ALL ON partial_replica.grant_touches, partial_replica.grants_dirty FROM PUBLIC;

-- One row, updated by every refresh (the REPEATABLE READ guard above).
CREATE TABLE partial_replica.grant_refreshes (
    singleton    boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    refreshed_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
INSERT INTO partial_replica.grant_refreshes DEFAULT VALUES;

-- Records the roles a statement touched and marks the transaction dirty. ON CONFLICT DO NOTHING on the dirty
-- row: only a transaction's first grant statement queues the commit-time trigger.
CREATE FUNCTION partial_replica.touch_grants(p_roles text[], p_variables boolean) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF cardinality(p_roles) > 0 THEN
        INSERT INTO partial_replica.grant_touches (role_id) SELECT DISTINCT unnest(p_roles) ON CONFLICT DO NOTHING;
    END IF;
    IF cardinality(p_roles) > 0 OR p_variables THEN
        INSERT INTO partial_replica.grants_dirty (variables) VALUES (p_variables)
        ON CONFLICT (tx) DO UPDATE SET variables = true WHERE p_variables AND NOT grants_dirty.variables;
    END IF;
END
$$;

-- The rule reads a membership's (role_id, member_id) only, and follows it from member to role: the member is
-- what a follower must reach for the row to matter. An UPDATE touches the rows whose pair it changed.
CREATE FUNCTION partial_replica.capture_membership_changes() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    touched text[];
BEGIN
    IF TG_OP = 'UPDATE' THEN
        SELECT array_agg(DISTINCT x.member_id) INTO touched
          FROM ((SELECT o.role_id, o.member_id FROM old_rows o EXCEPT SELECT n.role_id, n.member_id FROM new_rows n)
                UNION
                (SELECT n.role_id, n.member_id FROM new_rows n EXCEPT SELECT o.role_id, o.member_id FROM old_rows o)) x;
    ELSE
        SELECT array_agg(DISTINCT c.member_id) INTO touched FROM changed_rows c;
    END IF;
    PERFORM partial_replica.touch_grants(coalesce(touched, '{}'), false);
    RETURN NULL;
END
$$;

-- Only 'execute' on a variable and 'replicate' on a webservice are read by the rule.
CREATE FUNCTION partial_replica.capture_permission_changes() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    touched text[];
BEGIN
    IF TG_OP = 'UPDATE' THEN
        SELECT array_agg(DISTINCT x.role_id) INTO touched
          FROM ((SELECT o.privilege, o.resource_id, o.role_id FROM old_rows o
                 EXCEPT SELECT n.privilege, n.resource_id, n.role_id FROM new_rows n)
                UNION
                (SELECT n.privilege, n.resource_id, n.role_id FROM new_rows n
                 EXCEPT SELECT o.privilege, o.resource_id, o.role_id FROM old_rows o)) x
         WHERE (x.privilege = 'execute' AND split_part(x.resource_id, ':', 2) = 'variable')
            OR (x.privilege = 'replicate' AND split_part(x.resource_id, ':', 2) = 'webservice');
    ELSE
        SELECT array_agg(DISTINCT c.role_id) INTO touched FROM changed_rows c
         WHERE (c.privilege = 'execute' AND split_part(c.resource_id, ':', 2) = 'variable')
            OR (c.privilege = 'replicate' AND split_part(c.resource_id, ':', 2) = 'webservice');
    END IF;
    PERFORM partial_replica.touch_grants(coalesce(touched, '{}'), false);
    RETURN NULL;
END
$$;

-- The rule reads resources only for the set 'full' (every variable). A deleted variable's permissions go by
-- cascade and are recorded by the permissions trigger.
CREATE FUNCTION partial_replica.capture_variable_set_changes() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    changed boolean;
BEGIN
    IF TG_OP = 'UPDATE' THEN
        changed := EXISTS (SELECT o.resource_id FROM old_rows o WHERE split_part(o.resource_id, ':', 2) = 'variable'
                           EXCEPT SELECT n.resource_id FROM new_rows n)
                OR EXISTS (SELECT n.resource_id FROM new_rows n WHERE split_part(n.resource_id, ':', 2) = 'variable'
                           EXCEPT SELECT o.resource_id FROM old_rows o);
    ELSE
        changed := EXISTS (SELECT 1 FROM changed_rows c WHERE split_part(c.resource_id, ':', 2) = 'variable');
    END IF;
    IF changed THEN
        PERFORM partial_replica.touch_grants('{}', true);
    END IF;
    RETURN NULL;
END
$$;

-- A TRUNCATE has no transition table: every follower is refreshed.
CREATE FUNCTION partial_replica.capture_grant_truncate() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO partial_replica.grants_dirty (everyone) VALUES (true)
    ON CONFLICT (tx) DO UPDATE SET everyone = true;
    RETURN NULL;
END
$$;

CREATE TRIGGER partial_replica_grants_insert AFTER INSERT ON role_memberships
    REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION partial_replica.capture_membership_changes();
CREATE TRIGGER partial_replica_grants_delete AFTER DELETE ON role_memberships
    REFERENCING OLD TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION partial_replica.capture_membership_changes();
CREATE TRIGGER partial_replica_grants_update AFTER UPDATE ON role_memberships
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION partial_replica.capture_membership_changes();
CREATE TRIGGER partial_replica_grants_truncate AFTER TRUNCATE ON role_memberships
    FOR EACH STATEMENT EXECUTE FUNCTION partial_replica.capture_grant_truncate();

CREATE TRIGGER partial_replica_grants_insert AFTER INSERT ON permissions
    REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION partial_replica.capture_permission_changes();
CREATE TRIGGER partial_replica_grants_delete AFTER DELETE ON permissions
    REFERENCING OLD TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION partial_replica.capture_permission_changes();
CREATE TRIGGER partial_replica_grants_update AFTER UPDATE ON permissions
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION partial_replica.capture_permission_changes();
CREATE TRIGGER partial_replica_grants_truncate AFTER TRUNCATE ON permissions
    FOR EACH STATEMENT EXECUTE FUNCTION partial_replica.capture_grant_truncate();

CREATE TRIGGER partial_replica_grants_insert AFTER INSERT ON resources
    REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION partial_replica.capture_variable_set_changes();
CREATE TRIGGER partial_replica_grants_delete AFTER DELETE ON resources
    REFERENCING OLD TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION partial_replica.capture_variable_set_changes();
CREATE TRIGGER partial_replica_grants_update AFTER UPDATE ON resources
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION partial_replica.capture_variable_set_changes();
CREATE TRIGGER partial_replica_grants_truncate AFTER TRUNCATE ON resources
    FOR EACH STATEMENT EXECUTE FUNCTION partial_replica.capture_grant_truncate();

-- The commit-time refresh of the followers this transaction's grant statements can affect (see the top).
-- Returns how many outbox rows it wrote. 0x5056504f4c49 is PolicyLoader.PolicyLockKey.
CREATE FUNCTION partial_replica.refresh_touched_grants() RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    affected text[];
    follower_role_id text;
    written bigint := 0;
    n bigint;
BEGIN
    PERFORM pg_advisory_xact_lock(x'5056504f4c49'::bigint);
    UPDATE partial_replica.grant_refreshes SET refreshed_at = clock_timestamp();

    WITH dirty AS (
        DELETE FROM partial_replica.grants_dirty d WHERE d.tx = pg_current_xact_id() RETURNING d.variables, d.everyone),
    touched AS MATERIALIZED (
        DELETE FROM partial_replica.grant_touches t WHERE t.tx = pg_current_xact_id() RETURNING t.role_id)
    SELECT array_agg(f.role_id ORDER BY f.name) INTO affected
      FROM partial_replica.followers f
     WHERE (SELECT bool_or(d.everyone) FROM dirty d)
        OR ((SELECT bool_or(d.variables) FROM dirty d) AND partial_replica.follower_has_full(f.role_id))
        OR EXISTS (SELECT 1 FROM touched t
                    WHERE t.role_id IN (SELECT r.role_id FROM partial_replica.all_roles(f.role_id) r
                                        UNION ALL
                                        SELECT c.role_id FROM partial_replica.follower_carriers(f.role_id) c));

    FOREACH follower_role_id IN ARRAY coalesce(affected, '{}') LOOP
        INSERT INTO partial_replica.changes (kind, resource_id, follower)
        SELECT d.change, d.resource_id, d.follower
          FROM partial_replica.refresh_granted(follower_role_id) d
         ORDER BY d.resource_id;
        GET DIAGNOSTICS n = ROW_COUNT;
        written := written + n;
    END LOOP;

    IF written > 0 THEN
        -- Grant changes are rare: wake-up always, as for deleted variables. Empty payload, as for secrets.
        PERFORM pg_notify('partial_replica_changes', '');
    END IF;
    RETURN written;
END
$$;

CREATE FUNCTION partial_replica.refresh_touched_grants_at_commit() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    -- The row is gone when a policy load refreshed every follower after the statements that inserted it.
    IF EXISTS (SELECT 1 FROM partial_replica.grants_dirty d WHERE d.tx = NEW.tx) THEN
        PERFORM partial_replica.refresh_touched_grants();
    END IF;
    RETURN NULL;
END
$$;

CREATE CONSTRAINT TRIGGER partial_replica_grants_refresh AFTER INSERT ON partial_replica.grants_dirty
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION partial_replica.refresh_touched_grants_at_commit();

-- 6. Operator status per follower (F9).
-- Operator status (F9): when a follower last received a push, what failed and since when, the push breaker's
-- pause, and the follower's last ten errors. Written by the worker that serves the follower; read by status.
ALTER TABLE partial_replica.delivery
    ADD COLUMN last_push_at     timestamptz,   -- the agent's latest acknowledged batch (delivered_at also moves on idle cursor advances)
    ADD COLUMN last_error_since timestamptz,   -- start of the current failing stretch; cleared with last_error on success
    ADD COLUMN breaker_until    timestamptz;   -- the push breaker is open (pushes paused) until then; null when closed

-- Newest ten per follower are kept (the worker trims on insert). Messages name causes, never secret values.
CREATE TABLE partial_replica.follower_errors (
    id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    follower text NOT NULL REFERENCES partial_replica.followers (name) ON DELETE CASCADE,
    at       timestamptz NOT NULL DEFAULT clock_timestamp(),
    message  text NOT NULL
);
CREATE INDEX follower_errors_newest ON partial_replica.follower_errors (follower, id DESC);

-- 7. Live gateways and who serves each follower.
-- Followers spread over live gateways Each gateway registers here at start, renews its lease every
-- few seconds and deletes its row at a graceful stop; a gateway is live while lease_until is in the future by the
-- leader's clock (the gateways' clocks are never compared). Each follower is served by the live gateway that
-- rendezvous hashing gives it (Leader/Gateways/Rendezvous); the follower's advisory lock still admits one pusher at a time.
CREATE TABLE partial_replica.gateways (
    id           text PRIMARY KEY CHECK (id <> '' AND length(id) <= 200),
    url          text,                                           -- its public URL, when known
    started_at   timestamptz NOT NULL DEFAULT clock_timestamp(), -- when this run of the gateway registered
    heartbeat_at timestamptz NOT NULL DEFAULT clock_timestamp(), -- its latest renewal
    lease_until  timestamptz NOT NULL
);
REVOKE ALL ON partial_replica.gateways FROM PUBLIC;

-- Who serves each follower, for status whichever gateway reads it: set by the worker that took the follower's lock,
-- cleared by it before it lets the lock go (a killed gateway's name stays until the next owner writes its own).
ALTER TABLE partial_replica.delivery
    ADD COLUMN gateway      text,
    ADD COLUMN served_since timestamptz;

-- 8. Delta pull positions (F13).
-- Delta pulls (F13): what the leader keeps so that a pull client's position can be answered, or refused with 410.
-- A position is a transaction id X (EdgePosition): "every change of a transaction numbered below X is in the
-- client's copy". Two things can make it unanswerable, both recorded here:
--   * the outbox was pruned past it: prune deletes what every registered follower's cursor has passed, and a
--     pull client is not a follower with a cursor. outbox_pruned.tx is the newest transaction any of whose
--     changes a prune deleted, written by the prune's own statement (OutboxReader.PruneAsync); X is answerable
--     only while outbox_pruned.tx < X (no change at or after X has been deleted).
--   * the caller's follower registration is newer than X: grant and revoke rows exist for a follower only while
--     it is registered, so what changed in its granted set before (or between) registrations is not in the
--     outbox. registered_tx is the transaction that registered it; X is answerable only when registered_tx < X.
CREATE TABLE partial_replica.outbox_pruned (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    tx        xid8 NOT NULL DEFAULT '0'
);
INSERT INTO partial_replica.outbox_pruned DEFAULT VALUES;
REVOKE ALL ON partial_replica.outbox_pruned FROM PUBLIC;

-- Rows already registered get this migration's transaction: no position was issued before it.
ALTER TABLE partial_replica.followers ADD COLUMN registered_tx xid8 NOT NULL DEFAULT pg_current_xact_id();

-- 9. Token revocations seen by every gateway (S1, F14).
-- Token revocations seen by every gateway, whoever made them: a key rotated or a host
-- deleted by Conjur itself, a follower removed by the CLI, or either done through a gateway. Triggers record the
-- role and the leader's time; each gateway reads the rows (LeaderTokenRevocationFeed: LISTEN, a poll, and a read
-- for the role at every authentication) and refuses the role's tokens issued at or before that time. The
-- NOTIFY carries no payload at all, so no key material (nor a role id) ever travels in it. Gateways prune rows
-- older than the longest token life and the clock skew.
CREATE TABLE partial_replica.token_revocations (
    role_id    text NOT NULL,
    revoked_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (role_id, revoked_at)
);
CREATE INDEX token_revocations_revoked_at ON partial_replica.token_revocations (revoked_at);
REVOKE ALL ON partial_replica.token_revocations FROM PUBLIC;

-- One function for the three triggers; a row trigger, as column lists (UPDATE OF api_key) take no transition
-- tables. Rotations and deletions are rare, and the WHEN conditions keep every other update of credentials
-- (expiration, restricted_to) from calling it at all. SECURITY DEFINER with a fixed search_path: Conjur's own
-- rotation must not fail because the role it connects as has no right on partial_replica's table.
CREATE FUNCTION partial_replica.record_token_revocation() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    INSERT INTO partial_replica.token_revocations (role_id) VALUES (OLD.role_id) ON CONFLICT DO NOTHING;
    PERFORM pg_notify('partial_replica_token_revocations', '');
    RETURN NULL;
END
$$;

CREATE TRIGGER partial_replica_revoke_on_rotation AFTER UPDATE OF api_key ON credentials
    FOR EACH ROW WHEN (OLD.api_key IS DISTINCT FROM NEW.api_key)
    EXECUTE FUNCTION partial_replica.record_token_revocation();

CREATE TRIGGER partial_replica_revoke_on_delete AFTER DELETE ON credentials
    FOR EACH ROW EXECUTE FUNCTION partial_replica.record_token_revocation();

CREATE TRIGGER partial_replica_revoke_on_follower_delete AFTER DELETE ON partial_replica.followers
    FOR EACH ROW EXECUTE FUNCTION partial_replica.record_token_revocation();
