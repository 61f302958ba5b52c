//! Generated test media.

/// A 440 Hz tone as a 16-bit PCM WAV.
pub fn wav(seconds: f64, rate: u32, channels: u16) -> Vec<u8> {
    wav_of(seconds, rate, channels, |t| (t * 440.0 * std::f64::consts::TAU).sin() * 12_000.0)
}

/// A 16-bit PCM WAV of `seconds` whose every channel carries `sample(t)` (t in seconds, ±32767 full scale).
pub fn wav_of(seconds: f64, rate: u32, channels: u16, sample: impl Fn(f64) -> f64) -> Vec<u8> {
    let frames = (seconds * rate as f64) as u32;
    let data_len = frames * channels as u32 * 2;
    let mut out = Vec::with_capacity(44 + data_len as usize);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + data_len).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&channels.to_le_bytes());
    out.extend_from_slice(&rate.to_le_bytes());
    out.extend_from_slice(&(rate * channels as u32 * 2).to_le_bytes());
    out.extend_from_slice(&(channels * 2).to_le_bytes());
    out.extend_from_slice(&16u16.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&data_len.to_le_bytes());
    for i in 0..frames {
        let s = sample(i as f64 / rate as f64) as i16;
        for _ in 0..channels {
            out.extend_from_slice(&s.to_le_bytes());
        }
    }
    out
}
