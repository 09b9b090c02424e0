//! The rules, as plain values and pure functions: what a limit is, what a hit decides, which
//! requests are limited and by how much, and when failed logins slow down and lock an account.

use std::{fmt, net::IpAddr, str::FromStr};

use chrono::{DateTime, Duration, Utc};
use forge_domain::users::{Email, Username};

/// At most `max` requests in a window of `window`, e.g. `10/60s`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    max: u32,
    window: Duration,
}

/// Why a string is not a limit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LimitError {
    /// Not of the shape `COUNT/WINDOW`.
    #[error("must look like 10/60s (a count, a slash, and a window in s, m or h)")]
    Format,
    /// A count of 0.
    #[error("the count must be at least 1")]
    ZeroCount,
    /// A window under one second or over a day.
    #[error("the window must be between 1 second and 24 hours")]
    Window,
}

impl Limit {
    /// The longest window: counters are meant to lapse, not to be kept forever.
    const MAX_WINDOW: Duration = Duration::hours(24);

    /// `max` requests per `window`.
    ///
    /// # Errors
    /// [`LimitError`] for a count of 0, or a window under a second or over a day.
    pub fn new(max: u32, window: Duration) -> Result<Self, LimitError> {
        if max == 0 {
            return Err(LimitError::ZeroCount);
        }
        if window < Duration::seconds(1) || window > Self::MAX_WINDOW {
            return Err(LimitError::Window);
        }
        Ok(Self { max, window })
    }

    /// Parses `COUNT/WINDOW`, the window a number of seconds with the unit `s`, `m` or `h`
    /// (`10/60s`, `5/15m`, `100/1h`); a bare number is seconds.
    ///
    /// # Errors
    /// [`LimitError`] saying what is wrong.
    pub fn parse(raw: &str) -> Result<Self, LimitError> {
        let (count, window) = raw.trim().split_once('/').ok_or(LimitError::Format)?;
        let max: u32 = count.trim().parse().map_err(|_| LimitError::Format)?;
        let window = window.trim();
        let (number, unit) = match window.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
            Some((at, _)) => window.split_at(at),
            None => (window, "s"),
        };
        let number: i64 = number.parse().map_err(|_| LimitError::Format)?;
        let seconds = match unit {
            "s" => Some(number),
            "m" => number.checked_mul(60),
            "h" => number.checked_mul(3600),
            _ => return Err(LimitError::Format),
        };
        let window = seconds.and_then(Duration::try_seconds).ok_or(LimitError::Window)?;
        Self::new(max, window)
    }

    /// How many requests a window allows.
    #[must_use]
    pub const fn max(&self) -> u32 {
        self.max
    }

    /// How long a window lasts.
    #[must_use]
    pub const fn window(&self) -> Duration {
        self.window
    }
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}s", self.max, self.window.num_seconds())
    }
}

impl FromStr for Limit {
    type Err = LimitError;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        Self::parse(raw)
    }
}

/// What one hit of a limit decided, and what a client is told about it (the `RateLimit-*` and
/// `Retry-After` headers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    /// Whether the request is within the limit.
    pub allowed: bool,
    /// The requests a window allows.
    pub limit: u32,
    /// The requests left in this window after this one.
    pub remaining: u32,
    /// How long until the window ends and the count starts again.
    pub reset_after: Duration,
    /// When refused, how long to wait before trying again (the rest of the window).
    pub retry_after: Option<Duration>,
}

impl Decision {
    /// The decision for the `count`th hit (from 1) of a window of `limit` that ends in
    /// `reset_after`. Every adapter decides through this, so they all decide alike.
    #[must_use]
    pub fn from_count(limit: &Limit, count: u64, reset_after: Duration) -> Self {
        let max = u64::from(limit.max());
        let allowed = count <= max;
        let remaining = u32::try_from(max.saturating_sub(count)).unwrap_or(u32::MAX);
        let reset_after = reset_after.max(Duration::zero());
        Self { allowed, limit: limit.max(), remaining, reset_after, retry_after: (!allowed).then_some(reset_after) }
    }

    /// Of two decisions about one request, the one to report: a refusal over an allowance, then
    /// the one with fewer requests left, then the one that resets later.
    #[must_use]
    pub fn most_restrictive(self, other: Self) -> Self {
        let key = |d: &Self| (d.allowed, d.remaining, -d.reset_after);
        if key(&other) < key(&self) { other } else { self }
    }
}

/// The kinds of request limited per client address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LimitedAction {
    /// `POST /auth/login` and `POST /auth/token`: one budget for both.
    Login,
    /// `POST /auth/refresh`.
    Refresh,
    /// `POST /auth/register`.
    Register,
    /// `POST /auth/password/forgot`.
    ForgotPassword,
}

impl LimitedAction {
    /// Every limited action.
    pub const ALL: [Self; 4] = [Self::Login, Self::Refresh, Self::Register, Self::ForgotPassword];

    /// The scope of its keys and the name of its setting, e.g. `login`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Login => "login",
            Self::Refresh => "refresh",
            Self::Register => "register",
            Self::ForgotPassword => "password_forgot",
        }
    }
}

/// The request limits in force.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimitSettings {
    /// Whether request limits apply at all (the lockout is configured apart).
    pub enabled: bool,
    /// Logins (both endpoints together) per client address.
    pub login_per_ip: Limit,
    /// Logins per account identifier (normalized e-mail address or username), from anywhere.
    pub login_per_account: Limit,
    /// Refreshes per client address.
    pub refresh_per_ip: Limit,
    /// Registrations per client address.
    pub register_per_ip: Limit,
    /// Password-reset requests per client address.
    pub password_forgot_per_ip: Limit,
}

impl RateLimitSettings {
    /// The per-address limit of `action`.
    #[must_use]
    pub const fn per_ip(&self, action: LimitedAction) -> Limit {
        match action {
            LimitedAction::Login => self.login_per_ip,
            LimitedAction::Refresh => self.refresh_per_ip,
            LimitedAction::Register => self.register_per_ip,
            LimitedAction::ForgotPassword => self.password_forgot_per_ip,
        }
    }
}

impl Default for RateLimitSettings {
    /// Generous enough for people behind one shared address (an office, a campus), tight enough
    /// that guessing passwords or opening accounts in bulk is slow.
    fn default() -> Self {
        Self {
            enabled: true,
            login_per_ip: Limit { max: 20, window: Duration::seconds(60) },
            login_per_account: Limit { max: 10, window: Duration::seconds(60) },
            refresh_per_ip: Limit { max: 60, window: Duration::seconds(60) },
            register_per_ip: Limit { max: 10, window: Duration::hours(1) },
            password_forgot_per_ip: Limit { max: 5, window: Duration::minutes(15) },
        }
    }
}

/// How failed logins of one account (or one unknown identifier) slow down and lock it.
///
/// After `delay_after` failures in a row, each further attempt must wait `base_delay`, then
/// twice that, and so on (at most `max_delay`) after the latest failure; after `lock_after`
/// failures the account is locked for `lock_duration`, in which even the right password is
/// refused. A streak is forgotten `lock_duration` after its latest failure (which is also when a
/// lock ends), on a successful login, and when an admin unlocks the account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockoutPolicy {
    /// Failures before attempts are delayed.
    pub delay_after: u32,
    /// The first delay.
    pub base_delay: Duration,
    /// The longest delay.
    pub max_delay: Duration,
    /// Failures that lock the account.
    pub lock_after: u32,
    /// How long a lock lasts, and how long a streak is remembered.
    pub lock_duration: Duration,
}

impl Default for LockoutPolicy {
    fn default() -> Self {
        Self {
            delay_after: 3,
            base_delay: Duration::seconds(1),
            max_delay: Duration::minutes(5),
            lock_after: 10,
            lock_duration: Duration::minutes(15),
        }
    }
}

/// Failed logins in a row as the policy sees them, wherever they are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FailedLogins {
    /// How many.
    pub failures: u32,
    /// The latest.
    pub last_failure_at: DateTime<Utc>,
    /// Until when the account is locked, if it is.
    pub locked_until: Option<DateTime<Utc>>,
}

/// Whether a login attempt may go ahead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockoutVerdict {
    /// It may: the password is checked.
    Open,
    /// Too soon after the latest failure: refused without checking the password.
    Wait {
        /// How long until an attempt is admitted.
        retry_after: Duration,
    },
    /// The account is locked: refused without checking the password.
    Locked {
        /// How long until the lock ends.
        retry_after: Duration,
    },
}

impl LockoutPolicy {
    /// How long an attempt must wait after the latest of `failures` failures; none before
    /// `delay_after`.
    #[must_use]
    pub fn delay(&self, failures: u32) -> Option<Duration> {
        let doublings = failures.checked_sub(self.delay_after)?;
        // 2^20 seconds is twelve days: any sane `max_delay` is reached long before.
        let factor = 1_i32 << doublings.min(20);
        Some((self.base_delay * factor).min(self.max_delay))
    }

    /// Whether `failed` still counts at `now`: its lock has not ended, or its latest failure is
    /// less than `lock_duration` ago.
    #[must_use]
    pub fn is_live(&self, failed: &FailedLogins, now: DateTime<Utc>) -> bool {
        failed.locked_until.is_some_and(|until| until > now) || now < failed.last_failure_at + self.lock_duration
    }

    /// Whether an attempt at `now` may go ahead, after `failed`.
    #[must_use]
    pub fn judge(&self, failed: Option<&FailedLogins>, now: DateTime<Utc>) -> LockoutVerdict {
        let Some(failed) = failed.filter(|f| self.is_live(f, now)) else {
            return LockoutVerdict::Open;
        };
        if let Some(until) = failed.locked_until.filter(|until| *until > now) {
            return LockoutVerdict::Locked { retry_after: until - now };
        }
        match self.delay(failed.failures).map(|delay| failed.last_failure_at + delay) {
            Some(until) if until > now => LockoutVerdict::Wait { retry_after: until - now },
            _ => LockoutVerdict::Open,
        }
    }

    /// The streak after one more failure at `now`, counting from `failed` if it still counts.
    #[must_use]
    pub fn after_failure(&self, failed: Option<&FailedLogins>, now: DateTime<Utc>) -> FailedLogins {
        let failures = failed.filter(|f| self.is_live(f, now)).map_or(0, |f| f.failures).saturating_add(1);
        FailedLogins { failures, last_failure_at: now, locked_until: self.lock_for(failures, now) }
    }

    /// The streak a [`RateLimiter`](super::ports::RateLimiter) reports for an unknown identifier, as
    /// the stored state of an account would be after the same failures: so that an unknown
    /// identifier is slowed and locked exactly like an account.
    #[must_use]
    pub fn from_streak(&self, failures: u32, last_failure_at: DateTime<Utc>) -> FailedLogins {
        FailedLogins { failures, last_failure_at, locked_until: self.lock_for(failures, last_failure_at) }
    }

    fn lock_for(&self, failures: u32, last_failure_at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        (failures >= self.lock_after).then(|| last_failure_at + self.lock_duration)
    }
}

/// The form of a login identifier that limits and the lockout count under: an e-mail address
/// as parsed (trimmed, lower-cased), a username in its case-insensitive form, and anything else
/// trimmed and lower-cased (such an identifier names no account, but it is still counted, so that
/// it behaves like one).
#[must_use]
pub fn normalize_identifier(raw: &str) -> String {
    if raw.contains('@') {
        if let Ok(email) = Email::parse(raw) {
            return email.as_ref().to_owned();
        }
    } else if let Ok(username) = Username::parse(raw) {
        return username.normalized();
    }
    raw.trim().to_lowercase()
}

/// The subject a client address is counted under: an IPv4 address as it is, an IPv6 address by
/// its /64 network (one subscriber usually holds a whole /64, so counting single addresses would
/// let one client pick from billions).
#[must_use]
pub fn client_subject(ip: IpAddr) -> String {
    match ip.to_canonical() {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let segments = v6.segments();
            let network = std::net::Ipv6Addr::new(segments[0], segments[1], segments[2], segments[3], 0, 0, 0, 0);
            format!("{network}/64")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000 + seconds, 0).expect("a valid timestamp")
    }

    #[test]
    fn limits_parse_with_units_and_refuse_nonsense() {
        assert_eq!(Limit::parse("10/60s"), Limit::new(10, Duration::seconds(60)));
        assert_eq!(Limit::parse(" 5 / 15m "), Limit::new(5, Duration::minutes(15)));
        assert_eq!(Limit::parse("100/1h"), Limit::new(100, Duration::hours(1)));
        assert_eq!(Limit::parse("3/30"), Limit::new(3, Duration::seconds(30)));
        assert_eq!(Limit::parse("10"), Err(LimitError::Format));
        assert_eq!(Limit::parse("ten/60s"), Err(LimitError::Format));
        assert_eq!(Limit::parse("10/60d"), Err(LimitError::Format));
        assert_eq!(Limit::parse("0/60s"), Err(LimitError::ZeroCount));
        assert_eq!(Limit::parse("10/0s"), Err(LimitError::Window));
        assert_eq!(Limit::parse("10/25h"), Err(LimitError::Window));
        assert_eq!(Limit::parse("10/99999999999999999h"), Err(LimitError::Window));
        assert_eq!(Limit::parse("10/999999999999999999999s"), Err(LimitError::Format));
        assert_eq!(Limit::parse("7/2m").unwrap().to_string(), "7/120s");
    }

    #[test]
    fn a_decision_counts_down_and_refuses_past_the_limit() {
        let limit = Limit::new(2, Duration::seconds(60)).unwrap();
        let first = Decision::from_count(&limit, 1, Duration::seconds(60));
        assert_eq!((first.allowed, first.remaining, first.retry_after), (true, 1, None));
        let second = Decision::from_count(&limit, 2, Duration::seconds(30));
        assert_eq!((second.allowed, second.remaining), (true, 0));
        let third = Decision::from_count(&limit, 3, Duration::seconds(30));
        assert_eq!((third.allowed, third.remaining, third.retry_after), (false, 0, Some(Duration::seconds(30))));
    }

    #[test]
    fn the_most_restrictive_decision_is_reported() {
        let limit = Limit::new(10, Duration::seconds(60)).unwrap();
        let roomy = Decision::from_count(&limit, 1, Duration::seconds(50));
        let tight = Decision::from_count(&limit, 8, Duration::seconds(10));
        let refused = Decision::from_count(&limit, 11, Duration::seconds(5));
        assert_eq!(roomy.most_restrictive(tight), tight);
        assert_eq!(tight.most_restrictive(roomy), tight);
        assert_eq!(tight.most_restrictive(refused), refused);
        let later = Decision::from_count(&limit, 8, Duration::seconds(40));
        assert_eq!(tight.most_restrictive(later), later);
    }

    #[test]
    fn delays_start_after_three_failures_and_double_up_to_the_maximum() {
        let policy = LockoutPolicy { max_delay: Duration::seconds(10), ..LockoutPolicy::default() };
        let delays: Vec<Option<i64>> = (1..=8).map(|n| policy.delay(n).map(|d| d.num_seconds())).collect();
        assert_eq!(delays, [None, None, Some(1), Some(2), Some(4), Some(8), Some(10), Some(10)]);
        assert_eq!(policy.delay(u32::MAX), Some(Duration::seconds(10)));
    }

    #[test]
    fn an_attempt_waits_out_the_delay_after_the_latest_failure() {
        let policy = LockoutPolicy::default();
        let mut failed = None;
        for n in 0..4 {
            failed = Some(policy.after_failure(failed.as_ref(), at(n * 10)));
        }
        // Four failures, the latest at 30 s: the next attempt waits 2 s.
        assert_eq!(policy.judge(failed.as_ref(), at(30)), LockoutVerdict::Wait { retry_after: Duration::seconds(2) });
        assert_eq!(policy.judge(failed.as_ref(), at(31)), LockoutVerdict::Wait { retry_after: Duration::seconds(1) });
        assert_eq!(policy.judge(failed.as_ref(), at(32)), LockoutVerdict::Open);
    }

    #[test]
    fn the_lock_engages_at_the_threshold_and_ends_with_the_streak() {
        let policy = LockoutPolicy::default();
        let mut failed = None;
        for n in 0..10 {
            failed = Some(policy.after_failure(failed.as_ref(), at(n * 100)));
        }
        let failed = failed.unwrap();
        assert_eq!(failed.failures, 10);
        assert_eq!(failed.locked_until, Some(at(900 + 900)));
        assert_eq!(
            policy.judge(Some(&failed), at(901)),
            LockoutVerdict::Locked { retry_after: Duration::seconds(899) }
        );
        assert_eq!(policy.judge(Some(&failed), at(1800)), LockoutVerdict::Open);
        assert_eq!(policy.after_failure(Some(&failed), at(1800)).failures, 1, "a lapsed streak starts over");
    }

    #[test]
    fn a_streak_is_forgotten_after_the_lock_duration_without_failures() {
        let policy = LockoutPolicy::default();
        let failed = policy.from_streak(5, at(0));
        assert!(policy.is_live(&failed, at(899)));
        assert!(!policy.is_live(&failed, at(900)));
        assert_eq!(policy.after_failure(Some(&failed), at(899)).failures, 6);
        assert_eq!(policy.after_failure(Some(&failed), at(900)).failures, 1);
    }

    #[test]
    fn a_streak_from_the_limiter_reads_as_the_same_stored_state() {
        let policy = LockoutPolicy::default();
        let mut stored = None;
        for n in 0..10 {
            stored = Some(policy.after_failure(stored.as_ref(), at(n)));
        }
        assert_eq!(stored, Some(policy.from_streak(10, at(9))));
    }

    #[test]
    fn identifiers_are_normalized_like_accounts_are_looked_up() {
        assert_eq!(normalize_identifier("  Ada@Example.COM "), "ada@example.com");
        assert_eq!(normalize_identifier("Ada.L"), "ada.l");
        assert_eq!(normalize_identifier(" Not An@Address "), "not an@address");
        assert_eq!(normalize_identifier("x"), "x");
    }

    #[test]
    fn ipv6_clients_are_counted_by_their_64_network() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::9".parse().unwrap();
        assert_eq!(client_subject(a), "2001:db8:1:2::/64");
        assert_eq!(client_subject(a), client_subject(b));
        assert_eq!(client_subject("203.0.113.7".parse().unwrap()), "203.0.113.7");
        assert_eq!(client_subject("::ffff:203.0.113.7".parse().unwrap()), "203.0.113.7");
    }
}
