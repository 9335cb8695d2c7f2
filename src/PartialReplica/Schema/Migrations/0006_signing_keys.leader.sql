-- Token signing keys of the gateway (SPEC S1). Not published: private keys never leave the leader.
-- The newest key without retired_at signs; a retired key keeps verifying (and stays in the JWKS)
-- until every token it signed has expired, so rotation never cuts off a live token.
CREATE TABLE partial_replica.signing_keys (
    kid         text PRIMARY KEY,
    algorithm   text NOT NULL DEFAULT 'ES256' CHECK (algorithm = 'ES256'),
    private_key bytea NOT NULL,                -- PKCS#8 DER of a P-256 key
    created_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    retired_at  timestamptz
);
CREATE UNIQUE INDEX signing_keys_one_active ON partial_replica.signing_keys ((true)) WHERE retired_at IS NULL;
REVOKE ALL ON partial_replica.signing_keys FROM PUBLIC;
