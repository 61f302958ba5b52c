-- Render dispatch. An asset may carry a prepared (edited, levelled) variant of its audio, which a render
-- uses when asked. A render job that ended while its call may still run on the render service (cancelled,
-- failed, timed out) is told to stop once; `call_stopped_at` records that the service acknowledged it.
ALTER TABLE assets ADD COLUMN prepared_key TEXT;

ALTER TABLE jobs ADD COLUMN call_stopped_at INTEGER;

CREATE INDEX IF NOT EXISTS jobs_open_calls ON jobs (status, call_id) WHERE call_id IS NOT NULL AND call_stopped_at IS NULL;
