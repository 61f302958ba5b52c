//! `POST /api/render`'s body checked against the contract: the first problem is refused naming its
//! field, and every default is filled in from the contract.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json};

use super::contract::{ids, rules, Range, RenderRules};
use crate::error_code::{ErrorCode, Problem};

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
}
