//! `/api/admin/*` on the real edge: the operator creates accounts and API keys (shown once, stored only
//! as a hash), lists them and revokes them; nobody else reaches these routes.

use reqwest::StatusCode;
use serde_json::json;
use studio_core::hrana::Stmt;

use crate::support::api::Api;

pub async fn the_operator_manages_accounts_and_keys(api: &Api<'_>) {
    let (status, account) = api.post("/api/admin/accounts", json!({"name": "Ada", "quotas": {"activeJobs": 3}})).await;
    assert_eq!(status, StatusCode::CREATED, "{account}");
    let account_id = account["accountId"].as_str().unwrap().to_owned();
    assert!(account["webhookSecret"].as_str().unwrap().starts_with("whsec_"), "{account}");
    assert_eq!(account["quotas"]["activeJobs"], 3);

    let (status, key) = api.post(&format!("/api/admin/accounts/{account_id}/keys"), json!({})).await;
    assert_eq!(status, StatusCode::CREATED, "{key}");
    let api_key = key["apiKey"].as_str().unwrap().to_owned();
    let random = api_key.strip_prefix("efs_live_").expect("efs_live_ prefix");
    assert!(random.len() * 6 >= 256, "≥ 128 bits of randomness: {api_key}");
    let key_id = key["keyId"].as_str().unwrap().to_owned();

    // Only the hash is stored, and the account view shows ids and dates, never the key.
    let stored = api.stack.db().execute(Stmt::new("SELECT key_hash FROM api_keys", vec![])).await.unwrap();
    let stored: Vec<String> = stored.iter().map(|r| r.text("key_hash").unwrap()).collect();
    assert_eq!(stored, [studio_core::accounts::key_hash(&api_key)]);
    assert!(!stored[0].contains(random));
    let (status, view) = api.get(&format!("/api/admin/accounts/{account_id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!((view["name"].as_str(), view["keys"][0]["keyId"].as_str()), (Some("Ada"), Some(key_id.as_str())));
    assert!(view["keys"][0]["revokedAt"].is_null());
    assert!(!view.to_string().contains(random) && !view.to_string().contains("whsec_"), "{view}");

    // Refusals: bad bodies, unknown ids, and a creator key on operator routes.
    let (status, body) = api.post("/api/admin/accounts", json!({"name": ""})).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_request")));
    let (status, _) = api.post("/api/admin/accounts/acc_nope/keys", json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let as_creator = api.http.get(api.url(&format!("/api/admin/accounts/{account_id}"))).bearer_auth(&api_key);
    assert_eq!(as_creator.send().await.unwrap().status(), StatusCode::UNAUTHORIZED);

    // Revoked at once; a second revoke finds nothing to revoke.
    let revoke =
        || api.http.delete(api.url(&format!("/api/admin/keys/{key_id}"))).bearer_auth(crate::support::stack::API_TOKEN);
    assert_eq!(revoke().send().await.unwrap().status(), StatusCode::NO_CONTENT);
    assert_eq!(revoke().send().await.unwrap().status(), StatusCode::NOT_FOUND);
    let (_, view) = api.get(&format!("/api/admin/accounts/{account_id}")).await;
    assert!(view["keys"][0]["revokedAt"].is_i64(), "{view}");
}
