//! Numbered SQL migrations, compiled in and applied idempotently: each runs in one transaction
//! together with its row in `schema_migrations`, so a crash or a second worker starting at the same
//! moment never applies one twice.

use crate::hrana::{DbError, HranaClient, HttpTransport, Stmt, Value};

/// A migration: its number, name and SQL (statements separated by `;` at line ends).
pub struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sql: &'static str,
}

pub const MIGRATIONS: &[Migration] = &[
    Migration { version: 1, name: "init", sql: include_str!("../../migrations/0001_init.sql") },
    Migration { version: 2, name: "upload_purge", sql: include_str!("../../migrations/0002_upload_purge.sql") },
    Migration { version: 3, name: "attempt_blobs", sql: include_str!("../../migrations/0003_attempt_blobs.sql") },
    Migration { version: 4, name: "job_listing", sql: include_str!("../../migrations/0004_job_listing.sql") },
    Migration { version: 5, name: "render_handover", sql: include_str!("../../migrations/0005_render_handover.sql") },
    Migration { version: 6, name: "render_dispatch", sql: include_str!("../../migrations/0006_render_dispatch.sql") },
    Migration { version: 7, name: "accounts", sql: include_str!("../../migrations/0007_accounts.sql") },
    Migration { version: 8, name: "claim_seq", sql: include_str!("../../migrations/0008_claim_seq.sql") },
    Migration { version: 9, name: "tenancy", sql: include_str!("../../migrations/0009_tenancy.sql") },
    Migration { version: 10, name: "idempotency", sql: include_str!("../../migrations/0010_idempotency.sql") },
    Migration {
        version: 11,
        name: "resumable_uploads",
        sql: include_str!("../../migrations/0011_resumable_uploads.sql"),
    },
    Migration { version: 12, name: "asset_library", sql: include_str!("../../migrations/0012_asset_library.sql") },
    Migration { version: 13, name: "edits", sql: include_str!("../../migrations/0013_edits.sql") },
    Migration { version: 14, name: "fair_claim", sql: include_str!("../../migrations/0014_fair_claim.sql") },
];

/// Applies every migration not yet recorded; returns the versions it applied.
pub async fn migrate<T: HttpTransport>(db: &HranaClient<T>, now_ms: i64) -> Result<Vec<i64>, DbError> {
    db.execute(Stmt::new(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)",
        vec![],
    ))
    .await?;
    let applied = db.execute(Stmt::new("SELECT version FROM schema_migrations", vec![])).await?;
    let applied: Vec<i64> = applied.iter().map(|r| r.int("version")).collect::<Result<_, _>>()?;
    let mut done = Vec::new();
    for m in MIGRATIONS.iter().filter(|m| !applied.contains(&m.version)) {
        let mut stmts: Vec<Stmt> = split_statements(m.sql).map(|s| Stmt::new(s, vec![])).collect();
        stmts.push(Stmt::new(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
            vec![Value::from(m.version), Value::from(m.name), Value::from(now_ms)],
        ));
        match db.transaction(stmts).await {
            Ok(_) => done.push(m.version),
            // Another process applied it between our read and our write.
            Err(DbError::Sql { message, .. }) if message.contains("UNIQUE") => {}
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}

fn split_statements(sql: &str) -> impl Iterator<Item = String> + '_ {
    sql.split(";\n")
        .map(|chunk| chunk.lines().filter(|l| !l.trim_start().starts_with("--")).collect::<Vec<_>>().join("\n"))
        .map(|s| s.trim().trim_end_matches(';').to_owned())
        .filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migration_files_split_into_statements() {
        let stmts: Vec<String> = split_statements(MIGRATIONS[0].sql).collect();
        assert!(stmts.iter().all(|s| !s.contains(";\n") && !s.starts_with("--")));
        assert!(stmts.iter().any(|s| s.starts_with("CREATE TABLE IF NOT EXISTS jobs")));
        assert_eq!(stmts.iter().filter(|s| s.starts_with("CREATE TABLE")).count(), 4);
    }

    #[test]
    fn versions_are_strictly_increasing() {
        assert!(MIGRATIONS.windows(2).all(|w| w[0].version < w[1].version));
    }
}
