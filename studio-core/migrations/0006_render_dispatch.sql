-- Render dispatch. An asset may carry a prepared (edited, levelled) variant of its audio, which a render
-- uses when asked. A render job that ended while its call may still run on the render service (cancelled,
-- failed, timed out) is told to stop once; `call_stopped_at` records that the service acknowledged it.
-- A blob an attempt writes as an R2 multipart upload carries the upload's id, so the sweeper can abort
-- the upload (its parts are invisible garbage) when the attempt ends without completing.
ALTER TABLE assets ADD COLUMN prepared_key TEXT;

ALTER TABLE jobs ADD COLUMN call_stopped_at INTEGER;

CREATE INDEX IF NOT EXISTS jobs_open_calls ON jobs (status, call_id) WHERE call_id IS NOT NULL AND call_stopped_at IS NULL;

ALTER TABLE attempt_blobs ADD COLUMN upload_id TEXT;
