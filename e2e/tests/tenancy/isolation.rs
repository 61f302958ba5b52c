//! Account B on account A's things: every route answers exactly as it does for an id nobody has, and a
//! signed URL is good for its own account's key and its own method only.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::{creator, owned_by_a};
use test_support::api::Api;

/// One request by `key`, answered as status and body.
async fn call(api: &Api<'_>, key: &str, method: &Method, path: &str, body: Option<&Value>) -> (StatusCode, Value) {
    let mut request = api.http.request(method.clone(), api.url(path)).bearer_auth(key);
    if let Some(body) = body {
        request = request.json(body);
    }
    let r = request.send().await.unwrap();
    (r.status(), r.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_accounts_ids_are_answered_like_unknown_ones() {
    let api = &creator("another_accounts_ids_are_answered_like_unknown_ones").await;
    let (a, b) = (&owned_by_a(api).await, &api.stack.create_account(json!({"name": "Creator B"})).await);
    let render = |asset: &str, variant: &str| json!({"audio": {"assetId": asset, "variant": variant}, "format": "flat-1080p-square"});
    let ingest = |upload: &str| json!({"source": {"type": "upload", "uploadId": upload}});
    // (method, A's id, the request with A's id, the same with an unknown id)
    let get = Method::GET;
    let post = Method::POST;
    let cases: Vec<(Method, &str, String, Option<Value>)> = vec![
        (get.clone(), &a.ingest_job, format!("/api/jobs/{}", a.ingest_job), None),
        (get.clone(), &a.render_job, format!("/api/jobs/{}", a.render_job), None),
        (get.clone(), &a.ingest_job, format!("/api/jobs/{}/events", a.ingest_job), None),
        (get.clone(), &a.render_job, format!("/api/jobs/{}/events", a.render_job), None),
        (get.clone(), &a.ingest_job, format!("/api/jobs/{}/deliveries", a.ingest_job), None),
        (get.clone(), &a.render_job, format!("/api/jobs/{}/deliveries", a.render_job), None),
        (post.clone(), &a.ingest_job, format!("/api/jobs/{}/cancel", a.ingest_job), None),
        (post.clone(), &a.render_job, format!("/api/jobs/{}/cancel", a.render_job), None),
        (get.clone(), &a.asset_id, format!("/api/assets/{}", a.asset_id), None),
        (post.clone(), &a.asset_id, "/api/render".into(), Some(render(&a.asset_id, "original"))),
        (post.clone(), &a.asset_id, "/api/render".into(), Some(render(&a.asset_id, "prepared"))),
        (post.clone(), &a.upload_received, "/api/audio/ingest".into(), Some(ingest(&a.upload_received))),
        (post.clone(), &a.upload_consumed, "/api/audio/ingest".into(), Some(ingest(&a.upload_consumed))),
    ];
    let both = format!("SELECT count(*) AS n FROM jobs WHERE account_id IN ('{}', '{}')", api.account.id, b.id);
    let jobs_before = api.count(&both).await;
    for (method, id, path, body) in &cases {
        let unknown_id = format!("{}_000000000000000000000000", id.split('_').next().unwrap());
        let (status, answer) = call(api, &b.api_key, method, path, body.as_ref()).await;
        let unknown_body =
            body.as_ref().map(|v| serde_json::from_str(&v.to_string().replace(*id, &unknown_id)).unwrap());
        let (unknown_status, unknown) =
            call(api, &b.api_key, method, &path.replace(*id, &unknown_id), unknown_body.as_ref()).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path} with B's key: {answer}");
        assert_eq!(
            (status, answer.to_string().replace(*id, &unknown_id)),
            (unknown_status, unknown.to_string()),
            "{method} {path}: B learns nothing it would not learn for an unknown id"
        );
        // A itself still reaches it.
        let (own, _) =
            call(api, &api.account.api_key, &Method::GET, &format!("/api/jobs/{}", a.render_job), None).await;
        assert_eq!(own, StatusCode::OK);
    }
    assert_eq!(api.count(&both).await, jobs_before, "B's requests created nothing");
    let (_, job) = api.get(&format!("/api/jobs/{}", a.render_job)).await;
    assert_eq!(job["status"], "complete", "B's cancel did not touch A's render: {job}");
    let (status, _) =
        api.post("/api/audio/ingest", json!({"source": {"type": "upload", "uploadId": a.upload_received}})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "A can still ingest its own upload B tried to take");

    // Listings show B nothing of A's.
    let a_ids = [&a.ingest_job, &a.render_job];
    for query in ["", "?type=render", "?type=ingest", "?status=complete"] {
        let (status, page) = api.get_as(&b.api_key, &format!("/api/jobs{query}")).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        assert_eq!(page["jobs"], json!([]), "B's listing {query} is empty: {page}");
        let (_, mine) = api.get(&format!("/api/jobs{query}")).await;
        let mine: Vec<&str> = mine["jobs"].as_array().unwrap().iter().map(|j| j["jobId"].as_str().unwrap()).collect();
        assert!(a_ids.iter().any(|id| mine.contains(&id.as_str())), "A's own listing {query} has its jobs");
    }
    let (_, usage) = api.get_as(&b.api_key, "/api/usage").await;
    assert_eq!((usage["storageBytes"]["used"].as_i64(), usage["activeJobs"]["used"].as_i64()), (Some(0), Some(0)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_urls_stay_bound_to_their_account_and_method() {
    let api = &creator("signed_urls_stay_bound_to_their_account_and_method").await;
    let (a, b) = (&owned_by_a(api).await, &api.stack.create_account(json!({"name": "Creator B"})).await);
    let (status, declared) = api
        .post_as(&b.api_key, "/api/uploads", json!({"filename": "b.wav", "contentType": "audio/wav", "size": 4}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{declared}");
    let b_upload = declared["uploadUrl"].as_str().unwrap();
    let (a_seg, b_seg) = (format!("/accounts/{}/", api.account.id), format!("/accounts/{}/", b.id));
    for url in [&a.asset_url, &a.video_url, &a.upload_url] {
        assert!(url.contains(&a_seg), "A's blobs live under A's prefix: {url}");
    }
    assert!(b_upload.contains(&b_seg), "{b_upload}");
    let swapped = |url: &str, from: &str, to: &str| url.replace(from, to);
    let cases = [
        (Method::GET, swapped(&a.asset_url, &a_seg, &b_seg)),
        (Method::GET, swapped(&a.video_url, &a_seg, &b_seg)),
        (Method::PUT, swapped(&a.upload_url, &a_seg, &b_seg)),
        (Method::PUT, swapped(b_upload, &b_seg, &a_seg)),
        (Method::PUT, a.asset_url.clone()),
        (Method::DELETE, a.video_url.clone()),
    ];
    for (method, url) in cases {
        let r = api.http.request(method.clone(), &url).header("content-type", "audio/wav").body(vec![0u8; 4]);
        let r = r.send().await.unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{method} {url}");
        assert_eq!(r.json::<Value>().await.unwrap()["error"]["code"], "not_found");
    }
    // The genuine URLs still work for what they were made for.
    assert_eq!(api.http.get(&a.video_url).send().await.unwrap().status(), StatusCode::OK);
    assert_eq!(api.http.get(&a.asset_url).send().await.unwrap().status(), StatusCode::OK);
}
