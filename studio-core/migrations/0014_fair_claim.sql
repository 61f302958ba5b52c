-- Fair claiming (jobs/transitions.rs `claim`): each account's oldest claimable job of the worker's types,
-- found from this index instead of a scan of every waiting job.
CREATE INDEX IF NOT EXISTS jobs_waiting_by_account ON jobs (status, type, account_id, run_after, created_at);
