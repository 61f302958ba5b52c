-- Creator accounts and their API keys. A key is stored only as its SHA-256 (the key itself is shown once,
-- when it is created); revoking sets `revoked_at`. Each account has its own Standard Webhooks secret for
-- signing callbacks to it. Quotas left NULL take the deployment's defaults.
CREATE TABLE IF NOT EXISTS accounts (
    id                      TEXT PRIMARY KEY DEFAULT ('acc_' || lower(hex(randomblob(12)))),
    name                    TEXT NOT NULL,
    webhook_secret          TEXT NOT NULL,
    quota_storage_bytes     INTEGER,
    quota_render_seconds_day INTEGER,
    quota_active_jobs       INTEGER,
    created_at              INTEGER NOT NULL
);

CREATE TABLE IF NOT EXISTS api_keys (
    id          TEXT PRIMARY KEY DEFAULT ('key_' || lower(hex(randomblob(12)))),
    account_id  TEXT NOT NULL REFERENCES accounts (id),
    key_hash    TEXT NOT NULL UNIQUE,
    created_at  INTEGER NOT NULL,
    revoked_at  INTEGER
);

CREATE INDEX IF NOT EXISTS api_keys_account ON api_keys (account_id);
