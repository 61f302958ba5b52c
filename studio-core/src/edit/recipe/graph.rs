//! A recipe as an ffmpeg `-filter_complex` graph, and the loudness levelling of what it joins: one pass
//! for a preview; for a save, a first pass measures the joined clips (`loudnorm` printing its JSON), the
//! second applies the targets with those measurements, and a measured correction trims what loudnorm
//! missed ([`correction_db`]). Every chain ends in `aresample` to the output rate: loudnorm works at
//! 192 kHz, which must never leak into the file.

use serde::{Deserialize, Serialize};

use super::{Loudness, Recipe};

/// What the graph does about loudness.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Leveling<'a> {
    /// Leave the levels as the clips' gains make them.
    Off,
    /// One pass (a preview): quick, and near the targets.
    OnePass,
    /// The first of two passes: measure, printing loudnorm's JSON.
    Measure,
    /// The second of two passes: level with the first pass's measurements.
    Apply(&'a Measured),
}

/// What loudnorm measured on the joined clips (its JSON `input_*` and `target_offset` fields).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Measured {
    pub integrated_lufs: f64,
    pub true_peak_db: f64,
    pub lra: f64,
    pub threshold: f64,
    pub offset: f64,
}

impl Measured {
    /// Whether there is programme to level: silence (or less than one 400 ms block) measures −70 LUFS
    /// or below, and no gain would bring it to a target.
    pub fn is_audible(&self) -> bool {
        self.integrated_lufs.is_finite() && self.integrated_lufs > -70.0
    }
}

impl Recipe {
    /// The graph, ending in `[out]`: each clip trimmed, gained and faded at the output rate in stereo
    /// (so clips of different sources join), all joined, levelled as asked (only where the recipe asks
    /// for normalisation), and resampled to the output rate last.
    pub fn filter_graph(&self, leveling: Leveling<'_>) -> String {
        let sources = self.sources();
        let rate = self.output_sample_rate;
        let mut chains = Vec::new();
        for (k, clip) in self.clips.iter().enumerate() {
            let input = sources.iter().position(|s| *s == clip.source_asset_id).expect("listed above");
            let mut chain = format!(
                "[{input}:a]atrim=start={}:end={},asetpts=PTS-STARTPTS,\
                 aformat=sample_fmts=fltp:sample_rates={rate}:channel_layouts=stereo",
                clip.start_time, clip.end_time
            );
            if clip.volume != 1.0 {
                chain.push_str(&format!(",volume={}", clip.volume));
            }
            if clip.fade_in > 0.0 {
                chain.push_str(&format!(",afade=t=in:d={}", clip.fade_in));
            }
            if clip.fade_out > 0.0 {
                chain.push_str(&format!(",afade=t=out:st={}:d={}", clip.duration() - clip.fade_out, clip.fade_out));
            }
            chains.push(format!("{chain}[clip{k}]"));
        }
        let mut last = if self.clips.len() > 1 {
            let inputs: String = (0..self.clips.len()).map(|k| format!("[clip{k}]")).collect();
            chains.push(format!("{inputs}concat=n={}:v=0:a=1[joined]", self.clips.len()));
            "[joined]".to_owned()
        } else {
            "[clip0]".to_owned()
        };
        if let Some(loudnorm) = self.loudnorm(leveling) {
            chains.push(format!("{last}{loudnorm}[norm]"));
            last = "[norm]".to_owned();
        }
        chains.push(format!("{last}aresample={rate},aformat=channel_layouts=stereo[out]"));
        chains.join(";")
    }
}

impl Recipe {
    /// The loudnorm filter for this leveling step, if the recipe asks for normalisation and there is
    /// something to level.
    fn loudnorm(&self, leveling: Leveling<'_>) -> Option<String> {
        let target = self.normalize?;
        match leveling {
            Leveling::Off => None,
            Leveling::OnePass => Some(targets(&target)),
            Leveling::Measure => Some(format!("{}:print_format=json", targets(&target))),
            Leveling::Apply(m) if m.is_audible() => Some(format!(
                "{}:measured_I={}:measured_TP={}:measured_LRA={}:measured_thresh={}:offset={}:linear=true:\
                 print_format=json",
                targets(&target),
                m.integrated_lufs,
                m.true_peak_db,
                m.lra,
                m.threshold,
                m.offset
            )),
            Leveling::Apply(_) => None,
        }
    }

    /// A `-af` chain that levels the joined audio (one file, as [`Recipe::filter_graph`] wrote it with
    /// [`Leveling::Off`]) and brings it back to the output rate.
    pub fn leveling_chain(&self, leveling: Leveling<'_>) -> String {
        let resample = format!("aresample={},aformat=channel_layouts=stereo", self.output_sample_rate);
        match self.loudnorm(leveling) {
            Some(loudnorm) => format!("{loudnorm},{resample}"),
            None => resample,
        }
    }
}

/// The gain (dB) that brings `measured` to `target`'s integrated loudness, never past its true-peak
/// ceiling (less a 0.1 dB margin for the encoder): loudnorm's own result can miss by more than 1 LU on
/// short or uneven programme, so the saved file is measured and trimmed by this.
pub fn correction_db(target: &Loudness, measured: &Loudness) -> f64 {
    let to_target = target.integrated_lufs - measured.integrated_lufs;
    let headroom = target.true_peak_db - 0.1 - measured.true_peak_db;
    to_target.min(headroom)
}

fn targets(t: &Loudness) -> String {
    format!("loudnorm=I={}:TP={}:LRA={}", t.integrated_lufs, t.true_peak_db, t.lra)
}

#[cfg(test)]
mod tests {
    use super::super::{parse, tests::recipe};
    use super::*;

    #[test]
    fn a_two_source_graph_joins_levels_and_resamples_last() {
        let r = parse(&recipe()).unwrap();
        let clips = "[0:a]atrim=start=5:end=15,asetpts=PTS-STARTPTS,aformat=sample_fmts=fltp:sample_rates=48000:\
                     channel_layouts=stereo,volume=0.8,afade=t=in:d=1,afade=t=out:st=9.5:d=0.5[clip0];\
                     [1:a]atrim=start=0:end=2.5,asetpts=PTS-STARTPTS,aformat=sample_fmts=fltp:sample_rates=48000:\
                     channel_layouts=stereo[clip1];[clip0][clip1]concat=n=2:v=0:a=1[joined];";
        assert_eq!(
            r.filter_graph(Leveling::OnePass),
            format!("{clips}[joined]loudnorm=I=-14:TP=-1:LRA=11[norm];[norm]aresample=48000,aformat=channel_layouts=stereo[out]")
        );
        assert_eq!(
            r.filter_graph(Leveling::Off),
            format!("{clips}[joined]aresample=48000,aformat=channel_layouts=stereo[out]")
        );
        assert!(r.filter_graph(Leveling::Measure).contains("loudnorm=I=-14:TP=-1:LRA=11:print_format=json[norm]"));
        let m = Measured { integrated_lufs: -20.5, true_peak_db: -3.0, lra: 4.0, threshold: -31.0, offset: 0.2 };
        assert!(r.filter_graph(Leveling::Apply(&m)).contains(
            "loudnorm=I=-14:TP=-1:LRA=11:measured_I=-20.5:measured_TP=-3:measured_LRA=4:measured_thresh=-31:\
             offset=0.2:linear=true:print_format=json[norm];[norm]aresample=48000,aformat=channel_layouts=stereo[out]"
        ));
        let silent = Measured { integrated_lufs: f64::NEG_INFINITY, ..m };
        assert!(!r.filter_graph(Leveling::Apply(&silent)).contains("loudnorm"), "silence is not levelled");
        let mut plain = recipe();
        plain["normalize"] = serde_json::json!(false);
        assert!(!parse(&plain).unwrap().filter_graph(Leveling::OnePass).contains("loudnorm"));
        assert_eq!(
            r.leveling_chain(Leveling::Measure),
            "loudnorm=I=-14:TP=-1:LRA=11:print_format=json,aresample=48000,aformat=channel_layouts=stereo"
        );
        assert_eq!(r.leveling_chain(Leveling::Apply(&silent)), "aresample=48000,aformat=channel_layouts=stereo");
    }

    #[test]
    fn the_correction_reaches_the_target_within_the_ceiling() {
        let target = Loudness { integrated_lufs: -16.0, true_peak_db: -1.5, lra: 11.0 };
        let quiet = Loudness { integrated_lufs: -17.3, true_peak_db: -9.0, lra: 3.0 };
        assert!((correction_db(&target, &quiet) - 1.3).abs() < 1e-9);
        let loud = Loudness { integrated_lufs: -14.7, true_peak_db: -11.3, lra: 3.0 };
        assert!((correction_db(&target, &loud) + 1.3).abs() < 1e-9);
        let peaky = Loudness { integrated_lufs: -20.0, true_peak_db: -2.0, lra: 3.0 };
        assert!((correction_db(&target, &peaky) - 0.4).abs() < 1e-9, "the ceiling wins");
    }
}
