//! `GET /api/jobs` on the real stack: every job once, newest first, in pages; bad parameters named.

use reqwest::StatusCode;
use serde_json::json;

use crate::support::api::Api;

pub async fn jobs_are_listed_newest_first_in_pages(api: &Api<'_>) {
    let rows = api.stack.db().execute(studio_core::hrana::Stmt::new("SELECT COUNT(*) AS n FROM jobs", vec![])).await;
    let total = rows.unwrap().first().unwrap().int("n").unwrap() as usize;
    assert!(total >= 6, "the scenarios before created jobs");
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
