//! Handlers of the real-time endpoints.

use std::sync::Arc;

use actix_web::{
    HttpRequest, HttpResponse,
    http::header::{self, HeaderValue},
    web,
};
use forge_application::{
    Actor,
    auth::{AccessPurpose, AuthService},
    realtime::{RealtimeService, TicketError},
};
use secrecy::{ExposeSecret as _, SecretString};
use serde::Serialize;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::{
    connection::Connection,
    hub::{Hub, Refusal},
};
use crate::{
    app::{HttpSettings, origin_of},
    extract::{Authenticated, actor::authenticated, client::client_context},
    openapi::responses as problems,
    problem::{Problem, ProblemCode},
};

/// A WebSocket ticket.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"ticket": "wst_2vGd4cX1bq0yN3m5pQ8rT6uW9zA7eC4f", "expires_in": 30}))]
pub struct TicketResponse {
    /// The ticket: pass it as `?ticket=` to `GET /api/v1/ws`, once.
    pub ticket: String,
    /// Seconds until it stops working.
    pub expires_in: u64,
}

/// The query of `GET /api/v1/ws`.
#[derive(Debug, Default, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ConnectQuery {
    /// A ticket from `POST /api/v1/ws/ticket`, for clients that cannot send an `Authorization`
    /// header (browsers). Used up by this request, whatever its outcome.
    pub ticket: Option<String>,
    /// The id of the last event this client received: the events it missed since are sent
    /// first (see `docs/api.md` for the window).
    pub last_event_id: Option<Uuid>,
}

impl ConnectQuery {
    fn parse(query: &str) -> Result<Self, Problem> {
        let mut parsed = Self::default();
        for (name, value) in form_urlencoded::parse(query.as_bytes()) {
            match &*name {
                "ticket" if parsed.ticket.is_none() => parsed.ticket = Some(value.into_owned()),
                "last_event_id" if parsed.last_event_id.is_none() => {
                    parsed.last_event_id = Some(Uuid::parse_str(&value).map_err(|_| {
                        Problem::malformed("`last_event_id` must be the id (a UUID) of an event this client received")
                    })?);
                }
                "ticket" | "last_event_id" => {
                    return Err(Problem::malformed(format!("the query parameter `{name}` is given twice")));
                }
                _ => {
                    return Err(Problem::malformed(format!(
                        "unknown query parameter `{name}`; this endpoint takes `ticket` and `last_event_id`"
                    )));
                }
            }
        }
        Ok(parsed)
    }
}

/// Get a WebSocket ticket
///
/// A single-use ticket, valid for 30 seconds, bound to the caller's user and session, for
/// clients that cannot set headers on a WebSocket (browsers): open `GET /api/v1/ws?ticket=…`
/// with it. It stops working when its session ends. API keys cannot get tickets (they are sent
/// as a header to `GET /api/v1/ws` directly).
#[utoipa::path(
    post,
    path = "/api/v1/ws/ticket",
    tag = "realtime",
    operation_id = "create_ws_ticket",
    security(("bearer_auth" = []), ("oauth2_password" = [])),
    responses(
        (status = 201, description = "The ticket", body = TicketResponse,
            headers(("Cache-Control" = String, description = "`no-store`"))),
        (status = 401, response = problems::Unauthenticated),
        (status = 403, response = problems::Forbidden),
        (status = 503, response = problems::ServiceUnavailable),
    ),
)]
pub async fn ticket(
    req: HttpRequest,
    Authenticated(actor): Authenticated,
    realtime: Option<web::Data<RealtimeService>>,
) -> Result<HttpResponse, Problem> {
    let realtime = realtime.ok_or_else(|| realtime_off().at(&req))?;
    let issued = realtime.issue_ticket(&actor).await.map_err(|e| ticket_problem(e).at(&req))?;
    Ok(HttpResponse::Created().insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store"))).json(
        TicketResponse { ticket: issued.ticket.expose_secret().to_owned(), expires_in: issued.expires_in.as_secs() },
    ))
}

/// Open a WebSocket of live events
///
/// Authenticated by `Authorization: Bearer <access token>`, an API key with the `read` scope
/// (`Authorization: Bearer sk_…` or `X-API-Key`), or `?ticket=`. When the request has an
/// `Origin` header it must be an allowed origin (`FORGE_PUBLIC_URL` or `FORGE_CORS_ORIGINS`).
///
/// The server sends JSON text messages: events `{"id", "type", "data", "occurred_at"}` that the
/// user may see at the moment of delivery (its account, the projects it is a member of, its
/// exports), `{"type": "ready"}` once it is subscribed (after what it missed, when resuming), and
/// `{"type": "pong"}` in answer to `{"type": "ping"}`. Message types and close codes are listed in
/// `docs/api.md`.
#[utoipa::path(
    get,
    path = "/api/v1/ws",
    tag = "realtime",
    operation_id = "connect_websocket",
    security((), ("bearer_auth" = []), ("api_key" = [])),
    params(ConnectQuery),
    responses(
        (status = 101, description = "Switched to the WebSocket protocol"),
        (status = 400, response = problems::MalformedRequest),
        (status = 401, response = problems::WebSocketUnauthenticated),
        (status = 403, response = problems::WebSocketForbidden),
        (status = 429, response = problems::TooManyConnections),
        (status = 503, response = problems::ConnectionsFull),
    ),
)]
pub async fn connect(
    req: HttpRequest,
    body: web::Payload,
    settings: web::Data<HttpSettings>,
    auth: web::Data<AuthService>,
    realtime: Option<web::Data<RealtimeService>>,
    hub: Option<web::Data<Hub>>,
) -> Result<HttpResponse, Problem> {
    let (Some(realtime), Some(hub)) = (realtime, hub) else { return Err(realtime_off().at(&req)) };
    check_origin(&req, &settings).map_err(|p| p.at(&req))?;
    let query = ConnectQuery::parse(req.query_string()).map_err(|p| p.at(&req))?;
    if !is_websocket_upgrade(&req) {
        return Err(Problem::malformed(
            "this endpoint speaks WebSocket: send a GET with `Connection: Upgrade` and `Upgrade: websocket`",
        )
        .at(&req));
    }
    let actor = match &query.ticket {
        Some(ticket) => {
            let actor = realtime
                .redeem_ticket(&SecretString::from(ticket.clone()), client_context(&req))
                .await
                .map_err(|e| ticket_problem(e).at(&req))?;
            auth.admit(&actor, AccessPurpose::General).map_err(|e| Problem::from(e).at(&req))?;
            actor
        }
        None => authenticated(&req).await.map_err(|p| p.at(&req))?.0,
    };
    let (peer, queue) =
        hub.admit(actor.id(), actor.session_id(), actor.api_key_id()).map_err(|r| refusal_problem(r, &hub).at(&req))?;
    let replay = match query.last_event_id {
        Some(last) => match realtime.replay(&actor, last).await {
            Ok(replay) => Some(replay),
            Err(e) => {
                hub.leave(&peer);
                return Err(Problem::from(e).at(&req));
            }
        },
        None => None,
    };
    let (response, session, stream) = match actix_ws::handle(&req, body) {
        Ok(parts) => parts,
        Err(_) => {
            hub.leave(&peer);
            return Err(Problem::malformed("the WebSocket handshake is invalid").at(&req));
        }
    };
    let limits = *hub.limits();
    let stream = stream
        .max_frame_size(limits.max_message_bytes)
        .aggregate_continuations()
        .max_continuation_size(limits.max_message_bytes);
    let id = Uuid::now_v7().to_string();
    log_connected(&actor, &id);
    let connection = Connection { hub: Arc::clone(&hub), peer, queue, session, stream, replay, id };
    actix_web::rt::spawn(connection.run());
    Ok(response)
}

fn log_connected(actor: &Actor, id: &str) {
    tracing::debug!(connection = id, user_id = %actor.id(), api_key = actor.is_api_key(), "WebSocket connected");
}

/// The `Origin` of a browser's request must be one the API allows; a client that sends none
/// (not a browser) is not judged by it.
fn check_origin(req: &HttpRequest, settings: &HttpSettings) -> Result<(), Problem> {
    let Some(origin) = req.headers().get(header::ORIGIN) else { return Ok(()) };
    match origin.to_str().ok().and_then(origin_of) {
        Some(origin) if settings.allowed_origins().contains(&origin) => Ok(()),
        _ => Err(Problem::new(
            ProblemCode::OriginNotAllowed,
            "the request's Origin is not an allowed origin (FORGE_PUBLIC_URL or FORGE_CORS_ORIGINS)",
        )),
    }
}

fn is_websocket_upgrade(req: &HttpRequest) -> bool {
    req.headers()
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|p| p.trim().eq_ignore_ascii_case("websocket")))
}

fn realtime_off() -> Problem {
    Problem::new(ProblemCode::ServiceUnavailable, "real-time events are not enabled on this server")
}

fn ticket_problem(e: TicketError) -> Problem {
    match e {
        TicketError::ApiKeyNotAllowed => Problem::new(
            ProblemCode::Forbidden,
            "tickets are issued to sessions; with an API key, connect with the key in a header",
        ),
        TicketError::Invalid => Problem::new(
            ProblemCode::InvalidTicket,
            "the ticket is unknown, used, expired, or its session has ended; get a new one",
        ),
        TicketError::Unexpected(e) => e.into(),
    }
}

fn refusal_problem(refusal: Refusal, hub: &Hub) -> Problem {
    match refusal {
        Refusal::PerUser => Problem::new(
            ProblemCode::TooManyConnections,
            format!(
                "this user already has {} WebSocket connections to this instance; close one first",
                hub.limits().max_connections_per_user
            ),
        ),
        Refusal::Full => Problem::new(
            ProblemCode::ConnectionsFull,
            "this instance holds as many WebSocket connections as it may; retry later",
        )
        .with_header(header::RETRY_AFTER, HeaderValue::from_static("5")),
    }
}
