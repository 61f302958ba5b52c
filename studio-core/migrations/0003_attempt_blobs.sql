-- Blobs an attempt is about to write, recorded before the write under the attempt's claim, so what a
-- dead attempt left behind (failed, cancelled, re-leased, killed) can be found and deleted.
-- A dead attempt's blob is deleted at once (`swept_at`) and once more after a grace period, in case a
-- write of that attempt was still streaming; then the record goes.
CREATE TABLE IF NOT EXISTS attempt_blobs (
    key         TEXT PRIMARY KEY,
    job_id      TEXT NOT NULL,
    claim_token TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    swept_at    INTEGER
);

CREATE INDEX IF NOT EXISTS attempt_blobs_by_claim ON attempt_blobs (job_id, claim_token);

-- Every PUT of an upload's bytes lands under its own key (uploads/{id}/source.{seq}), so a late or
-- concurrent PUT can never overwrite or delete the bytes an ingest job reads. `source_key` is the
-- key of the PUT that completed last before the upload was consumed.
ALTER TABLE uploads ADD COLUMN put_seq INTEGER NOT NULL DEFAULT 0;

ALTER TABLE uploads ADD COLUMN source_key TEXT;

-- A never-ingested upload past its time is withdrawn (no PUT or ingest may use it any more) before its
-- bytes are deleted; the row goes only once they are.
ALTER TABLE uploads ADD COLUMN withdrawn_at INTEGER;

UPDATE uploads SET source_key = 'uploads/' || id || '/source' WHERE status IN ('received', 'consumed');
