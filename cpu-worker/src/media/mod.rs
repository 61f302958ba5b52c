//! Media tools: child processes, the safe way to point them at a file, ffprobe, waveform peaks, and
//! edit recipes through ffmpeg.

pub mod edit;
pub mod input;
pub mod peaks;
pub mod probe;
pub mod process;
pub mod ytdlp;
