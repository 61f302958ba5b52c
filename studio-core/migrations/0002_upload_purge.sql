-- Uploads whose bytes are no longer needed are swept: the blob is deleted and the row marked (consumed
-- uploads, kept for the asset's provenance) or removed (never-ingested ones).

ALTER TABLE uploads ADD COLUMN purged_at INTEGER;

CREATE INDEX IF NOT EXISTS uploads_sweep ON uploads (purged_at, status, created_at);
