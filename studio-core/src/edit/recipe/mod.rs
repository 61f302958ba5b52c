//! Edit recipes (the original's model, §4.1, with explicit loudness targets): clips of source assets
//! played one after another, each trimmed, with gain and fades; optional loudness normalisation; the
//! output format and sample rate. Written once for both runtimes: the shape check the edge applies (a
//! refusal names the field, e.g. `clips[2].fadeIn`), the semantic check the worker applies against every
//! source's real duration (`invalid_recipe` with the clip id), the canonical hash previews are cached by,
//! and the ffmpeg filter graph.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json};
use sha2::{Digest, Sha256};

use crate::error_code::{ErrorCode, Problem};
use crate::limits::MAX_DURATION_SEC;

mod graph;
mod options;
pub use graph::{correction_db, Leveling, Measured};
pub use options::options_json;

pub const MAX_CLIPS: usize = 50;
pub const MIN_CLIP_SEC: f64 = 0.1;
pub const SAMPLE_RATES: [u32; 3] = [22_050, 44_100, 48_000];
pub const DEFAULT_SAMPLE_RATE: u32 = 44_100;
/// A clip's gain (a factor).
pub const VOLUME_RANGE: (f64, f64) = (0.0, 2.0);
/// Loudness targets' ranges: integrated LUFS, true peak dB, loudness range.
pub const LUFS_RANGE: (f64, f64) = (-70.0, -5.0);
pub const TRUE_PEAK_RANGE: (f64, f64) = (-9.0, 0.0);
pub const LRA_RANGE: (f64, f64) = (1.0, 50.0);

/// Loudness targets of a two-pass `loudnorm` (EBU R128).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Loudness {
    pub integrated_lufs: f64,
    pub true_peak_db: f64,
    pub lra: f64,
}

impl Loudness {
    /// What `normalize: true` means: ffmpeg's defaults, as the original used.
    pub const DEFAULT: Loudness = Loudness { integrated_lufs: -24.0, true_peak_db: -2.0, lra: 7.0 };
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OutputFormat {
    Wav,
    Aac,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Clip {
    pub id: String,
    pub source_asset_id: String,
    pub start_time: f64,
    pub end_time: f64,
    pub volume: f64,
    pub fade_in: f64,
    pub fade_out: f64,
}

impl Clip {
    pub fn duration(&self) -> f64 {
        self.end_time - self.start_time
    }
}

/// A checked recipe.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Recipe {
    pub version: u8,
    /// The asset whose prepared audio a save writes.
    pub asset_id: String,
    pub clips: Vec<Clip>,
    pub normalize: Option<Loudness>,
    pub output_format: OutputFormat,
    pub output_sample_rate: u32,
}

fn refuse(field: &str, why: impl std::fmt::Display) -> Problem {
    Problem::new(ErrorCode::InvalidRequest, format!("{field}: {why}"))
}

fn object<'a>(value: &'a Json, field: &str, allowed: &[&str]) -> Result<&'a Map<String, Json>, Problem> {
    let map = value.as_object().ok_or_else(|| refuse(field, "must be an object"))?;
    if let Some(unknown) = map.keys().find(|k| !allowed.contains(&k.as_str())) {
        let path = if field == "recipe" { unknown.clone() } else { format!("{field}.{unknown}") };
        return Err(refuse(&path, "unknown field"));
    }
    Ok(map)
}

fn number(
    map: &Map<String, Json>,
    key: &str,
    field: &str,
    default: Option<f64>,
    range: (f64, f64),
) -> Result<f64, Problem> {
    let value = match map.get(key) {
        None | Some(Json::Null) => default.ok_or_else(|| refuse(field, "is required"))?,
        Some(v) => v.as_f64().filter(|n| n.is_finite()).ok_or_else(|| refuse(field, "must be a number"))?,
    };
    if value < range.0 || value > range.1 {
        return Err(refuse(field, format!("must be from {} to {}", range.0, range.1)));
    }
    Ok(value)
}

fn id(map: &Map<String, Json>, key: &str, field: &str) -> Result<String, Problem> {
    match map.get(key) {
        Some(Json::String(s))
            if !s.is_empty()
                && s.len() <= 64
                && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') =>
        {
            Ok(s.clone())
        }
        None => Err(refuse(field, "is required")),
        Some(_) => Err(refuse(field, "must be an id (1–64 of [A-Za-z0-9_-])")),
    }
}

/// Checks a recipe's shape and the rules that need no source (what the edge can refuse at once).
pub fn parse(value: &Json) -> Result<Recipe, Problem> {
    let map =
        object(value, "recipe", &["version", "assetId", "clips", "normalize", "outputFormat", "outputSampleRate"])?;
    if map.get("version") != Some(&Json::from(1)) {
        return Err(refuse("version", "must be 1"));
    }
    let asset_id = id(map, "assetId", "assetId")?;
    let clips_json = map.get("clips").and_then(Json::as_array).ok_or_else(|| refuse("clips", "must be an array"))?;
    if clips_json.is_empty() || clips_json.len() > MAX_CLIPS {
        return Err(refuse("clips", format!("1 to {MAX_CLIPS} clips")));
    }
    let mut clips: Vec<Clip> = Vec::with_capacity(clips_json.len());
    for (i, clip) in clips_json.iter().enumerate() {
        let field = |name: &str| format!("clips[{i}].{name}");
        let c = object(
            clip,
            &format!("clips[{i}]"),
            &["id", "sourceAssetId", "startTime", "endTime", "volume", "fadeIn", "fadeOut"],
        )?;
        let clip = Clip {
            id: id(c, "id", &field("id"))?,
            source_asset_id: id(c, "sourceAssetId", &field("sourceAssetId"))?,
            start_time: number(c, "startTime", &field("startTime"), None, (0.0, MAX_DURATION_SEC * 10.0))?,
            end_time: number(c, "endTime", &field("endTime"), None, (0.0, MAX_DURATION_SEC * 10.0))?,
            volume: number(c, "volume", &field("volume"), Some(1.0), VOLUME_RANGE)?,
            fade_in: number(c, "fadeIn", &field("fadeIn"), Some(0.0), (0.0, MAX_DURATION_SEC))?,
            fade_out: number(c, "fadeOut", &field("fadeOut"), Some(0.0), (0.0, MAX_DURATION_SEC))?,
        };
        if clip.end_time <= clip.start_time {
            return Err(refuse(&field("endTime"), "must be after startTime"));
        }
        if clip.duration() < MIN_CLIP_SEC {
            return Err(refuse(&field("endTime"), format!("a clip lasts at least {MIN_CLIP_SEC} s")));
        }
        if clip.fade_in + clip.fade_out > clip.duration() {
            return Err(refuse(&field("fadeIn"), "fadeIn + fadeOut must fit within the clip"));
        }
        if clips.iter().any(|c| c.id == clip.id) {
            return Err(refuse(&field("id"), "clip ids must be unique"));
        }
        clips.push(clip);
    }
    let total: f64 = clips.iter().map(Clip::duration).sum();
    if total > MAX_DURATION_SEC {
        return Err(refuse(
            "clips",
            format!("the clips last {:.1} min, over the {} min limit", total / 60.0, MAX_DURATION_SEC / 60.0),
        ));
    }
    let normalize = match map.get("normalize") {
        None | Some(Json::Null) | Some(Json::Bool(false)) => None,
        Some(Json::Bool(true)) => Some(Loudness::DEFAULT),
        Some(target @ Json::Object(_)) => {
            let t = object(target, "normalize", &["integratedLufs", "truePeakDb", "lra"])?;
            let d = Loudness::DEFAULT;
            Some(Loudness {
                integrated_lufs: number(
                    t,
                    "integratedLufs",
                    "normalize.integratedLufs",
                    Some(d.integrated_lufs),
                    LUFS_RANGE,
                )?,
                true_peak_db: number(t, "truePeakDb", "normalize.truePeakDb", Some(d.true_peak_db), TRUE_PEAK_RANGE)?,
                lra: number(t, "lra", "normalize.lra", Some(d.lra), LRA_RANGE)?,
            })
        }
        Some(_) => return Err(refuse("normalize", "false, true or {integratedLufs, truePeakDb, lra}")),
    };
    let output_format = match map.get("outputFormat") {
        None | Some(Json::Null) => OutputFormat::Wav,
        Some(v) => serde_json::from_value(v.clone()).map_err(|_| refuse("outputFormat", "one of wav, aac"))?,
    };
    let output_sample_rate = match map.get("outputSampleRate") {
        None | Some(Json::Null) => DEFAULT_SAMPLE_RATE,
        Some(v) => v
            .as_u64()
            .and_then(|r| u32::try_from(r).ok())
            .filter(|r| SAMPLE_RATES.contains(r))
            .ok_or_else(|| refuse("outputSampleRate", "one of 22050, 44100, 48000"))?,
    };
    Ok(Recipe { version: 1, asset_id, clips, normalize, output_format, output_sample_rate })
}

impl Recipe {
    /// The source assets in first-appearance order (ffmpeg input `i` is source `i`).
    pub fn sources(&self) -> Vec<&str> {
        let mut sources: Vec<&str> = Vec::new();
        for clip in &self.clips {
            if !sources.contains(&clip.source_asset_id.as_str()) {
                sources.push(&clip.source_asset_id);
            }
        }
        sources
    }

    pub fn total_duration(&self) -> f64 {
        self.clips.iter().map(Clip::duration).sum()
    }

    /// What previews are cached by: the canonical recipe (object keys sorted), hashed.
    pub fn hash(&self) -> String {
        let canonical = serde_json::to_value(self).expect("recipe serialises").to_string();
        Sha256::digest(canonical.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The worker's check against every source's real duration (`durations[i]` for `sources()[i]`,
    /// `None` when the caller has no such asset): the first failure, with its clip id.
    pub fn check_sources(&self, durations: &[Option<f64>]) -> Result<(), RecipeError> {
        let sources = self.sources();
        for clip in &self.clips {
            let at = sources.iter().position(|s| *s == clip.source_asset_id).expect("listed above");
            let fail = |message: String| RecipeError { clip_id: Some(clip.id.clone()), message };
            let Some(duration) = durations.get(at).copied().flatten() else {
                return Err(fail(format!("source asset {} not found", clip.source_asset_id)));
            };
            if clip.end_time > duration + 1e-6 {
                return Err(fail(format!("endTime ({}) exceeds the source's duration ({duration:.3})", clip.end_time)));
            }
        }
        Ok(())
    }
}

/// A recipe the worker cannot render (`invalid_recipe`), naming the clip when one is at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{message}", clip_id.as_ref().map(|c| format!("clip {c}: ")).unwrap_or_default())]
pub struct RecipeError {
    pub clip_id: Option<String>,
    pub message: String,
}

#[cfg(test)]
pub(super) mod tests {
    use serde_json::json;

    use super::*;

    pub(super) fn recipe() -> Json {
        json!({"version": 1, "assetId": "ast_t", "clips": [
            {"id": "a", "sourceAssetId": "ast_1", "startTime": 5, "endTime": 15, "volume": 0.8, "fadeIn": 1, "fadeOut": 0.5},
            {"id": "b", "sourceAssetId": "ast_2", "startTime": 0, "endTime": 2.5}
        ], "normalize": {"integratedLufs": -14, "truePeakDb": -1, "lra": 11}, "outputSampleRate": 48000})
    }

    #[test]
    fn a_two_source_recipe_parses() {
        let r = parse(&recipe()).unwrap();
        assert_eq!((r.sources(), r.total_duration(), r.output_sample_rate), (vec!["ast_1", "ast_2"], 12.5, 48_000));
        let mut same = recipe();
        same["clips"][1]["volume"] = json!(1);
        assert_eq!(parse(&same).unwrap().hash(), r.hash(), "defaults spelled out are the same recipe");
        let mut other = recipe();
        other["clips"][1]["endTime"] = json!(2.6);
        assert_ne!(parse(&other).unwrap().hash(), r.hash());
        let plain = parse(&json!({"version": 1, "assetId": "x", "clips": [{"id": "c", "sourceAssetId": "y", "startTime": 0, "endTime": 1}], "normalize": true})).unwrap();
        assert_eq!(
            (plain.normalize, plain.output_sample_rate, plain.output_format),
            (Some(Loudness::DEFAULT), 44_100, OutputFormat::Wav)
        );
    }

    #[test]
    fn invalid_recipes_are_refused_naming_the_field() {
        type Breaks = Box<dyn Fn(&mut Json)>;
        let cases: Vec<(&str, Breaks)> = vec![
            ("version", Box::new(|r| r["version"] = json!(2))),
            ("assetId", Box::new(|r| r["assetId"] = json!("../x"))),
            ("clips", Box::new(|r| r["clips"] = json!([]))),
            ("clips", Box::new(|r| r["clips"] = json!("a"))),
            ("clips[0].startTime", Box::new(|r| r["clips"][0]["startTime"] = json!(-1))),
            ("clips[0].endTime", Box::new(|r| r["clips"][0]["endTime"] = json!(5))),
            ("clips[0].endTime", Box::new(|r| r["clips"][0]["endTime"] = json!(5.05))),
            ("clips[0].volume", Box::new(|r| r["clips"][0]["volume"] = json!(2.5))),
            ("clips[1].fadeIn", Box::new(|r| r["clips"][1]["fadeIn"] = json!(3))),
            ("clips[0].fadeIn", Box::new(|r| r["clips"][0]["fadeIn"] = json!(-0.1))),
            ("clips[1].id", Box::new(|r| r["clips"][1]["id"] = json!("a"))),
            ("clips[1].sourceAssetId", Box::new(|r| r["clips"][1]["sourceAssetId"] = json!(7))),
            ("clips[0].speed", Box::new(|r| r["clips"][0]["speed"] = json!(2))),
            ("clips", Box::new(|r| r["clips"][0]["endTime"] = json!(1900))),
            ("normalize", Box::new(|r| r["normalize"] = json!("loud"))),
            ("normalize.integratedLufs", Box::new(|r| r["normalize"]["integratedLufs"] = json!(3))),
            ("outputSampleRate", Box::new(|r| r["outputSampleRate"] = json!(192000))),
            ("outputFormat", Box::new(|r| r["outputFormat"] = json!("flac"))),
            ("pan", Box::new(|r| r["pan"] = json!(0))),
        ];
        for (field, break_it) in cases {
            let mut r = recipe();
            break_it(&mut r);
            let err = parse(&r).unwrap_err();
            assert_eq!(err.code, ErrorCode::InvalidRequest);
            assert!(err.message.starts_with(&format!("{field}:")), "{field}: {}", err.message);
        }
        let too_many: Vec<Json> = (0..51)
            .map(|i| json!({"id": format!("c{i}"), "sourceAssetId": "s", "startTime": 0, "endTime": 1}))
            .collect();
        assert!(parse(&json!({"version": 1, "assetId": "x", "clips": too_many}))
            .unwrap_err()
            .message
            .starts_with("clips:"));
    }

    #[test]
    fn the_worker_checks_every_source() {
        let r = parse(&recipe()).unwrap();
        assert_eq!(r.check_sources(&[Some(20.0), Some(3.0)]), Ok(()));
        let missing = r.check_sources(&[Some(20.0), None]).unwrap_err();
        assert_eq!(missing.clip_id.as_deref(), Some("b"));
        assert!(missing.to_string().starts_with("clip b: source asset ast_2 not found"));
        let short = r.check_sources(&[Some(12.0), Some(3.0)]).unwrap_err();
        assert_eq!((short.clip_id.as_deref(), short.message.contains("exceeds")), (Some("a"), true));
    }
}
