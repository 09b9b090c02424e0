use std::{net::IpAddr, sync::Arc};

use super::{
    Decision, LimitedAction, RateLimitSettings,
    policy::{client_subject, normalize_identifier},
    ports::{RateKey, RateLimiter},
};
use crate::common::{Clock, UnexpectedError};

/// The subject of requests whose client address is unknown (none in a real server; a test
/// request without a peer): they share one budget rather than go uncounted.
const UNKNOWN_CLIENT: &str = "unknown";

/// Request limits: how many requests of each limited kind one client address, and one login
/// identifier, may make per window.
///
/// The HTTP layer decides which requests are which [`LimitedAction`]; this service decides the
/// keys and the limits, and counts through the [`RateLimiter`].
#[derive(Clone)]
pub struct LimitService {
    limiter: Arc<dyn RateLimiter>,
    clock: Arc<dyn Clock>,
    settings: Arc<RateLimitSettings>,
}

impl LimitService {
    /// Builds the service.
    #[must_use]
    pub fn new(limiter: Arc<dyn RateLimiter>, clock: Arc<dyn Clock>, settings: RateLimitSettings) -> Self {
        Self { limiter, clock, settings: Arc::new(settings) }
    }

    /// The settings in force.
    #[must_use]
    pub fn settings(&self) -> &RateLimitSettings {
        &self.settings
    }

    /// Counts a request of kind `action` from `client`. `None` when limits are off.
    ///
    /// # Errors
    /// [`UnexpectedError`] when the limiter fails; the request should then be refused (a 503),
    /// not let through uncounted.
    #[tracing::instrument(skip_all, fields(action = action.as_str()))]
    pub async fn check_client(
        &self,
        action: LimitedAction,
        client: Option<IpAddr>,
    ) -> Result<Option<Decision>, UnexpectedError> {
        if !self.settings.enabled {
            return Ok(None);
        }
        let subject = client.map_or_else(|| UNKNOWN_CLIENT.to_owned(), client_subject);
        let key = RateKey::new(&format!("{}:ip", action.as_str()), &subject);
        let decision = self.limiter.hit(&key, &self.settings.per_ip(action), self.clock.now()).await?;
        if !decision.allowed {
            tracing::info!(client = %subject, "request limit reached");
        }
        Ok(Some(decision))
    }

    /// Counts a login attempt for the account `identifier` names (or would name), whatever the
    /// address it comes from. `None` when limits are off.
    ///
    /// # Errors
    /// As [`LimitService::check_client`].
    #[tracing::instrument(skip_all)]
    pub async fn check_account(&self, identifier: &str) -> Result<Option<Decision>, UnexpectedError> {
        if !self.settings.enabled {
            return Ok(None);
        }
        let key = RateKey::new("login:account", &normalize_identifier(identifier));
        let decision = self.limiter.hit(&key, &self.settings.login_per_account, self.clock.now()).await?;
        if !decision.allowed {
            tracing::info!("login limit of an account identifier reached");
        }
        Ok(Some(decision))
    }
}
