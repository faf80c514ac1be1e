//! The whole command line on a PostgreSQL archive (`--db postgres://…`), on the server
//! `scripts/test` starts: what works on SQLite works here, and the password stays out of
//! what is printed and kept.

use crate::support::{ingest_json, new_postgres_database, sohoa, stderr, stdout, text_pdf};
use std::path::Path;

#[test]
fn the_command_line_works_on_a_postgres_archive() {
    let dir = tempfile::tempdir().unwrap();
    let inbox = dir.path().join("inbox");
    std::fs::create_dir(&inbox).unwrap();
    std::fs::write(
        inbox.join("a.pdf"),
        text_pdf("Quyet dinh ve viec giao dat cho ho gia dinh tai xa Nam Anh"),
    )
    .unwrap();
    std::fs::write(
        inbox.join("b.pdf"),
        text_pdf("Cong van ve bao hiem xa hoi mot lan cua nguoi lao dong"),
    )
    .unwrap();
    let url = new_postgres_database();
    let db = Path::new(&url);
    let password = std::env::var("PGPASSWORD").unwrap_or_default();

    let (code, summary) = ingest_json(db, &[inbox.to_str().unwrap()]);
    assert_eq!(code, 0, "{summary:#}");
    assert_eq!(summary["documents_ok"].as_u64(), Some(2), "{summary:#}");

    let out = sohoa(db, &["search", "giao dat"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("a.pdf"), "{}", stdout(&out));
    assert!(!stdout(&out).contains("b.pdf"), "{}", stdout(&out));

    // A second run does no work; the log verifies.
    let (_, again) = ingest_json(db, &[inbox.to_str().unwrap()]);
    assert_eq!(again["unchanged"].as_u64(), Some(2), "{again:#}");
    let verify = sohoa(db, &["verify"]);
    assert!(
        verify.status.success() && stdout(&verify).contains("intact"),
        "{}{}",
        stdout(&verify),
        stderr(&verify)
    );

    // Neither the runs on record nor the messages show the password.
    let runs = sohoa(db, &["runs"]);
    assert!(runs.status.success(), "{}", stderr(&runs));
    for text in [stdout(&runs), stdout(&verify), summary.to_string()] {
        assert!(
            password.is_empty() || !text.contains(&password),
            "password shown: {text}"
        );
    }
}

#[test]
fn an_unreachable_server_is_a_clear_error() {
    // Port 1 on this machine: nothing listens there.
    let out = sohoa(
        Path::new("postgres://sohoa:secret@127.0.0.1:1/archive"),
        &["search", "dat dai"],
    );
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("postgres://sohoa:***@127.0.0.1:1/archive"),
        "{err}"
    );
    assert!(!err.contains("secret"), "{err}");
}
