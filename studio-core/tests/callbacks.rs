//! Creator callbacks (studio-core) against a real turso-local: the claim's lease, the fencing of stale
//! attempts, the retry schedule ending in failure, and attempts never recorded still counting. The
//! delivery loop itself (signing, retrying a live receiver, the SSRF guard) is the cpu-worker's:
//! `cpu-worker/tests/callbacks.rs`.

use serde_json::json;
use studio_core::callbacks::{claim_due, record_attempt, AttemptOutcome, AttemptResult, Recorded};
use test_support::db::callbacks::{account, deliveries, finish, job};
use test_support::db::fresh;

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const OLD_SECRET: &str = "whsec_c2VjcmV0LW90aGVyLWtleQ==";

#[tokio::test]
async fn leases_fence_stale_attempts_and_the_schedule_ends_in_failure() {
    let t = fresh().await;
    account(&t, "acc_a", SECRET, Some((OLD_SECRET, 1))).await;
    job(&t, "job_1", "acc_a", "https://receiver.example/hook?token=creator-token").await;
    job(&t, "job_2", "acc_a", "https://receiver.example/other").await;
    let t0 = 1_000_000;
    finish(&t, "job_1", "cancelled", None, None, t0).await;

    let due = claim_due(&t.db, t0, 60_000).await.unwrap().expect("due at once");
    assert_eq!((due.job_id.as_str(), due.attempt, due.event.as_str()), ("job_1", 1, "job.cancelled"));
    assert_eq!(due.secret.as_ref().unwrap().expose(), SECRET);
    assert!(due.previous_secret.is_none(), "the rotation's grace period is over");
    let shown = format!("{due:?}");
    assert!(!shown.contains("receiver.example") && !shown.contains("creator-token") && !shown.contains("whsec_"));
    assert!(claim_due(&t.db, t0 + 1_000, 60_000).await.unwrap().is_none(), "leased");

    // The lease runs out: claimed again, and the first attempt's late failure changes nothing.
    let again = claim_due(&t.db, t0 + 61_000, 60_000).await.unwrap().unwrap();
    assert_eq!(again.attempt, 2);
    let answered = |code| AttemptOutcome { result: AttemptResult::Answered(code), duration_ms: 5 };
    assert_eq!(record_attempt(&t.db, &due.id, 1, &answered(503), t0 + 62_000, 1.0).await.unwrap(), Recorded::Stale);
    let unreachable =
        AttemptOutcome { result: AttemptResult::Unreachable("connection refused".into()), duration_ms: 1 };
    let at = t0 + 63_000;
    assert_eq!(
        record_attempt(&t.db, &due.id, 2, &unreachable, at, 1.0).await.unwrap(),
        Recorded::RetryAt(at + 300_000)
    );
    assert!(claim_due(&t.db, at + 299_999, 60_000).await.unwrap().is_none(), "not due yet");
    let third = claim_due(&t.db, at + 300_000, 60_000).await.unwrap().unwrap();
    let refused = AttemptOutcome {
        result: AttemptResult::Refused("refused: only https URLs are allowed".into()),
        duration_ms: 0,
    };
    assert_eq!(record_attempt(&t.db, &third.id, 3, &refused, at + 300_001, 1.0).await.unwrap(), Recorded::Failed);
    assert!(claim_due(&t.db, i64::MAX / 2, 60_000).await.unwrap().is_none());
    let views = deliveries(&t, "job_1", "acc_a").await;
    assert_eq!((views[0].status.as_str(), views[0].attempt_count, views[0].attempts.len()), ("failed", 3, 3));

    // A receiver that never answers 2xx is given up after the eighth attempt.
    finish(&t, "job_2", "complete", Some(json!({})), None, t0).await;
    for attempt in 1..=8 {
        let now = t0 + attempt;
        let due = claim_due(&t.db, now, 60_000).await.unwrap().expect("due");
        assert_eq!(due.attempt, attempt);
        let recorded = record_attempt(&t.db, &due.id, attempt, &answered(500), now, 0.0).await.unwrap();
        let expected = if attempt < 8 { Recorded::RetryAt(now) } else { Recorded::Failed };
        assert_eq!(recorded, expected, "attempt {attempt}");
    }
    let views = deliveries(&t, "job_2", "acc_a").await;
    assert_eq!((views[0].status.as_str(), views[0].attempts.len(), views[0].next_attempt_at), ("failed", 8, None));

    // A late success still counts: the receiver has the message, so it is not sent again.
    job(&t, "job_3", "acc_a", "https://receiver.example/third").await;
    finish(&t, "job_3", "complete", Some(json!({})), None, t0).await;
    let first = claim_due(&t.db, t0, 60_000).await.unwrap().unwrap();
    let second = claim_due(&t.db, t0 + 61_000, 60_000).await.unwrap().unwrap();
    assert_eq!((first.attempt, second.attempt), (1, 2));
    assert_eq!(
        record_attempt(&t.db, &first.id, 1, &answered(200), t0 + 62_000, 1.0).await.unwrap(),
        Recorded::Delivered
    );
    assert_eq!(record_attempt(&t.db, &second.id, 2, &answered(200), t0 + 63_000, 1.0).await.unwrap(), Recorded::Stale);
    assert!(claim_due(&t.db, i64::MAX / 2, 60_000).await.unwrap().is_none(), "never due again");

    // Attempts whose outcome was never recorded (workers that died) still count: spent, it has failed.
    job(&t, "job_4", "acc_a", "https://receiver.example/fourth").await;
    finish(&t, "job_4", "complete", Some(json!({})), None, t0).await;
    for n in 0..8 {
        assert!(claim_due(&t.db, t0 + n * 61_000, 60_000).await.unwrap().is_some(), "claim {n}");
    }
    assert!(claim_due(&t.db, t0 + 8 * 61_000, 60_000).await.unwrap().is_none());
    assert_eq!(deliveries(&t, "job_4", "acc_a").await[0].status, "failed");
}
