//! The fair claim against the first-come-first-served one it replaced, with 10,000 waiting jobs over
//! 100 accounts on a real turso-local: prints both claim times side by side (a benchmark, not a timed
//! test: nothing asserts on time) and checks what fairness promises — the first 100 claims reach 100
//! different accounts, where first come, first served gives them all to the account that queued first.

use std::time::Instant;

use studio_core::hrana::{Stmt, Value};
use studio_core::jobs::{self, JobType};
use test_support::db::{fresh, Db};

const ACCOUNTS: i64 = 100;
const JOBS: i64 = 10_000;
const CLAIMS: usize = 200;

/// The claim before fair claiming (kept here only to compare against): the oldest claimable job of
/// all accounts, by priority then age.
const FIFO_CLAIM: &str =
    "UPDATE jobs SET status = 'processing', claim_token = ?, lease_owner = ?, lease_expires_at = ?, \
       attempt = attempt + 1, claim_seq = claim_seq + 1, started_at = ?, updated_at = ?, stage = NULL, progress = 0 \
     WHERE id = (SELECT id FROM jobs WHERE status = 'pending' AND run_after <= ? AND type IN (?) \
                 ORDER BY priority DESC, created_at, rowid LIMIT 1) \
       AND status = 'pending' RETURNING id, account_id";

/// 10,000 pending ingests: account k's jobs were all queued before account k+1's (the worst case for
/// first come, first served: one creator's backlog ahead of everyone).
async fn seed(db: &Db) {
    db.execute(Stmt::new("DELETE FROM jobs", vec![])).await.unwrap();
    db.execute(Stmt::new(
        "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ? - 1) \
         INSERT INTO jobs (type, input, max_attempts, run_after, timeout_ms, created_at, updated_at, account_id) \
         SELECT 'ingest', '{}', 3, 0, 600000, 1000 + i, 1000 + i, printf('acc_bench_%03d', i / (? / ?)) FROM n",
        vec![Value::from(JOBS), Value::from(JOBS), Value::from(ACCOUNTS)],
    ))
    .await
    .unwrap();
}

async fn fifo_claim(db: &Db, n: usize) -> Option<String> {
    let args = vec![
        Value::from(format!("tok{n}")),
        Value::from("bench"),
        Value::from(10_000_000_i64),
        Value::from(5_000_i64),
        Value::from(5_000_i64),
        Value::from(5_000_i64),
        Value::from("ingest"),
    ];
    let rows = db.execute(Stmt::new(FIFO_CLAIM, args)).await.unwrap();
    rows.first().map(|r| r.text("account_id").unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fair_claim_time_against_first_come_first_served() {
    let t = fresh().await;
    let db = &t.db;

    // Today's schema for today's claim: without the fair claim's index (migration 14).
    db.execute(Stmt::new("DROP INDEX jobs_waiting_by_account", vec![])).await.unwrap();
    seed(db).await;
    let started = Instant::now();
    let mut fifo_accounts = Vec::new();
    for n in 0..CLAIMS {
        fifo_accounts.push(fifo_claim(db, n).await.expect("a job to claim"));
    }
    let fifo = started.elapsed() / CLAIMS as u32;

    db.execute(Stmt::new(include_str!("../migrations/0014_fair_claim.sql"), vec![])).await.unwrap();
    seed(db).await;
    let started = Instant::now();
    let mut fair_accounts = Vec::new();
    for n in 0..CLAIMS {
        let job = jobs::claim_capped(db, &[JobType::Ingest], "bench", &format!("tok{n}"), 10_000_000, 5_000, 1_000)
            .await
            .unwrap()
            .expect("a job to claim");
        fair_accounts.push(job.account_id.clone().unwrap());
    }
    let fair = started.elapsed() / CLAIMS as u32;

    println!(
        "claim with {JOBS} waiting jobs over {ACCOUNTS} accounts, mean of {CLAIMS} claims through turso-local: \
         first come first served {fifo:?}, fair {fair:?} ({:.2}× the time)",
        fair.as_secs_f64() / fifo.as_secs_f64()
    );
    let distinct = |accounts: &[String]| accounts[..100].iter().collect::<std::collections::BTreeSet<_>>().len();
    assert_eq!(distinct(&fifo_accounts), 1, "first come, first served: one account's backlog goes first");
    assert_eq!(distinct(&fair_accounts), 100, "fair: every account gets a slot before any gets a second");
}
