//! The asset library (paged listing with usage, deletion refused while a saved recipe uses the asset,
//! forced deletion leaving no row or blob, a stream redirect) and the original system's routes, each
//! answering like its canonical route.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use studio_core::hrana::{Stmt, Value as SqlValue};

use crate::creator;
use test_support::api::Api;
use test_support::media::wav;

/// A JSON answer without the parts that differ per request (signed URLs carry their own expiry).
fn stable(mut v: Value) -> Value {
    fn strip(v: &mut Value) {
        match v {
            Value::Object(map) => {
                map.remove("downloadUrl");
                map.values_mut().for_each(strip);
            }
            Value::Array(items) => items.iter_mut().for_each(strip),
            _ => {}
        }
    }
    strip(&mut v);
    v
}

async fn call(api: &Api<'_>, method: Method, path: &str) -> (StatusCode, Value) {
    let r = api.http.request(method, api.url(path)).bearer_auth(&api.account.api_key).send().await.unwrap();
    (r.status(), r.json().await.unwrap_or(Value::Null))
}

async fn ingest(api: &Api<'_>, name: &str) -> (String, String) {
    let upload = api.upload(name, "audio/wav", &wav(0.5, 8_000, 1)).await;
    let job_id = api.ingest(&upload).await;
    let job = api.wait_terminal(&job_id).await;
    (job_id, job["result"]["assetId"].as_str().unwrap().to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_library_lists_pages_and_guards_deletion() {
    let api = &creator("the_library_lists_pages_and_guards_deletion").await;
    let (_, used) = ingest(api, "used.wav").await;
    let (job_id, user) = ingest(api, "user.wav").await;

    // Pages, newest first, every asset once.
    let mut seen = Vec::new();
    let mut path = "/api/assets?limit=2".to_owned();
    loop {
        let (status, page) = api.get(&path).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        assert!(page["usage"]["bytes"].as_i64().unwrap() > 0 && page["usage"]["quotaBytes"].as_i64().unwrap() > 0);
        for a in page["assets"].as_array().unwrap() {
            assert_eq!(a["variants"], json!(["original"]), "{a}");
            seen.push((a["createdAt"].as_i64().unwrap(), a["assetId"].as_str().unwrap().to_owned()));
        }
        match page["nextCursor"].as_str() {
            Some(cursor) => path = format!("/api/assets?limit=2&cursor={cursor}"),
            None => break,
        }
    }
    let mine = format!("SELECT count(*) AS n FROM assets WHERE account_id = '{}'", api.account.id);
    assert_eq!(seen.len() as i64, api.count(&mine).await);
    assert_eq!(seen[0].1, user, "newest first");
    assert!(seen.windows(2).all(|w| w[0] >= w[1]));
    assert_eq!(api.get("/api/assets?limit=0").await.0, StatusCode::BAD_REQUEST);

    // `user`'s saved recipe uses `used`: deleting `used` is refused, naming `user`.
    let recipe = json!({"version": 1, "assetId": user, "clips": [{"id": "a", "sourceAssetId": used, "startTime": 0, "endTime": 0.5}]});
    let sql = Stmt::new(
        "UPDATE assets SET last_recipe = ? WHERE id = ?",
        vec![SqlValue::from(recipe.to_string()), SqlValue::from(user.as_str())],
    );
    api.stack.db().execute(sql).await.unwrap();
    let (status, refused) = call(api, Method::DELETE, &format!("/api/assets/{used}")).await;
    assert_eq!((status, refused["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("asset_referenced")));
    assert!(refused["error"]["message"].as_str().unwrap().contains(&user), "{refused}");
    let keys: Vec<String> =
        api.stack.stored_keys().into_iter().filter(|k| k.contains(&format!("/assets/{used}/"))).collect();
    assert_eq!(keys.len(), 2, "original and peaks: {keys:?}");
    let (status, _) = call(api, Method::DELETE, &format!("/api/assets/{used}?force=true")).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(api.count(&format!("SELECT count(*) AS n FROM assets WHERE id = '{used}'")).await, 0);
    let left: Vec<String> = api.stack.stored_keys().into_iter().filter(|k| keys.contains(k)).collect();
    assert!(left.is_empty(), "blobs left: {left:?}");
    assert_eq!(call(api, Method::DELETE, &format!("/api/assets/{used}")).await.0, StatusCode::NOT_FOUND);

    // The original's routes answer like the canonical ones.
    let pairs = [
        (Method::GET, format!("/api/audio/jobs/{job_id}"), format!("/api/jobs/{job_id}")),
        (Method::GET, format!("/api/audio/ingest/{job_id}"), format!("/api/jobs/{job_id}")),
        (Method::GET, format!("/api/audio/edit/save/{job_id}"), format!("/api/jobs/{job_id}")),
        (Method::GET, format!("/api/audio/assets/{user}"), format!("/api/assets/{user}")),
        (Method::GET, "/api/audio/assets?limit=3".to_owned(), "/api/assets?limit=3".to_owned()),
        (Method::GET, "/api/render".to_owned(), "/api/jobs?type=render".to_owned()),
    ];
    for (method, alias, canonical) in pairs {
        let (a, b) = (call(api, method.clone(), &alias).await, call(api, method.clone(), &canonical).await);
        assert_eq!(a.0, StatusCode::OK, "{alias}: {}", a.1);
        assert_eq!((a.0, stable(a.1)), (b.0, stable(b.1)), "{alias} answers like {canonical}");
    }
    let cancel_alias = call(api, Method::POST, &format!("/api/audio/jobs/{job_id}/cancel")).await;
    let delete_alias = call(api, Method::DELETE, &format!("/api/audio/ingest/{job_id}")).await;
    let cancel = call(api, Method::POST, &format!("/api/jobs/{job_id}/cancel")).await;
    assert_eq!(cancel.0, StatusCode::CONFLICT, "the job is complete");
    assert_eq!(cancel_alias, cancel);
    assert_eq!(delete_alias, cancel);
    let stream = api
        .http
        .get(api.url(&format!("/api/audio/assets/{user}/stream?variant=original")))
        .bearer_auth(&api.account.api_key);
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let r = client.execute(stream.build().unwrap()).await.unwrap();
    assert_eq!(r.status(), StatusCode::FOUND);
    let location = r.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(api.http.get(location).send().await.unwrap().status(), StatusCode::OK);
    let (status, _) = call(api, Method::GET, &format!("/api/audio/assets/{user}/stream?variant=prepared")).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "no prepared audio yet");
}
