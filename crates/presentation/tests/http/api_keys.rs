//! API keys over HTTP: both header forms, scopes from the method, and the management endpoints.

use actix_web::{
    http::{StatusCode, header},
    test::{self, TestRequest},
};
use forge_application::{api_keys::ApiKeyChange, audit::AuditRecord, common::Page};
use forge_domain::{
    api_keys::{ApiKey, ApiKeyId, ApiKeyName, ApiKeyParts, ApiKeyScopes},
    sessions::TokenDigest,
    users::{Role, User},
};
use forge_presentation::build_app;
use secrecy::SecretString;
use serde_json::json;

use crate::support::{Mocks, error_codes, json_of, problem_of, user_with_role, utc};

const KEY: &str = "sk_Ab3dE9xQrestofthekey0123456789abcdefghijkl";

fn header_of(res: &actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>, name: &str) -> Option<String> {
    res.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
}

fn key_of(owner: &User, scopes: &[&str]) -> ApiKey {
    ApiKey::from_parts(ApiKeyParts {
        id: ApiKeyId::generate(),
        user_id: owner.id(),
        name: ApiKeyName::parse("deploys").unwrap(),
        prefix: "sk_Ab3dE9xQ".into(),
        digest: TokenDigest::new("key-digest".into()),
        scopes: ApiKeyScopes::parse(scopes.iter().copied()).unwrap(),
        created_at: utc(),
        last_used_at: Some(utc()),
        expires_at: None,
        revoked_at: None,
    })
}

/// Mocks under which [`KEY`] is `key`, owned by `owner`; its use was recorded just now, so
/// nothing is written.
fn presenting(key: &ApiKey, owner: &User) -> Mocks {
    let mut mocks = Mocks::default();
    mocks.opaque_tokens.expect_digest().withf(|raw| raw == KEY).returning(|_| TokenDigest::new("key-digest".into()));
    let found = key.clone();
    mocks.api_keys.expect_by_digest().returning(move |_| Ok(Some(found.clone())));
    let (id, owner) = (owner.id(), owner.clone());
    mocks.users.expect_by_id().withf(move |asked| *asked == id).returning(move |_| Ok(Some(owner.clone())));
    mocks
}

#[actix_web::test]
async fn an_api_key_authenticates_its_owner_in_either_header() {
    let ada = user_with_role("ada", Role::Member);
    let key = key_of(&ada, &["read"]);
    let app = test::init_service(build_app(presenting(&key, &ada).state())).await;
    for req in [
        TestRequest::get().uri("/api/v1/users/me").insert_header((header::AUTHORIZATION, format!("Bearer {KEY}"))),
        TestRequest::get().uri("/api/v1/users/me").insert_header(("X-API-Key", KEY)),
    ] {
        let res = test::call_service(&app, req.to_request()).await;
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(json_of(res).await["id"], ada.id().to_string());
    }
}

#[actix_web::test]
async fn a_read_key_may_not_write_and_is_told_which_scope_is_missing() {
    let ada = user_with_role("ada", Role::Member);
    let key = key_of(&ada, &["read"]);
    let mut mocks = presenting(&key, &ada);
    mocks.unit_of_work.expect_commit().never();
    let app = test::init_service(build_app(mocks.state())).await;
    for req in [
        TestRequest::patch().uri("/api/v1/users/me").set_json(json!({"full_name": "Ada"})),
        TestRequest::delete().uri(&format!("/api/v1/users/{}", ada.id())),
        TestRequest::post().uri("/api/v1/auth/logout"),
    ] {
        let res = test::call_service(&app, req.insert_header(("X-API-Key", KEY)).to_request()).await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN);
        assert_eq!(
            header_of(&res, "www-authenticate").as_deref(),
            Some(r#"Bearer error="insufficient_scope", scope="write""#)
        );
        let problem = problem_of(res).await;
        assert_eq!(problem.code, "FORBIDDEN");
        assert_eq!(problem.detail, "this API key does not have the `write` scope");
    }
}

#[actix_web::test]
async fn an_unknown_key_is_a_401_invalid_token() {
    let mut mocks = Mocks::default();
    mocks.opaque_tokens.expect_digest().returning(|_| TokenDigest::new("nope".into()));
    mocks.api_keys.expect_by_digest().returning(|_| Ok(None));
    let app = test::init_service(build_app(mocks.state())).await;
    let req = TestRequest::get().uri("/api/v1/users/me").insert_header(("X-API-Key", KEY)).to_request();
    let res = test::call_service(&app, req).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(header_of(&res, "www-authenticate").as_deref(), Some(r#"Bearer error="invalid_token""#));
    assert_eq!(problem_of(res).await.code, "UNAUTHENTICATED");
}

#[actix_web::test]
async fn creating_a_key_answers_201_with_the_key_once_and_its_location() {
    let ada = user_with_role("ada", Role::Member);
    let mut mocks = Mocks::default().authenticates("t", &ada);
    mocks
        .opaque_tokens
        .expect_generate()
        .returning(|| (SecretString::from("Ab3dE9xQrestofthekey0123456789abcdefghijkl"), TokenDigest::new("x".into())));
    mocks.opaque_tokens.expect_digest().withf(|raw| raw == KEY).returning(|_| TokenDigest::new("key-digest".into()));
    mocks
        .unit_of_work
        .expect_commit()
        .times(1)
        .withf(|changes| {
            changes.len() == 2
                && matches!(changes.of::<ApiKeyChange>().next(), Some(ApiKeyChange::Insert(_)))
                && changes.of::<AuditRecord>().count() == 1
        })
        .returning(|_| Ok(()));
    let app = test::init_service(build_app(mocks.state())).await;
    let req = TestRequest::post()
        .uri("/api/v1/api-keys")
        .insert_header((header::AUTHORIZATION, "Bearer t"))
        .set_json(json!({"name": "deploys", "scopes": ["read"]}))
        .to_request();
    let res = test::call_service(&app, req).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let location = header_of(&res, "location").unwrap();
    let body = json_of(res).await;
    assert_eq!(location, format!("/api/v1/api-keys/{}", body["id"].as_str().unwrap()));
    assert_eq!(body["key"], KEY);
    assert_eq!(body["prefix"], "sk_Ab3dE9xQ");
    assert_eq!(body["scopes"], json!(["read"]));
    assert_eq!(body["last_used_at"], serde_json::Value::Null);
    assert_eq!(body["_links"]["revoke"], json!({"href": location, "method": "DELETE"}));
    assert!(!body.to_string().contains("key-digest"));
}

#[actix_web::test]
async fn creating_a_key_with_bad_values_lists_every_field() {
    let ada = user_with_role("ada", Role::Member);
    let mut mocks = Mocks::default().authenticates("t", &ada);
    mocks.unit_of_work.expect_commit().never();
    let app = test::init_service(build_app(mocks.state())).await;
    let req = TestRequest::post()
        .uri("/api/v1/api-keys")
        .insert_header((header::AUTHORIZATION, "Bearer t"))
        .set_json(json!({"name": "", "scopes": ["admin"], "expires_at": "2000-01-01T00:00:00Z"}))
        .to_request();
    let res = test::call_service(&app, req).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        error_codes(&problem_of(res).await),
        ["name:REQUIRED", "scopes:INVALID_CHOICE", "expires_at:OUT_OF_RANGE"]
    );
}

#[actix_web::test]
async fn keys_and_sessions_cannot_be_managed_with_an_api_key() {
    let ada = user_with_role("ada", Role::Member);
    let key = key_of(&ada, &["read", "write"]);
    let mut mocks = presenting(&key, &ada);
    mocks.api_keys.expect_list_for_user().never();
    mocks.unit_of_work.expect_commit().never();
    let app = test::init_service(build_app(mocks.state())).await;
    for req in [
        TestRequest::get().uri("/api/v1/api-keys?sort=bogus"),
        TestRequest::post().uri("/api/v1/api-keys").set_json(json!({"name": "more"})),
        TestRequest::delete().uri(&format!("/api/v1/api-keys/{}", key.id())),
        TestRequest::get().uri("/api/v1/auth/sessions"),
        TestRequest::post().uri("/api/v1/auth/logout-all"),
    ] {
        let res = test::call_service(&app, req.insert_header(("X-API-Key", KEY)).to_request()).await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN);
        assert!(problem_of(res).await.detail.contains("with an API key"));
    }
}

#[actix_web::test]
async fn the_key_list_is_paginated_and_shows_prefixes_only() {
    let ada = user_with_role("ada", Role::Member);
    let key = key_of(&ada, &["read", "write"]);
    let mut mocks = Mocks::default().authenticates("t", &ada);
    let listed = key.clone();
    mocks
        .api_keys
        .expect_list_for_user()
        .returning(move |_, q| Ok(Page { items: vec![listed.clone()], total: 1, request: q.page }));
    let app = test::init_service(build_app(mocks.state())).await;
    let req = TestRequest::get()
        .uri("/api/v1/api-keys?sort=name&order=asc")
        .insert_header((header::AUTHORIZATION, "Bearer t"))
        .to_request();
    let res = test::call_service(&app, req).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(header_of(&res, "link").unwrap().contains(r#"rel="self""#));
    let body = json_of(res).await;
    assert_eq!(body["total"], 1);
    let item = &body["items"][0];
    assert_eq!(item["prefix"], "sk_Ab3dE9xQ");
    assert_eq!(item["scopes"], json!(["read", "write"]));
    assert!(item.get("key").is_none() && item.get("digest").is_none());
}

#[actix_web::test]
async fn revoking_a_key_answers_204_and_an_unknown_one_404() {
    let ada = user_with_role("ada", Role::Member);
    let key = key_of(&ada, &["read"]);
    let mut mocks = Mocks::default().authenticates("t", &ada);
    let (id, found) = (key.id(), key.clone());
    mocks.api_keys.expect_by_id().returning(move |asked| Ok((asked == id).then(|| found.clone())));
    mocks
        .unit_of_work
        .expect_commit()
        .times(1)
        .withf(|changes| {
            changes.len() == 2
                && matches!(changes.of::<ApiKeyChange>().next(), Some(ApiKeyChange::Revoke { .. }))
                && changes.of::<AuditRecord>().count() == 1
        })
        .returning(|_| Ok(()));
    let app = test::init_service(build_app(mocks.state())).await;
    let bearer = ("authorization", "Bearer t");
    let res = test::call_service(
        &app,
        TestRequest::delete().uri(&format!("/api/v1/api-keys/{}", key.id())).insert_header(bearer).to_request(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let res = test::call_service(
        &app,
        TestRequest::delete()
            .uri(&format!("/api/v1/api-keys/{}", ApiKeyId::generate()))
            .insert_header(bearer)
            .to_request(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert_eq!(problem_of(res).await.code, "NOT_FOUND");
}
