//! The edit jobs (`edit_preview`, `edit_save`): their input, and their creation from a checked recipe
//! in one round trip — only when the recipe's asset and every source asset are the caller's, within the
//! caller's quotas. A preview whose recipe (by its canonical hash) was already previewed is created
//! complete at once, pointing at the stored preview (`cached: true`).

pub mod recipe;
pub mod store;

use serde::{Deserialize, Serialize};

use crate::accounts::access::{self, AccessError, Session, OWNER_ID};
use crate::accounts::quotas::{self, Need, QuotaDefaults};
use crate::edit::recipe::{OutputFormat, Recipe};
use crate::hrana::{DbError, HranaClient, HttpTransport, Stmt, Value};
use crate::jobs::transitions::{self, JobInput};
use crate::jobs::{self, Job, JobType, NewJob};

/// The job's input as stored in `jobs.input`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EditInput {
    pub recipe: Recipe,
    pub recipe_hash: String,
}

/// What an edit request found.
#[derive(Debug, Clone, PartialEq)]
pub enum CreateEdit {
    Created(Box<Job>),
    /// These assets (the recipe's or its sources) are not the caller's.
    MissingAssets(Vec<String>),
}

/// The assets a recipe names: its own, then its sources.
fn named_assets(recipe: &Recipe) -> Vec<&str> {
    let mut ids = vec![recipe.asset_id.as_str()];
    ids.extend(recipe.sources().into_iter().filter(|s| *s != recipe.asset_id));
    ids
}

/// A generous estimate of the bytes an edit stores (checked against the storage quota): 128 kbit/s for a
/// preview; 16-bit stereo PCM, or 256 kbit/s AAC, at the output rate for a save.
fn estimated_bytes(job_type: JobType, recipe: &Recipe) -> i64 {
    let bits_per_second = match (job_type, recipe.output_format) {
        (JobType::EditSave, OutputFormat::Wav) => f64::from(recipe.output_sample_rate) * 2.0 * 16.0,
        (JobType::EditSave, OutputFormat::Aac) => 256_000.0,
        _ => 128_000.0,
    };
    (recipe.total_duration() * bits_per_second / 8.0).ceil().max(1.0) as i64
}

/// Creates an edit job `job_id` (a fresh id from the caller) of `job_type` for `recipe`.
pub async fn create<T: HttpTransport>(
    db: &HranaClient<T>,
    session: &Session,
    job_type: JobType,
    recipe: &Recipe,
    job_id: &str,
    callback_url: Option<&str>,
    defaults: &QuotaDefaults,
) -> Result<CreateEdit, AccessError> {
    let now_ms = session.now_ms();
    let owner = session.owner();
    let ids = named_assets(recipe);
    let id_list = vec!["?"; ids.len()].join(", ");
    let id_args = || ids.iter().map(|id| Value::from(*id)).collect::<Vec<_>>();
    let all_owned =
        format!("(SELECT count(*) FROM assets WHERE account_id = {OWNER_ID} AND id IN ({id_list})) = {}", ids.len());
    let hash = recipe.hash();
    let input = serde_json::to_value(EditInput { recipe: recipe.clone(), recipe_hash: hash.clone() })
        .expect("input serialises");
    let spec = NewJob::new(job_type, input);
    let need = Need { jobs: 1, storage_bytes: estimated_bytes(job_type, recipe), ..Need::default() };
    let id_column = || ("id", "?", vec![Value::from(job_id)]);
    let callback_column = || ("callback_url", "?", vec![Value::from(callback_url)]);

    let mut stmts = vec![
        quotas::usage_stmt(&owner, defaults, now_ms),
        owner.scope(Stmt::new(
            format!("SELECT id FROM assets WHERE account_id = {OWNER_ID} AND id IN ({id_list})"),
            id_args(),
        )),
    ];
    if job_type == JobType::EditPreview {
        let mut source_args = vec![Value::from(hash.as_str())];
        source_args.extend(id_args());
        let mut columns = vec![id_column(), ("account_id", "p.account_id", vec![]), callback_column()];
        columns.extend(transitions::born_complete(
            "p.key",
            "json_object('cached', json('true'), 'recipeHash', p.recipe_hash, 'durationSec', p.duration_sec, \
             'sizeBytes', p.size_bytes)",
            now_ms,
        ));
        let [insert, created] = transitions::create(
            &spec,
            JobInput::Value(&spec.input),
            columns,
            &format!("FROM previews p WHERE p.account_id = {OWNER_ID} AND p.recipe_hash = ? AND {all_owned}"),
            source_args,
            now_ms,
        );
        // A preview asked for again is kept another PREVIEW_TTL_MS.
        let refresh = Stmt::new(
            format!(
                "UPDATE previews SET created_at = ? WHERE account_id = {OWNER_ID} AND recipe_hash = ? \
                 AND EXISTS (SELECT 1 FROM jobs WHERE id = ? AND status = 'complete')"
            ),
            vec![Value::from(now_ms), Value::from(hash.as_str()), Value::from(job_id)],
        );
        stmts.extend([
            owner.scope(insert),
            created,
            transitions::completed_at_creation(job_id, now_ms),
            owner.scope(refresh),
        ]);
    }
    let mut source_args = vec![Value::from(job_id)];
    source_args.extend(id_args());
    let [insert, created] = transitions::create(
        &spec,
        JobInput::Value(&spec.input),
        vec![id_column(), ("account_id", OWNER_ID, vec![]), callback_column()],
        &format!(
            "WHERE NOT EXISTS (SELECT 1 FROM jobs WHERE id = ?) AND {all_owned} AND {}",
            quotas::admits(&need, defaults, now_ms)
        ),
        source_args,
        now_ms,
    );
    let mut touch_args = vec![Value::from(now_ms)];
    touch_args.extend(id_args());
    touch_args.push(Value::from(job_id));
    stmts.extend([
        owner.scope(insert),
        created,
        owner.scope(Stmt::new(
            format!(
                "UPDATE assets SET last_used_at = ? WHERE account_id = {OWNER_ID} AND id IN ({id_list}) \
                 AND EXISTS (SELECT 1 FROM jobs WHERE id = ?)"
            ),
            touch_args,
        )),
        owner.scope(jobs::store::select_owned(job_id)),
    ]);
    let rows = access::run(db, session, stmts).await?;
    if let Some(job) = jobs::store::job_from_rows(rows.last().expect("statements ran"))? {
        return Ok(CreateEdit::Created(Box::new(job)));
    }
    let owned = rows[1].iter().map(|r| r.text("id")).collect::<Result<Vec<_>, DbError>>()?;
    let missing: Vec<String> = ids.iter().filter(|id| !owned.iter().any(|o| o == *id)).map(|s| s.to_string()).collect();
    if !missing.is_empty() {
        return Ok(CreateEdit::MissingAssets(missing));
    }
    Err(quotas::refused(&rows[0], now_ms, 1, need.storage_bytes, 0.0))
}
