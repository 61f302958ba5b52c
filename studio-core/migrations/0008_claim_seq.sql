-- Every claim of a job gets its own number, which never repeats (unlike `attempt`, which a released claim
-- gives back). A render's video URLs are bound to it, so a call started under an earlier claim can never
-- write the video of a later one.
ALTER TABLE jobs ADD COLUMN claim_seq INTEGER NOT NULL DEFAULT 0;
