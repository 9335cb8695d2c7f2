-- Leader-only rules of Conjur's schema: referential integrity, secret versioning, text search.

ALTER TABLE resources ADD CONSTRAINT resources_owner_fk
    FOREIGN KEY (owner_id) REFERENCES roles (role_id) ON DELETE CASCADE;
ALTER TABLE role_memberships ADD CONSTRAINT role_memberships_role_fk
    FOREIGN KEY (role_id) REFERENCES roles (role_id) ON DELETE CASCADE;
ALTER TABLE role_memberships ADD CONSTRAINT role_memberships_member_fk
    FOREIGN KEY (member_id) REFERENCES roles (role_id) ON DELETE CASCADE;
ALTER TABLE permissions ADD CONSTRAINT permissions_resource_fk
    FOREIGN KEY (resource_id) REFERENCES resources (resource_id) ON DELETE CASCADE;
ALTER TABLE permissions ADD CONSTRAINT permissions_role_fk
    FOREIGN KEY (role_id) REFERENCES roles (role_id) ON DELETE CASCADE;
ALTER TABLE annotations ADD CONSTRAINT annotations_resource_fk
    FOREIGN KEY (resource_id) REFERENCES resources (resource_id) ON DELETE CASCADE;
ALTER TABLE credentials ADD CONSTRAINT credentials_role_fk
    FOREIGN KEY (role_id) REFERENCES roles (role_id) ON DELETE CASCADE;
ALTER TABLE secrets ADD CONSTRAINT secrets_resource_fk
    FOREIGN KEY (resource_id) REFERENCES resources (resource_id) ON DELETE CASCADE;
ALTER TABLE policy_versions ADD CONSTRAINT policy_versions_resource_fk
    FOREIGN KEY (resource_id) REFERENCES resources (resource_id) ON DELETE CASCADE;
ALTER TABLE resources_textsearch ADD CONSTRAINT resources_textsearch_resource_fk
    FOREIGN KEY (resource_id) REFERENCES resources (resource_id) ON DELETE CASCADE;
ALTER TABLE host_factory_tokens ADD CONSTRAINT host_factory_tokens_resource_fk
    FOREIGN KEY (resource_id) REFERENCES resources (resource_id) ON DELETE CASCADE;
ALTER TABLE authenticator_configs ADD CONSTRAINT authenticator_configs_resource_fk
    FOREIGN KEY (resource_id) REFERENCES resources (resource_id) ON DELETE CASCADE;

-- As Conjur: each insert gets version max+1 for its variable; rows are never updated.
-- Unlike Conjur, concurrent writers of one variable are serialised (a transaction-scoped advisory lock
-- per variable), so two simultaneous `secret set`s get versions n+1 and n+2 instead of a key violation.
CREATE OR REPLACE FUNCTION secrets_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(hashtextextended('secrets_version:' || NEW.resource_id, 0));
    NEW.version := COALESCE(
        (SELECT max(s.version) FROM secrets s WHERE s.resource_id = NEW.resource_id), 0) + 1;
    RETURN NEW;
END
$$;
CREATE TRIGGER secrets_version BEFORE INSERT ON secrets
    FOR EACH ROW EXECUTE FUNCTION secrets_version();

-- As Conjur: only the newest 20 versions of a variable are kept.
CREATE OR REPLACE FUNCTION secrets_prune_versions() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM secrets s
     WHERE s.resource_id = NEW.resource_id AND s.version <= NEW.version - 20;
    RETURN NULL;
END
$$;
CREATE TRIGGER secrets_prune_versions AFTER INSERT ON secrets
    FOR EACH ROW EXECUTE FUNCTION secrets_prune_versions();

-- As Conjur: the text search row follows its resource.
CREATE OR REPLACE FUNCTION resources_textsearch_upsert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO resources_textsearch (resource_id, textsearch)
    VALUES (NEW.resource_id,
            to_tsvector('simple', translate(split_part(NEW.resource_id, ':', 3), '/_-', '   ')))
    ON CONFLICT (resource_id) DO UPDATE SET textsearch = EXCLUDED.textsearch;
    RETURN NULL;
END
$$;
CREATE TRIGGER resources_textsearch_upsert AFTER INSERT ON resources
    FOR EACH ROW EXECUTE FUNCTION resources_textsearch_upsert();
