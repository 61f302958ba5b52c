//! The caller's asset library: one page, newest first, in one query (with the storage the account uses
//! against its quota), and deletion — refused while another asset's saved recipe uses the asset as a
//! source (naming those assets), unless forced. A deletion retires the asset's blobs and hands back
//! those free to delete at once.

pub mod assets;
pub mod retention;
pub mod retired;

use serde::Serialize;

use crate::accounts::access::{self, AccessError, Session, OWNER_ID};
use crate::accounts::quotas::{self, QuotaDefaults, Usage};
use crate::error_code::{ErrorCode, Problem};
use crate::hrana::{DbError, HranaClient, HttpTransport, Stmt, Value};
use crate::jobs::listing::{self, Cursor, DEFAULT_LIMIT};

use retention::ASSET_KEYS;

/// One asset in the library.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AssetSummary {
    pub asset_id: String,
    pub filename: String,
    pub duration_sec: f64,
    pub size_bytes: i64,
    /// `original`, and `prepared` once a recipe was saved.
    pub variants: Vec<String>,
    pub created_at: i64,
}

/// A page of the library.
#[derive(Debug, Clone, PartialEq)]
pub struct LibraryPage {
    pub assets: Vec<AssetSummary>,
    pub next: Option<Cursor>,
    pub usage: Usage,
}

/// `limit` (1–100, default 20) and `cursor` from a query string; a bad one is a 400 naming it.
pub fn parse_query(query: &str) -> Result<(i64, Option<Cursor>), Problem> {
    let bad =
        |name: &str, what: &str| Problem::new(ErrorCode::InvalidRequest, format!("query parameter {name}: {what}"));
    let (mut limit, mut after) = (DEFAULT_LIMIT, None);
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        match name {
            "limit" => limit = listing::parse_limit(value)?,
            "cursor" => after = Some(listing::parse_cursor(value)?),
            other => return Err(bad(other, "unknown; use limit or cursor")),
        }
    }
    Ok((limit, after))
}

pub async fn list<T: HttpTransport>(
    db: &HranaClient<T>,
    session: &Session,
    limit: i64,
    after: Option<&Cursor>,
    defaults: &QuotaDefaults,
) -> Result<LibraryPage, AccessError> {
    let owner = session.owner();
    let (at, id) = (after.map(|c| c.created_at), after.map(|c| c.id.as_str()));
    let page = owner.scope(Stmt::new(
        format!(
            "SELECT id, original_filename, duration_sec, size_bytes, prepared_key, created_at FROM assets \
             WHERE account_id = {OWNER_ID} AND (? IS NULL OR (created_at, id) < (?, ?)) \
             ORDER BY created_at DESC, id DESC LIMIT ?"
        ),
        vec![Value::from(at), Value::from(at), Value::from(id), Value::from(limit + 1)],
    ));
    let rows = access::run(db, session, vec![page, quotas::usage_stmt(&owner, defaults, session.now_ms())]).await?;
    let mut assets = rows[0]
        .iter()
        .map(|r| {
            let variants = assets::variants(r.opt_text("prepared_key")?.is_some());
            Ok(AssetSummary {
                asset_id: r.text("id")?,
                filename: r.text("original_filename")?,
                duration_sec: r.float("duration_sec")?,
                size_bytes: r.int("size_bytes")?,
                variants,
                created_at: r.int("created_at")?,
            })
        })
        .collect::<Result<Vec<_>, DbError>>()?;
    let next = if assets.len() as i64 > limit {
        assets.truncate(limit as usize);
        assets.last().map(|a| Cursor { created_at: a.created_at, id: a.asset_id.clone() })
    } else {
        None
    };
    let usage_row = rows[1].first().ok_or_else(|| DbError::Decode("usage returned no row".into()))?;
    Ok(LibraryPage { assets, next, usage: Usage::from_row(&usage_row, session.now_ms())? })
}

/// What a delete found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Deletion {
    /// Gone; its blobs are retired, and these of them no unfinished render reads may be deleted now
    /// (then [`super::retired::forget`]); the sweeper deletes the rest once those renders end.
    Deleted {
        free_keys: Vec<String>,
    },
    NotFound,
    /// Other assets' saved recipes (asset ids) or unfinished edit jobs (job ids) use it.
    Referenced {
        by: Vec<String>,
    },
}

/// Deletes one of the caller's assets in one transaction, unless other assets' saved recipes or unfinished
/// edit jobs use it (`force` deletes it anyway); its blobs are retired in the same transaction.
pub async fn delete<T: HttpTransport>(
    db: &HranaClient<T>,
    session: &Session,
    asset_id: &str,
    force: bool,
) -> Result<Deletion, AccessError> {
    let owner = session.owner();
    // Other assets whose saved recipe uses it, and unfinished edit jobs whose recipe names it.
    let users = format!(
        "SELECT DISTINCT a.id FROM assets a, json_each(a.last_recipe, '$.clips') c WHERE a.account_id = {OWNER_ID} \
         AND a.id != ? AND json_extract(c.value, '$.sourceAssetId') = ? \
         UNION SELECT j.id FROM jobs j WHERE j.account_id = {OWNER_ID} AND j.status IN ('pending', 'processing') \
         AND j.type IN ('edit_preview', 'edit_save') AND (json_extract(j.input, '$.recipe.assetId') = ? \
           OR EXISTS (SELECT 1 FROM json_each(j.input, '$.recipe.clips') c \
                      WHERE json_extract(c.value, '$.sourceAssetId') = ?))"
    );
    let users_args = || vec![Value::from(asset_id); 4];
    let deletable = format!("id = ? AND account_id = {OWNER_ID} AND (? OR NOT EXISTS ({users}))");
    let deletable_args = || {
        let mut args = vec![Value::from(asset_id), Value::from(i64::from(force))];
        args.extend(users_args());
        args
    };
    let referencing = owner.scope(Stmt::new(users.clone(), users_args()));
    let present = owner.scope(Stmt::new(
        format!("SELECT 1 AS present FROM assets WHERE id = ? AND account_id = {OWNER_ID}"),
        vec![Value::from(asset_id)],
    ));
    let retire = owner.scope(retired::retire_stmt(
        &format!("SELECT key FROM ({ASSET_KEYS}) WHERE asset_id IN (SELECT id FROM assets WHERE {deletable})"),
        deletable_args(),
        session.now_ms(),
    ));
    let free = owner.scope(retired::free_among_stmt(
        &format!("SELECT key FROM ({ASSET_KEYS}) WHERE asset_id = ? AND asset_account = {OWNER_ID}"),
        vec![Value::from(asset_id)],
        session.now_ms(),
    ));
    let remove = owner.scope(Stmt::new(format!("DELETE FROM assets WHERE {deletable} RETURNING id"), deletable_args()));
    let rows = access::run(db, session, vec![referencing, present, retire, free, remove]).await?;
    if !rows[4].is_empty() {
        let free_keys = rows[3].iter().map(|r| r.text("key")).collect::<Result<Vec<_>, _>>()?;
        return Ok(Deletion::Deleted { free_keys });
    }
    if rows[1].is_empty() {
        return Ok(Deletion::NotFound);
    }
    let by = rows[0].iter().map(|r| r.text("id")).collect::<Result<Vec<_>, _>>()?;
    Ok(Deletion::Referenced { by })
}
