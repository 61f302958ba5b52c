-- The asset library: an asset keeps the recipe of its last save (other assets' recipes name it as a
-- source, which protects it from deletion); listing is newest first per account.
ALTER TABLE assets ADD COLUMN last_recipe TEXT;

CREATE INDEX IF NOT EXISTS assets_newest ON assets (account_id, created_at DESC, id DESC);
