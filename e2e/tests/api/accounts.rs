//! `/api/admin/*` on the real edge: the operator creates accounts and API keys (shown once, stored only
//! as a hash), lists them and revokes them; nobody else reaches these routes.

use reqwest::{Method, StatusCode};
use serde_json::json;
use studio_core::hrana::Stmt;

use crate::creator;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operator_manages_accounts_and_keys() {
    let api = &creator("the_operator_manages_accounts_and_keys").await;
    let (status, account) =
        api.admin(Method::POST, "/api/admin/accounts", Some(json!({"name": "Ada", "quotas": {"activeJobs": 3}}))).await;
    assert_eq!(status, StatusCode::CREATED, "{account}");
    let account_id = account["accountId"].as_str().unwrap().to_owned();
    assert!(account["webhookSecret"].as_str().unwrap().starts_with("whsec_"), "{account}");
    assert_eq!(account["quotas"]["activeJobs"], 3);

    let (status, key) = api.admin(Method::POST, &format!("/api/admin/accounts/{account_id}/keys"), None).await;
    assert_eq!(status, StatusCode::CREATED, "{key}");
    let api_key = key["apiKey"].as_str().unwrap().to_owned();
    let random = api_key.strip_prefix("efs_live_").expect("efs_live_ prefix");
    assert!(random.len() * 6 >= 256, "≥ 128 bits of randomness: {api_key}");
    let key_id = key["keyId"].as_str().unwrap().to_owned();

    // Only the hash is stored, and the account view shows ids and dates, never the key.
    let sql = Stmt::new("SELECT key_hash FROM api_keys WHERE account_id = ?", vec![account_id.as_str().into()]);
    let stored = api.stack.db().execute(sql).await.unwrap();
    let stored: Vec<String> = stored.iter().map(|r| r.text("key_hash").unwrap()).collect();
    assert_eq!(stored, [studio_core::accounts::key_hash(&api_key)]);
    assert!(!stored[0].contains(random));
    let (status, view) = api.admin(Method::GET, &format!("/api/admin/accounts/{account_id}"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!((view["name"].as_str(), view["keys"][0]["keyId"].as_str()), (Some("Ada"), Some(key_id.as_str())));
    assert!(view["keys"][0]["revokedAt"].is_null());
    assert_eq!(view["usage"]["activeJobs"], json!({"used": 0, "limit": 3}), "{view}");
    assert_eq!(view["usage"]["storageBytes"]["used"], 0, "{view}");
    assert!(!view.to_string().contains(random) && !view.to_string().contains("whsec_"), "{view}");

    // Refusals: bad bodies, unknown ids, and a creator key on operator routes.
    let (status, body) = api.admin(Method::POST, "/api/admin/accounts", Some(json!({"name": ""}))).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_request")));
    let (status, _) = api.admin(Method::POST, "/api/admin/accounts/acc_nope/keys", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let as_creator = api.http.get(api.url(&format!("/api/admin/accounts/{account_id}"))).bearer_auth(&api_key);
    assert_eq!(as_creator.send().await.unwrap().status(), StatusCode::UNAUTHORIZED);
    // … and the operator token on creator routes: it is the admin credential only.
    let (status, _) = api.get_as(test_support::stack::API_TOKEN, "/api/jobs").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = api.get_as(&api_key, "/api/usage").await;
    assert_eq!(status, StatusCode::OK, "the new key works on creator routes");

    // Revoked at once; a second revoke finds nothing to revoke.
    let revoke =
        || api.http.delete(api.url(&format!("/api/admin/keys/{key_id}"))).bearer_auth(test_support::stack::API_TOKEN);
    assert_eq!(revoke().send().await.unwrap().status(), StatusCode::NO_CONTENT);
    assert_eq!(revoke().send().await.unwrap().status(), StatusCode::NOT_FOUND);
    let (_, view) = api.admin(Method::GET, &format!("/api/admin/accounts/{account_id}"), None).await;
    assert!(view["keys"][0]["revokedAt"].is_i64(), "{view}");
    let (status, body) = api.get_as(&api_key, "/api/usage").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("unauthorized")),
        "revoked at once"
    );
}
