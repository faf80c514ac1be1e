//! The accounts of the web service in SQLite: their tables (part of the migrations) and
//! the queries behind `Accounts`.

use crate::store::accounts::{ApiToken, AuditEntry, Role, Session, SignInPolicy, User};
use crate::store::{Scope, StoreError};
use rusqlite::{Connection, OptionalExtension, params};

/// Units, document ownership and roles by unit (migration 12 of `sqlite`). The users
/// table is rebuilt for the new roles: staff become clerks, admins archive admins.
pub(in crate::store) const UNITS_SCHEMA: &str = r#"
    CREATE TABLE units (
        code TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        parent TEXT REFERENCES units(code),
        -- JSON array of issuer codes and agency names that mark a document as the unit's.
        issuers TEXT NOT NULL DEFAULT '[]'
    );
    ALTER TABLE documents ADD COLUMN unit TEXT REFERENCES units(code);
    CREATE INDEX documents_unit ON documents(unit);
    CREATE TABLE users_v12 (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        role TEXT NOT NULL CHECK (role IN ('viewer', 'clerk', 'unit_admin', 'archive_admin')),
        password_hash TEXT NOT NULL,
        created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
    );
    INSERT INTO users_v12 (id, name, role, password_hash, created_at)
        SELECT id, name, CASE role WHEN 'admin' THEN 'archive_admin' ELSE 'clerk' END,
               password_hash, created_at FROM users;
    DROP TABLE users;
    ALTER TABLE users_v12 RENAME TO users;
    CREATE TABLE user_units (
        user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        -- A unit's code, or '*' for every unit.
        unit TEXT NOT NULL,
        PRIMARY KEY (user_id, unit)
    );
"#;

pub(in crate::store) fn grant_unit(
    conn: &Connection,
    name: &str,
    unit: &str,
) -> Result<bool, StoreError> {
    let user =
        user(conn, name)?.ok_or_else(|| StoreError::Conflict(format!("no user '{name}'")))?;
    if unit != "*" {
        let known: bool = conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM units WHERE code = ?1)",
            [unit],
            |r| r.get(0),
        )?;
        if !known {
            return Err(StoreError::Conflict(format!(
                "no unit '{unit}' (`sohoa units list`)"
            )));
        }
    }
    Ok(conn.execute(
        "INSERT OR IGNORE INTO user_units (user_id, unit) VALUES (?1, ?2)",
        params![user.id, unit],
    )? > 0)
}

pub(in crate::store) fn revoke_unit(
    conn: &Connection,
    name: &str,
    unit: &str,
) -> Result<bool, StoreError> {
    let user =
        user(conn, name)?.ok_or_else(|| StoreError::Conflict(format!("no user '{name}'")))?;
    Ok(conn.execute(
        "DELETE FROM user_units WHERE user_id = ?1 AND unit = ?2",
        params![user.id, unit],
    )? > 0)
}

/// Schema of the sign-in guard (migration 11 of `sqlite`). Keyed by the name typed, so
/// a name that does not exist locks like one that does, and reveals nothing.
pub(in crate::store) const SIGN_IN_GUARD_SCHEMA: &str = r#"
    CREATE TABLE sign_in_guard (
        name TEXT PRIMARY KEY,
        failures INTEGER NOT NULL DEFAULT 0,
        locked_until INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE sign_in_addresses (
        name TEXT NOT NULL,
        address TEXT NOT NULL,
        last_unix INTEGER NOT NULL,
        PRIMARY KEY (name, address)
    );
"#;

pub(in crate::store) fn sign_in_locked(
    conn: &Connection,
    name: &str,
    address: &str,
    now_unix: i64,
) -> Result<Option<i64>, StoreError> {
    let until: Option<i64> = conn
        .prepare_cached(
            "SELECT locked_until FROM sign_in_guard g WHERE name = ?1 AND locked_until > ?2
               AND NOT EXISTS (SELECT 1 FROM sign_in_addresses a
                               WHERE a.name = g.name AND a.address = ?3)",
        )?
        .query_row(params![name, now_unix, address], |r| r.get(0))
        .optional()?;
    Ok(until)
}

pub(in crate::store) fn sign_in_failed(
    conn: &Connection,
    name: &str,
    policy: &SignInPolicy,
    now_unix: i64,
) -> Result<Option<i64>, StoreError> {
    let failures: i64 = conn
        .prepare_cached(
            "INSERT INTO sign_in_guard (name, failures) VALUES (?1, 1)
             ON CONFLICT (name) DO UPDATE SET failures = failures + 1
             RETURNING failures",
        )?
        .query_row([name], |r| r.get(0))?;
    let Some(until) = policy.locked_until(failures, now_unix) else {
        return Ok(None);
    };
    conn.execute(
        "UPDATE sign_in_guard SET locked_until = ?2 WHERE name = ?1",
        params![name, until],
    )?;
    Ok(Some(until))
}

pub(in crate::store) fn sign_in_succeeded(
    conn: &Connection,
    name: &str,
    address: &str,
    now_unix: i64,
) -> Result<(), StoreError> {
    conn.execute("DELETE FROM sign_in_guard WHERE name = ?1", [name])?;
    conn.execute(
        "INSERT INTO sign_in_addresses (name, address, last_unix) VALUES (?1, ?2, ?3)
         ON CONFLICT (name, address) DO UPDATE SET last_unix = excluded.last_unix",
        params![name, address, now_unix],
    )?;
    Ok(())
}

pub(in crate::store) fn unlock_sign_in(conn: &Connection, name: &str) -> Result<bool, StoreError> {
    Ok(conn.execute(
        "DELETE FROM sign_in_guard WHERE name = ?1 AND locked_until > 0",
        [name],
    )? > 0)
}

/// Schema of the accounts tables (migration 7 of `sqlite`).
pub(in crate::store) const SCHEMA: &str = r#"
    CREATE TABLE users (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        role TEXT NOT NULL CHECK (role IN ('staff', 'admin')),
        password_hash TEXT NOT NULL,
        created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
    );
    CREATE TABLE sessions (
        token_sha256 TEXT PRIMARY KEY,
        user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        csrf TEXT NOT NULL,
        expires_unix INTEGER NOT NULL
    );
    CREATE INDEX sessions_user ON sessions(user_id);
    CREATE TABLE api_tokens (
        id INTEGER PRIMARY KEY,
        token_sha256 TEXT NOT NULL UNIQUE,
        user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        label TEXT NOT NULL,
        created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
        revoked_at TEXT
    );
    CREATE INDEX api_tokens_user ON api_tokens(user_id);
    -- The user's name, not a reference: the log outlives the account.
    CREATE TABLE audit_log (
        id INTEGER PRIMARY KEY,
        at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
        user_name TEXT NOT NULL,
        action TEXT NOT NULL,
        document_id INTEGER,
        detail TEXT NOT NULL DEFAULT ''
    );
"#;

const USER_COLUMNS: &str = "u.id, u.name, u.role, u.password_hash, u.created_at,
    (SELECT json_group_array(g.unit) FROM user_units g WHERE g.user_id = u.id)";

fn user_row(r: &rusqlite::Row) -> rusqlite::Result<User> {
    let role: String = r.get(2)?;
    Ok(User {
        id: r.get(0)?,
        name: r.get(1)?,
        // The CHECK constraint admits only the four roles; an unknown one sees least.
        role: Role::parse(&role).unwrap_or(Role::Viewer),
        password_hash: r.get(3)?,
        created_at: r.get(4)?,
        units: serde_json::from_str(&r.get::<_, String>(5)?).unwrap_or_default(),
    })
}

pub(in crate::store) fn add_user(
    conn: &Connection,
    name: &str,
    role: Role,
    password_hash: &str,
) -> Result<i64, StoreError> {
    match conn.execute(
        "INSERT INTO users (name, role, password_hash) VALUES (?1, ?2, ?3)",
        params![name, role.as_str(), password_hash],
    ) {
        Ok(_) => Ok(conn.last_insert_rowid()),
        Err(rusqlite::Error::SqliteFailure(e, _))
            if e.code == rusqlite::ErrorCode::ConstraintViolation =>
        {
            Err(StoreError::Conflict(format!(
                "user '{name}' already exists"
            )))
        }
        Err(e) => Err(e.into()),
    }
}

pub(in crate::store) fn remove_user(conn: &Connection, name: &str) -> Result<bool, StoreError> {
    Ok(conn.execute("DELETE FROM users WHERE name = ?1", [name])? > 0)
}

pub(in crate::store) fn set_password(
    conn: &mut Connection,
    name: &str,
    password_hash: &str,
) -> Result<bool, StoreError> {
    let tx = conn.transaction()?;
    let changed = tx.execute(
        "UPDATE users SET password_hash = ?2 WHERE name = ?1",
        params![name, password_hash],
    )? > 0;
    tx.execute(
        "DELETE FROM sessions WHERE user_id = (SELECT id FROM users WHERE name = ?1)",
        [name],
    )?;
    tx.commit()?;
    Ok(changed)
}

pub(in crate::store) fn user(conn: &Connection, name: &str) -> Result<Option<User>, StoreError> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {USER_COLUMNS} FROM users u WHERE u.name = ?1"
        ))?
        .query_row([name], user_row)
        .optional()?)
}

pub(in crate::store) fn users(conn: &Connection) -> Result<Vec<User>, StoreError> {
    let rows = conn
        .prepare_cached(&format!(
            "SELECT {USER_COLUMNS} FROM users u ORDER BY u.name"
        ))?
        .query_map([], user_row)?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

pub(in crate::store) fn create_session(
    conn: &Connection,
    token_sha256: &str,
    user_id: i64,
    csrf: &str,
    expires_unix: i64,
) -> Result<(), StoreError> {
    // Expired sessions go whenever a new one starts: the table stays small unattended.
    conn.execute(
        "DELETE FROM sessions WHERE expires_unix < strftime('%s', 'now')",
        [],
    )?;
    conn.execute(
        "INSERT INTO sessions (token_sha256, user_id, csrf, expires_unix) VALUES (?1, ?2, ?3, ?4)",
        params![token_sha256, user_id, csrf, expires_unix],
    )?;
    Ok(())
}

pub(in crate::store) fn session(
    conn: &Connection,
    token_sha256: &str,
    now_unix: i64,
) -> Result<Option<Session>, StoreError> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {USER_COLUMNS}, s.csrf FROM sessions s JOIN users u ON u.id = s.user_id
             WHERE s.token_sha256 = ?1 AND s.expires_unix > ?2"
        ))?
        .query_row(params![token_sha256, now_unix], |r| {
            Ok(Session {
                user: user_row(r)?,
                csrf: r.get(6)?,
            })
        })
        .optional()?)
}

pub(in crate::store) fn end_session(
    conn: &Connection,
    token_sha256: &str,
) -> Result<(), StoreError> {
    conn.execute(
        "DELETE FROM sessions WHERE token_sha256 = ?1",
        [token_sha256],
    )?;
    Ok(())
}

pub(in crate::store) fn create_token(
    conn: &Connection,
    user_id: i64,
    label: &str,
    token_sha256: &str,
) -> Result<i64, StoreError> {
    conn.execute(
        "INSERT INTO api_tokens (token_sha256, user_id, label) VALUES (?1, ?2, ?3)",
        params![token_sha256, user_id, label],
    )?;
    Ok(conn.last_insert_rowid())
}

pub(in crate::store) fn revoke_token(conn: &Connection, id: i64) -> Result<bool, StoreError> {
    Ok(conn.execute(
        "UPDATE api_tokens SET revoked_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
         WHERE id = ?1 AND revoked_at IS NULL",
        [id],
    )? > 0)
}

pub(in crate::store) fn tokens(conn: &Connection) -> Result<Vec<ApiToken>, StoreError> {
    let rows = conn
        .prepare_cached(
            "SELECT t.id, u.name, t.label, t.created_at, t.revoked_at
             FROM api_tokens t JOIN users u ON u.id = t.user_id ORDER BY t.id",
        )?
        .query_map([], |r| {
            Ok(ApiToken {
                id: r.get(0)?,
                user: r.get(1)?,
                label: r.get(2)?,
                created_at: r.get(3)?,
                revoked_at: r.get(4)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

pub(in crate::store) fn token_user(
    conn: &Connection,
    token_sha256: &str,
) -> Result<Option<User>, StoreError> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {USER_COLUMNS} FROM api_tokens t JOIN users u ON u.id = t.user_id
             WHERE t.token_sha256 = ?1 AND t.revoked_at IS NULL"
        ))?
        .query_row([token_sha256], user_row)
        .optional()?)
}

pub(in crate::store) fn audit(
    conn: &Connection,
    user: &str,
    action: &str,
    document_id: Option<i64>,
    detail: &str,
) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO audit_log (user_name, action, document_id, detail) VALUES (?1, ?2, ?3, ?4)",
        params![user, action, document_id, detail],
    )?;
    Ok(())
}

pub(in crate::store) fn audit_log(
    conn: &Connection,
    scope: &Scope,
    limit: usize,
    offset: usize,
) -> Result<Vec<AuditEntry>, StoreError> {
    // A unit's view: what was done to its documents.
    let units = scope.units_json();
    let rows = conn
        .prepare_cached(
            "SELECT a.id, a.at, a.user_name, a.action, a.document_id, a.detail FROM audit_log a
             WHERE ?3 IS NULL OR a.document_id IN
                   (SELECT d.id FROM documents d WHERE d.unit IN (SELECT value FROM json_each(?3)))
             ORDER BY a.id DESC LIMIT ?1 OFFSET ?2",
        )?
        .query_map(params![limit as i64, offset as i64, units], |r| {
            Ok(AuditEntry {
                id: r.get(0)?,
                at: r.get(1)?,
                user: r.get(2)?,
                action: r.get(3)?,
                document_id: r.get(4)?,
                detail: r.get(5)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}
