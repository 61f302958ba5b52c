-- Render jobs run on the render service: the worker submits one, records the service's call id and a
-- per-job webhook token, and hands the lease over. Signed webhooks then move the job; each is applied
-- once (`webhook_receipts`, keyed by `webhook-id`) and only with the job's token.
ALTER TABLE jobs ADD COLUMN call_id TEXT;

ALTER TABLE jobs ADD COLUMN webhook_token TEXT;

ALTER TABLE jobs ADD COLUMN frames_done INTEGER;

ALTER TABLE jobs ADD COLUMN frames_total INTEGER;

ALTER TABLE jobs ADD COLUMN rendering_since INTEGER;

CREATE TABLE IF NOT EXISTS webhook_receipts (
    webhook_id  TEXT PRIMARY KEY,
    nonce       TEXT NOT NULL,
    job_id      TEXT NOT NULL,
    received_at INTEGER NOT NULL
);
