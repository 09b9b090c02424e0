//! Tokens never travel in a URL: URLs end up in proxy logs, browser history and `Referer`
//! headers. A request whose query string names a token parameter is refused with 400 before any
//! handler runs, whether or not the token would have been valid.

use actix_web::{
    Error, ResponseError,
    body::{BoxBody, MessageBody},
    dev::{ServiceRequest, ServiceResponse},
    middleware::Next,
};

use crate::problem::Problem;

/// Query parameters that carry credentials (compared without regard to case).
const TOKEN_PARAMETERS: [&str; 5] = ["access_token", "refresh_token", "token", "api_key", "apikey"];

/// The middleware.
pub async fn token_in_url(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    if let Some(name) = token_parameter(req.query_string()) {
        let problem = Problem::malformed(format!(
            "credentials must not be sent in the URL (query parameter `{name}`); send them in the Authorization header"
        ))
        .at(req.request());
        let response = problem.error_response();
        return Ok(req.into_response(response));
    }
    next.call(req).await.map(ServiceResponse::map_into_boxed_body)
}

/// The first token parameter named in `query`, decoded as a form would be.
fn token_parameter(query: &str) -> Option<&'static str> {
    // Decoding is lossy and never fails, so no spelling slips through as "unparsable".
    form_urlencoded::parse(query.as_bytes())
        .find_map(|(key, _)| TOKEN_PARAMETERS.into_iter().find(|name| key.trim().eq_ignore_ascii_case(name)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_parameters_are_found_however_they_are_spelled() {
        assert_eq!(token_parameter("access_token=abc"), Some("access_token"));
        assert_eq!(token_parameter("page=2&Refresh_Token=x"), Some("refresh_token"));
        assert_eq!(token_parameter("%74oken=x"), Some("token"));
        assert_eq!(token_parameter("api_key"), Some("api_key"));
        assert_eq!(token_parameter("apikey=1"), Some("apikey"));
    }

    #[test]
    fn ordinary_parameters_pass() {
        assert_eq!(token_parameter(""), None);
        assert_eq!(token_parameter("page=2&search=token"), None);
        assert_eq!(token_parameter("tokens=1&my_token=2"), None);
    }
}
