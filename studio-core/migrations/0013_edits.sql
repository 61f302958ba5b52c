-- Edits: an asset's prepared audio (its blob, waveform, duration, size and the facts measured on it),
-- when it was last used (unused assets expire), cached previews per account and recipe hash, blobs
-- retired by a transaction and deleted by the sweeper once no unfinished render reads them and no
-- recent preview job hands them out, and callbacks for jobs that are created already final (a cached
-- preview).
ALTER TABLE assets ADD COLUMN prepared_peaks_key TEXT;

ALTER TABLE assets ADD COLUMN prepared_duration_sec REAL;

ALTER TABLE assets ADD COLUMN prepared_size_bytes INTEGER;

ALTER TABLE assets ADD COLUMN prepared_info TEXT;

ALTER TABLE assets ADD COLUMN last_used_at INTEGER;

-- Every asset counts as used when this release arrives: its 30 unused days start now, not at its creation.
UPDATE assets SET last_used_at = CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) WHERE last_used_at IS NULL;

-- A finished preview job's download is protected from the sweeper while it may still be fetched.
CREATE INDEX IF NOT EXISTS jobs_output_key ON jobs (output_key) WHERE output_key IS NOT NULL;

CREATE INDEX IF NOT EXISTS assets_last_used ON assets (coalesce(last_used_at, created_at));

CREATE TABLE IF NOT EXISTS previews (
    account_id   TEXT NOT NULL,
    recipe_hash  TEXT NOT NULL,
    key          TEXT NOT NULL,
    duration_sec REAL NOT NULL,
    size_bytes   INTEGER NOT NULL,
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (account_id, recipe_hash)
);

CREATE INDEX IF NOT EXISTS previews_age ON previews (created_at);

CREATE TABLE IF NOT EXISTS retired_blobs (
    key        TEXT PRIMARY KEY,
    retired_at INTEGER NOT NULL
);

CREATE TRIGGER IF NOT EXISTS jobs_callback_outbox_created_final
AFTER INSERT ON jobs
WHEN NEW.callback_url IS NOT NULL AND NEW.account_id IS NOT NULL
 AND NEW.status IN ('complete', 'failed', 'cancelled')
BEGIN
    INSERT OR IGNORE INTO callbacks (id, job_id, account_id, event_type, url, next_attempt_at, created_at)
    VALUES ('msg_' || lower(hex(randomblob(12))), NEW.id, NEW.account_id,
            CASE NEW.status WHEN 'complete' THEN 'job.completed' WHEN 'failed' THEN 'job.failed'
                            ELSE 'job.cancelled' END,
            NEW.callback_url, NEW.updated_at, NEW.updated_at); END;
