-- Idempotent creates: a creator's `Idempotency-Key` with the hash of the request it came with, and once
-- the request is answered, the answer (replayed for a repeat within 24 h). `status` is NULL while the
-- first request is still being answered. Keys are per account.
CREATE TABLE IF NOT EXISTS idempotency_keys (
    account_id      TEXT NOT NULL,
    idem_key        TEXT NOT NULL,
    request_hash    TEXT NOT NULL,
    status          INTEGER,
    body            TEXT,
    created_at      INTEGER NOT NULL,
    PRIMARY KEY (account_id, idem_key)
);

CREATE INDEX IF NOT EXISTS idempotency_keys_age ON idempotency_keys (created_at);
