-- Conjur's tables with Conjur's names and keys, on leader and follower alike.
-- Foreign keys and triggers are leader-only (0002): on a subscriber the apply worker runs with
-- session_replication_role = replica, so they would neither fire nor hold for replicated rows, and a
-- pushed secret may arrive before its resources row.

CREATE TABLE IF NOT EXISTS roles (
    role_id    text PRIMARY KEY,
    created_at timestamptz NOT NULL DEFAULT transaction_timestamp(),
    policy_id  text
);

CREATE TABLE IF NOT EXISTS resources (
    resource_id text PRIMARY KEY,
    owner_id    text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT transaction_timestamp(),
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
    PRIMARY KEY (privilege, resource_id, role_id)
);
CREATE INDEX IF NOT EXISTS permissions_role_privilege ON permissions (role_id, privilege);
CREATE INDEX IF NOT EXISTS permissions_resource ON permissions (resource_id);

CREATE TABLE IF NOT EXISTS annotations (
    resource_id text NOT NULL,
    name        text NOT NULL,
    value       text NOT NULL,
    policy_id   text,
    PRIMARY KEY (resource_id, name)
);

CREATE TABLE IF NOT EXISTS credentials (
    role_id        text PRIMARY KEY,
    client_id      text,
    api_key        bytea,
    encrypted_hash bytea,
    expiration     timestamp,
    restricted_to  cidr[] NOT NULL DEFAULT '{}'
);

CREATE TABLE IF NOT EXISTS secrets (
    resource_id text NOT NULL,
    version     integer NOT NULL,
    value       bytea NOT NULL,
    expires_at  timestamptz,
    PRIMARY KEY (resource_id, version)
);

CREATE TABLE IF NOT EXISTS policy_versions (
    resource_id   text NOT NULL,
    role_id       text NOT NULL,
    version       integer NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT transaction_timestamp(),
    policy_text   text NOT NULL,
    policy_sha256 text NOT NULL,
    finished_at   timestamptz,
    client_ip     text,
    PRIMARY KEY (resource_id, version)
);

-- Conjur keeps subject as hstore; jsonb carries the same key/value pairs without an extension.
-- No primary key (as in Conjur): setup gives it REPLICA IDENTITY FULL before publishing it.
CREATE TABLE IF NOT EXISTS policy_log (
    policy_id      text NOT NULL,
    policy_version integer NOT NULL,
    operation      text NOT NULL CHECK (operation IN ('INSERT', 'DELETE', 'UPDATE')),
    kind           text NOT NULL,
    subject        jsonb NOT NULL,
    at             timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX IF NOT EXISTS policy_log_policy ON policy_log (policy_id, policy_version);

CREATE TABLE IF NOT EXISTS slosilo_keystore (
    id          text PRIMARY KEY,
    key         bytea NOT NULL,
    fingerprint text NOT NULL UNIQUE
);

CREATE TABLE IF NOT EXISTS resources_textsearch (
    resource_id text PRIMARY KEY,
    textsearch  tsvector
);

CREATE TABLE IF NOT EXISTS host_factory_tokens (
    token_sha256 varchar(64) PRIMARY KEY,
    token        bytea NOT NULL,
    resource_id  text NOT NULL,
    cidr         cidr[] NOT NULL DEFAULT '{}',
    expiration   timestamp
);

CREATE TABLE IF NOT EXISTS authenticator_configs (
    id          serial PRIMARY KEY,
    resource_id text NOT NULL UNIQUE,
    enabled     boolean NOT NULL DEFAULT false
);
