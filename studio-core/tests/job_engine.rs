//! The job engine (studio-core) against a real turso-local: claim order, claim exclusivity under
//! concurrency, fencing of stale and cancelled workers, cancel semantics, retries and the reaper.

use std::collections::HashSet;

use serde_json::json;
use studio_core::hrana::{Stmt, Value};
use studio_core::jobs::{
    self, attempt_blobs, reaper, CancelOutcome, FailOutcome, JobFailure, JobStatus, JobType, NewJob, Ownership,
};
use studio_core::ErrorCode;
use test_support::db::{fresh, Db, TestDb};
use test_support::random_hex;

const LEASE: i64 = 10_000;

async fn enqueue(t: &TestDb, n: usize, now: i64) -> Vec<String> {
    let db = &t.db;
    let mut ids = Vec::new();
    for i in 0..n {
        let job =
            jobs::create(db, &NewJob::new(JobType::Ingest, json!({ "n": i })).for_account(&t.creator.account_id), now)
                .await
                .unwrap();
        ids.push(job.id);
    }
    ids
}

async fn claim(db: &Db, now: i64) -> Option<jobs::ClaimedJob> {
    jobs::claim(db, JobType::ALL, "test-worker", &random_hex(16), LEASE, now).await.unwrap()
}

#[tokio::test]
async fn claims_are_fifo() {
    let t = fresh().await;
    let ids = enqueue(&t, 5, 1_000).await;
    let mut claimed = Vec::new();
    while let Some(job) = claim(&t.db, 2_000).await {
        assert_eq!(job.attempt, 1);
        claimed.push(job.id);
    }
    assert_eq!(claimed, ids);
}

#[tokio::test]
async fn eight_concurrent_claimers_never_share_a_job() {
    let t = fresh().await;
    let ids: HashSet<String> = enqueue(&t, 200, 1_000).await.into_iter().collect();
    let mut workers = Vec::new();
    for _ in 0..8 {
        let db = t.db.clone();
        workers.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            while let Some(job) = claim(&db, 2_000).await {
                mine.push(job.id);
            }
            mine
        }));
    }
    let mut all = Vec::new();
    for w in workers {
        all.extend(w.await.unwrap());
    }
    let unique: HashSet<String> = all.iter().cloned().collect();
    assert_eq!(all.len(), 200, "every job claimed exactly once");
    assert_eq!(unique, ids);
}

#[tokio::test]
async fn a_cancelled_job_cannot_be_completed_or_heartbeaten() {
    let t = fresh().await;
    enqueue(&t, 1, 1_000).await;
    let job = claim(&t.db, 2_000).await.unwrap();
    assert_eq!(jobs::cancel(&t.db, &t.creator.at(3_000), &job.id).await.unwrap(), CancelOutcome::Cancelled);

    assert_eq!(job.heartbeat(&t.db, LEASE, 3_500).await.unwrap(), Ownership::Lost);
    assert_eq!(job.progress(&t.db, "analyzing", 50.0, 3_600).await.unwrap(), Ownership::Lost);
    // The completion carries an effect that must not happen either.
    let mut args = vec![Value::from("should-not-exist")];
    args.extend(job.fence_args());
    let effect = Stmt::new(
        format!("INSERT INTO job_events (job_id, at, kind, attempt) SELECT ?, 0, 'x', 0 WHERE EXISTS (SELECT 1 FROM jobs WHERE {})", jobs::FENCE_SQL),
        args,
    );
    assert_eq!(
        job.complete(&t.db, &json!({"ok": true}), Some("k"), vec![effect], 4_000).await.unwrap(),
        Ownership::Lost
    );
    assert_eq!(
        job.fail(&t.db, &JobFailure::permanent(ErrorCode::NotAudio, "x"), 0.5, 4_000).await.unwrap(),
        FailOutcome::Lost
    );

    let after = jobs::get(&t.db, &t.creator.at(0), &job.id).await.unwrap().unwrap();
    assert_eq!(after.status, JobStatus::Cancelled);
    assert_eq!(after.result, None);
    let stray =
        t.db.execute(Stmt::new("SELECT 1 FROM job_events WHERE job_id = 'should-not-exist'", vec![])).await.unwrap();
    assert!(stray.is_empty());
}

#[tokio::test]
async fn cancelling_a_terminal_job_changes_nothing() {
    let t = fresh().await;
    enqueue(&t, 1, 1_000).await;
    let job = claim(&t.db, 2_000).await.unwrap();
    assert_eq!(job.complete(&t.db, &json!({"v": 1}), None, vec![], 3_000).await.unwrap(), Ownership::Held);
    let before = jobs::get(&t.db, &t.creator.at(0), &job.id).await.unwrap().unwrap();
    assert_eq!(
        jobs::cancel(&t.db, &t.creator.at(9_000), &job.id).await.unwrap(),
        CancelOutcome::AlreadyTerminal(JobStatus::Complete)
    );
    assert_eq!(jobs::get(&t.db, &t.creator.at(0), &job.id).await.unwrap().unwrap(), before);
    assert_eq!(jobs::cancel(&t.db, &t.creator.at(9_000), "job_missing").await.unwrap(), CancelOutcome::NotFound);
}

#[tokio::test]
async fn a_stale_worker_is_fenced_out_after_its_lease_is_reaped() {
    let t = fresh().await;
    enqueue(&t, 1, 1_000).await;
    let stale = claim(&t.db, 2_000).await.unwrap();
    // No heartbeat: the lease expires and the reaper hands the job back.
    let report = reaper::reap(&t.db, 2_000 + LEASE + 1, 0.0).await.unwrap();
    assert_eq!(report.requeued, 1);
    let fresh_claim = claim(&t.db, 2_000 + LEASE + 60_000).await.unwrap();
    assert_eq!(fresh_claim.id, stale.id);
    assert_eq!(fresh_claim.attempt, 2);

    assert_eq!(stale.complete(&t.db, &json!({"from": "stale"}), None, vec![], 80_000).await.unwrap(), Ownership::Lost);
    assert_eq!(
        fresh_claim.complete(&t.db, &json!({"from": "fresh"}), None, vec![], 80_000).await.unwrap(),
        Ownership::Held
    );
    let done = jobs::get(&t.db, &t.creator.at(0), &stale.id).await.unwrap().unwrap();
    assert_eq!(done.result, Some(json!({"from": "fresh"})));
    // An impostor with a made-up token is fenced out too.
    assert_eq!(
        fresh_claim.clone().impersonate("forged").heartbeat(&t.db, LEASE, 90_000).await.unwrap(),
        Ownership::Lost
    );
}

#[tokio::test]
async fn transient_failures_retry_with_backoff_until_attempts_run_out() {
    let t = fresh().await;
    enqueue(&t, 1, 1_000).await;
    let mut now = 2_000;
    let max = JobType::Ingest.default_max_attempts();
    for attempt in 1..=max {
        let job = claim(&t.db, now).await.expect("claimable after backoff");
        assert_eq!(job.attempt, attempt);
        let outcome =
            job.fail(&t.db, &JobFailure::transient(ErrorCode::Unavailable, "db down"), 0.0, now).await.unwrap();
        match outcome {
            FailOutcome::RetryScheduled { run_after_ms } => {
                assert!(run_after_ms > now);
                assert!(claim(&t.db, run_after_ms - 1).await.is_none(), "not before the backoff");
                now = run_after_ms;
            }
            FailOutcome::Failed => assert_eq!(attempt, max, "fails only when attempts are used up"),
            FailOutcome::Lost => panic!("lost"),
        }
    }
    let id = enqueue(&t, 0, 0).await;
    assert!(id.is_empty());
    let rows = t.db.execute(Stmt::new("SELECT status, error_code, attempt FROM jobs", vec![])).await.unwrap();
    let row = rows.first().unwrap();
    assert_eq!(row.text("status").unwrap(), "failed");
    assert_eq!(row.text("error_code").unwrap(), "unavailable");
    assert_eq!(row.int("attempt").unwrap(), max);
    let outage_ridden = now - 2_000;
    assert!(outage_ridden >= 120_000, "the schedule rode out only {outage_ridden} ms");
}

#[tokio::test]
async fn permanent_failures_do_not_retry_and_timeouts_are_reaped() {
    let t = fresh().await;
    let ids = enqueue(&t, 2, 1_000).await;
    let first = claim(&t.db, 2_000).await.unwrap();
    assert_eq!(
        first.fail(&t.db, &JobFailure::permanent(ErrorCode::NotAudio, "no audio"), 0.5, 2_100).await.unwrap(),
        FailOutcome::Failed
    );
    let failed = jobs::get(&t.db, &t.creator.at(0), &ids[0]).await.unwrap().unwrap();
    assert_eq!(
        (failed.status, failed.error_code.as_deref(), failed.attempt),
        (JobStatus::Failed, Some("not_audio"), 1)
    );

    let second = claim(&t.db, 3_000).await.unwrap();
    let past_timeout = 3_000 + JobType::Ingest.default_timeout_ms() + 1;
    // Keep the lease alive so only the wall-clock timeout applies.
    assert_eq!(
        second.heartbeat(&t.db, JobType::Ingest.default_timeout_ms() * 2, 3_100).await.unwrap(),
        Ownership::Held
    );
    let report = reaper::reap(&t.db, past_timeout, 0.0).await.unwrap();
    assert_eq!(report.timed_out, 1);
    let timed_out = jobs::get(&t.db, &t.creator.at(0), &ids[1]).await.unwrap().unwrap();
    assert_eq!((timed_out.status, timed_out.error_code.as_deref()), (JobStatus::Failed, Some("timeout")));
    let events = jobs::events(&t.db, &t.creator.at(0), &ids[1]).await.unwrap().unwrap();
    assert_eq!(events.last().unwrap().kind, "failed");
}

#[tokio::test]
async fn migrations_are_idempotent() {
    let t = fresh().await;
    assert_eq!(studio_core::db::migrate(&t.db, 5).await.unwrap(), Vec::<i64>::new());
}

#[tokio::test]
async fn events_speak_the_creators_language_and_hold_no_secrets() {
    let t = fresh().await;
    enqueue(&t, 1, 1_000).await;
    let job = claim(&t.db, 2_000).await.unwrap();
    let leaked = "error sending request for url (http://127.0.0.1:8787/blobs/assets/ast_1/original.wav?exp=1&max=2&sig=SECRETSIG)";
    let failure = JobFailure::transient(ErrorCode::Unavailable, "storage was unavailable")
        .with_detail(format!("/tmp/job_1/source: Invalid data found [wav @ 0x55d0c0ffee] {leaked}"));
    assert!(!failure.detail.as_deref().unwrap().contains("SECRETSIG"), "details are scrubbed for the log too");
    assert!(matches!(job.fail(&t.db, &failure, 0.0, 3_000).await.unwrap(), FailOutcome::RetryScheduled { .. }));
    let events = jobs::events(&t.db, &t.creator.at(0), &job.id).await.unwrap().unwrap();
    let text = serde_json::to_string(&events).unwrap();
    for forbidden in ["SECRETSIG", "sig=", "/tmp/", "0x55d0", "test-worker", "http", "/blobs/"] {
        assert!(!text.contains(forbidden), "{forbidden} leaked into {text}");
    }
    let retry = events.iter().find(|e| e.kind == "retry_scheduled").unwrap();
    assert_eq!(retry.detail, Some(json!({"code": "unavailable", "message": "storage was unavailable"})));
    // A message is shown to creators as written, so one carrying a signed URL is scrubbed even there.
    let job = claim(&t.db, 60_000).await.unwrap();
    let careless = JobFailure::permanent(ErrorCode::Internal, format!("oops {leaked}"));
    assert_eq!(job.fail(&t.db, &careless, 0.0, 61_000).await.unwrap(), FailOutcome::Failed);
    let text = serde_json::to_string(&jobs::events(&t.db, &t.creator.at(0), &job.id).await.unwrap().unwrap()).unwrap();
    assert!(!text.contains("SECRETSIG") && !text.contains("exp=1"), "{text}");
}

#[tokio::test]
async fn a_claim_carries_its_deadline_and_the_reaper_uses_the_same_one() {
    let t = fresh().await;
    enqueue(&t, 1, 1_000).await;
    let job = claim(&t.db, 2_000).await.unwrap();
    assert_eq!(job.deadline_ms, 2_000 + JobType::Ingest.default_timeout_ms());
    assert_eq!(job.remaining_ms(2_500), JobType::Ingest.default_timeout_ms() - 500);
    assert_eq!(job.heartbeat(&t.db, job.deadline_ms * 2, 2_100).await.unwrap(), Ownership::Held);
    assert_eq!(reaper::reap(&t.db, job.deadline_ms, 0.0).await.unwrap().timed_out, 0, "not before the deadline");
    assert_eq!(reaper::reap(&t.db, job.deadline_ms + 1, 0.0).await.unwrap().timed_out, 1);
}

#[tokio::test]
async fn blobs_of_attempts_that_did_not_complete_are_found_dead() {
    let t = fresh().await;
    enqueue(&t, 3, 1_000).await;
    // Completed: its blobs belong to the result.
    let done = claim(&t.db, 2_000).await.unwrap();
    assert_eq!(done.record_write(&t.db, "assets/ast_done/original.wav", 2_001).await.unwrap(), Ownership::Held);
    // Cancelled mid-write.
    let cancelled = claim(&t.db, 2_000).await.unwrap();
    assert_eq!(cancelled.record_write(&t.db, "assets/ast_cancel/original.wav", 2_001).await.unwrap(), Ownership::Held);
    // Killed: its lease runs out and the reaper re-queues it.
    let killed = claim(&t.db, 2_000).await.unwrap();
    assert_eq!(killed.record_write(&t.db, "assets/ast_killed/original.wav", 2_001).await.unwrap(), Ownership::Held);

    assert!(attempt_blobs::dead(&t.db, None, 2_500, 100).await.unwrap().is_empty(), "all three attempts are alive");
    assert_eq!(done.complete(&t.db, &json!({}), None, vec![], 3_000).await.unwrap(), Ownership::Held);
    jobs::cancel(&t.db, &t.creator.at(3_000), &cancelled.id).await.unwrap();
    assert_eq!(cancelled.record_write(&t.db, "assets/ast_cancel/peaks.json", 3_001).await.unwrap(), Ownership::Lost);
    assert_eq!(done.heartbeat(&t.db, LEASE, 3_000).await.unwrap(), Ownership::Lost);
    assert_eq!(killed.heartbeat(&t.db, 1, 3_000).await.unwrap(), Ownership::Held, "never shortens the lease");
    assert_eq!(reaper::reap(&t.db, 2_000 + LEASE, 0.0).await.unwrap().requeued, 0, "not before the lease ends");
    assert_eq!(reaper::reap(&t.db, 2_001 + LEASE, 0.0).await.unwrap().requeued, 1);

    let keys = |blobs: Vec<attempt_blobs::DeadBlob>| {
        let mut keys: Vec<String> = blobs.into_iter().map(|b| b.key).collect();
        keys.sort();
        keys
    };
    let first = attempt_blobs::dead(&t.db, None, 13_000, 100).await.unwrap();
    assert!(first.iter().all(|b| !b.last_pass));
    assert_eq!(keys(first.clone()), vec!["assets/ast_cancel/original.wav", "assets/ast_killed/original.wav"]);
    assert_eq!(
        keys(attempt_blobs::dead(&t.db, Some(&killed.id), 13_000, 100).await.unwrap()),
        vec!["assets/ast_killed/original.wav"]
    );
    // Deleted once; a write still streaming from the dead attempt could land after that, so each blob
    // comes back for a final deletion after the grace period, and only then is the record forgotten.
    for blob in &first {
        attempt_blobs::swept(&t.db, blob, 13_000).await.unwrap();
    }
    assert!(attempt_blobs::dead(&t.db, None, 13_000 + attempt_blobs::LATE_WRITE_GRACE_MS, 100)
        .await
        .unwrap()
        .is_empty());
    let last = attempt_blobs::dead(&t.db, None, 13_001 + attempt_blobs::LATE_WRITE_GRACE_MS, 100).await.unwrap();
    assert!(last.iter().all(|b| b.last_pass) && last.len() == 2);
    for blob in &last {
        attempt_blobs::swept(&t.db, blob, 13_001 + attempt_blobs::LATE_WRITE_GRACE_MS).await.unwrap();
    }
    let records = t.db.execute(Stmt::new("SELECT key FROM attempt_blobs", vec![])).await.unwrap();
    assert!(
        records.is_empty(),
        "the completed attempt's records went with its completion, the rest after their last pass"
    );
}

#[tokio::test]
async fn listing_pages_newest_first_without_gaps_or_repeats() {
    use studio_core::jobs::listing::{self, JobQuery};
    let t = fresh().await;
    // Three timestamps, several jobs sharing each, so the cursor must break ties on the id.
    let mut ids = Vec::new();
    for at in [1_000, 2_000, 3_000] {
        ids.extend(enqueue(&t, 5, at).await);
    }
    let failed = claim(&t.db, 4_000).await.unwrap();
    failed.fail(&t.db, &JobFailure::permanent(ErrorCode::NotAudio, "x"), 0.0, 4_100).await.unwrap();

    let mut seen = Vec::new();
    let mut query = JobQuery::parse("type=ingest&limit=4").unwrap();
    loop {
        let page = listing::list(&t.db, &t.creator.at(0), &query).await.unwrap();
        assert!(page.jobs.len() <= 4);
        seen.extend(page.jobs.iter().map(|j| (j.created_at, j.id.clone())));
        match page.next {
            Some(cursor) => {
                query = JobQuery::parse(&format!("type=ingest&limit=4&cursor={}", cursor.encode())).unwrap()
            }
            None => break,
        }
    }
    assert_eq!(seen.len(), ids.len(), "every job exactly once");
    let mut sorted = seen.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(seen, sorted, "newest first, ties by id");

    let only_failed = listing::list(&t.db, &t.creator.at(0), &JobQuery::parse("status=failed").unwrap()).await.unwrap();
    assert_eq!(only_failed.jobs.iter().map(|j| j.id.clone()).collect::<Vec<_>>(), vec![failed.id]);
    assert_eq!(only_failed.next, None);
}
