//! Where a request comes from: the client address, the user agent and the request id, handed to
//! use cases as a [`ClientContext`].
//!
//! The client address is the TCP peer, unless that peer is one of the configured trusted
//! proxies: then it is the right-most `X-Forwarded-For` entry that is not itself a trusted proxy.
//! Entries further left were written by the client and could say anything; believing them would
//! let anyone pick the address rate limits are counted against.

use std::net::{IpAddr, SocketAddr};

use actix_web::{
    HttpMessage, HttpRequest,
    http::header::{self, HeaderMap},
};
use forge_application::ClientContext;
use ipnet::IpNet;

use crate::middleware::{RequestId, settings_of_request};

/// The longest user agent kept; anything longer is cut (on a character boundary).
pub const MAX_USER_AGENT_CHARS: usize = 512;

/// Whether `ip` is inside one of the trusted proxy ranges.
#[must_use]
pub fn is_trusted(ip: IpAddr, trusted: &[IpNet]) -> bool {
    let ip = ip.to_canonical();
    trusted.iter().any(|net| net.contains(&ip))
}

/// Every `X-Forwarded-For` entry, in order, across repeated headers.
#[must_use]
pub fn forwarded_for(headers: &HeaderMap) -> Vec<&str> {
    headers
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .collect()
}

/// The client's address, given the direct peer, the `X-Forwarded-For` entries (left to right)
/// and the trusted proxies.
#[must_use]
pub fn resolve_client_ip(peer: Option<IpAddr>, forwarded_for: &[&str], trusted: &[IpNet]) -> Option<IpAddr> {
    let peer = peer?.to_canonical();
    if !is_trusted(peer, trusted) {
        return Some(peer);
    }
    // Walk from the nearest hop outwards, past our own proxies. An entry that does not parse was
    // not written by a proxy of ours, so the last trusted hop is the best we know.
    let mut nearest = peer;
    for entry in forwarded_for.iter().rev() {
        let Some(ip) = parse_entry(entry) else { return Some(nearest) };
        if !is_trusted(ip, trusted) {
            return Some(ip);
        }
        nearest = ip;
    }
    Some(nearest)
}

/// An address as proxies write it: `203.0.113.7`, `2001:db8::1`, `[2001:db8::1]:443` or
/// `203.0.113.7:443`.
fn parse_entry(entry: &str) -> Option<IpAddr> {
    entry
        .parse::<IpAddr>()
        .ok()
        .or_else(|| entry.parse::<SocketAddr>().ok().map(|a| a.ip()))
        .map(|ip| ip.to_canonical())
}

/// The client's address for this request.
#[must_use]
pub fn client_ip(req: &HttpRequest) -> Option<IpAddr> {
    let settings = settings_of_request(req);
    resolve_client_ip(req.peer_addr().map(|a| a.ip()), &forwarded_for(req.headers()), &settings.trusted_proxies)
}

/// The `User-Agent`, cut to [`MAX_USER_AGENT_CHARS`].
#[must_use]
pub fn user_agent(req: &HttpRequest) -> Option<String> {
    // Lossy rather than strict: a user agent with UTF-8 in it is still worth recording.
    let raw = String::from_utf8_lossy(req.headers().get(header::USER_AGENT)?.as_bytes());
    let raw = raw.trim();
    if raw.is_empty() {
        return None;
    }
    Some(raw.chars().take(MAX_USER_AGENT_CHARS).collect())
}

/// Everything use cases record about where a request came from.
#[must_use]
pub fn client_context(req: &HttpRequest) -> ClientContext {
    ClientContext {
        ip: client_ip(req).map(|ip| ip.to_string()),
        user_agent: user_agent(req),
        request_id: req.extensions().get::<RequestId>().map(ToString::to_string),
    }
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;

    fn ip(raw: &str) -> IpAddr {
        raw.parse().unwrap()
    }

    fn nets(raw: &[&str]) -> Vec<IpNet> {
        raw.iter().map(|n| n.parse().unwrap()).collect()
    }

    #[test]
    fn without_trusted_proxies_the_peer_is_the_client_whatever_the_header_says() {
        let resolved = resolve_client_ip(Some(ip("198.51.100.9")), &["203.0.113.7"], &[]);
        assert_eq!(resolved, Some(ip("198.51.100.9")));
    }

    #[test]
    fn an_untrusted_peer_is_the_client_even_when_proxies_are_configured() {
        let resolved = resolve_client_ip(Some(ip("198.51.100.9")), &["203.0.113.7"], &nets(&["10.0.0.0/8"]));
        assert_eq!(resolved, Some(ip("198.51.100.9")));
    }

    #[test]
    fn behind_a_trusted_proxy_the_rightmost_untrusted_entry_is_the_client() {
        let trusted = nets(&["10.0.0.0/8"]);
        // The client forged the first entry; the proxy appended the real address.
        let resolved = resolve_client_ip(Some(ip("10.0.0.2")), &["1.2.3.4", "203.0.113.7"], &trusted);
        assert_eq!(resolved, Some(ip("203.0.113.7")));
    }

    #[test]
    fn chains_of_trusted_proxies_are_skipped() {
        let trusted = nets(&["10.0.0.0/8", "192.168.1.1/32"]);
        let resolved = resolve_client_ip(Some(ip("10.0.0.2")), &["203.0.113.7", "192.168.1.1", "10.1.2.3"], &trusted);
        assert_eq!(resolved, Some(ip("203.0.113.7")));
    }

    #[test]
    fn a_trusted_proxy_without_the_header_is_the_client() {
        let resolved = resolve_client_ip(Some(ip("10.0.0.2")), &[], &nets(&["10.0.0.0/8"]));
        assert_eq!(resolved, Some(ip("10.0.0.2")));
    }

    #[test]
    fn an_unparsable_entry_stops_the_walk_at_the_last_trusted_hop() {
        let trusted = nets(&["10.0.0.0/8"]);
        let resolved = resolve_client_ip(Some(ip("10.0.0.2")), &["203.0.113.7", "garbage", "10.0.0.9"], &trusted);
        assert_eq!(resolved, Some(ip("10.0.0.9")));
    }

    #[test]
    fn entries_with_ports_and_ipv4_mapped_peers_are_understood() {
        let trusted = nets(&["10.0.0.0/8"]);
        let resolved = resolve_client_ip(Some(ip("::ffff:10.0.0.2")), &["[2001:db8::1]:443"], &trusted);
        assert_eq!(resolved, Some(ip("2001:db8::1")));
        let resolved = resolve_client_ip(Some(ip("10.0.0.2")), &["203.0.113.7:5000"], &trusted);
        assert_eq!(resolved, Some(ip("203.0.113.7")));
    }

    #[test]
    fn repeated_forwarded_for_headers_are_read_in_order() {
        let req = TestRequest::default()
            .append_header(("X-Forwarded-For", "1.1.1.1, 2.2.2.2"))
            .append_header(("X-Forwarded-For", "3.3.3.3"))
            .to_http_request();
        assert_eq!(forwarded_for(req.headers()), ["1.1.1.1", "2.2.2.2", "3.3.3.3"]);
    }

    #[test]
    fn the_user_agent_is_cut_to_512_characters() {
        let long = "é".repeat(600);
        let req = TestRequest::default().insert_header((header::USER_AGENT, long.as_str())).to_http_request();
        assert_eq!(user_agent(&req), Some("é".repeat(MAX_USER_AGENT_CHARS)));
    }
}
