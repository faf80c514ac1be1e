//! Where an archive lives, as `--db` / `SOHOA_DB` names it: a SQLite file, or a
//! PostgreSQL database (`postgres://…`); and where its companions go (the search index,
//! the signing keys, the copy of the last tree head).
//!
//! A SQLite archive's companions sit beside its file (`sohoa.db.index`). A PostgreSQL
//! archive's sit in a local directory of the machine using it: `SOHOA_STATE_DIR`, else
//! `$XDG_STATE_HOME/sohoa`, else `~/.local/state/sohoa`, under a name made from the
//! host, port and database (never the password).

use std::path::{Path, PathBuf};

/// Whether `location` names a PostgreSQL database rather than a SQLite file.
pub fn is_database_url(location: &Path) -> bool {
    let text = location.to_string_lossy();
    text.starts_with("postgres://") || text.starts_with("postgresql://")
}

/// The location as it may be shown: a URL's password replaced by `***`.
pub fn display(location: &Path) -> String {
    let text = location.to_string_lossy();
    if !is_database_url(location) {
        return text.into_owned();
    }
    let Some((scheme, rest)) = text.split_once("://") else {
        return text.into_owned();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((credentials, host)) if credentials.contains(':') => {
            let user = credentials.split(':').next().unwrap_or_default();
            format!("{scheme}://{user}:***@{host}{tail}")
        }
        _ => text.into_owned(),
    }
}

/// A command-line argument as it may be kept and shown: a database URL in it (`URL`,
/// `--db=URL`) without its password.
pub fn redact_argument(arg: &str) -> String {
    match arg.split_once('=') {
        Some((flag, value)) if flag.starts_with("--") => {
            format!("{flag}={}", display(Path::new(value)))
        }
        _ => display(Path::new(arg)),
    }
}

/// The companion `suffix` (".index", ".keys", ".head.json") of the archive at `location`.
pub fn companion(location: &Path, suffix: &str) -> PathBuf {
    if !is_database_url(location) {
        let mut path = location.as_os_str().to_owned();
        path.push(suffix);
        return PathBuf::from(path);
    }
    state_dir().join(format!("{}{suffix}", slug(location)))
}

/// The machine's directory for the companions of PostgreSQL archives.
fn state_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("SOHOA_STATE_DIR") {
        return PathBuf::from(dir);
    }
    if let Some(dir) = std::env::var_os("XDG_STATE_HOME") {
        return PathBuf::from(dir).join("sohoa");
    }
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("."), PathBuf::from);
    home.join(".local/state/sohoa")
}

/// `postgres://user:pw@db.example:5433/archive?sslmode=disable` → `db.example_5433_archive`:
/// the parts that tell one archive from another, as a file name.
fn slug(location: &Path) -> String {
    let text = location.to_string_lossy();
    let rest = text.split_once("://").map_or(&*text, |(_, rest)| rest);
    let (authority, path) = rest.split_at(rest.find(['/', '?']).unwrap_or(rest.len()));
    let host = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    let database = path
        .trim_start_matches('/')
        .split('?')
        .next()
        .unwrap_or_default();
    let name = format!("{host}_{database}").replace(':', "_");
    let name: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    if name.trim_matches('_').is_empty() {
        "postgres".into()
    } else {
        name
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(location: &str, shown: &str, index: &str) {
        let location = Path::new(location);
        assert_eq!(display(location), shown);
        let path = companion(location, ".index");
        assert!(
            path.ends_with(index),
            "{} ends with {index}",
            path.display()
        );
    }

    #[test]
    fn companions_and_display() {
        check(
            "archive/sohoa.db",
            "archive/sohoa.db",
            "archive/sohoa.db.index",
        );
        check(
            "postgres://sohoa:secret@db.example:5433/archive",
            "postgres://sohoa:***@db.example:5433/archive",
            "db.example_5433_archive.index",
        );
        check(
            "postgresql://db/archive?sslmode=disable",
            "postgresql://db/archive?sslmode=disable",
            "db_archive.index",
        );
        check(
            "postgres:///archive",
            "postgres:///archive",
            "_archive.index",
        );
    }

    #[test]
    fn arguments_kept_in_the_archive_hold_no_password() {
        for (arg, kept) in [
            ("postgres://u:pw@h/db", "postgres://u:***@h/db"),
            ("--db=postgres://u:pw@h/db", "--db=postgres://u:***@h/db"),
            ("--lang=vie", "--lang=vie"),
            ("scans/a:b@c.pdf", "scans/a:b@c.pdf"),
        ] {
            assert_eq!(redact_argument(arg), kept);
        }
    }
}
