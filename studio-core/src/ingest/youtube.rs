//! Which YouTube links an ingest takes (the original system's rules, §4.7, with the video id checked
//! too): `https://` on `youtube.com`, `m.youtube.com` or `youtu.be` (bare or `www.`); never a playlist;
//! `youtu.be/{id}`, or `?v={id}`, or `/shorts|live|embed/{id}`, where an id is 11 of `[A-Za-z0-9_-]`.
//! The creator must attest the rights to the audio.

use crate::error_code::{ErrorCode, Problem};
use crate::net_policy::{self, AllowList};

const HOSTS: &[&str] = &["youtube.com", "m.youtube.com", "youtu.be"];

fn is_video_id(id: &str) -> bool {
    id.len() == 11 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The canonical watch URL of a YouTube link's one video (what yt-dlp is given, so no other page of
/// the site — a search, a channel — can make it fetch more), and the video id.
pub fn canonical(url: &str, rights_attested: bool, allow: &AllowList) -> Result<(String, String), Problem> {
    let id = video_id(url, rights_attested, allow)?;
    if id == TEST_ID {
        return Ok((url.to_owned(), id));
    }
    Ok((format!("https://www.youtube.com/watch?v={id}"), id))
}

const TEST_ID: &str = "test";

/// The video id of a YouTube link, or why it is refused. A link to an allow-listed test host
/// (`INGEST_ALLOW_HOSTS`, never in production) is taken as it is, with the id `test`.
pub fn video_id(url: &str, rights_attested: bool, allow: &AllowList) -> Result<String, Problem> {
    let refuse = |why: &str| Problem::new(ErrorCode::InvalidRequest, format!("source.url: {why}"));
    if !rights_attested {
        return Err(Problem::new(
            ErrorCode::InvalidRequest,
            "source.rightsAttested: must be true — confirm you have the rights to use this audio",
        ));
    }
    if net_policy::allow_listed(url, allow) {
        return Ok(TEST_ID.to_owned());
    }
    let rest = url.strip_prefix("https://").ok_or_else(|| refuse("a YouTube link must start with https://"))?;
    let (authority, path_query) = rest.split_at(rest.find(['/', '?', '#']).unwrap_or(rest.len()));
    let host = authority.to_ascii_lowercase();
    let host = host.strip_prefix("www.").unwrap_or(&host);
    if !HOSTS.contains(&host) {
        return Err(refuse("must be a youtube.com or youtu.be link"));
    }
    let (path, query) = path_query.split_once('?').unwrap_or((path_query, ""));
    let query = query.split('#').next().unwrap_or("");
    let path = path.split('#').next().unwrap_or("").trim_end_matches('/');
    if path == "/playlist" {
        return Err(refuse("playlists are not taken; link one video"));
    }
    let id = if host == "youtu.be" {
        path.strip_prefix('/').map(str::to_owned)
    } else if let Some(v) = query.split('&').find_map(|pair| pair.strip_prefix("v=")) {
        Some(v.to_owned())
    } else {
        ["/shorts/", "/live/", "/embed/"].iter().find_map(|p| path.strip_prefix(p)).map(str::to_owned)
    };
    id.filter(|id| is_video_id(id)).ok_or_else(|| refuse("must link one video (an 11-character video id)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_follow_the_rules() {
        let none = AllowList::default();
        for (url, id) in [
            ("https://www.youtube.com/watch?v=dQw4w9WgXcQ", "dQw4w9WgXcQ"),
            ("https://youtube.com/watch?feature=x&v=dQw4w9WgXcQ", "dQw4w9WgXcQ"),
            ("https://m.youtube.com/watch?v=dQw4w9WgXcQ#t=3", "dQw4w9WgXcQ"),
            ("https://youtu.be/dQw4w9WgXcQ", "dQw4w9WgXcQ"),
            ("https://www.youtube.com/shorts/dQw4w9WgXcQ", "dQw4w9WgXcQ"),
            ("https://www.youtube.com/live/dQw4w9WgXcQ/", "dQw4w9WgXcQ"),
            ("https://www.youtube.com/embed/dQw4w9WgXcQ", "dQw4w9WgXcQ"),
        ] {
            assert_eq!(video_id(url, true, &none).unwrap(), id, "{url}");
        }
        for url in [
            "http://www.youtube.com/watch?v=dQw4w9WgXcQ",
            "https://www.youtube.com/playlist?list=PL123",
            "https://youtu.be/short",
            "https://youtu.be/dQw4w9WgXcQ/extra",
            "https://www.youtube.com/watch?v=../../etc",
            "https://www.youtube.com/channel/UC123",
            "https://evil.com/watch?v=dQw4w9WgXcQ",
            "https://youtube.com.evil.com/watch?v=dQw4w9WgXcQ",
            "https://music.youtube.com/watch?v=dQw4w9WgXcQ",
        ] {
            assert!(video_id(url, true, &none).unwrap_err().message.starts_with("source.url"), "{url}");
        }
        let unattested = video_id("https://youtu.be/dQw4w9WgXcQ", false, &none).unwrap_err();
        assert!(unattested.message.starts_with("source.rightsAttested"));
        let (watch, _) = canonical("https://youtube.com/results?search_query=x&v=dQw4w9WgXcQ", true, &none).unwrap();
        assert_eq!(watch, "https://www.youtube.com/watch?v=dQw4w9WgXcQ", "only the one video reaches yt-dlp");
        let tests = AllowList::parse("127.0.0.1:9000").unwrap();
        assert_eq!(video_id("http://127.0.0.1:9000/t.wav", true, &tests).unwrap(), "test");
    }
}
