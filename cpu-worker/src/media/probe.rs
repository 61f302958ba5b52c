//! ffprobe: what a file holds, and the ingest rules on it (audio present, within the duration limit).

use serde::Deserialize;
use studio_core::api::AudioInfo;
use studio_core::jobs::JobFailure;
use studio_core::limits::MAX_DURATION_SEC;
use studio_core::ErrorCode;

use super::input;
use super::process::{output, ProcessError};

#[derive(Debug, Deserialize)]
struct Raw {
    #[serde(default)]
    streams: Vec<RawStream>,
    format: Option<RawFormat>,
}

#[derive(Debug, Deserialize)]
struct RawStream {
    codec_type: Option<String>,
    codec_name: Option<String>,
    sample_rate: Option<String>,
    channels: Option<i64>,
    duration: Option<String>,
    #[serde(default)]
    disposition: Disposition,
}

#[derive(Debug, Default, Deserialize)]
struct Disposition {
    #[serde(default)]
    attached_pic: i64,
}

#[derive(Debug, Deserialize)]
struct RawFormat {
    format_name: Option<String>,
    duration: Option<String>,
}

/// What ingest needs to know about a file.
#[derive(Debug, Clone, PartialEq)]
pub struct Probe {
    pub audio: AudioInfo,
    /// A real video track (cover art does not count): the audio must be extracted.
    pub has_video: bool,
}

/// Parses ffprobe's JSON and applies the ingest rules.
pub fn interpret(json: &[u8]) -> Result<Probe, JobFailure> {
    let not_audio = || JobFailure::permanent(ErrorCode::NotAudio, "the file contains no audio we can read");
    let raw: Raw = serde_json::from_slice(json).map_err(|_| not_audio())?;
    let format = raw.format.as_ref();
    // The tool was already limited to these demuxers; checked again so no other container slips through.
    if !format.and_then(|f| f.format_name.as_deref()).is_some_and(input::is_accepted_format) {
        return Err(not_audio());
    }
    let audio = raw.streams.iter().find(|s| s.codec_type.as_deref() == Some("audio")).ok_or_else(not_audio)?;
    let has_video =
        raw.streams.iter().any(|s| s.codec_type.as_deref() == Some("video") && s.disposition.attached_pic == 0);
    let duration = format
        .and_then(|f| f.duration.as_deref())
        .or(audio.duration.as_deref())
        .and_then(|d| d.parse::<f64>().ok())
        .filter(|d| d.is_finite() && *d > 0.0)
        .ok_or_else(not_audio)?;
    if duration > MAX_DURATION_SEC {
        return Err(JobFailure::permanent(
            ErrorCode::TooLong,
            format!(
                "the audio is {:.1} minutes long; the limit is {} minutes",
                duration / 60.0,
                MAX_DURATION_SEC / 60.0
            ),
        ));
    }
    let sample_rate =
        audio.sample_rate.as_deref().and_then(|r| r.parse().ok()).filter(|r| *r > 0).ok_or_else(not_audio)?;
    let channels = audio.channels.filter(|c| *c > 0).ok_or_else(not_audio)?;
    Ok(Probe {
        audio: AudioInfo {
            duration_sec: (duration * 1000.0).round() / 1000.0,
            sample_rate,
            channels,
            codec: audio.codec_name.clone().unwrap_or_else(|| "unknown".into()),
            format: format.and_then(|f| f.format_name.clone()).unwrap_or_else(|| "unknown".into()),
        },
        has_video,
    })
}

/// Runs ffprobe on a file. A file ffprobe cannot parse at all is not audio.
pub async fn probe(ffprobe: &str, path: &std::path::Path) -> Result<Probe, ProbeError> {
    let mut args: Vec<String> =
        ["-v", "error", "-print_format", "json", "-show_format", "-show_streams"].map(String::from).to_vec();
    args.extend(input::args(path));
    match output(ffprobe, &args).await {
        Ok(json) => interpret(&json).map_err(ProbeError::Rejected),
        Err(ProcessError::Failed { stderr_tail, .. }) => Err(ProbeError::Rejected(
            JobFailure::permanent(ErrorCode::NotAudio, "the file is not a media file we can read")
                .with_detail(stderr_tail),
        )),
        Err(e) => Err(ProbeError::Tool(e)),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error("rejected: {}", .0.message)]
    Rejected(JobFailure),
    #[error(transparent)]
    Tool(#[from] ProcessError),
}

#[cfg(test)]
mod tests {
    use super::*;

    const WAV: &[u8] = include_bytes!("../../tests/fixtures/ffprobe_5_1_wav_stereo_3s.json");
    const MP4: &[u8] = include_bytes!("../../tests/fixtures/ffprobe_5_1_mp4_h264_aac.json");
    const PNG: &[u8] = include_bytes!("../../tests/fixtures/ffprobe_5_1_png.json");

    #[test]
    fn wav_is_audio_without_video() {
        let p = interpret(WAV).unwrap();
        assert!(!p.has_video);
        assert_eq!(p.audio.channels, 2);
        assert_eq!(p.audio.sample_rate, 44_100);
        assert_eq!(p.audio.codec, "pcm_s16le");
        assert_eq!(p.audio.format, "wav");
        assert!((p.audio.duration_sec - 3.0).abs() < 0.01);
    }

    #[test]
    fn mp4_with_video_needs_extraction() {
        let p = interpret(MP4).unwrap();
        assert!(p.has_video);
        assert_eq!(p.audio.codec, "aac");
    }

    #[test]
    fn an_image_is_not_audio() {
        assert_eq!(interpret(PNG).unwrap_err().code, ErrorCode::NotAudio);
        assert_eq!(interpret(b"garbage").unwrap_err().code, ErrorCode::NotAudio);
    }

    #[test]
    fn over_thirty_minutes_is_too_long() {
        let json = String::from_utf8(WAV.to_vec()).unwrap().replace("\"3.000000\"", "\"1800.5\"");
        assert_eq!(interpret(json.as_bytes()).unwrap_err().code, ErrorCode::TooLong);
    }
}
