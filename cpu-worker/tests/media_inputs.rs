//! ffprobe and ffmpeg (the real ones) read only the one file they are given: containers that refer to
//! other files or to the network are rejected as `not_audio` without being followed, identically
//! whether the referenced file exists or not, while every container a creator uploads still works.

use std::path::{Path, PathBuf};
use std::process::Command;

use cpu_worker::media::peaks;
use cpu_worker::media::probe::{probe, ProbeError};
use studio_core::jobs::JobFailure;
use studio_core::ErrorCode;

fn ffmpeg(args: &[&str], out: &Path) {
    let status = Command::new("ffmpeg").args(["-v", "error", "-y"]).args(args).arg(out).status().unwrap();
    assert!(status.success(), "ffmpeg {args:?}");
}

/// A 2-second tone in the given container (ffmpeg picks the muxer from the extension).
fn tone(dir: &Path, name: &str, codec: &[&str]) -> PathBuf {
    let out = dir.join(name);
    let mut args = vec!["-f", "lavfi", "-i", "sine=frequency=330:duration=2"];
    args.extend_from_slice(codec);
    ffmpeg(&args, &out);
    out
}

async fn rejection(path: &Path) -> JobFailure {
    match probe("ffprobe", path).await {
        Err(ProbeError::Rejected(f)) => f,
        Ok(p) => panic!("{} was accepted as {:?}", path.display(), p.audio),
        Err(ProbeError::Tool(e)) => panic!("ffprobe could not run: {e}"),
    }
}

#[tokio::test]
async fn reference_following_containers_are_not_audio_and_not_followed() {
    let dir = tempfile::tempdir().unwrap();
    let secret = tone(dir.path(), "worker-local.mp3", &["-c:a", "libmp3lame"]);
    let missing = dir.path().join("does-not-exist.mp3");
    let write = |name: &str, text: String| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    };
    let hls = |target: &str| format!("#EXTM3U\n#EXT-X-TARGETDURATION:3\n#EXTINF:2.0,\n{target}\n#EXT-X-ENDLIST\n");
    let hls_path = write("upload-1", hls(secret.to_str().unwrap()));
    let hls_url = write("upload-2", hls(&format!("file://{}", secret.display())));
    let hls_missing = write("upload-3", hls(missing.to_str().unwrap()));
    let concat = write("upload-4", format!("ffconcat version 1.0\nfile '{}'\n", secret.display()));
    let dash = write(
        "upload-5",
        format!(
            "<?xml version=\"1.0\"?>\n<MPD xmlns=\"urn:mpeg:dash:schema:mpd:2011\" type=\"static\" \
             mediaPresentationDuration=\"PT2S\"><Period><AdaptationSet><Representation id=\"a\" \
             bandwidth=\"1\"><BaseURL>file://{}</BaseURL></Representation></AdaptationSet></Period></MPD>\n",
            secret.display()
        ),
    );
    let sdp = write(
        "upload-6",
        "v=0\no=- 0 0 IN IP4 127.0.0.1\ns=x\nc=IN IP4 127.0.0.1\nt=0 0\nm=audio 5004 RTP/AVP 0\n".into(),
    );
    let mut refusals = Vec::new();
    for path in [&hls_path, &hls_url, &hls_missing, &concat, &dash, &sdp] {
        let f = rejection(path).await;
        assert_eq!(f.code, ErrorCode::NotAudio, "{}", path.display());
        assert!(!f.retryable);
        refusals.push(f);
        // ffmpeg (the waveform) refuses it too.
        assert!(peaks::compute("ffmpeg", path).await.is_err(), "ffmpeg followed {}", path.display());
    }
    // No existence oracle: a playlist naming a real file and one naming a missing file fail alike.
    assert_eq!(refusals[0].message, refusals[2].message);
    assert_eq!(refusals[0].code, refusals[2].code);
}

#[tokio::test]
async fn the_containers_creators_upload_still_probe() {
    let dir = tempfile::tempdir().unwrap();
    let cases: Vec<(PathBuf, &str, bool)> = vec![
        (tone(dir.path(), "a.wav", &[]), "pcm_s16le", false),
        (tone(dir.path(), "a.mp3", &["-c:a", "libmp3lame"]), "mp3", false),
        (tone(dir.path(), "a.flac", &[]), "flac", false),
        (tone(dir.path(), "a.ogg", &["-c:a", "libvorbis"]), "vorbis", false),
        (tone(dir.path(), "a.opus", &["-c:a", "libopus"]), "opus", false),
        (tone(dir.path(), "a.m4a", &["-c:a", "aac"]), "aac", false),
        (tone(dir.path(), "a.webm", &["-c:a", "libopus"]), "opus", false),
        (tone(dir.path(), "a.aiff", &[]), "pcm_s16be", false),
        {
            let out = dir.path().join("v.mp4");
            ffmpeg(
                &[
                    "-f",
                    "lavfi",
                    "-i",
                    "testsrc=size=32x32:rate=5:duration=2",
                    "-f",
                    "lavfi",
                    "-i",
                    "sine=duration=2",
                    "-c:v",
                    "libx264",
                    "-c:a",
                    "aac",
                    "-shortest",
                ],
                &out,
            );
            (out, "aac", true)
        },
    ];
    for (path, codec, has_video) in cases {
        // Uploaded files carry no extension on the worker's disk.
        let bare = dir.path().join(format!("source-{}", path.file_name().unwrap().to_str().unwrap().replace('.', "_")));
        std::fs::copy(&path, &bare).unwrap();
        let probed = probe("ffprobe", &bare).await.unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(probed.audio.codec, codec, "{}", path.display());
        assert_eq!(probed.has_video, has_video, "{}", path.display());
        assert!((probed.audio.duration_sec - 2.0).abs() < 0.1, "{}: {}", path.display(), probed.audio.duration_sec);
        let pairs = peaks::compute("ffmpeg", &bare).await.unwrap();
        assert!((95..=105).contains(&pairs.len()), "{}: {} peak pairs", path.display(), pairs.len());
    }
}
