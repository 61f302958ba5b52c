//! What a render accepts, checked where the request arrives (the edge) with the same contract the
//! render service applies: `contracts/render.json`, compiled in here, shipped in the Modal image and read
//! by `modal_app/rules.py`, and served to the page by `GET /api/render/options`. A shared case file
//! (`contracts/render_cases.json`) is judged by both sides' tests, so they cannot drift apart.

pub mod calls;
pub mod events;
pub mod job;

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json};

use crate::error_code::{ErrorCode, Problem};

const CONTRACT_JSON: &str = include_str!("../../../contracts/render.json");

/// An inclusive range, or one open at the bottom (`minExclusive`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Range {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_exclusive: Option<f64>,
    pub max: f64,
}

impl Range {
    fn contains(&self, v: f64) -> bool {
        v <= self.max && self.min.is_none_or(|m| v >= m) && self.min_exclusive.is_none_or(|m| v > m)
    }

    fn describe(&self) -> String {
        match (self.min, self.min_exclusive) {
            (Some(min), _) => format!("must be between {min} and {}", self.max),
            (None, Some(min)) => format!("must be above {min} and at most {}", self.max),
            (None, None) => format!("must be at most {}", self.max),
        }
    }
}

/// One output format.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Format {
    pub id: String,
    pub label: String,
    pub width: u32,
    pub height: u32,
    pub projection: String,
    pub aspect: String,
}

/// How a format maps the scene onto the frame.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Projection {
    pub id: String,
    pub label: String,
    /// A 360° video (equirect), as opposed to a flat one.
    pub spherical: bool,
}

/// One choice of a list setting (a look, a background, a quality).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Choice {
    pub id: String,
    pub label: String,
}

/// Every default of a render, in one place.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Defaults {
    pub fps: i64,
    pub quality: String,
    pub mode: String,
    pub skybox_preset: String,
    pub intensity: f64,
    pub skybox_reactivity: f64,
    pub seed: i64,
    pub scale: f64,
    /// What a form offers for a quick draft (`preview.seconds`, `preview.scale`); not applied to requests.
    pub draft_seconds: f64,
    pub draft_scale: f64,
}

/// A state of a call on the render service (`GET /status`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallStateRule {
    pub id: String,
    pub terminal: bool,
    pub meaning: String,
}

/// A code a render can fail with, and whether the job is run again for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailureCodeRule {
    pub code: String,
    pub retried: bool,
    pub meaning: String,
}

/// The render contract.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RenderRules {
    pub formats: Vec<Format>,
    pub projections: Vec<Projection>,
    pub fps: Vec<i64>,
    pub modes: Vec<Choice>,
    pub skybox_presets: Vec<Choice>,
    pub qualities: Vec<Choice>,
    pub defaults: Defaults,
    pub dynamics: Vec<String>,
    pub dynamics_range: Range,
    pub intensity: Range,
    pub skybox_reactivity: Range,
    pub seed: Range,
    pub scale: Range,
    pub preview_seconds: Range,
    pub call_states: Vec<CallStateRule>,
    pub service_stages: Vec<String>,
    pub job_stages: Vec<String>,
    pub failure_codes: Vec<FailureCodeRule>,
}

impl RenderRules {
    /// A contract from its JSON text (the compiled-in one is [`rules`]; tests load modified copies).
    pub fn from_json(text: &str) -> Result<RenderRules, serde_json::Error> {
        serde_json::from_str(text)
    }

    pub fn format(&self, id: &str) -> Option<&Format> {
        self.formats.iter().find(|f| f.id == id)
    }

    /// The answer of `GET /api/render/options`: the whole contract, so a form offers exactly what
    /// will be accepted, labelled as the contract labels it.
    pub fn options_json(&self) -> String {
        serde_json::to_string(self).expect("the contract serialises")
    }
}

fn ids(choices: &[Choice]) -> Vec<String> {
    choices.iter().map(|c| c.id.clone()).collect()
}

/// The compiled-in contract.
pub fn rules() -> &'static RenderRules {
    static RULES: OnceLock<RenderRules> = OnceLock::new();
    RULES.get_or_init(|| RenderRules::from_json(CONTRACT_JSON).expect("contracts/render.json is valid"))
}

/// A call's state on the render service, as `GET /status` reports it (`contracts/render.json` →
/// `callStates`, checked by a test).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallState {
    Pending,
    Running,
    Complete,
    Failed,
    Cancelled,
    Unknown,
}

impl CallState {
    pub const ALL: [CallState; 6] = [
        CallState::Pending,
        CallState::Running,
        CallState::Complete,
        CallState::Failed,
        CallState::Cancelled,
        CallState::Unknown,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CallState::Pending => "pending",
            CallState::Running => "running",
            CallState::Complete => "complete",
            CallState::Failed => "failed",
            CallState::Cancelled => "cancelled",
            CallState::Unknown => "unknown",
        }
    }

    pub fn parse(state: &str) -> Option<CallState> {
        Self::ALL.into_iter().find(|s| s.as_str() == state)
    }

    /// The call will not change any more.
    pub fn is_terminal(self) -> bool {
        !matches!(self, CallState::Pending | CallState::Running)
    }
}

/// A render job's stages, in order (`contracts/render.json` → `jobStages`): a stage only moves forward.
pub fn job_stages() -> &'static [String] {
    &rules().job_stages
}

/// Which audio of an asset to render.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AudioVariant {
    Original,
    Prepared,
}

/// The look.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Visual {
    pub mode: String,
    pub skybox_preset: String,
    pub intensity: f64,
    pub skybox_reactivity: f64,
    pub dynamics: BTreeMap<String, f64>,
}

/// A cheap draft: the first `seconds` and/or a smaller frame.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Preview {
    pub seconds: Option<f64>,
    pub scale: Option<f64>,
}

/// Everything about a render but its audio, checked, with defaults filled in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RenderSettings {
    pub format: String,
    pub fps: i64,
    pub visual: Visual,
    pub seed: i64,
    pub quality: String,
    pub preview: Option<Preview>,
}

/// `POST /api/render`'s body, checked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RenderRequest {
    pub asset_id: String,
    /// `Some(Prepared)`: the asset's prepared audio when it has one; otherwise the original.
    pub variant: Option<AudioVariant>,
    pub settings: RenderSettings,
}

fn refuse(field: &str, reason: impl std::fmt::Display) -> Problem {
    Problem::new(ErrorCode::InvalidRequest, format!("{field}: {reason}"))
}

/// A JSON object's fields, refusing any not in `allowed`.
fn object<'a>(value: &'a Json, field: &str, allowed: &[&str]) -> Result<&'a Map<String, Json>, Problem> {
    let map = value.as_object().ok_or_else(|| refuse(field, "must be an object"))?;
    if let Some(unknown) = map.keys().find(|k| !allowed.contains(&k.as_str())) {
        let path = if field == "body" { unknown.clone() } else { format!("{field}.{unknown}") };
        return Err(refuse(&path, format!("unknown field; expected one of {}", allowed.join(", "))));
    }
    Ok(map)
}

fn one_of(
    map: &Map<String, Json>,
    key: &str,
    path: &str,
    choices: &[String],
    default: Option<&str>,
) -> Result<String, Problem> {
    match map.get(key) {
        None | Some(Json::Null) => default.map(str::to_owned).ok_or_else(|| refuse(path, "is required")),
        Some(Json::String(s)) if choices.contains(s) => Ok(s.clone()),
        Some(other) => Err(refuse(path, format!("unknown value {other}; one of {}", choices.join(", ")))),
    }
}

fn number(map: &Map<String, Json>, key: &str, path: &str, range: &Range) -> Result<Option<f64>, Problem> {
    match map.get(key) {
        None | Some(Json::Null) => Ok(None),
        Some(v) => {
            let n = v.as_f64().filter(|n| n.is_finite()).ok_or_else(|| refuse(path, "must be a number"))?;
            if range.contains(n) {
                Ok(Some(n))
            } else {
                Err(refuse(path, range.describe()))
            }
        }
    }
}

fn integer(map: &Map<String, Json>, key: &str, path: &str) -> Result<Option<i64>, Problem> {
    match map.get(key) {
        None | Some(Json::Null) => Ok(None),
        Some(v) => v.as_i64().map(Some).ok_or_else(|| refuse(path, "must be a whole number")),
    }
}

/// Checks the render settings part of a body (everything but `audio`) against contract `r`.
pub fn parse_settings(r: &RenderRules, map: &Map<String, Json>) -> Result<RenderSettings, Problem> {
    let d = &r.defaults;
    let format_ids: Vec<String> = r.formats.iter().map(|f| f.id.clone()).collect();
    let format = one_of(map, "format", "format", &format_ids, None)?;
    let fps = integer(map, "fps", "fps")?.unwrap_or(d.fps);
    if !r.fps.contains(&fps) {
        return Err(refuse("fps", format!("must be one of {:?}", r.fps)));
    }
    let seed = integer(map, "seed", "seed")?.unwrap_or(d.seed);
    if !r.seed.contains(seed as f64) {
        return Err(refuse("seed", r.seed.describe()));
    }
    let quality = one_of(map, "quality", "quality", &ids(&r.qualities), Some(&d.quality))?;
    let visual = match map.get("visual") {
        None | Some(Json::Null) => parse_visual(r, &Map::new())?,
        Some(v) => parse_visual(
            r,
            object(v, "visual", &["mode", "skyboxPreset", "intensity", "skyboxReactivity", "dynamics"])?,
        )?,
    };
    let preview = match map.get("preview") {
        None | Some(Json::Null) => None,
        Some(v) => {
            let p = object(v, "preview", &["seconds", "scale"])?;
            Some(Preview {
                seconds: number(p, "seconds", "preview.seconds", &r.preview_seconds)?,
                scale: number(p, "scale", "preview.scale", &r.scale)?,
            })
        }
    };
    Ok(RenderSettings { format, fps, visual, seed, quality, preview })
}

fn parse_visual(r: &RenderRules, map: &Map<String, Json>) -> Result<Visual, Problem> {
    let d = &r.defaults;
    let mut dynamics = BTreeMap::new();
    if let Some(d) = map.get("dynamics").filter(|d| !d.is_null()) {
        let d = d.as_object().ok_or_else(|| refuse("visual.dynamics", "must be an object"))?;
        for key in d.keys() {
            if !r.dynamics.contains(key) {
                return Err(refuse(
                    &format!("visual.dynamics.{key}"),
                    format!("unknown; one of {}", r.dynamics.join(", ")),
                ));
            }
            let n = number(d, key, &format!("visual.dynamics.{key}"), &r.dynamics_range)?.unwrap_or_default();
            dynamics.insert(key.clone(), n);
        }
    }
    Ok(Visual {
        mode: one_of(map, "mode", "visual.mode", &ids(&r.modes), Some(&d.mode))?,
        skybox_preset: one_of(
            map,
            "skyboxPreset",
            "visual.skyboxPreset",
            &ids(&r.skybox_presets),
            Some(&d.skybox_preset),
        )?,
        intensity: number(map, "intensity", "visual.intensity", &r.intensity)?.unwrap_or(d.intensity),
        skybox_reactivity: number(map, "skyboxReactivity", "visual.skyboxReactivity", &r.skybox_reactivity)?
            .unwrap_or(d.skybox_reactivity),
        dynamics,
    })
}

/// Checks `POST /api/render`'s whole body; the first problem is refused naming its field.
pub fn parse_request(body: &Json) -> Result<RenderRequest, Problem> {
    parse_request_with(rules(), body)
}

/// [`parse_request`] against another contract (a test's modified copy).
pub fn parse_request_with(r: &RenderRules, body: &Json) -> Result<RenderRequest, Problem> {
    // `callbackUrl` is the create's, not the render's: the route checks it (`net_policy::check_callback_url`).
    let map = object(body, "body", &["audio", "format", "fps", "visual", "seed", "quality", "preview", "callbackUrl"])?;
    let audio =
        object(map.get("audio").ok_or_else(|| refuse("audio", "is required"))?, "audio", &["assetId", "variant"])?;
    let asset_id = match audio.get("assetId") {
        Some(Json::String(id)) if !id.is_empty() && id.len() <= 64 => id.clone(),
        _ => return Err(refuse("audio.assetId", "must be an asset id")),
    };
    let variant = match audio.get("variant") {
        None | Some(Json::Null) => None,
        Some(v) => {
            Some(serde_json::from_value(v.clone()).map_err(|_| refuse("audio.variant", "one of original, prepared"))?)
        }
    };
    Ok(RenderRequest { asset_id, variant, settings: parse_settings(r, map)? })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct Case {
        name: String,
        settings: Json,
        field: Option<String>,
    }

    /// The cases `modal_app/tests/test_rules.py` runs against the render service's validator.
    const CASES: &str = include_str!("../../../contracts/render_cases.json");

    #[test]
    fn the_shared_cases_are_judged_as_the_render_service_judges_them() {
        let cases: Vec<Case> = serde_json::from_str(CASES).unwrap();
        assert!(cases.len() >= 15);
        for case in cases {
            let mut body = case.settings.clone();
            body["audio"] = serde_json::json!({"assetId": "ast_1"});
            match (parse_request(&body), case.field) {
                (Ok(_), None) => {}
                (Err(p), Some(field)) => {
                    assert_eq!(p.code, ErrorCode::InvalidRequest);
                    assert!(p.message.starts_with(&field), "{}: {} does not name {field}", case.name, p.message);
                }
                (outcome, field) => panic!("{}: expected refusal naming {field:?}, got {outcome:?}", case.name),
            }
        }
    }

    #[test]
    fn defaults_are_filled_in_and_audio_is_checked() {
        let r = parse_request(&serde_json::json!({"audio": {"assetId": "ast_1"}, "format": "360-mono-4k"})).unwrap();
        assert_eq!((r.settings.fps, r.settings.seed, r.settings.quality.as_str()), (30, 0, "balanced"));
        assert_eq!((r.settings.visual.mode.as_str(), r.settings.visual.intensity), ("flame", 1.7));
        assert_eq!(r.variant, None);
        for (body, field) in [
            (serde_json::json!({"format": "360-mono-4k"}), "audio"),
            (serde_json::json!({"audio": {}, "format": "360-mono-4k"}), "audio.assetId"),
            (
                serde_json::json!({"audio": {"assetId": "a", "variant": "remix"}, "format": "360-mono-4k"}),
                "audio.variant",
            ),
            (serde_json::json!({"audio": {"assetId": "a"}}), "format"),
            (serde_json::json!({"audio": {"assetId": "a"}, "format": "360-mono-4k", "fps": "60"}), "fps"),
            (serde_json::json!({"audio": {"assetId": "a"}, "format": "360-mono-4k", "extra": 1}), "extra"),
            (serde_json::json!([1, 2]), "body"),
        ] {
            assert!(parse_request(&body).unwrap_err().message.starts_with(field), "{body}");
        }
    }

    #[test]
    fn call_states_are_the_contracts() {
        let listed: Vec<(&str, bool)> = rules().call_states.iter().map(|s| (s.id.as_str(), s.terminal)).collect();
        let ours: Vec<(&str, bool)> = CallState::ALL.iter().map(|s| (s.as_str(), s.is_terminal())).collect();
        assert_eq!(ours, listed);
        assert_eq!(CallState::parse("running"), Some(CallState::Running));
        assert_eq!(CallState::parse("exploded"), None);
    }

    #[test]
    fn every_default_is_the_contracts_and_valid() {
        let r = rules();
        let d = &r.defaults;
        assert!(r.fps.contains(&d.fps));
        assert!(r.qualities.iter().any(|q| q.id == d.quality));
        assert!(r.modes.iter().any(|m| m.id == d.mode));
        assert!(r.skybox_presets.iter().any(|p| p.id == d.skybox_preset));
        assert!(r.intensity.contains(d.intensity) && r.skybox_reactivity.contains(d.skybox_reactivity));
        assert!(r.seed.contains(d.seed as f64) && r.scale.contains(d.scale));
        assert!(r.preview_seconds.contains(d.draft_seconds) && r.scale.contains(d.draft_scale));
        for f in &r.formats {
            assert!(r.projections.iter().any(|p| p.id == f.projection), "{}: unknown projection", f.id);
        }
    }

    /// A format added to a copy of the contract alone is accepted, and offered with its label.
    #[test]
    fn a_format_added_to_the_contract_alone_is_accepted_and_offered() {
        let mut contract: Json = serde_json::from_str(CONTRACT_JSON).unwrap();
        contract["formats"].as_array_mut().unwrap().push(serde_json::json!({
            "id": "flat-test-4x5", "label": "Test 4:5", "width": 64, "height": 80,
            "projection": "perspective", "aspect": "4:5"
        }));
        let modified = RenderRules::from_json(&contract.to_string()).unwrap();
        let body = serde_json::json!({"audio": {"assetId": "ast_1"}, "format": "flat-test-4x5"});
        assert_eq!(parse_request_with(&modified, &body).unwrap().settings.format, "flat-test-4x5");
        assert!(parse_request(&body).unwrap_err().message.starts_with("format"), "the shipped contract lacks it");
        let options: Json = serde_json::from_str(&modified.options_json()).unwrap();
        let offered = options["formats"].as_array().unwrap().iter().find(|f| f["id"] == "flat-test-4x5").unwrap();
        assert_eq!((offered["label"].as_str(), offered["width"].as_u64()), (Some("Test 4:5"), Some(64)));
        assert_eq!(modified.format("flat-test-4x5").map(|f| (f.width, f.height)), Some((64, 80)));
    }

    #[test]
    fn the_nine_formats_are_known() {
        let ids: Vec<&str> = rules().formats.iter().map(|f| f.id.as_str()).collect();
        assert_eq!(ids.len(), 9);
        assert!(ids.contains(&"360-stereo-8k") && ids.contains(&"flat-1080p-portrait"));
    }
}
