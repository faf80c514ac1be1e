//! The accounts of the web service in PostgreSQL: the queries behind `Accounts`.

use super::schema::NOW;
use crate::store::accounts::{ApiToken, AuditEntry, Role, Session, SignInPolicy, User};
use crate::store::{Scope, StoreError};
use postgres::GenericClient;

/// A scope's unit codes for `= ANY($n)`, or NULL for every unit.
pub(super) fn scope_units(scope: &Scope) -> Option<Vec<String>> {
    match scope {
        Scope::All => None,
        Scope::Units(units) => Some(units.clone()),
    }
}

const USER_COLUMNS: &str = "u.id, u.name, u.role, u.password_hash, u.created_at,
    ARRAY(SELECT g.unit FROM user_units g WHERE g.user_id = u.id ORDER BY g.unit)";

fn user_row(r: &postgres::Row) -> User {
    let role: String = r.get(2);
    User {
        id: r.get(0),
        name: r.get(1),
        // The CHECK constraint admits only the four roles; an unknown one sees least.
        role: Role::parse(&role).unwrap_or(Role::Viewer),
        password_hash: r.get(3),
        created_at: r.get(4),
        units: r.get(5),
    }
}

fn unit_exists(c: &mut impl GenericClient, unit: &str) -> Result<bool, StoreError> {
    Ok(c.query_one(
        "SELECT EXISTS (SELECT 1 FROM units WHERE code = $1)",
        &[&unit],
    )?
    .get(0))
}

pub(super) fn grant_unit(
    c: &mut impl GenericClient,
    name: &str,
    unit: &str,
) -> Result<bool, StoreError> {
    let user = user(c, name)?.ok_or_else(|| StoreError::Conflict(format!("no user '{name}'")))?;
    if unit != "*" && !unit_exists(c, unit)? {
        return Err(StoreError::Conflict(format!(
            "no unit '{unit}' (`sohoa units list`)"
        )));
    }
    Ok(c.execute(
        "INSERT INTO user_units (user_id, unit) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        &[&user.id, &unit],
    )? > 0)
}

pub(super) fn revoke_unit(
    c: &mut impl GenericClient,
    name: &str,
    unit: &str,
) -> Result<bool, StoreError> {
    let user = user(c, name)?.ok_or_else(|| StoreError::Conflict(format!("no user '{name}'")))?;
    Ok(c.execute(
        "DELETE FROM user_units WHERE user_id = $1 AND unit = $2",
        &[&user.id, &unit],
    )? > 0)
}

pub(super) fn sign_in_locked(
    c: &mut impl GenericClient,
    name: &str,
    address: &str,
    now_unix: i64,
) -> Result<Option<i64>, StoreError> {
    Ok(c.query_opt(
        "SELECT locked_until FROM sign_in_guard g WHERE name = $1 AND locked_until > $2
           AND NOT EXISTS (SELECT 1 FROM sign_in_addresses a
                           WHERE a.name = g.name AND a.address = $3)",
        &[&name, &now_unix, &address],
    )?
    .map(|r| r.get(0)))
}

pub(super) fn sign_in_failed(
    c: &mut impl GenericClient,
    name: &str,
    policy: &SignInPolicy,
    now_unix: i64,
) -> Result<Option<i64>, StoreError> {
    let failures: i64 = c
        .query_one(
            "INSERT INTO sign_in_guard (name, failures) VALUES ($1, 1)
             ON CONFLICT (name) DO UPDATE SET failures = sign_in_guard.failures + 1
             RETURNING failures",
            &[&name],
        )?
        .get(0);
    let Some(until) = policy.locked_until(failures, now_unix) else {
        return Ok(None);
    };
    c.execute(
        "UPDATE sign_in_guard SET locked_until = $2 WHERE name = $1",
        &[&name, &until],
    )?;
    Ok(Some(until))
}

pub(super) fn sign_in_succeeded(
    c: &mut impl GenericClient,
    name: &str,
    address: &str,
    now_unix: i64,
) -> Result<(), StoreError> {
    c.execute("DELETE FROM sign_in_guard WHERE name = $1", &[&name])?;
    c.execute(
        "INSERT INTO sign_in_addresses (name, address, last_unix) VALUES ($1, $2, $3)
         ON CONFLICT (name, address) DO UPDATE SET last_unix = excluded.last_unix",
        &[&name, &address, &now_unix],
    )?;
    Ok(())
}

pub(super) fn unlock_sign_in(c: &mut impl GenericClient, name: &str) -> Result<bool, StoreError> {
    Ok(c.execute(
        "DELETE FROM sign_in_guard WHERE name = $1 AND locked_until > 0",
        &[&name],
    )? > 0)
}

pub(super) fn add_user(
    c: &mut impl GenericClient,
    name: &str,
    role: Role,
    password_hash: &str,
) -> Result<i64, StoreError> {
    let row = c.query_opt(
        "INSERT INTO users (name, role, password_hash) VALUES ($1, $2, $3)
         ON CONFLICT (name) DO NOTHING RETURNING id",
        &[&name, &role.as_str(), &password_hash],
    )?;
    match row {
        Some(r) => Ok(r.get(0)),
        None => Err(StoreError::Conflict(format!(
            "user '{name}' already exists"
        ))),
    }
}

pub(super) fn remove_user(c: &mut impl GenericClient, name: &str) -> Result<bool, StoreError> {
    Ok(c.execute("DELETE FROM users WHERE name = $1", &[&name])? > 0)
}

pub(super) fn set_password(
    c: &mut impl GenericClient,
    name: &str,
    password_hash: &str,
) -> Result<bool, StoreError> {
    let mut tx = c.transaction()?;
    let changed = tx.execute(
        "UPDATE users SET password_hash = $2 WHERE name = $1",
        &[&name, &password_hash],
    )? > 0;
    tx.execute(
        "DELETE FROM sessions WHERE user_id = (SELECT id FROM users WHERE name = $1)",
        &[&name],
    )?;
    tx.commit()?;
    Ok(changed)
}

pub(super) fn user(c: &mut impl GenericClient, name: &str) -> Result<Option<User>, StoreError> {
    Ok(c.query_opt(
        &format!("SELECT {USER_COLUMNS} FROM users u WHERE u.name = $1"),
        &[&name],
    )?
    .map(|r| user_row(&r)))
}

pub(super) fn users(c: &mut impl GenericClient) -> Result<Vec<User>, StoreError> {
    Ok(c.query(
        &format!("SELECT {USER_COLUMNS} FROM users u ORDER BY u.name"),
        &[],
    )?
    .iter()
    .map(user_row)
    .collect())
}

pub(super) fn create_session(
    c: &mut impl GenericClient,
    token_sha256: &str,
    user_id: i64,
    csrf: &str,
    expires_unix: i64,
) -> Result<(), StoreError> {
    // Expired sessions go whenever a new one starts: the table stays small unattended.
    c.execute(
        "DELETE FROM sessions WHERE expires_unix < extract(epoch FROM now())::bigint",
        &[],
    )?;
    c.execute(
        "INSERT INTO sessions (token_sha256, user_id, csrf, expires_unix) VALUES ($1, $2, $3, $4)",
        &[&token_sha256, &user_id, &csrf, &expires_unix],
    )?;
    Ok(())
}

pub(super) fn session(
    c: &mut impl GenericClient,
    token_sha256: &str,
    now_unix: i64,
) -> Result<Option<Session>, StoreError> {
    Ok(c.query_opt(
        &format!(
            "SELECT {USER_COLUMNS}, s.csrf FROM sessions s JOIN users u ON u.id = s.user_id
             WHERE s.token_sha256 = $1 AND s.expires_unix > $2"
        ),
        &[&token_sha256, &now_unix],
    )?
    .map(|r| Session {
        user: user_row(&r),
        csrf: r.get(6),
    }))
}

pub(super) fn end_session(
    c: &mut impl GenericClient,
    token_sha256: &str,
) -> Result<(), StoreError> {
    c.execute(
        "DELETE FROM sessions WHERE token_sha256 = $1",
        &[&token_sha256],
    )?;
    Ok(())
}

pub(super) fn create_token(
    c: &mut impl GenericClient,
    user_id: i64,
    label: &str,
    token_sha256: &str,
) -> Result<i64, StoreError> {
    Ok(c.query_one(
        "INSERT INTO api_tokens (token_sha256, user_id, label) VALUES ($1, $2, $3) RETURNING id",
        &[&token_sha256, &user_id, &label],
    )?
    .get(0))
}

pub(super) fn revoke_token(c: &mut impl GenericClient, id: i64) -> Result<bool, StoreError> {
    Ok(c.execute(
        &format!("UPDATE api_tokens SET revoked_at = {NOW} WHERE id = $1 AND revoked_at IS NULL"),
        &[&id],
    )? > 0)
}

pub(super) fn tokens(c: &mut impl GenericClient) -> Result<Vec<ApiToken>, StoreError> {
    Ok(c.query(
        "SELECT t.id, u.name, t.label, t.created_at, t.revoked_at
         FROM api_tokens t JOIN users u ON u.id = t.user_id ORDER BY t.id",
        &[],
    )?
    .iter()
    .map(|r| ApiToken {
        id: r.get(0),
        user: r.get(1),
        label: r.get(2),
        created_at: r.get(3),
        revoked_at: r.get(4),
    })
    .collect())
}

pub(super) fn token_user(
    c: &mut impl GenericClient,
    token_sha256: &str,
) -> Result<Option<User>, StoreError> {
    Ok(c.query_opt(
        &format!(
            "SELECT {USER_COLUMNS} FROM api_tokens t JOIN users u ON u.id = t.user_id
             WHERE t.token_sha256 = $1 AND t.revoked_at IS NULL"
        ),
        &[&token_sha256],
    )?
    .map(|r| user_row(&r)))
}

pub(super) fn audit(
    c: &mut impl GenericClient,
    user: &str,
    action: &str,
    document_id: Option<i64>,
    detail: &str,
) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO audit_log (user_name, action, document_id, detail) VALUES ($1, $2, $3, $4)",
        &[&user, &action, &document_id, &detail],
    )?;
    Ok(())
}

pub(super) fn audit_log(
    c: &mut impl GenericClient,
    scope: &Scope,
    limit: usize,
    offset: usize,
) -> Result<Vec<AuditEntry>, StoreError> {
    // A unit's view: what was done to its documents.
    Ok(c.query(
        "SELECT a.id, a.at, a.user_name, a.action, a.document_id, a.detail FROM audit_log a
         WHERE $3::text[] IS NULL OR a.document_id IN
               (SELECT d.id FROM documents d WHERE d.unit = ANY($3))
         ORDER BY a.id DESC LIMIT $1 OFFSET $2",
        &[&(limit as i64), &(offset as i64), &scope_units(scope)],
    )?
    .iter()
    .map(|r| AuditEntry {
        id: r.get(0),
        at: r.get(1),
        user: r.get(2),
        action: r.get(3),
        document_id: r.get(4),
        detail: r.get(5),
    })
    .collect())
}
