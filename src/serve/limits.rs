//! Limits that keep the service up under misuse: per-address rate limits on the public
//! and sign-in endpoints, a cap on query strings, a timeout on every request, and the
//! security headers (`super::secure`) on every response.

use super::{AppState, MAX_QUERY_BYTES, REQUEST_TIMEOUT};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Instant;

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

pub fn client_ip(request: &Request) -> IpAddr {
    request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::from([0, 0, 0, 0]), |c| c.0.ip())
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
    if !state.public_limit.allow(client_ip(&request)) {
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
    use std::time::Duration;

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
