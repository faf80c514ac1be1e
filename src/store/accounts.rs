//! Who may use the web service, and what they did: staff accounts, sign-in sessions, API
//! tokens for other systems, and the audit log of document views and corrections.
//!
//! Kept apart from `Store` (the archive itself) so a backend implements the two
//! separately; both live in the same database. Secrets never reach this module: it keeps
//! password hashes (argon2, made by `serve::auth`) and SHA-256 hashes of session and API
//! tokens, so a copy of the database lets no one sign in.

use super::{Scope, StoreError};
use serde::Serialize;

/// What an account may do, within the units it sees (`Scope`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Searches and reads its units' documents.
    Viewer,
    /// Also corrects their classification.
    Clerk,
    /// Also reads the audit log of its units' documents.
    UnitAdmin,
    /// Sees every unit's documents and the whole audit log.
    ArchiveAdmin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Clerk => "clerk",
            Role::UnitAdmin => "unit_admin",
            Role::ArchiveAdmin => "archive_admin",
        }
    }

    /// Also the names of earlier versions: `staff` (now clerk) and `admin`.
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "viewer" => Some(Role::Viewer),
            "clerk" | "staff" => Some(Role::Clerk),
            "unit_admin" | "unit-admin" => Some(Role::UnitAdmin),
            "archive_admin" | "archive-admin" | "admin" => Some(Role::ArchiveAdmin),
            _ => None,
        }
    }

    pub fn may_correct(self) -> bool {
        self >= Role::Clerk
    }

    pub fn may_read_audit(self) -> bool {
        self >= Role::UnitAdmin
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct User {
    pub id: i64,
    pub name: String,
    pub role: Role,
    #[serde(skip)]
    pub password_hash: String,
    pub created_at: String,
    /// The units granted (`*` for all), read with the account: the web service needs
    /// them on every request.
    pub units: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ApiToken {
    pub id: i64,
    pub user: String,
    pub label: String,
    pub created_at: String,
    pub revoked_at: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct AuditEntry {
    pub id: i64,
    pub at: String,
    pub user: String,
    /// view-document, view-page, correct-classification, sign-in, sign-in-failed, sign-out.
    pub action: String,
    pub document_id: Option<i64>,
    pub detail: String,
}

/// A signed-in session as the service sees it.
#[derive(Debug, Clone)]
pub struct Session {
    pub user: User,
    /// The form token that must come back with every change made in this session.
    pub csrf: String,
}

pub trait Accounts {
    /// Grants `unit` (an existing unit's code, or `*`); false when already granted.
    fn grant_unit(&mut self, name: &str, unit: &str) -> Result<bool, StoreError>;
    fn revoke_unit(&mut self, name: &str, unit: &str) -> Result<bool, StoreError>;
    /// Fails with `StoreError::Conflict` when the name is taken.
    fn add_user(&mut self, name: &str, role: Role, password_hash: &str) -> Result<i64, StoreError>;
    /// Removes the user with their sessions and tokens; their audit entries stay.
    fn remove_user(&mut self, name: &str) -> Result<bool, StoreError>;
    /// Also ends the user's sessions: a changed password signs everyone out.
    fn set_password(&mut self, name: &str, password_hash: &str) -> Result<bool, StoreError>;
    fn user(&self, name: &str) -> Result<Option<User>, StoreError>;
    fn users(&self) -> Result<Vec<User>, StoreError>;
    fn create_session(
        &mut self,
        token_sha256: &str,
        user_id: i64,
        csrf: &str,
        expires_unix: i64,
    ) -> Result<(), StoreError>;
    /// The live session with this token hash at `now_unix`, if any.
    fn session(&self, token_sha256: &str, now_unix: i64) -> Result<Option<Session>, StoreError>;
    fn end_session(&mut self, token_sha256: &str) -> Result<(), StoreError>;
    fn create_token(
        &mut self,
        user_id: i64,
        label: &str,
        token_sha256: &str,
    ) -> Result<i64, StoreError>;
    fn revoke_token(&mut self, id: i64) -> Result<bool, StoreError>;
    fn tokens(&self) -> Result<Vec<ApiToken>, StoreError>;
    /// The user behind an unrevoked token.
    fn token_user(&self, token_sha256: &str) -> Result<Option<User>, StoreError>;
    fn audit(
        &mut self,
        user: &str,
        action: &str,
        document_id: Option<i64>,
        detail: &str,
    ) -> Result<(), StoreError>;
    /// Newest first.
    fn audit_log(
        &self,
        scope: &Scope,
        limit: usize,
        offset: usize,
    ) -> Result<Vec<AuditEntry>, StoreError>;

    /// Until when (Unix seconds) sign-in to `name` is refused to `address`: a lock set
    /// by repeated failures, which addresses `name` signed in from before are spared.
    fn sign_in_locked(
        &self,
        name: &str,
        address: &str,
        now_unix: i64,
    ) -> Result<Option<i64>, StoreError>;
    /// Counts a failed sign-in to `name` (existing or not); returns the lock it set.
    fn sign_in_failed(
        &mut self,
        name: &str,
        policy: &SignInPolicy,
        now_unix: i64,
    ) -> Result<Option<i64>, StoreError>;
    /// Clears `name`'s failures and remembers `address` as one it signs in from.
    fn sign_in_succeeded(
        &mut self,
        name: &str,
        address: &str,
        now_unix: i64,
    ) -> Result<(), StoreError>;
    /// Lifts a lock (an admin's decision); false when there was none.
    fn unlock_sign_in(&mut self, name: &str) -> Result<bool, StoreError>;
}

/// When repeated wrong passwords lock an account.
#[derive(Debug, Clone)]
pub struct SignInPolicy {
    /// Consecutive failures allowed before the first lock.
    pub free_failures: u32,
    /// The first lock; each further failure doubles it, up to `max_lock_seconds`.
    pub first_lock_seconds: i64,
    pub max_lock_seconds: i64,
}

impl SignInPolicy {
    /// Until when (Unix seconds) an account with `failures` consecutive failures is
    /// locked, the last one at `now_unix`; None while the failures are forgiven.
    pub fn locked_until(&self, failures: i64, now_unix: i64) -> Option<i64> {
        let over = failures - i64::from(self.free_failures);
        if over <= 0 {
            return None;
        }
        let lock = self
            .first_lock_seconds
            .saturating_mul(1i64 << (over - 1).min(30))
            .min(self.max_lock_seconds);
        Some(now_unix + lock)
    }
}

impl Default for SignInPolicy {
    fn default() -> Self {
        // Five typos are forgiven; a guesser then gets one try per lock, the locks
        // growing to an hour: about 24 guesses a day per account, from all addresses.
        SignInPolicy {
            free_failures: 5,
            first_lock_seconds: 60,
            max_lock_seconds: 3600,
        }
    }
}
