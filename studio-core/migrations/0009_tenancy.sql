-- Many creators. Uploads, jobs and assets belong to the account whose API key created them (rows made
-- before accounts existed keep NULL and belong to nobody). Every creator request is authenticated and
-- rate-limited inside its one batch: the key's row carries its rate counter (GCRA: the theoretical
-- arrival time `rate_tat`) and the nonce of the request that last passed, which the request's other
-- statements use to find their owner. A render records the seconds of video it makes (the daily
-- quota). Accounts keep the previous webhook secret for a day after a rotation.
ALTER TABLE uploads ADD COLUMN account_id TEXT;

ALTER TABLE jobs ADD COLUMN account_id TEXT;

ALTER TABLE jobs ADD COLUMN callback_url TEXT;

ALTER TABLE jobs ADD COLUMN video_seconds REAL;

ALTER TABLE assets ADD COLUMN account_id TEXT;

ALTER TABLE api_keys ADD COLUMN rate_tat INTEGER NOT NULL DEFAULT 0;

ALTER TABLE api_keys ADD COLUMN request_nonce TEXT;

ALTER TABLE accounts ADD COLUMN quota_requests_per_minute INTEGER;

ALTER TABLE accounts ADD COLUMN previous_webhook_secret TEXT;

ALTER TABLE accounts ADD COLUMN previous_secret_until INTEGER;

CREATE INDEX IF NOT EXISTS jobs_by_account ON jobs (account_id, created_at DESC, id DESC);

CREATE INDEX IF NOT EXISTS jobs_active_by_account ON jobs (account_id, status);

CREATE INDEX IF NOT EXISTS uploads_by_account ON uploads (account_id, status);

CREATE INDEX IF NOT EXISTS assets_by_account ON assets (account_id);

-- The callback outbox. A job with a `callback_url` that reaches a final state gets exactly one row here,
-- written by the trigger in the same transaction as the state change, whichever path moved it (worker,
-- edge cancel, render webhook, reconciler, reaper). The worker delivers it; every attempt is recorded.
-- (The trigger's inner statement ends mid-line: migrations split statements at `;` + newline.)
CREATE TABLE IF NOT EXISTS callbacks (
    id              TEXT PRIMARY KEY,
    job_id          TEXT NOT NULL UNIQUE REFERENCES jobs (id),
    account_id      TEXT NOT NULL,
    event_type      TEXT NOT NULL,
    url             TEXT NOT NULL,
    status          TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    lease_until     INTEGER,
    created_at      INTEGER NOT NULL,
    finished_at     INTEGER
);

CREATE INDEX IF NOT EXISTS callbacks_due ON callbacks (status, next_attempt_at);

CREATE TABLE IF NOT EXISTS callback_attempts (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    callback_id TEXT NOT NULL REFERENCES callbacks (id),
    attempt     INTEGER NOT NULL,
    at          INTEGER NOT NULL,
    status_code INTEGER,
    error       TEXT,
    duration_ms INTEGER NOT NULL
);

CREATE INDEX IF NOT EXISTS callback_attempts_by_callback ON callback_attempts (callback_id, id);

CREATE TRIGGER IF NOT EXISTS jobs_callback_outbox
AFTER UPDATE OF status ON jobs
WHEN NEW.callback_url IS NOT NULL AND NEW.account_id IS NOT NULL
 AND NEW.status IN ('complete', 'failed', 'cancelled') AND OLD.status IN ('pending', 'processing')
BEGIN
    INSERT OR IGNORE INTO callbacks (id, job_id, account_id, event_type, url, next_attempt_at, created_at)
    VALUES ('msg_' || lower(hex(randomblob(12))), NEW.id, NEW.account_id,
            CASE NEW.status WHEN 'complete' THEN 'job.completed' WHEN 'failed' THEN 'job.failed'
                            ELSE 'job.cancelled' END,
            NEW.callback_url, NEW.updated_at, NEW.updated_at); END;
