//! The one way a media tool is pointed at an untrusted file. ffprobe and ffmpeg follow references
//! inside some containers — HLS and DASH playlists, `ffconcat` lists, image sequences, SDP, external
//! data references — which would let an upload make the worker read its own files or reach the
//! network. So every tool call reads exactly the one local file, only through the `file` protocol,
//! and only with a demuxer for the audio and video containers a creator uploads. Anything else fails
//! to open and is rejected as `not_audio`.

use std::path::Path;

/// ffmpeg demuxers a creator's upload may use: self-contained audio and video containers. Not on it
/// (on purpose): hls, dash, concat, image2, sdp, rtsp, data, tee, ffmetadata, tty, lavfi, …
pub const ACCEPTED_DEMUXERS: &[&str] = &[
    "aac", "ac3", "aiff", "amr", "ape", "asf", "au", "avi", "caf", "dts", "eac3", "flac", "flv", "matroska", "mov",
    "mp3", "mpeg", "mpegts", "ogg", "w64", "wav", "wv",
];

/// Input options and `-i` for `path`: the `file` protocol only, the accepted demuxers only.
pub fn args(path: &Path) -> Vec<String> {
    vec![
        "-protocol_whitelist".into(),
        "file".into(),
        "-format_whitelist".into(),
        ACCEPTED_DEMUXERS.join(","),
        "-i".into(),
        format!("file:{}", path.display()),
    ]
}

/// An output path for ffmpeg, never read as a protocol or pattern.
pub fn output(path: &Path) -> String {
    format!("file:{}", path.display())
}

/// Whether ffprobe's `format_name` (a comma-separated list of names) is an accepted demuxer.
pub fn is_accepted_format(format_name: &str) -> bool {
    format_name.split(',').any(|name| ACCEPTED_DEMUXERS.contains(&name.trim()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_self_contained_containers_are_accepted() {
        assert!(is_accepted_format("mov,mp4,m4a,3gp,3g2,mj2"));
        assert!(is_accepted_format("matroska,webm"));
        assert!(is_accepted_format("wav"));
        for refused in ["hls", "dash", "concat", "image2", "sdp", "tty", "ffmetadata", ""] {
            assert!(!is_accepted_format(refused), "{refused}");
        }
    }

    #[test]
    fn the_input_is_a_plain_local_file() {
        let a = args(Path::new("/tmp/w/source"));
        assert_eq!(a[..2], ["-protocol_whitelist", "file"]);
        assert_eq!(a.last().unwrap(), "file:/tmp/w/source");
    }
}
