//! The `Idempotency-Key` middleware on a test endpoint whose handler counts its calls and can be
//! held at a gate, so "a second request while the first runs" is a fact, not a race.

use std::sync::{
    Arc, Mutex,
    atomic::{AtomicUsize, Ordering},
};

use actix_web::{
    App, HttpResponse,
    body::MessageBody,
    dev::ServiceResponse,
    http::{StatusCode, header},
    middleware::from_fn,
    test::{self, TestRequest},
    web,
};
use forge_application::idempotency::{IdempotencyService, IdempotencySettings};
use forge_presentation::{
    HttpSettings,
    middleware::{idempotency::Idempotency, request_id::request_id, timeout::timeout},
};
use futures::channel::oneshot;
use serde_json::{Value, json};

use crate::support::{FixedClockForTests, MemoryIdempotencyStore, error_codes, problem_of, utc};

/// What the test handler does, and what it saw.
#[derive(Default)]
struct Handler {
    calls: AtomicUsize,
    /// Answer the next call with a 503 instead.
    fail_next: Mutex<bool>,
    /// Hold the next call: tell the first sender it entered, wait for the receiver.
    gate: Mutex<Option<(oneshot::Sender<()>, oneshot::Receiver<()>)>>,
}

impl Handler {
    /// Holds the next call; returns "it entered" and "let it go".
    fn hold_next(&self) -> (oneshot::Receiver<()>, oneshot::Sender<()>) {
        let (entered_tx, entered_rx) = oneshot::channel();
        let (release_tx, release_rx) = oneshot::channel();
        *self.gate.lock().unwrap() = Some((entered_tx, release_rx));
        (entered_rx, release_tx)
    }
}

async fn create(handler: web::Data<Handler>, body: web::Bytes) -> HttpResponse {
    let n = handler.calls.fetch_add(1, Ordering::SeqCst) + 1;
    let gate = handler.gate.lock().unwrap().take();
    if let Some((entered, release)) = gate {
        let _ = entered.send(());
        let _ = release.await;
    }
    if std::mem::take(&mut *handler.fail_next.lock().unwrap()) {
        return HttpResponse::ServiceUnavailable().json(json!({"status": 503}));
    }
    HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/things/{n}")))
        .insert_header((header::ETAG, format!("\"{n}\"")))
        .insert_header(("x-not-kept", "1"))
        .json(json!({"call": n, "echo": String::from_utf8_lossy(&body)}))
}

struct Fixture {
    handler: web::Data<Handler>,
    store: Arc<MemoryIdempotencyStore>,
}

fn fixture() -> Fixture {
    Fixture { handler: web::Data::new(Handler::default()), store: Arc::new(MemoryIdempotencyStore::default()) }
}

/// The test endpoint over the fixture's handler and store, behind the real middleware: its `POST`
/// wrapped as the application wraps a creating `POST` (the idempotency middleware inside the time
/// limit), the way the middleware's documentation shows for a plain route.
macro_rules! app {
    ($f:expr) => {{
        let clock = Arc::new(FixedClockForTests(utc()));
        let service = IdempotencyService::new($f.store.clone(), clock, IdempotencySettings::default());
        test::init_service(
            App::new()
                .app_data($f.handler.clone())
                .app_data(web::Data::new(service))
                .app_data(web::Data::new(HttpSettings::default()))
                .service(
                    web::resource("/things").route(
                        web::post()
                            .to(create)
                            .wrap(from_fn(|req, next| Idempotency::per_client().handle(req, next)))
                            .wrap(from_fn(timeout)),
                    ),
                )
                .wrap(from_fn(request_id)),
        )
        .await
    }};
}

fn post(key: Option<&str>, body: &str) -> TestRequest {
    let mut req =
        TestRequest::post().uri("/things").peer_addr("203.0.113.9:4000".parse().unwrap()).set_payload(body.to_owned());
    if let Some(key) = key {
        req = req.insert_header(("Idempotency-Key", key));
    }
    req
}

fn header_of(res: &ServiceResponse<impl MessageBody>, name: &str) -> Option<String> {
    res.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
}

async fn body_of(res: ServiceResponse<impl MessageBody>) -> Value {
    serde_json::from_slice(&test::read_body(res).await).unwrap()
}

#[actix_web::test]
async fn the_same_request_again_gets_the_first_response_and_the_handler_runs_once() {
    let f = fixture();
    let app = app!(f);

    let first = test::call_service(&app, post(Some("k-1"), "a").to_request()).await;
    let (first_location, first_etag) = (header_of(&first, "location"), header_of(&first, "etag"));
    assert_eq!(first.status(), StatusCode::CREATED);
    assert_eq!(header_of(&first, "idempotent-replayed"), None);
    let first_body = body_of(first).await;

    let again = test::call_service(&app, post(Some("k-1"), "a").to_request()).await;

    assert_eq!(again.status(), StatusCode::CREATED);
    assert_eq!(header_of(&again, "idempotent-replayed").as_deref(), Some("true"));
    assert_eq!(header_of(&again, "location"), first_location);
    assert_eq!(header_of(&again, "etag"), first_etag);
    assert_eq!(header_of(&again, "content-type").as_deref(), Some("application/json"));
    assert_eq!(header_of(&again, "x-not-kept"), None, "only the headers that matter are kept");
    assert!(header_of(&again, "x-request-id").is_some(), "a replay has its own request id");
    assert_eq!(body_of(again).await, first_body);
    assert_eq!(f.handler.calls.load(Ordering::SeqCst), 1);
}

#[actix_web::test]
async fn the_key_with_another_body_is_a_422_and_the_handler_does_not_run() {
    let f = fixture();
    let app = app!(f);
    assert_eq!(test::call_service(&app, post(Some("k-1"), "a").to_request()).await.status(), StatusCode::CREATED);

    let res = test::call_service(&app, post(Some("k-1"), "b").to_request()).await;

    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let problem = problem_of(res).await;
    assert_eq!(problem.code, "VALIDATION_FAILED");
    assert_eq!(error_codes(&problem), ["Idempotency-Key:IDEMPOTENCY_KEY_REUSED"]);
    assert_eq!(f.handler.calls.load(Ordering::SeqCst), 1);
}

#[actix_web::test]
async fn a_repeat_while_the_first_still_runs_is_a_409_then_the_first_finishes_and_is_replayed() {
    let f = fixture();
    let app = app!(f);
    let (entered, release) = f.handler.hold_next();

    let first = test::call_service(&app, post(Some("k-1"), "a").to_request());
    let second = async {
        entered.await.unwrap();
        let res = test::call_service(&app, post(Some("k-1"), "a").to_request()).await;
        release.send(()).unwrap();
        res
    };
    let (first, second) = futures::join!(first, second);

    assert_eq!(second.status(), StatusCode::CONFLICT);
    assert_eq!(header_of(&second, "retry-after").as_deref(), Some("1"));
    assert_eq!(problem_of(second).await.code, "CONFLICT");
    assert_eq!(first.status(), StatusCode::CREATED);
    let third = test::call_service(&app, post(Some("k-1"), "a").to_request()).await;
    assert_eq!(header_of(&third, "idempotent-replayed").as_deref(), Some("true"));
    assert_eq!(f.handler.calls.load(Ordering::SeqCst), 1);
}

#[actix_web::test]
async fn a_server_error_is_not_kept_so_a_retry_runs_again() {
    let f = fixture();
    let app = app!(f);
    *f.handler.fail_next.lock().unwrap() = true;

    let failed = test::call_service(&app, post(Some("k-1"), "a").to_request()).await;
    assert_eq!(failed.status(), StatusCode::SERVICE_UNAVAILABLE);
    let retried = test::call_service(&app, post(Some("k-1"), "a").to_request()).await;

    assert_eq!(retried.status(), StatusCode::CREATED);
    assert_eq!(header_of(&retried, "idempotent-replayed"), None);
    assert_eq!(f.handler.calls.load(Ordering::SeqCst), 2);
}

#[actix_web::test]
async fn an_abandoned_request_frees_its_key() {
    let f = fixture();
    let app = app!(f);
    let (entered, _never_released) = f.handler.hold_next();

    {
        let abandoned = test::call_service(&app, post(Some("k-1"), "a").to_request());
        futures::pin_mut!(abandoned);
        let futures::future::Either::Right(_) = futures::future::select(abandoned, entered).await else {
            panic!("the held request answered")
        };
        // Dropped here, as the time limit or a hung-up client drops it.
    }
    for _ in 0..10 {
        actix_web::rt::task::yield_now().await;
    }
    assert_eq!(f.store.len(), 0, "the key was released");

    let retried = test::call_service(&app, post(Some("k-1"), "a").to_request()).await;
    assert_eq!(retried.status(), StatusCode::CREATED);
    assert_eq!(f.handler.calls.load(Ordering::SeqCst), 2);
}

#[actix_web::test]
async fn without_a_key_every_request_runs_and_different_clients_have_their_own_keys() {
    let f = fixture();
    let app = app!(f);
    for _ in 0..2 {
        let res = test::call_service(&app, post(None, "a").to_request()).await;
        assert_eq!(res.status(), StatusCode::CREATED);
    }
    let other_client = post(Some("k-1"), "a").peer_addr("198.51.100.1:4000".parse().unwrap());
    assert_eq!(test::call_service(&app, post(Some("k-1"), "a").to_request()).await.status(), StatusCode::CREATED);
    let res = test::call_service(&app, other_client.to_request()).await;

    assert_eq!(header_of(&res, "idempotent-replayed"), None, "another client's key is its own");
    assert_eq!(f.handler.calls.load(Ordering::SeqCst), 4);
}

#[actix_web::test]
async fn a_bad_key_is_a_422_naming_the_header_and_nothing_runs() {
    let f = fixture();
    let app = app!(f);
    let too_long = "k".repeat(256);
    for (key, code) in [("", "REQUIRED"), ("has space", "INVALID_CHARACTER"), (too_long.as_str(), "TOO_LONG")] {
        let res = test::call_service(&app, post(Some(key), "a").to_request()).await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{key:?}");
        assert_eq!(error_codes(&problem_of(res).await), [format!("Idempotency-Key:{code}")]);
    }
    let twice = post(Some("k-1"), "a").append_header(("Idempotency-Key", "k-2"));
    let res = test::call_service(&app, twice.to_request()).await;
    assert_eq!(error_codes(&problem_of(res).await), ["Idempotency-Key:DUPLICATE"]);
    assert_eq!(f.handler.calls.load(Ordering::SeqCst), 0);
    assert_eq!(f.store.len(), 0);
}
