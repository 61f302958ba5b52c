//! The waveform: ffmpeg decodes to mono 16-bit PCM at `PEAKS_PER_SECOND × 256` Hz on a pipe, and every
//! 256 samples become one `[min, max]` pair in `[-1, 1]` — about 50 pairs per second, streamed, so a
//! 30-minute file never sits in memory.

use std::path::Path;

use studio_core::limits::PEAKS_PER_SECOND;
use tokio::io::AsyncReadExt;

use super::input;
use super::process::{GroupChild, ProcessError};

pub const SAMPLES_PER_PEAK: usize = 256;

/// Folds 16-bit samples into `[min, max]` pairs.
#[derive(Debug, Default)]
pub struct PeakAccumulator {
    pairs: Vec<[f32; 2]>,
    count: usize,
    min: i16,
    max: i16,
}

impl PeakAccumulator {
    pub fn push(&mut self, sample: i16) {
        if self.count == 0 {
            self.min = sample;
            self.max = sample;
        } else {
            self.min = self.min.min(sample);
            self.max = self.max.max(sample);
        }
        self.count += 1;
        if self.count == SAMPLES_PER_PEAK {
            self.flush();
        }
    }

    fn flush(&mut self) {
        if self.count > 0 {
            let scale = |s: i16| (s as f32 / 32768.0 * 10_000.0).round() / 10_000.0;
            self.pairs.push([scale(self.min), scale(self.max)]);
            self.count = 0;
        }
    }

    pub fn finish(mut self) -> Vec<[f32; 2]> {
        self.flush();
        self.pairs
    }
}

pub async fn compute(ffmpeg: &str, path: &Path) -> Result<Vec<[f32; 2]>, ProcessError> {
    let rate = (PEAKS_PER_SECOND as usize * SAMPLES_PER_PEAK).to_string();
    let mut args: Vec<String> = ["-v", "error", "-nostdin"].map(String::from).to_vec();
    args.extend(input::args(path));
    args.extend(
        ["-vn", "-ac", "1", "-ar", rate.as_str(), "-f", "s16le", "-acodec", "pcm_s16le", "pipe:1"].map(String::from),
    );
    let mut child = GroupChild::spawn(ffmpeg, &args)?;
    let mut stdout = child.stdout();
    let mut acc = PeakAccumulator::default();
    let mut buf = vec![0u8; 64 * 1024];
    let mut carry: Option<u8> = None;
    loop {
        let n = stdout.read(&mut buf).await.map_err(|source| ProcessError::Io { program: ffmpeg.into(), source })?;
        if n == 0 {
            break;
        }
        let mut bytes = &buf[..n];
        if let Some(lo) = carry.take() {
            acc.push(i16::from_le_bytes([lo, bytes[0]]));
            bytes = &bytes[1..];
        }
        let mut chunks = bytes.chunks_exact(2);
        for pair in &mut chunks {
            acc.push(i16::from_le_bytes([pair[0], pair[1]]));
        }
        carry = chunks.remainder().first().copied();
    }
    child.wait().await?;
    Ok(acc.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_256_samples_make_one_pair_and_the_tail_counts() {
        let mut acc = PeakAccumulator::default();
        for i in 0..(SAMPLES_PER_PEAK * 2 + 10) {
            acc.push(if i % 2 == 0 { 16384 } else { -32768 });
        }
        let pairs = acc.finish();
        assert_eq!(pairs.len(), 3);
        assert_eq!(pairs[0], [-1.0, 0.5]);
    }

    #[test]
    fn silence_is_flat() {
        let mut acc = PeakAccumulator::default();
        (0..SAMPLES_PER_PEAK).for_each(|_| acc.push(0));
        assert_eq!(acc.finish(), vec![[0.0, 0.0]]);
    }
}
