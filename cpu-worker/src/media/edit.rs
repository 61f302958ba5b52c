//! An edit recipe through ffmpeg: the recipe's filter graph over its sources (each read the safe way,
//! see `input`), a filter chain over one file, each to a file or to nowhere (a measuring pass), and
//! loudness read from stderr — loudnorm's JSON (what its second pass needs) and the EBU R128 meter's
//! summary (what a finished file measures).

use std::path::{Path, PathBuf};

use studio_core::edit::recipe::{Loudness, Measured, OutputFormat};

use super::input;
use super::process::{self, ProcessError};

/// How an output is encoded: the codec arguments, the file extension and its content type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Encoding {
    pub codec_args: &'static [&'static str],
    pub ext: &'static str,
    pub content_type: &'static str,
}

/// A preview: 128 kbit/s MP3.
pub const PREVIEW: Encoding =
    Encoding { codec_args: &["-c:a", "libmp3lame", "-b:a", "128k"], ext: "mp3", content_type: "audio/mpeg" };

/// Between passes: 32-bit float WAV, so levelling never clips or rounds before the final encode.
pub const INTERMEDIATE: Encoding =
    Encoding { codec_args: &["-c:a", "pcm_f32le"], ext: "wav", content_type: "audio/wav" };

/// A saved edit: 16-bit PCM WAV, or AAC (256 kbit/s, in an MP4 audio container).
pub fn prepared(format: OutputFormat) -> Encoding {
    match format {
        OutputFormat::Wav => Encoding { codec_args: &["-c:a", "pcm_s16le"], ext: "wav", content_type: "audio/wav" },
        OutputFormat::Aac => Encoding {
            codec_args: &["-c:a", "aac", "-b:a", "256k", "-movflags", "+faststart"],
            ext: "m4a",
            content_type: "audio/mp4",
        },
    }
}

/// Runs `graph` (ending in `[out]`) over `sources` (input `i` is `sources[i]`) into `output` encoded as
/// given, or into ffmpeg's null muxer when `output` is `None`; returns ffmpeg's stderr tail.
pub async fn run(
    ffmpeg: &str,
    sources: &[PathBuf],
    graph: &str,
    output: Option<(&Path, Encoding)>,
) -> Result<String, ProcessError> {
    let mut args: Vec<String> = ["-hide_banner", "-nostats", "-nostdin", "-y"].map(String::from).to_vec();
    for source in sources {
        args.extend(input::args(source));
    }
    args.extend(["-filter_complex".into(), graph.to_owned(), "-map".into(), "[out]".into(), "-vn".into()]);
    push_output(&mut args, output);
    process::stderr_of(ffmpeg, &args).await
}

/// Runs `-af chain` over one file into `output` (or the null muxer); returns ffmpeg's stderr tail.
pub async fn filter_file(
    ffmpeg: &str,
    file: &Path,
    chain: &str,
    output: Option<(&Path, Encoding)>,
) -> Result<String, ProcessError> {
    let mut args: Vec<String> = ["-hide_banner", "-nostats", "-nostdin", "-y"].map(String::from).to_vec();
    args.extend(input::args(file));
    args.extend(["-af".into(), chain.to_owned(), "-vn".into()]);
    push_output(&mut args, output);
    process::stderr_of(ffmpeg, &args).await
}

fn push_output(args: &mut Vec<String>, output: Option<(&Path, Encoding)>) {
    match output {
        Some((path, encoding)) => {
            args.extend(encoding.codec_args.iter().map(|a| a.to_string()));
            args.push(input::output(path));
        }
        None => args.extend(["-f", "null", "-"].map(String::from)),
    }
}

/// A file's integrated loudness, true peak and loudness range by ffmpeg's EBU R128 meter (`None` when
/// silent: no gated block to measure).
pub async fn measure(ffmpeg: &str, path: &Path) -> Result<Option<Loudness>, ProcessError> {
    let stderr = filter_file(ffmpeg, path, "ebur128=peak=true:framelog=verbose", None).await?;
    Ok(parse_ebur128(&stderr))
}

/// The summary ebur128 prints at the end.
pub fn parse_ebur128(stderr: &str) -> Option<Loudness> {
    let summary = &stderr[stderr.rfind("Summary:")?..];
    let value = |label: &str| -> Option<f64> {
        let at = summary.find(label)? + label.len();
        summary[at..].split_whitespace().next()?.parse::<f64>().ok()
    };
    let integrated = value("I:")?;
    (integrated.is_finite() && integrated > -70.0).then_some(Loudness {
        integrated_lufs: integrated,
        true_peak_db: value("Peak:")?,
        lra: value("LRA:")?,
    })
}

/// The last loudnorm JSON block in ffmpeg's stderr: what it measured on its input.
pub fn parse_loudnorm(stderr: &str) -> Option<Measured> {
    let start = stderr.rfind("{\n")?;
    let end = start + stderr[start..].find('}')?;
    let json: serde_json::Value = serde_json::from_str(&stderr[start..=end]).ok()?;
    let field = |name: &str| json.get(name)?.as_str()?.trim().parse::<f64>().ok();
    Some(Measured {
        integrated_lufs: field("input_i")?,
        true_peak_db: field("input_tp")?,
        lra: field("input_lra")?,
        threshold: field("input_thresh")?,
        offset: field("target_offset")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loudnorm_json_is_read_from_the_end_of_stderr() {
        let stderr = "size=N/A time=00:00:06.00\n[Parsed_loudnorm_11 @ 0x55] \n{\n\t\"input_i\" : \"-33.13\",\n\
                      \t\"input_tp\" : \"-22.78\",\n\t\"input_lra\" : \"0.70\",\n\t\"input_thresh\" : \"-43.13\",\n\
                      \t\"output_i\" : \"-13.29\",\n\t\"normalization_type\" : \"dynamic\",\n\
                      \t\"target_offset\" : \"-0.71\"\n}\nvideo:0kB audio:517kB\n";
        let m = parse_loudnorm(stderr).unwrap();
        assert_eq!(
            (m.integrated_lufs, m.true_peak_db, m.lra, m.threshold, m.offset),
            (-33.13, -22.78, 0.7, -43.13, -0.71)
        );
        let silent = stderr.replace("\"-33.13\"", "\"-inf\"");
        assert!(!parse_loudnorm(&silent).unwrap().is_audible());
        assert_eq!(parse_loudnorm("no json here"), None);
    }

    #[test]
    fn the_ebur128_summary_is_read() {
        let stderr = "[Parsed_ebur128_0 @ 0x5] Summary:\n\n  Integrated loudness:\n    I:         -16.1 LUFS\n    \
                      Threshold: -26.4 LUFS\n\n  Loudness range:\n    LRA:         3.2 LU\n    Threshold: -36.3 LUFS\n\n  \
                      True peak:\n    Peak:       -2.4 dBFS\n";
        assert_eq!(parse_ebur128(stderr), Some(Loudness { integrated_lufs: -16.1, true_peak_db: -2.4, lra: 3.2 }));
        assert_eq!(parse_ebur128(&stderr.replace("-16.1", "-70.0")), None, "silence");
        assert_eq!(parse_ebur128("nothing"), None);
    }
}
