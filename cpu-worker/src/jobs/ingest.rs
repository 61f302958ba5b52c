//! The ingest job: fetch the uploaded file through a signed URL into a temp file, probe it, extract
//! the audio of a video container, store the original under the asset key, compute peaks, record the
//! asset and complete the job — all fenced by the claim. The upload's bytes are left to the
//! housekeeping sweeper, which clears them once the job is over, whatever its outcome.

use std::path::{Path, PathBuf};

use studio_core::api::IngestResult;
use studio_core::ingest::{IngestInput, IngestSourceInput};
use studio_core::keys;
use studio_core::library::assets::{self, Asset};
use studio_core::limits::{MAX_DURATION_SEC, MAX_SOURCE_BYTES};

use super::{JobCtx, JobError};
use crate::media::probe::probe;
use crate::media::{input, peaks, process, ytdlp};
use crate::outbound::Outbound;
use crate::transport::{now_ms, random_hex};
use crate::url_source;

pub async fn run(ctx: &JobCtx) -> Result<(), JobError> {
    let input: IngestInput = ctx.input()?;
    let owner = ctx.job.account_id.as_deref();
    ctx.stage("downloading", 5.0).await?;
    let mut source = ctx.workdir.path().join("source");
    let (filename, upload_id, source_type) = match input.source {
        IngestSourceInput::Upload { upload_id, filename, source_key, .. } => {
            let source_key = source_key.unwrap_or_else(|| keys::upload_source(owner, &upload_id));
            ctx.blobs.download_to(&source_key, &source, MAX_SOURCE_BYTES).await?;
            (filename, Some(upload_id), "upload")
        }
        IngestSourceInput::Url { url } => {
            let urls = &ctx.config.media_urls;
            let outbound =
                Outbound::new(urls.allow_hosts.clone(), urls.total_timeout).with_read_timeout(urls.read_timeout);
            let fetched = url_source::fetch(&outbound, &url, &source, MAX_SOURCE_BYTES, urls.source_rate).await?;
            (fetched.filename, None, "url")
        }
        IngestSourceInput::Youtube { url, video_id, .. } => {
            let dir = ctx.workdir.path().join("youtube");
            tokio::fs::create_dir_all(&dir).await?;
            let limits = ytdlp::Limits {
                max_bytes: MAX_SOURCE_BYTES,
                max_duration_sec: MAX_DURATION_SEC,
                rate: ctx.config.media_urls.source_rate,
            };
            let progress = |pct: f64| ctx.stage("downloading", 5.0 + pct * 0.2);
            source = ytdlp::download(&ctx.config.ytdlp, &url, &dir, &limits, progress).await??;
            let ext = source.extension().and_then(|e| e.to_str()).unwrap_or("bin").to_owned();
            (format!("{video_id}.{ext}"), None, "youtube")
        }
    };

    ctx.stage("analyzing", 30.0).await?;
    let mut probed = probe(&ctx.config.ffprobe, &source).await?;
    let (audio_path, ext) = if probed.has_video {
        ctx.stage("extracting", 40.0).await?;
        let (path, ext) = extract_audio(ctx, &source, &probed.audio.codec).await?;
        probed = probe(&ctx.config.ffprobe, &path).await?;
        (path, ext)
    } else {
        let ext = extension_for(&probed.audio.format, &filename);
        (source, ext)
    };

    ctx.stage("storing", 55.0).await?;
    let asset_id = format!("ast_{}", random_hex(12));
    let original_key = keys::asset_original(owner, &asset_id, &ext);
    let content_type = content_type_for(&ext);
    ctx.will_write(&original_key).await?;
    let size_bytes = ctx.blobs.upload_file(&original_key, &audio_path, content_type).await?;

    ctx.stage("waveform", 75.0).await?;
    let pairs = peaks::compute(&ctx.config.ffmpeg, &audio_path).await?;
    let peaks_key = keys::asset_peaks(owner, &asset_id);
    let peaks_json = serde_json::to_vec(&pairs).expect("peaks serialise");
    ctx.will_write(&peaks_key).await?;
    ctx.blobs.upload_bytes(&peaks_key, peaks_json, "application/json").await?;

    ctx.stage("finalizing", 95.0).await?;
    let now = now_ms();
    let asset = Asset {
        id: asset_id.clone(),
        job_id: ctx.job.id.clone(),
        account_id: ctx.job.account_id.clone(),
        source_type: source_type.into(),
        upload_id,
        original_filename: filename,
        original_key: original_key.clone(),
        peaks_key,
        prepared: None,
        last_recipe: None,
        content_type: content_type.into(),
        size_bytes: size_bytes as i64,
        audio: probed.audio.clone(),
        created_at: now,
    };
    let result = serde_json::to_value(IngestResult { asset_id, audio: probed.audio }).expect("result serialises");
    let effects = vec![assets::insert_if_owned(&asset, &ctx.job)];
    ctx.complete(&result, &original_key, effects).await
}

/// Copies the first audio stream out of a video container without re-encoding where the codec has a
/// natural audio-only container, else encodes it losslessly to FLAC.
async fn extract_audio(ctx: &JobCtx, source: &Path, codec: &str) -> Result<(PathBuf, String), JobError> {
    let (ext, codec_args): (&str, &[&str]) = match codec {
        "aac" | "alac" => ("m4a", &["-c:a", "copy"]),
        "mp3" => ("mp3", &["-c:a", "copy"]),
        "opus" | "vorbis" => ("ogg", &["-c:a", "copy"]),
        "flac" => ("flac", &["-c:a", "copy"]),
        _ => ("flac", &["-c:a", "flac"]),
    };
    let out = ctx.workdir.path().join(format!("audio.{ext}"));
    let mut args: Vec<String> = ["-v", "error", "-nostdin", "-y"].map(String::from).to_vec();
    args.extend(input::args(source));
    args.extend(["-map", "0:a:0", "-vn"].map(String::from));
    args.extend(codec_args.iter().map(|a| a.to_string()));
    args.push(input::output(&out));
    process::output(&ctx.config.ffmpeg, &args).await?;
    Ok((out, ext.to_owned()))
}

/// The file extension for a probed audio container (ffprobe's `format_name`), falling back to the
/// uploaded name's extension.
fn extension_for(format_name: &str, filename: &str) -> String {
    let known = match format_name.split(',').next().unwrap_or_default() {
        "mp3" => Some("mp3"),
        "wav" => Some("wav"),
        "flac" => Some("flac"),
        "ogg" => Some("ogg"),
        "aac" => Some("aac"),
        "mov" => Some("m4a"),
        "matroska" => Some("webm"),
        "aiff" => Some("aiff"),
        _ => None,
    };
    match known {
        Some(ext) => ext.to_owned(),
        None => keys::sanitize_ext(filename.rsplit_once('.').map(|(_, e)| e).unwrap_or("")),
    }
}

fn content_type_for(ext: &str) -> &'static str {
    match ext {
        "mp3" => "audio/mpeg",
        "wav" => "audio/wav",
        "flac" => "audio/flac",
        "ogg" => "audio/ogg",
        "aac" => "audio/aac",
        "m4a" => "audio/mp4",
        "webm" => "audio/webm",
        "aiff" => "audio/aiff",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extensions_follow_the_container() {
        assert_eq!(extension_for("wav", "x.bin"), "wav");
        assert_eq!(extension_for("mov,mp4,m4a,3gp,3g2,mj2", "x"), "m4a");
        assert_eq!(extension_for("weird", "song.OPUS"), "opus");
        assert_eq!(extension_for("weird", "noext"), "bin");
        assert_eq!(content_type_for("m4a"), "audio/mp4");
    }
}
