-- Job listing, newest first, optionally by type (GET /api/jobs).
CREATE INDEX IF NOT EXISTS jobs_newest ON jobs (created_at DESC, id DESC);

CREATE INDEX IF NOT EXISTS jobs_newest_by_type ON jobs (type, created_at DESC, id DESC);
