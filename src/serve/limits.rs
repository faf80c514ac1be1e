//! Limits that keep the service up under misuse: per-address rate limits on the public
//! and sign-in endpoints, a cap on query strings, a timeout on every request, the
//! security headers (`super::secure`) on every response, and, below HTTP, caps on open
//! connections. Behind a reverse proxy the client's address comes from the proxy's
//! `Forwarded`/`X-Forwarded-For` header, believed only from the proxies named trusted.

use super::{AppState, MAX_QUERY_BYTES, REQUEST_TIMEOUT};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A client has this long to send a request's headers (and an idle connection this
/// long to start the next request): slow-header attacks hold sockets for no more.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Connections open at once, in all: well under the default limit of 1024 file
/// descriptors less what the database and index keep open.
pub const MAX_CONNECTIONS: usize = 768;
/// Connections open at once from one address (not applied to trusted proxies, which
/// carry everyone's): a browser opens 6, an office behind one NAT a few dozen.
pub const MAX_CONNECTIONS_PER_ADDRESS: usize = 64;

/// How the service guards its sockets.
#[derive(Debug, Clone)]
pub struct ConnectionConfig {
    /// Reverse proxies whose forwarding headers name the real client.
    pub trusted_proxies: Vec<Cidr>,
    pub header_read_timeout: Duration,
    pub max_connections: usize,
    pub max_connections_per_address: usize,
}

impl Default for ConnectionConfig {
    fn default() -> Self {
        ConnectionConfig {
            trusted_proxies: Vec::new(),
            header_read_timeout: HEADER_READ_TIMEOUT,
            max_connections: MAX_CONNECTIONS,
            max_connections_per_address: MAX_CONNECTIONS_PER_ADDRESS,
        }
    }
}

/// A network in CIDR notation (`10.0.0.0/8`, `fd00::/8`) or a single address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl std::str::FromStr for Cidr {
    type Err = String;

    fn from_str(s: &str) -> Result<Cidr, String> {
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let network: IpAddr = addr
            .trim()
            .parse()
            .map_err(|_| format!("{s:?} is not an address or CIDR network"))?;
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("{s:?}: the prefix length must be 0 to {max}"))?,
            None => max,
        };
        Ok(Cidr { network, prefix })
    }
}

impl Cidr {
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        match (self.network, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = u32::MAX.checked_shl(32 - self.prefix as u32).unwrap_or(0);
                u32::from(n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = u128::MAX.checked_shl(128 - self.prefix as u32).unwrap_or(0);
                u128::from(n) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

fn is_trusted(ip: IpAddr, trusted: &[Cidr]) -> bool {
    trusted.iter().any(|c| c.contains(ip))
}

/// The client behind `peer`. From an untrusted peer: the peer itself, whatever headers
/// say. From a trusted proxy: the last address in the forwarding chain (`Forwarded`,
/// else `X-Forwarded-For`) that is not itself a trusted proxy; each proxy appends the
/// address it saw, so everything left of that is the client's to forge. A hop that
/// cannot be read ends the walk at the proxy that wrote it.
pub fn client_address(peer: IpAddr, headers: &HeaderMap, trusted: &[Cidr]) -> IpAddr {
    if !is_trusted(peer, trusted) {
        return peer;
    }
    let forwarded: Vec<&str> = headers
        .get_all("forwarded")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    let hops: Vec<Option<IpAddr>> = if !forwarded.is_empty() {
        forwarded
            .iter()
            .flat_map(|v| v.split(','))
            .map(|element| {
                element
                    .split(';')
                    .filter_map(|pair| pair.split_once('='))
                    .find(|(k, _)| k.trim().eq_ignore_ascii_case("for"))
                    .and_then(|(_, v)| parse_node(v))
            })
            .collect()
    } else {
        headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(parse_node)
            .collect()
    };
    let mut client = peer;
    for hop in hops.into_iter().rev() {
        match hop {
            Some(ip) => {
                client = ip;
                if !is_trusted(ip, trusted) {
                    break;
                }
            }
            None => break,
        }
    }
    client
}

/// An address as forwarding headers write it: `192.0.2.1`, `192.0.2.1:4711`,
/// `"[2001:db8::1]:4711"`, `2001:db8::1`. `unknown` and obfuscated names are `None`.
fn parse_node(value: &str) -> Option<IpAddr> {
    let v = value.trim().trim_matches('"');
    if let Some(rest) = v.strip_prefix('[') {
        return rest.split(']').next()?.parse().ok();
    }
    if let Ok(ip) = v.parse() {
        return Some(ip);
    }
    let (host, port) = v.rsplit_once(':')?;
    port.parse::<u16>().ok()?;
    host.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4)
}

/// Counts open connections, in all and per address.
pub struct ConnectionLimits {
    config: ConnectionConfig,
    open: Mutex<(usize, HashMap<IpAddr, usize>)>,
}

/// One admitted connection; dropping it (the connection closed) frees its place.
pub struct ConnectionPermit {
    limits: Arc<ConnectionLimits>,
    /// Counted against its address (not for trusted proxies).
    address: Option<IpAddr>,
}

impl ConnectionLimits {
    pub fn new(config: ConnectionConfig) -> Arc<ConnectionLimits> {
        Arc::new(ConnectionLimits {
            config,
            open: Mutex::new((0, HashMap::new())),
        })
    }

    pub fn config(&self) -> &ConnectionConfig {
        &self.config
    }

    /// A place for a connection from `peer`, or `None` when either cap is reached.
    pub fn admit(self: &Arc<Self>, peer: IpAddr) -> Option<ConnectionPermit> {
        let mut open = self.open.lock().ok()?;
        if open.0 >= self.config.max_connections {
            return None;
        }
        let address = (!is_trusted(peer, &self.config.trusted_proxies)).then_some(peer);
        if let Some(ip) = address {
            let n = open.1.entry(ip).or_insert(0);
            if *n >= self.config.max_connections_per_address {
                return None;
            }
            *n += 1;
        }
        open.0 += 1;
        Some(ConnectionPermit {
            limits: self.clone(),
            address,
        })
    }
}

impl Drop for ConnectionPermit {
    fn drop(&mut self) {
        let Ok(mut open) = self.limits.open.lock() else {
            return;
        };
        open.0 = open.0.saturating_sub(1);
        if let Some(ip) = self.address
            && let Some(n) = open.1.get_mut(&ip)
        {
            *n -= 1;
            if *n == 0 {
                open.1.remove(&ip);
            }
        }
    }
}

/// Verification answers per address and minute: a citizen checks a few documents, an
/// online service a steady trickle; guessing codes (60 bits) needs billions.
pub const PUBLIC_PER_MINUTE: f64 = 60.0;
pub const PUBLIC_BURST: f64 = 30.0;
/// Sign-in attempts per address and minute: enough for typos, far too few for guessing.
pub const SIGN_IN_PER_MINUTE: f64 = 10.0;
pub const SIGN_IN_BURST: f64 = 5.0;
/// Addresses remembered at most; idle full buckets are forgotten first.
const MAX_TRACKED_ADDRESSES: usize = 100_000;

/// A token bucket per client address.
pub struct RateLimiter {
    per_second: f64,
    burst: f64,
    buckets: Mutex<HashMap<IpAddr, (f64, Instant)>>,
}

impl RateLimiter {
    pub fn new(per_minute: f64, burst: f64) -> RateLimiter {
        RateLimiter {
            per_second: per_minute / 60.0,
            burst,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one token for `ip`; false when it has none left.
    pub fn allow(&self, ip: IpAddr) -> bool {
        self.allow_at(ip, Instant::now())
    }

    fn allow_at(&self, ip: IpAddr, now: Instant) -> bool {
        let Ok(mut buckets) = self.buckets.lock() else {
            return true;
        };
        if buckets.len() >= MAX_TRACKED_ADDRESSES {
            let (rate, burst) = (self.per_second, self.burst);
            buckets.retain(|_, (tokens, at)| {
                *tokens + now.saturating_duration_since(*at).as_secs_f64() * rate < burst
            });
        }
        let (tokens, at) = buckets.entry(ip).or_insert((self.burst, now));
        *tokens = (*tokens + now.saturating_duration_since(*at).as_secs_f64() * self.per_second)
            .min(self.burst);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// The client's address: see `client_address`.
pub fn client_ip(state: &AppState, request: &Request) -> IpAddr {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::from([0, 0, 0, 0]), |c| c.0.ip());
    client_address(peer, request.headers(), &state.trusted_proxies)
}

pub fn too_many() -> Response {
    (
        StatusCode::TOO_MANY_REQUESTS,
        [("retry-after", "60")],
        "too many requests from this address; wait a minute",
    )
        .into_response()
}

/// Rate limit for the public verification endpoints.
pub async fn public_rate(
    State(state): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Response {
    if !state.public_limit.allow(client_ip(&state, &request)) {
        return too_many();
    }
    next.run(request).await
}

/// Every request: size of the query string, a time limit, security headers.
pub async fn guard(request: Request, next: Next) -> Response {
    let mut response = if request
        .uri()
        .query()
        .is_some_and(|q| q.len() > MAX_QUERY_BYTES)
    {
        (
            StatusCode::URI_TOO_LONG,
            format!("query longer than {MAX_QUERY_BYTES} bytes"),
        )
            .into_response()
    } else {
        match tokio::time::timeout(REQUEST_TIMEOUT, next.run(request)).await {
            Ok(response) => response,
            Err(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                format!("request took longer than {} s", REQUEST_TIMEOUT.as_secs()),
            )
                .into_response(),
        }
    };
    super::secure(&mut response);
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The client `client_address` finds behind `peer` with these headers, trusting
    /// 10.0.0.0/8 and ::1.
    fn check(peer: &str, headers: &[(&str, &str)], expect: &str) {
        let trusted: Vec<Cidr> = ["10.0.0.0/8", "::1"]
            .iter()
            .map(|c| c.parse().unwrap())
            .collect();
        let mut map = HeaderMap::new();
        for (k, v) in headers {
            let name = axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap();
            map.append(name, v.parse().unwrap());
        }
        let found = client_address(peer.parse().unwrap(), &map, &trusted);
        assert_eq!(
            found,
            expect.parse::<IpAddr>().unwrap(),
            "{peer} {headers:?}"
        );
    }

    #[test]
    fn forwarding_headers_are_believed_only_from_trusted_proxies() {
        let xff = "x-forwarded-for";
        check("203.0.113.5", &[(xff, "198.51.100.7")], "203.0.113.5");
        check("10.0.0.2", &[(xff, "198.51.100.7")], "198.51.100.7");
        check("10.0.0.2", &[], "10.0.0.2");
        // A client forging the chain only fools the proxy into appending after it.
        check(
            "10.0.0.2",
            &[(xff, "1.2.3.4, 198.51.100.7")],
            "198.51.100.7",
        );
        check(
            "10.0.0.2",
            &[(xff, "198.51.100.7, 10.0.0.9")],
            "198.51.100.7",
        );
        check(
            "10.0.0.2",
            &[(xff, "1.2.3.4"), (xff, "198.51.100.7")],
            "198.51.100.7",
        );
        check("10.0.0.2", &[(xff, "198.51.100.7:4711")], "198.51.100.7");
        check("10.0.0.2", &[(xff, "garbage")], "10.0.0.2");
        check("::1", &[(xff, "2001:db8::7")], "2001:db8::7");
        check("::ffff:10.0.0.2", &[(xff, "198.51.100.7")], "198.51.100.7");
        let fwd = "forwarded";
        check(
            "10.0.0.2",
            &[(fwd, "for=198.51.100.7;proto=https")],
            "198.51.100.7",
        );
        check(
            "10.0.0.2",
            &[(fwd, r#"for="[2001:db8::7]:4711""#)],
            "2001:db8::7",
        );
        check(
            "10.0.0.2",
            &[(fwd, "for=1.2.3.4, for=198.51.100.7;by=10.0.0.2")],
            "198.51.100.7",
        );
        // Forwarded wins over X-Forwarded-For; an unreadable hop stops at its proxy.
        check(
            "10.0.0.2",
            &[(fwd, "for=198.51.100.7"), (xff, "1.2.3.4")],
            "198.51.100.7",
        );
        check("10.0.0.2", &[(fwd, "for=_hidden")], "10.0.0.2");
    }

    #[test]
    fn networks_parse_and_match() {
        let net: Cidr = "192.168.0.0/16".parse().unwrap();
        assert!(net.contains("192.168.44.1".parse().unwrap()));
        assert!(!net.contains("192.169.0.1".parse().unwrap()));
        assert!(
            "0.0.0.0/0"
                .parse::<Cidr>()
                .unwrap()
                .contains("8.8.8.8".parse().unwrap())
        );
        assert!(
            "fd00::/8"
                .parse::<Cidr>()
                .unwrap()
                .contains("fd12::1".parse().unwrap())
        );
        for bad in ["10.0.0.0/33", "example.org", "10.0.0.0/x", "::/129"] {
            assert!(bad.parse::<Cidr>().is_err(), "{bad}");
        }
    }

    #[test]
    fn connections_are_capped_in_all_and_per_address() {
        let limits = ConnectionLimits::new(ConnectionConfig {
            trusted_proxies: vec!["10.0.0.1".parse().unwrap()],
            max_connections: 4,
            max_connections_per_address: 2,
            ..ConnectionConfig::default()
        });
        let a: IpAddr = "198.51.100.1".parse().unwrap();
        let proxy: IpAddr = "10.0.0.1".parse().unwrap();
        let first = limits.admit(a).unwrap();
        let _second = limits.admit(a).unwrap();
        assert!(limits.admit(a).is_none(), "per-address cap");
        drop(first);
        let _third = limits
            .admit(a)
            .expect("a closed connection frees its place");
        let _p1 = limits.admit(proxy).unwrap();
        let _p2 = limits
            .admit(proxy)
            .expect("a trusted proxy is not capped per address");
        assert!(
            limits.admit(proxy).is_none(),
            "the global cap holds for everyone"
        );
    }

    #[test]
    fn buckets_refill_per_address() {
        let limiter = RateLimiter::new(60.0, 3.0);
        let (a, b) = (IpAddr::from([10, 0, 0, 1]), IpAddr::from([10, 0, 0, 2]));
        let t0 = Instant::now();
        assert!((0..3).all(|_| limiter.allow_at(a, t0)));
        assert!(!limiter.allow_at(a, t0), "burst spent");
        assert!(
            limiter.allow_at(b, t0),
            "another address has its own bucket"
        );
        assert!(!limiter.allow_at(a, t0 + Duration::from_millis(500)));
        assert!(
            limiter.allow_at(a, t0 + Duration::from_millis(1600)),
            "one per second"
        );
    }
}
