//! The refresh-token cookie, for single-page apps (`auth.refresh_cookie = true`).
//!
//! In this mode login, the token form and refresh set the refresh token as the cookie
//! `__Host-forge_refresh` (`Secure`, `HttpOnly`, `SameSite=Strict`, `Path=/`, `Max-Age` = the
//! token's remaining lifetime) instead of returning it in the body, so script running in the
//! page can never read it. Refresh reads it from the cookie, and then requires an
//! `X-Requested-With` header: a header a cross-site form or link cannot send, and that a
//! cross-origin script may only send after a CORS preflight the server answers for configured
//! origins only. Logout and logout-all clear the cookie.
//!
//! The `__Host-` prefix makes browsers refuse the cookie unless it is `Secure`, has `Path=/` and
//! no `Domain`: it is sent back to this host only, and only over HTTPS (browsers treat
//! `localhost` as secure, for development).

use actix_web::{
    HttpRequest,
    cookie::{Cookie, SameSite, time::Duration},
    http::header::{self, HeaderValue},
};
use forge_application::auth::RefreshCommand;
use secrecy::SecretString;

use crate::{
    extract::client::client_context,
    middleware::settings_of_request,
    problem::{Problem, ProblemCode},
};

/// The cookie's name.
pub const REFRESH_COOKIE: &str = "__Host-forge_refresh";

/// The header refresh requires in cookie mode.
pub const REQUESTED_WITH: &str = "x-requested-with";

/// Whether the server runs in cookie mode.
#[must_use]
pub fn enabled(req: &HttpRequest) -> bool {
    settings_of_request(req).refresh_cookie
}

/// The cookie holding `token` for `max_age_secs`.
#[must_use]
pub fn refresh_cookie(token: &str, max_age_secs: i64) -> Cookie<'static> {
    build(token.to_owned(), max_age_secs.max(0))
}

/// The cookie that makes a browser forget the refresh token.
#[must_use]
pub fn cleared_cookie() -> Cookie<'static> {
    build(String::new(), 0)
}

fn build(value: String, max_age_secs: i64) -> Cookie<'static> {
    Cookie::build(REFRESH_COOKIE, value)
        .path("/")
        .secure(true)
        .http_only(true)
        .same_site(SameSite::Strict)
        .max_age(Duration::seconds(max_age_secs))
        .finish()
}

/// `problem` with a `Set-Cookie` that clears the refresh cookie: a refused refresh leaves no
/// dead token behind in the browser.
#[must_use]
pub fn clearing(problem: Problem) -> Problem {
    match HeaderValue::from_str(&cleared_cookie().to_string()) {
        Ok(value) => problem.with_header(header::SET_COOKIE, value),
        Err(_) => problem,
    }
}

/// The refresh command of a cookie-mode request.
///
/// # Errors
/// 403 `FORBIDDEN` without a non-empty `X-Requested-With`; 401 `UNAUTHENTICATED` without the
/// cookie.
pub fn refresh_command(req: &HttpRequest) -> Result<RefreshCommand, Problem> {
    let requested_with = req.headers().get(REQUESTED_WITH).and_then(|v| v.to_str().ok()).map(str::trim);
    if requested_with.is_none_or(str::is_empty) {
        return Err(Problem::new(
            ProblemCode::Forbidden,
            "a refresh with the refresh cookie must send an `X-Requested-With` header",
        ));
    }
    let token = req.cookie(REFRESH_COOKIE).map(|c| c.value().to_owned()).filter(|v| !v.is_empty());
    let Some(token) = token else {
        return Err(Problem::unauthenticated(format!("the {REFRESH_COOKIE} cookie is missing; log in again")));
    };
    Ok(RefreshCommand { refresh_token: SecretString::from(token), context: client_context(req) })
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;
    use secrecy::ExposeSecret;

    use super::*;

    #[test]
    fn the_cookie_is_host_only_secure_http_only_and_strict() {
        let cookie = refresh_cookie("abc", 604_800).to_string();
        assert_eq!(cookie, "__Host-forge_refresh=abc; HttpOnly; SameSite=Strict; Secure; Path=/; Max-Age=604800");
        assert_eq!(
            cleared_cookie().to_string(),
            "__Host-forge_refresh=; HttpOnly; SameSite=Strict; Secure; Path=/; Max-Age=0"
        );
    }

    #[test]
    fn refresh_needs_the_header_then_the_cookie() {
        let cookie = Cookie::new(REFRESH_COOKIE, "abc");
        let without_header = TestRequest::post().cookie(cookie.clone()).to_http_request();
        assert_eq!(refresh_command(&without_header).unwrap_err().code(), ProblemCode::Forbidden);
        let blank_header =
            TestRequest::post().cookie(cookie.clone()).insert_header((REQUESTED_WITH, " ")).to_http_request();
        assert_eq!(refresh_command(&blank_header).unwrap_err().code(), ProblemCode::Forbidden);
        let without_cookie = TestRequest::post().insert_header((REQUESTED_WITH, "fetch")).to_http_request();
        assert_eq!(refresh_command(&without_cookie).unwrap_err().code(), ProblemCode::Unauthenticated);
        let ok = TestRequest::post().cookie(cookie).insert_header((REQUESTED_WITH, "XMLHttpRequest")).to_http_request();
        assert_eq!(refresh_command(&ok).unwrap().refresh_token.expose_secret(), "abc");
    }
}
