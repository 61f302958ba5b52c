//! Media tools: child processes, ffprobe, audio extraction and waveform peaks.

pub mod peaks;
pub mod probe;
pub mod process;
