//! `GET /api/jobs` on the real stack: every job once, newest first, in pages; bad parameters named.

use reqwest::StatusCode;
use serde_json::json;

use crate::creator;
use test_support::media::wav;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_are_listed_newest_first_in_pages() {
    let api = &creator("jobs_are_listed_newest_first_in_pages").await;
    // Six ingests of this account's own, one of them failing.
    let mut made = Vec::new();
    for n in 0..5 {
        made.push(api.ingest(&api.upload(&format!("listed-{n}.wav"), "audio/wav", &wav(0.2, 8_000, 1)).await).await);
    }
    made.push(api.ingest(&api.upload("listed.mp3", "audio/mpeg", &b"not a song\n".repeat(50)).await).await);
    for job_id in &made {
        api.wait_terminal(job_id).await;
    }
    let total = api.count_mine("jobs").await as usize;
    assert!(total >= 6, "the jobs made above");
    let (mut listed, mut path) = (Vec::new(), "/api/jobs?type=ingest&limit=3".to_owned());
    loop {
        let (status, page) = api.get(&path).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        let jobs = page["jobs"].as_array().unwrap();
        assert!(jobs.len() <= 3);
        for job in jobs {
            assert_eq!(job["type"], "ingest");
            assert_eq!(job["downloadUrl"].is_string(), job["status"] == "complete", "{job}");
            listed.push((job["createdAt"].as_i64().unwrap(), job["jobId"].as_str().unwrap().to_owned()));
        }
        match page["nextCursor"].as_str() {
            Some(cursor) => path = format!("/api/jobs?type=ingest&limit=3&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(listed.len(), total, "every job once");
    assert!(listed.windows(2).all(|w| w[0] > w[1]), "newest first: {listed:?}");
    let (_, failed) = api.get("/api/jobs?status=failed&limit=100").await;
    assert!(!failed["jobs"].as_array().unwrap().is_empty(), "{failed}");
    assert!(failed["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .all(|j| j["status"] == "failed" && j["error"]["code"].is_string()));
    for (query, name) in
        [("limit=0", "limit"), ("type=video", "type"), ("cursor=nope", "cursor"), ("order=asc", "order")]
    {
        let (status, body) = api.get(&format!("/api/jobs?{query}")).await;
        assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_request")));
        assert!(body["error"]["message"].as_str().unwrap().contains(name), "{body}");
    }
    let (status, _) = api.post("/api/jobs", json!({})).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
}
