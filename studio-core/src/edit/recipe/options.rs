//! What an edit form offers (`GET /api/audio/edit/options`): the loudness presets, output formats and
//! sample rates with their labels and defaults, and the recipe's limits — read from the constants the
//! recipe check uses, so the page holds no copy of them.

use serde_json::{json, Value as Json};

use super::{
    Loudness, DEFAULT_SAMPLE_RATE, LRA_RANGE, LUFS_RANGE, MAX_CLIPS, MIN_CLIP_SEC, SAMPLE_RATES, TRUE_PEAK_RANGE,
    VOLUME_RANGE,
};
use crate::limits::MAX_DURATION_SEC;

/// A platform loudness target: integrated LUFS with the true-peak ceiling and range streaming services use.
fn target(integrated_lufs: f64) -> Json {
    json!({"integratedLufs": integrated_lufs, "truePeakDb": -1.5, "lra": 11.0})
}

fn range((min, max): (f64, f64)) -> Json {
    json!({"min": min, "max": max})
}

fn rate_label(hz: u32) -> String {
    format!("{} kHz", f64::from(hz) / 1000.0)
}

/// The options as JSON.
pub fn options_json() -> Json {
    let quiet = Loudness::DEFAULT.integrated_lufs;
    let mut rates: Vec<u32> = SAMPLE_RATES.to_vec();
    // The default first, then the rest from the highest.
    rates.sort_by_key(|&hz| (hz != DEFAULT_SAMPLE_RATE, std::cmp::Reverse(hz)));
    json!({
        "loudness": {
            "default": "podcast",
            "presets": [
                {"id": "off", "label": "Leave as is", "normalize": false},
                {"id": "streaming", "label": "Streaming (−14 LUFS)", "normalize": target(-14.0)},
                {"id": "podcast", "label": "Podcast (−16 LUFS)", "normalize": target(-16.0)},
                {"id": "broadcast", "label": "Broadcast (−23 LUFS)", "normalize": target(-23.0)},
                // Spelled out (not `true`), as a saved recipe stores it, so a saved one finds its preset.
                {"id": "quiet", "label": format!("Quiet ({quiet} LUFS)").replace('-', "−"), "normalize": Loudness::DEFAULT},
            ],
        },
        "outputFormats": {"default": "wav", "choices": [{"id": "wav", "label": "WAV"}, {"id": "aac", "label": "AAC"}]},
        "sampleRates": {
            "default": DEFAULT_SAMPLE_RATE,
            "choices": rates.iter().map(|&hz| json!({"hz": hz, "label": rate_label(hz)})).collect::<Vec<_>>(),
        },
        "limits": {
            "maxClips": MAX_CLIPS,
            "minClipSec": MIN_CLIP_SEC,
            "maxTotalSec": MAX_DURATION_SEC,
            "volume": range(VOLUME_RANGE),
            "fadeSec": range((0.0, MAX_DURATION_SEC)),
            "integratedLufs": range(LUFS_RANGE),
            "truePeakDb": range(TRUE_PEAK_RANGE),
            "lra": range(LRA_RANGE),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every preset, format and rate the form offers is one the recipe check accepts.
    #[test]
    fn every_offered_choice_is_accepted() {
        let options = options_json();
        let recipe = |normalize: &Json, format: &Json, rate: &Json| {
            json!({"version": 1, "assetId": "ast_1", "normalize": normalize, "outputFormat": format,
                   "outputSampleRate": rate,
                   "clips": [{"id": "a", "sourceAssetId": "ast_1", "startTime": 0, "endTime": 5}]})
        };
        let (format, rate) = (&options["outputFormats"]["default"], &options["sampleRates"]["default"]);
        for preset in options["loudness"]["presets"].as_array().unwrap() {
            super::super::parse(&recipe(&preset["normalize"], format, rate)).unwrap();
        }
        for choice in options["outputFormats"]["choices"].as_array().unwrap() {
            super::super::parse(&recipe(&Json::Bool(false), &choice["id"], rate)).unwrap();
        }
        let rates = options["sampleRates"]["choices"].as_array().unwrap();
        assert_eq!(rates.len(), SAMPLE_RATES.len());
        assert_eq!(rates[0]["label"], "44.1 kHz");
        for choice in rates {
            super::super::parse(&recipe(&Json::Bool(false), format, &choice["hz"])).unwrap();
        }
        let presets = options["loudness"]["presets"].as_array().unwrap();
        assert!(presets.iter().any(|p| p["id"] == options["loudness"]["default"]));
        assert_eq!(presets.last().unwrap()["label"], "Quiet (−24 LUFS)");
    }
}
