//! The render contract's types: `contracts/render.json` compiled in — formats, projections, looks,
//! backgrounds, qualities, defaults, ranges, the render service's call states, the stages and the
//! failure codes — and the enums Rust code branches on, checked against the file by the tests below.

use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

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
    pub(crate) fn contains(&self, v: f64) -> bool {
        v <= self.max && self.min.is_none_or(|m| v >= m) && self.min_exclusive.is_none_or(|m| v > m)
    }

    pub(crate) fn describe(&self) -> String {
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
    /// The slowest a source download may be (see [`crate::source_rate`]).
    pub source_rate: crate::source_rate::SourceRate,
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

pub(crate) fn ids(choices: &[Choice]) -> Vec<String> {
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

#[cfg(test)]
mod tests {
    use serde_json::Value as Json;

    use super::*;
    use crate::render::{parse_request, parse_request_with};
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
