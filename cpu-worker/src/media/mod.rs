//! Media tools: child processes, the safe way to point them at a file, ffprobe, and waveform peaks.

pub mod input;
pub mod peaks;
pub mod probe;
pub mod process;
pub mod ytdlp;
