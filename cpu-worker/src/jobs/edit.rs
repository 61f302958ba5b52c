//! The edit jobs. Both check the recipe against every source's real duration (`invalid_recipe` naming
//! the clip) and fetch the sources' original audio. A preview renders a quick 128 kbit/s MP3 (one-pass
//! levelling) stored under the recipe's hash — or finds one stored meanwhile and answers with it. A
//! save joins the clips at full quality, levels in two passes (measure, then apply the targets), trims
//! what loudnorm missed by a measured gain within the true-peak ceiling, encodes, measures the finished
//! file, draws its waveform, and makes it the asset's prepared audio with the recipe as its last edit —
//! all fenced by the claim.

use std::path::{Path, PathBuf};

use serde_json::json;
use studio_core::edit::recipe::{correction_db, Leveling, Loudness};
use studio_core::edit::store::{self as edits, Prepared, StoredPreview};
use studio_core::edit::EditInput;
use studio_core::jobs::JobFailure;
use studio_core::{keys, ErrorCode};

use super::{JobCtx, JobError};
use crate::media::edit::{self as media_edit, Encoding};
use crate::media::{peaks, probe::probe};
use crate::transport::now_ms;

pub async fn preview(ctx: &JobCtx) -> Result<(), JobError> {
    let input: EditInput = ctx.input()?;
    ctx.stage("checking", 5.0).await?;
    if let Some(stored) = edits::stored_preview(&ctx.db, &ctx.job, &input.recipe_hash).await? {
        let refresh = edits::preview_reused(&ctx.job, &input.recipe_hash, now_ms());
        return ctx.complete(&preview_result(&input, &stored, true), &stored.key, vec![refresh]).await;
    }
    let sources = fetch_sources(ctx, &input, false).await?;
    ctx.stage("rendering", 50.0).await?;
    let out = ctx.workdir.path().join("preview.mp3");
    let graph = input.recipe.filter_graph(Leveling::OnePass);
    media_edit::run(&ctx.config.ffmpeg, &sources, &graph, Some((&out, media_edit::PREVIEW))).await?;
    let audio = probe(&ctx.config.ffprobe, &out).await?.audio;

    ctx.stage("storing", 85.0).await?;
    let key = keys::preview(ctx.job.account_id.as_deref(), &input.recipe_hash, &ctx.job.id);
    ctx.will_write(&key).await?;
    let size_bytes = ctx.blobs.upload_file(&key, &out, media_edit::PREVIEW.content_type).await? as i64;
    let stored = StoredPreview { key, duration_sec: audio.duration_sec, size_bytes };
    let effects = edits::preview_stored(&ctx.job, &input.recipe_hash, &stored, now_ms());
    ctx.complete(&preview_result(&input, &stored, false), &stored.key, effects).await
}

fn preview_result(input: &EditInput, stored: &StoredPreview, cached: bool) -> serde_json::Value {
    json!({
        "cached": cached,
        "recipeHash": input.recipe_hash,
        "durationSec": stored.duration_sec,
        "sizeBytes": stored.size_bytes,
    })
}

pub async fn save(ctx: &JobCtx) -> Result<(), JobError> {
    let input: EditInput = ctx.input()?;
    let recipe = &input.recipe;
    let sources = fetch_sources(ctx, &input, true).await?;
    let ffmpeg = &ctx.config.ffmpeg;
    let work = ctx.workdir.path();

    ctx.stage("rendering", 35.0).await?;
    let joined = work.join("joined.wav");
    let graph = recipe.filter_graph(Leveling::Off);
    media_edit::run(ffmpeg, &sources, &graph, Some((&joined, media_edit::INTERMEDIATE))).await?;
    let (levelled, correction) = match recipe.normalize {
        Some(target) => {
            ctx.stage("measuring", 45.0).await?;
            let stderr =
                media_edit::filter_file(ffmpeg, &joined, &recipe.leveling_chain(Leveling::Measure), None).await?;
            let measured = media_edit::parse_loudnorm(&stderr).ok_or_else(|| {
                JobFailure::permanent(ErrorCode::MediaToolFailed, "the loudness could not be measured")
                    .with_detail(stderr)
            })?;
            ctx.stage("levelling", 55.0).await?;
            let levelled = work.join("levelled.wav");
            let chain = recipe.leveling_chain(Leveling::Apply(&measured));
            media_edit::filter_file(ffmpeg, &joined, &chain, Some((&levelled, media_edit::INTERMEDIATE))).await?;
            let correction = media_edit::measure(ffmpeg, &levelled).await?.map(|m| correction_db(&target, &m));
            (levelled, correction.filter(|db| db.abs() >= 0.05))
        }
        None => (joined, None),
    };

    ctx.stage("encoding", 65.0).await?;
    let encoding = media_edit::prepared(recipe.output_format);
    let out = work.join(format!("prepared.{}", encoding.ext));
    let loudness =
        encode_within_ceiling(ffmpeg, &levelled, &out, encoding, correction.unwrap_or(0.0), recipe.normalize).await?;

    ctx.stage("analyzing", 75.0).await?;
    let audio = probe(&ctx.config.ffprobe, &out).await?.audio;
    let pairs = peaks::compute(ffmpeg, &out).await?;

    ctx.stage("storing", 85.0).await?;
    let owner = ctx.job.account_id.as_deref();
    let key = keys::asset_prepared(owner, &recipe.asset_id, &ctx.job.id, encoding.ext);
    let peaks_key = keys::asset_prepared_peaks(owner, &recipe.asset_id, &ctx.job.id);
    ctx.will_write(&key).await?;
    let size_bytes = ctx.blobs.upload_file(&key, &out, encoding.content_type).await? as i64;
    ctx.will_write(&peaks_key).await?;
    ctx.blobs
        .upload_bytes(&peaks_key, serde_json::to_vec(&pairs).expect("peaks serialise"), "application/json")
        .await?;

    let result = json!({
        "assetId": recipe.asset_id,
        "variant": "prepared",
        "audio": audio,
        "sizeBytes": size_bytes,
        "loudness": loudness,
        "target": recipe.normalize,
    });
    let prepared = Prepared { key: key.clone(), peaks_key, audio, size_bytes, loudness, target: recipe.normalize };
    let recipe_json = serde_json::to_value(recipe).expect("recipe serialises");
    let effects = edits::prepared_saved(&ctx.job, &recipe.asset_id, &prepared, &recipe_json, now_ms());
    ctx.complete(&result, &key, effects).await
}

/// Encodes `levelled` with `gain_db` and measures the result. A lossy encoder can overshoot the true-peak
/// ceiling: if it did, the file is encoded once more, trimmed by the overshoot (and a 0.1 dB margin).
async fn encode_within_ceiling(
    ffmpeg: &str,
    levelled: &Path,
    out: &Path,
    encoding: Encoding,
    mut gain_db: f64,
    target: Option<Loudness>,
) -> Result<Option<Loudness>, JobError> {
    for pass in 0.. {
        let chain = if gain_db == 0.0 { "anull".to_owned() } else { format!("volume={gain_db:.2}dB") };
        media_edit::filter_file(ffmpeg, levelled, &chain, Some((out, encoding))).await?;
        let measured = media_edit::measure(ffmpeg, out).await?;
        match (target, measured) {
            (Some(t), Some(m)) if pass == 0 && m.true_peak_db > t.true_peak_db => {
                gain_db -= m.true_peak_db - t.true_peak_db + 0.1;
            }
            _ => return Ok(measured),
        }
    }
    unreachable!("the loop returns by its second pass")
}

/// Checks every clip against its source's real duration, then downloads the sources (input `i` of the
/// graph is `sources()[i]`). With `target`, the recipe's own asset (the one a save writes to) must still
/// exist too — asked in the same query.
async fn fetch_sources(ctx: &JobCtx, input: &EditInput, target: bool) -> Result<Vec<PathBuf>, JobError> {
    ctx.stage("downloading", 10.0).await?;
    let ids = input.recipe.sources();
    let asked: Vec<&str> = if target { [&[input.recipe.asset_id.as_str()][..], &ids].concat() } else { ids.clone() };
    let mut found = edits::sources(&ctx.db, &ctx.job, &asked).await?;
    if target && found.remove(0).is_none() {
        let message = format!("asset {} no longer exists", input.recipe.asset_id);
        return Err(JobFailure::permanent(ErrorCode::AssetNotFound, message).into());
    }
    let durations: Vec<Option<f64>> = found.iter().map(|s| s.as_ref().map(|s| s.duration_sec)).collect();
    input
        .recipe
        .check_sources(&durations)
        .map_err(|e| JobFailure::permanent(ErrorCode::InvalidRecipe, e.to_string()))?;
    let mut paths = Vec::with_capacity(found.len());
    for (i, source) in found.into_iter().flatten().enumerate() {
        let path = ctx.workdir.path().join(format!("source-{i}"));
        ctx.blobs.download_to(&source.key, &path, studio_core::limits::MAX_SOURCE_BYTES).await?;
        ctx.stage("downloading", 10.0 + 20.0 * (i + 1) as f64 / ids.len() as f64).await?;
        paths.push(path);
    }
    Ok(paths)
}
