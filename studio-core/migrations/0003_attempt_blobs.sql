-- Blobs an attempt is about to write, recorded before the write under the attempt's claim, so what a
-- dead attempt left behind (failed, cancelled, re-leased, killed) can be found and deleted.
CREATE TABLE IF NOT EXISTS attempt_blobs (
    key         TEXT PRIMARY KEY,
    job_id      TEXT NOT NULL,
    claim_token TEXT NOT NULL,
    created_at  INTEGER NOT NULL
);

CREATE INDEX IF NOT EXISTS attempt_blobs_by_claim ON attempt_blobs (job_id, claim_token);

-- Every PUT of an upload's bytes lands under its own key (uploads/{id}/source.{seq}), so a late or
-- concurrent PUT can never overwrite or delete the bytes an ingest job reads. `source_key` is the
-- key of the PUT that completed last before the upload was consumed.
ALTER TABLE uploads ADD COLUMN put_seq INTEGER NOT NULL DEFAULT 0;

ALTER TABLE uploads ADD COLUMN source_key TEXT;

UPDATE uploads SET source_key = 'uploads/' || id || '/source' WHERE status IN ('received', 'consumed');
