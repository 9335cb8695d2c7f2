-- Signing keys encrypted at rest (SPEC S5, issue 20). The private keys were stored as clear PKCS#8, so
-- anyone reading the leader database (or its decoded WAL stream) could forge the gateway's tokens. Each is
-- now encrypted with the gateway key (PARTIALREPLICA_GATEWAY_KEY), which only gateways hold: Slosilo's
-- AES-256-GCM blob ('G' + tag + IV + ciphertext) with the kid as associated data, so a blob moved to
-- another kid does not decrypt. The clear keys are deleted, not converted (nothing here knows the gateway
-- key, and the product is unreleased): the next gateway to sign makes a new key, and tokens signed with the
-- old ones are refused from then on.
DELETE FROM partial_replica.signing_keys;
ALTER TABLE partial_replica.signing_keys DROP COLUMN private_key;
ALTER TABLE partial_replica.signing_keys
    ADD COLUMN encrypted_private_key bytea NOT NULL
        CHECK (length(encrypted_private_key) > 29 AND get_byte(encrypted_private_key, 0) = 71);  -- 'G', Slosilo's version byte
COMMENT ON COLUMN partial_replica.signing_keys.encrypted_private_key IS
    'PKCS#8 DER of a P-256 key, encrypted with the gateway key (AES-256-GCM, Slosilo format, AAD = kid)';
