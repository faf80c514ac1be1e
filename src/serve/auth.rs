//! Sign-in: argon2 password hashes, random session and API tokens (only their SHA-256
//! is stored), the session cookie and the CSRF token that must come back with every
//! form or API change made from a browser session.

use crate::authenticity::sha256_hex;
use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use std::io::Read;

/// The session cookie's name. `__Host-` would pin it to HTTPS, which a loopback
/// deployment behind a TLS proxy does not see; HttpOnly and SameSite=Strict do the work.
pub const SESSION_COOKIE: &str = "sohoa_session";
/// Double-submit cookie guarding the sign-in form itself (no session exists yet).
pub const LOGIN_CSRF_COOKIE: &str = "sohoa_login_csrf";
/// Header carrying the CSRF token on JSON requests made with a session cookie.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// A working day and a half: staff sign in each morning, not every hour.
pub const SESSION_SECONDS: i64 = 36 * 3600;
/// API tokens start with this, so a leaked one is recognizable in logs and scanners.
pub const TOKEN_PREFIX: &str = "sohoa_";
/// Shorter passwords are refused by `sohoa users add|passwd`.
pub const MIN_PASSWORD_CHARS: usize = 10;

/// `n` bytes from the operating system's randomness.
pub fn random_bytes(n: usize) -> std::io::Result<Vec<u8>> {
    let mut bytes = vec![0u8; n];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(bytes)
}

/// A fresh unguessable token (256 bits, hex).
pub fn new_token() -> std::io::Result<String> {
    Ok(hex::encode(random_bytes(32)?))
}

/// What the database keeps of a token.
pub fn token_hash(token: &str) -> String {
    sha256_hex(token.as_bytes())
}

/// An argon2id PHC string with a random salt and the crate's default cost
/// (19 MiB, 2 passes: OWASP's recommended minimum).
pub fn hash_password(password: &str) -> std::io::Result<String> {
    let salt = SaltString::encode_b64(&random_bytes(16)?)
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| std::io::Error::other(e.to_string()))
}

/// True when `password` matches the stored hash. A malformed hash matches nothing.
pub fn password_matches(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored).is_ok_and(|h| {
        Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

/// A hash to check against when the user does not exist, so a wrong name takes as long
/// as a wrong password (no user enumeration by timing).
pub fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash_password("decoy password, never valid").unwrap_or_default())
}

/// Compares secrets without an early exit on the first differing byte.
pub fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// A cookie's value from a `Cookie` request header.
pub fn cookie<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    header.split(';').find_map(|pair| {
        let (k, v) = pair.trim().split_once('=')?;
        (k == name).then_some(v)
    })
}

/// `Set-Cookie` for a browser session: not readable by scripts, never sent by other sites.
pub fn session_cookie(name: &str, value: &str, max_age: i64) -> String {
    format!("{name}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}")
}

pub fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_hash_and_match() {
        let stored = hash_password("correct horse battery").unwrap();
        assert!(stored.starts_with("$argon2id$"), "{stored}");
        assert!(password_matches("correct horse battery", &stored));
        assert!(!password_matches("correct horse batterY", &stored));
        assert!(!password_matches("anything", "not a hash"));
        // Salted: the same password hashes differently each time.
        assert_ne!(stored, hash_password("correct horse battery").unwrap());
    }

    #[test]
    fn reads_cookies() {
        let check = |header: &str, expect: Option<&str>| {
            assert_eq!(cookie(header, SESSION_COOKIE), expect, "{header}");
        };
        check("sohoa_session=abc", Some("abc"));
        check("a=1; sohoa_session=abc; b=2", Some("abc"));
        check("xsohoa_session=abc", None);
        check("", None);
    }

    #[test]
    fn compares_secrets() {
        assert!(same_secret("abc", "abc"));
        assert!(!same_secret("abc", "abd"));
        assert!(!same_secret("abc", "abcd"));
    }
}
