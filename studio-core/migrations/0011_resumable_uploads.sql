-- Resumable uploads: a large upload goes up as an R2 multipart upload (`multipart_id`) in `part_count`
-- parts of `part_size` bytes (the last one shorter); each part the edge has stored is recorded, so a
-- client can ask which are missing after a dropped connection, and completion uses exactly these.
ALTER TABLE uploads ADD COLUMN multipart_id TEXT;

ALTER TABLE uploads ADD COLUMN part_size INTEGER;

ALTER TABLE uploads ADD COLUMN part_count INTEGER;

CREATE TABLE IF NOT EXISTS upload_parts (
    upload_id   TEXT NOT NULL,
    part_number INTEGER NOT NULL,
    etag        TEXT NOT NULL,
    size        INTEGER NOT NULL,
    received_at INTEGER NOT NULL,
    PRIMARY KEY (upload_id, part_number)
);
