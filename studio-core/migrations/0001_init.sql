-- Jobs, their events, uploads and assets. Timestamps are integer milliseconds since the epoch.

CREATE TABLE IF NOT EXISTS jobs (
    id                  TEXT PRIMARY KEY DEFAULT ('job_' || lower(hex(randomblob(12)))),
    type                TEXT NOT NULL,
    status              TEXT NOT NULL DEFAULT 'pending'
                        CHECK (status IN ('pending', 'processing', 'complete', 'failed', 'cancelled')),
    priority            INTEGER NOT NULL DEFAULT 0,
    input               TEXT NOT NULL,
    stage               TEXT,
    progress            REAL NOT NULL DEFAULT 0,
    result              TEXT,
    output_key          TEXT,
    error_code          TEXT,
    error_message       TEXT,
    attempt             INTEGER NOT NULL DEFAULT 0,
    max_attempts        INTEGER NOT NULL,
    run_after           INTEGER NOT NULL,
    timeout_ms          INTEGER NOT NULL,
    claim_token         TEXT,
    lease_owner         TEXT,
    lease_expires_at    INTEGER,
    started_at          INTEGER,
    cancelled_at        INTEGER,
    finished_at         INTEGER,
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL
);

CREATE INDEX IF NOT EXISTS jobs_claimable ON jobs (status, run_after, priority, created_at);

CREATE INDEX IF NOT EXISTS jobs_leases ON jobs (status, lease_expires_at);

CREATE TABLE IF NOT EXISTS job_events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id      TEXT NOT NULL REFERENCES jobs (id),
    at          INTEGER NOT NULL,
    kind        TEXT NOT NULL,
    attempt     INTEGER NOT NULL,
    detail      TEXT
);

CREATE INDEX IF NOT EXISTS job_events_by_job ON job_events (job_id, id);

CREATE TABLE IF NOT EXISTS uploads (
    id              TEXT PRIMARY KEY DEFAULT ('upl_' || lower(hex(randomblob(12)))),
    filename        TEXT NOT NULL,
    content_type    TEXT NOT NULL,
    declared_size   INTEGER NOT NULL,
    received_size   INTEGER,
    status          TEXT NOT NULL DEFAULT 'awaiting_bytes'
                    CHECK (status IN ('awaiting_bytes', 'received', 'consumed')),
    expires_at      INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);

CREATE TABLE IF NOT EXISTS assets (
    id                  TEXT PRIMARY KEY,
    job_id              TEXT NOT NULL REFERENCES jobs (id),
    source_type         TEXT NOT NULL,
    upload_id           TEXT REFERENCES uploads (id),
    original_filename   TEXT NOT NULL,
    original_key        TEXT NOT NULL,
    peaks_key           TEXT NOT NULL,
    content_type        TEXT NOT NULL,
    size_bytes          INTEGER NOT NULL,
    duration_sec        REAL NOT NULL,
    sample_rate         INTEGER NOT NULL,
    channels            INTEGER NOT NULL,
    codec               TEXT NOT NULL,
    format              TEXT NOT NULL,
    created_at          INTEGER NOT NULL
);
