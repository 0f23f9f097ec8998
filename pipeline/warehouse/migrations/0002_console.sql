-- ClaimWatch warehouse, schema version 2: the console's users and sessions.
--
-- Both tables keep every change as a new row; the newest row per key (the version column
-- updated_at) is the current state, so a reader always queries them with FINAL or argMax.

-- Console accounts. One row per username; disabling or changing a password writes a newer row.
-- role: certifier | mcn_officer | auditor; mcn_id is set for an mcn_officer only. password_hash
-- is an argon2id PHC string, never the password.
CREATE TABLE IF NOT EXISTS users (
    username String,
    display_name String,
    role String,
    mcn_id String,
    password_hash String,
    disabled UInt8,
    created_at DateTime('UTC'),
    updated_at DateTime('UTC')
) ENGINE = ReplacingMergeTree(updated_at) ORDER BY username;

-- Login sessions. The cookie carries a random token; only its SHA-256 is stored, so a copy of
-- the warehouse cannot be replayed as a login. Looked up by that hash, hence the sorting key;
-- logging out writes a newer row with revoked = 1.
CREATE TABLE IF NOT EXISTS sessions (
    token_hash String,
    username String,
    csrf_token String,
    created_at DateTime('UTC'),
    expires_at DateTime('UTC'),
    revoked UInt8,
    updated_at DateTime('UTC')
) ENGINE = ReplacingMergeTree(updated_at) ORDER BY token_hash;
