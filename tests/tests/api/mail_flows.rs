//! E-mail verification, password reset and password change, end to end: mails are read back
//! from the embedded mailer's files and their links followed.

use chrono::Duration;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::harness::{TestApp, TestUser, assert_problem, spawn_app, spawn_app_with};

const VERIFY: &str = "Confirm your e-mail address";
const RESET: &str = "Reset your Forge password";
const CHANGED: &str = "password was changed";
const NEW_PASSWORD: &str = "Brass-Orrery-42-Quill!";

impl TestApp {
    fn public_url(&self) -> String {
        self.settings.public_url.clone()
    }

    async fn verify(&self, token: &str) -> reqwest::Response {
        self.post("/api/v1/auth/email/verify", None, &json!({ "token": token })).await
    }

    async fn me(&self, access_token: &str) -> Value {
        let response = self.get("/api/v1/users/me", Some(access_token)).await;
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.unwrap()
    }

    async fn login_with(&self, email: &str, password: &str) -> reqwest::Response {
        self.post("/api/v1/auth/login", None, &json!({"email": email, "password": password})).await
    }
}

async fn assert_invalid_token(response: reqwest::Response) {
    let problem = assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_FAILED").await;
    assert_eq!(problem["errors"][0]["field"], "token");
    assert_eq!(problem["errors"][0]["code"], "INVALID_TOKEN");
}

// ---------------------------------------------------------------------------------------------
// verification

#[tokio::test]
async fn registration_mails_a_verification_link_that_works_exactly_once() {
    let app = spawn_app().await;
    let user = TestUser::generate();
    app.register(&user).await;

    let mail = app.wait_for_mail(&user.email, VERIFY).await;
    assert!(mail.html.contains("Confirm my address"), "{}", mail.html);
    let token = mail.token(&app.public_url(), "verify-email");
    let session = app.login(&user).await;
    assert_eq!(app.me(&session.access_token).await["is_verified"], false);

    let response = app.verify(&token).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.me(&session.access_token).await["is_verified"], true);

    assert_invalid_token(app.verify(&token).await).await;
}

#[tokio::test]
async fn a_verification_link_past_its_lifetime_is_refused_and_changes_nothing() {
    let app = spawn_app().await;
    let user = TestUser::generate();
    app.register(&user).await;
    let token = app.wait_for_mail(&user.email, VERIFY).await.token(&app.public_url(), "verify-email");

    app.clock.advance(Duration::hours(24) + Duration::seconds(1));

    assert_invalid_token(app.verify(&token).await).await;
    let session = app.login(&user).await;
    assert_eq!(app.me(&session.access_token).await["is_verified"], false);
}

#[tokio::test]
async fn an_unknown_or_malformed_token_is_refused_the_same_way() {
    let app = spawn_app().await;
    assert_invalid_token(app.verify("not-a-token-at-all").await).await;
    assert_invalid_token(app.verify(&"A".repeat(43)).await).await;
    let problem = assert_problem(
        app.post("/api/v1/auth/email/verify", None, &json!({})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "VALIDATION_FAILED",
    )
    .await;
    assert_eq!(problem["errors"][0]["code"], "REQUIRED");
}

#[tokio::test]
async fn a_new_verification_link_replaces_the_earlier_one_and_a_verified_address_gets_none() {
    let app = spawn_app().await;
    let session = app.member().await;
    let email = session.user.email.clone();
    let first = app.wait_for_mail(&email, VERIFY).await.token(&app.public_url(), "verify-email");

    let response = app.post("/api/v1/auth/email/resend", Some(&session.access_token), &json!({})).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let second = app.wait_for_mails(&email, VERIFY, 2).await.token(&app.public_url(), "verify-email");
    assert_ne!(first, second);

    assert_invalid_token(app.verify(&first).await).await;
    assert_eq!(app.verify(&second).await.status(), StatusCode::NO_CONTENT);

    let response = app.post("/api/v1/auth/email/resend", Some(&session.access_token), &json!({})).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    app.wait_until_mail_delivered().await;
    assert_eq!(app.mails_to(&email).len(), 2, "no third mail");
}

#[tokio::test]
async fn a_user_created_by_an_admin_is_mailed_a_verification_link() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let user = TestUser::generate();

    let response = app.post("/api/v1/users", Some(&admin.access_token), &user.body()).await;
    assert_eq!(response.status(), StatusCode::CREATED);

    let token = app.wait_for_mail(&user.email, VERIFY).await.token(&app.public_url(), "verify-email");
    assert_eq!(app.verify(&token).await.status(), StatusCode::NO_CONTENT);
    let session = app.login(&user).await;
    assert_eq!(app.me(&session.access_token).await["is_verified"], true);
}

// ---------------------------------------------------------------------------------------------
// requiring a verified address

#[tokio::test]
async fn with_verification_required_an_unverified_account_may_only_look_after_itself() {
    let app = spawn_app_with(|s| s.auth.require_verified_email = true).await;
    let session = app.member().await;
    let token = &session.access_token;

    for response in [
        app.patch("/api/v1/users/me", Some(token), &json!({"full_name": "Ada"})).await,
        app.get(&format!("/api/v1/users/{}", session.id), Some(token)).await,
        app.get("/api/v1/users", Some(token)).await,
        app.post("/api/v1/users/me/password", Some(token), &json!({"current_password": "x", "new_password": "y"}))
            .await,
    ] {
        assert_problem(response, StatusCode::FORBIDDEN, "EMAIL_NOT_VERIFIED").await;
    }
    assert_eq!(app.me(token).await["is_verified"], false);
    let response = app.post("/api/v1/auth/email/resend", Some(token), &json!({})).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);

    let link = app.wait_for_mails(&session.user.email, VERIFY, 2).await.token(&app.public_url(), "verify-email");
    assert_eq!(app.verify(&link).await.status(), StatusCode::NO_CONTENT);
    let response = app.patch("/api/v1/users/me", Some(token), &json!({"full_name": "Ada"})).await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn with_verification_required_an_unverified_account_can_still_log_out() {
    let app = spawn_app_with(|s| s.auth.require_verified_email = true).await;
    let session = app.member().await;

    let response = app.post("/api/v1/auth/logout", Some(&session.access_token), &json!({})).await;

    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.get("/api/v1/users/me", Some(&session.access_token)).await.status(), StatusCode::UNAUTHORIZED);
}

// ---------------------------------------------------------------------------------------------
// password reset

#[tokio::test]
async fn forgot_password_for_an_unknown_address_answers_202_and_mails_nothing() {
    let app = spawn_app().await;
    let known = app.member().await;
    app.wait_for_mail(&known.user.email, VERIFY).await;

    let unknown = app.post("/api/v1/auth/password/forgot", None, &json!({"email": "nobody@example.com"})).await;
    assert_eq!(unknown.status(), StatusCode::ACCEPTED);
    let unknown_body = unknown.bytes().await.unwrap();
    app.assert_no_mail_to("nobody@example.com").await;

    let known_response =
        app.post("/api/v1/auth/password/forgot", None, &json!({"email": known.user.email.to_uppercase()})).await;
    assert_eq!(known_response.status(), StatusCode::ACCEPTED);
    assert_eq!(known_response.bytes().await.unwrap(), unknown_body, "the same body either way");
    app.wait_for_mail(&known.user.email, RESET).await;
}

#[tokio::test]
async fn a_reset_link_sets_a_new_password_once_and_ends_every_session() {
    let app = spawn_app().await;
    let first = app.member().await;
    let second = app.login(&first.user).await;
    let email = first.user.email.clone();

    let response = app.post("/api/v1/auth/password/forgot", None, &json!({ "email": email })).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let mail = app.wait_for_mail(&email, RESET).await;
    assert!(mail.text.contains("expires in 1 hour"), "{}", mail.text);
    let token = mail.token(&app.public_url(), "reset-password");

    let reset = json!({"token": token, "new_password": NEW_PASSWORD});
    let response = app.post("/api/v1/auth/password/reset", None, &reset).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);

    for session in [&first, &second] {
        let response = app.get("/api/v1/users/me", Some(&session.access_token)).await;
        assert_problem(response, StatusCode::UNAUTHORIZED, "TOKEN_REVOKED").await;
    }
    assert_eq!(app.login_with(&email, &first.user.password).await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(app.login_with(&email, NEW_PASSWORD).await.status(), StatusCode::OK);
    app.wait_for_mail(&email, CHANGED).await;

    let again = json!({"token": token, "new_password": "Another-Brass-Orrery-7!"});
    assert_invalid_token(app.post("/api/v1/auth/password/reset", None, &again).await).await;
    assert_eq!(app.login_with(&email, NEW_PASSWORD).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_reset_with_a_weak_password_names_it_and_leaves_the_link_usable() {
    let app = spawn_app().await;
    let session = app.member().await;
    let email = session.user.email.clone();
    app.post("/api/v1/auth/password/forgot", None, &json!({ "email": email })).await;
    let token = app.wait_for_mail(&email, RESET).await.token(&app.public_url(), "reset-password");

    let response =
        app.post("/api/v1/auth/password/reset", None, &json!({"token": token, "new_password": "password1"})).await;
    let problem = assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_FAILED").await;
    assert_eq!(problem["errors"][0]["field"], "new_password");
    assert_eq!(app.get("/api/v1/users/me", Some(&session.access_token)).await.status(), StatusCode::OK);

    let response =
        app.post("/api/v1/auth/password/reset", None, &json!({"token": token, "new_password": NEW_PASSWORD})).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn a_reset_link_expires_after_an_hour_and_a_verification_link_does_not_reset() {
    let app = spawn_app().await;
    let session = app.member().await;
    let email = session.user.email.clone();
    let verification = app.wait_for_mail(&email, VERIFY).await.token(&app.public_url(), "verify-email");
    app.post("/api/v1/auth/password/forgot", None, &json!({ "email": email })).await;
    let token = app.wait_for_mail(&email, RESET).await.token(&app.public_url(), "reset-password");

    let wrong_purpose = json!({"token": verification, "new_password": NEW_PASSWORD});
    assert_invalid_token(app.post("/api/v1/auth/password/reset", None, &wrong_purpose).await).await;

    app.clock.advance(Duration::hours(1));
    let expired = json!({"token": token, "new_password": NEW_PASSWORD});
    assert_invalid_token(app.post("/api/v1/auth/password/reset", None, &expired).await).await;
    assert_eq!(app.login_with(&email, &session.user.password).await.status(), StatusCode::OK);
}

// ---------------------------------------------------------------------------------------------
// password change

#[tokio::test]
async fn changing_the_password_ends_the_other_sessions_but_not_the_current_one() {
    let app = spawn_app().await;
    let current = app.member().await;
    let other = app.login(&current.user).await;
    let email = current.user.email.clone();

    let wrong = json!({"current_password": "Not-The-Password-9!", "new_password": NEW_PASSWORD});
    let response = app.post("/api/v1/users/me/password", Some(&current.access_token), &wrong).await;
    let problem = assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_FAILED").await;
    assert_eq!(problem["errors"][0]["field"], "current_password");
    assert_eq!(problem["errors"][0]["code"], "INVALID_PASSWORD");

    let right = json!({"current_password": current.user.password, "new_password": NEW_PASSWORD});
    let response = app.post("/api/v1/users/me/password", Some(&current.access_token), &right).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);

    assert_eq!(app.get("/api/v1/users/me", Some(&current.access_token)).await.status(), StatusCode::OK);
    let response = app.get("/api/v1/users/me", Some(&other.access_token)).await;
    assert_problem(response, StatusCode::UNAUTHORIZED, "TOKEN_REVOKED").await;
    assert_eq!(app.login_with(&email, &current.user.password).await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(app.login_with(&email, NEW_PASSWORD).await.status(), StatusCode::OK);
    let notice = app.wait_for_mail(&email, CHANGED).await;
    assert!(!notice.text.contains(NEW_PASSWORD), "the notice does not repeat the password");
}

#[tokio::test]
async fn a_new_password_against_the_policy_is_refused_by_name() {
    let app = spawn_app().await;
    let session = app.member().await;
    let body = json!({"current_password": session.user.password, "new_password": "short"});

    let response = app.post("/api/v1/users/me/password", Some(&session.access_token), &body).await;

    let problem = assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_FAILED").await;
    assert_eq!(problem["errors"][0]["field"], "new_password");
    assert_eq!(problem["errors"][0]["code"], "TOO_SHORT");
}

// ---------------------------------------------------------------------------------------------
// e-mail change

#[tokio::test]
async fn changing_ones_own_address_needs_the_current_password_and_the_new_address_is_verified_by_mail() {
    let app = spawn_app().await;
    let session = app.member().await;
    let old = session.user.email.clone();
    let new = format!("moved-{old}");
    let token = &session.access_token;

    let response = app.patch("/api/v1/users/me", Some(token), &json!({ "email": new })).await;
    let problem = assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_FAILED").await;
    assert_eq!(
        (&problem["errors"][0]["field"], &problem["errors"][0]["code"]),
        (&json!("current_password"), &json!("REQUIRED"))
    );
    let wrong = json!({"email": new, "current_password": "Not-The-Password-9!"});
    let response = app.patch("/api/v1/users/me", Some(token), &wrong).await;
    let problem = assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_FAILED").await;
    assert_eq!(problem["errors"][0]["code"], "INVALID_PASSWORD");
    assert_eq!(app.me(token).await["email"], json!(old), "nothing changed");

    let right = json!({"email": new, "current_password": session.user.password});
    let response = app.patch("/api/v1/users/me", Some(token), &right).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!((&body["email"], &body["is_verified"]), (&json!(new), &json!(false)));

    let notice = app.wait_for_mail(&old, "address of your Forge account was changed").await;
    assert!(notice.text.contains(&new), "{}", notice.text);
    let link = app.wait_for_mail(&new, VERIFY).await.token(&app.public_url(), "verify-email");
    assert_eq!(app.verify(&link).await.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.me(token).await["is_verified"], true);
}

#[tokio::test]
async fn a_verification_link_sent_to_the_old_address_no_longer_works() {
    let app = spawn_app().await;
    let session = app.member().await;
    let old = session.user.email.clone();
    let stale = app.wait_for_mail(&old, VERIFY).await.token(&app.public_url(), "verify-email");

    let body = json!({"email": format!("moved-{old}"), "current_password": session.user.password});
    assert_eq!(app.patch("/api/v1/users/me", Some(&session.access_token), &body).await.status(), StatusCode::OK);

    assert_invalid_token(app.verify(&stale).await).await;
}

#[tokio::test]
async fn an_admin_changes_someone_elses_address_without_a_password() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let member = app.member().await;
    let new = format!("moved-{}", member.user.email);

    let response =
        app.patch(&format!("/api/v1/users/{}", member.id), Some(&admin.access_token), &json!({ "email": new })).await;

    assert_eq!(response.status(), StatusCode::OK);
    app.wait_for_mail(&new, VERIFY).await;
}

#[tokio::test]
async fn a_member_added_to_a_project_is_told_by_mail_once() {
    let app = spawn_app().await;
    let owner = app.member().await;
    let added = TestUser::generate();
    let body = app.register(&added).await;
    let added_id = body["id"].as_str().unwrap_or_else(|| panic!("no id in {body}")).to_owned();
    let project: Value =
        app.post("/api/v1/projects", Some(&owner.access_token), &json!({"name": "Apollo"})).await.json().await.unwrap();
    let path = format!("/api/v1/projects/{}/members", project["id"].as_str().unwrap());
    let response =
        app.post(&path, Some(&owner.access_token), &json!({"user_id": added_id, "role": "maintainer"})).await;
    assert_eq!(response.status(), StatusCode::CREATED);

    // Through the outbox, the relay and the mail queue.
    let mail = app.wait_for_mail(&added.email, "You were added to Apollo").await;
    assert!(mail.text.contains("You were added to the project Apollo"), "{}", mail.text);
    assert!(mail.text.contains("as maintainer"), "{}", mail.text);
    assert!(mail.html.contains("<strong>Apollo</strong>"), "{}", mail.html);
    app.wait_until_mail_delivered().await;
    assert_eq!(app.mails_to(&added.email).iter().filter(|m| m.subject.contains("Apollo")).count(), 1);
    assert!(app.mails_to(&owner.user.email).iter().all(|m| !m.subject.contains("Apollo")), "the owner is not told");
}
