//! Electronic authentication: keys, signed records, the Merkle log, `verify`, codes and
//! offline proofs. Every tamper test changes the archive for real (SQL on the database
//! file, files on disk) and expects `verify` to name the problem and the document.

use crate::classify::{archive, id_of};
use crate::support::{sohoa, stderr, stdout};
use std::path::{Path, PathBuf};

fn writable(db: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open(db).expect("open db")
}

/// `verify` output and exit code.
fn verify(db: &Path, args: &[&str]) -> (i32, String) {
    let mut full = vec!["verify"];
    full.extend_from_slice(args);
    let out = sohoa(db, &full);
    (
        out.status.code().unwrap_or(-1),
        format!("{}{}", stdout(&out), stderr(&out)),
    )
}

/// Tampers with a fresh archive and checks `verify` reports each expected problem
/// line (kind and a fragment of the detail) and exits 1.
fn check(tamper: impl FnOnce(&Path, &Path), expect: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let db = archive(dir.path());
    let (code, out) = verify(&db, &[]);
    assert_eq!(code, 0, "an untouched archive verifies clean:\n{out}");
    assert!(out.contains("intact"), "{out}");
    tamper(&db, dir.path());
    let (code, out) = verify(&db, &[]);
    assert_eq!(code, 1, "tampering must fail verification:\n{out}");
    for want in expect {
        assert!(
            out.lines()
                .any(|l| l.starts_with("PROBLEM") && l.contains(want)),
            "expected a problem line with {want:?}:\n{out}"
        );
    }
}

#[test]
fn untouched_archive_verifies_and_every_document_has_a_code() {
    let dir = tempfile::tempdir().unwrap();
    let db = archive(dir.path());
    let (code, out) = verify(&db, &[]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("3 documents, 3 log entries, 1 tree heads, 3 files re-hashed"),
        "{out}"
    );
    let keys: Vec<PathBuf> = std::fs::read_dir(format!("{}.keys", db.display()))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    let private = keys
        .iter()
        .find(|p| p.extension().unwrap() == "key")
        .unwrap();
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(private).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "private key readable by others");
    let db_bytes = std::fs::read(&db).unwrap();
    let secret = std::fs::read_to_string(private).unwrap();
    assert!(
        !db_bytes
            .windows(16)
            .any(|w| w == &secret.trim().as_bytes()[..16]),
        "the private key must never be in the database"
    );
    let id = id_of(&db, "land.pdf");
    let show = stdout(&sohoa(&db, &["show", &id.to_string()]));
    let code = show
        .lines()
        .find_map(|l| l.trim().strip_prefix("verification code: "))
        .unwrap_or_else(|| panic!("show prints the code:\n{show}"))
        .to_owned();
    let (status, out) = verify(&db, &["--code", &code.to_lowercase()]);
    assert_eq!(status, 0, "{out}");
    assert!(
        out.contains("intact") && out.contains("1234/QĐ-STNMT"),
        "{out}"
    );
    // A mistyped symbol is caught by the check symbol, an unknown code is not found.
    let mut typo: Vec<char> = code.chars().collect();
    typo[0] = if typo[0] == 'A' { 'B' } else { 'A' };
    let (status, out) = verify(&db, &["--code", &typo.iter().collect::<String>()]);
    assert_ne!(status, 0, "{out}");
    let (status, out) = verify(&db, &["--code", "0000-0000-0000-0"]);
    assert_eq!(status, 1, "{out}");
    assert!(out.contains("no record"), "{out}");
}

#[test]
fn edited_page_text_is_detected() {
    check(
        |db, _| {
            writable(db)
                .execute(
                    "UPDATE pages SET text = replace(text, '1234', '9234')
                     WHERE document_id = (SELECT id FROM documents WHERE path LIKE '%land.pdf')",
                    [],
                )
                .unwrap();
        },
        &["altered", "page 1 text"],
    );
}

#[test]
fn changed_field_or_classification_is_detected() {
    check(
        |db, _| {
            writable(db)
                .execute(
                    "UPDATE document_fields SET number = '1/QĐ-STNMT'
                     WHERE document_id = (SELECT id FROM documents WHERE path LIKE '%land.pdf')",
                    [],
                )
                .unwrap();
        },
        &["altered", "field number"],
    );
    check(
        |db, _| {
            writable(db)
                .execute(
                    "UPDATE classifications SET sector = 'y-te'
                     WHERE document_id = (SELECT id FROM documents WHERE path LIKE '%birth.pdf')",
                    [],
                )
                .unwrap();
        },
        &["altered", "classification"],
    );
}

#[test]
fn a_staff_correction_is_a_new_signed_record_not_a_problem() {
    let dir = tempfile::tempdir().unwrap();
    let db = archive(dir.path());
    let id = id_of(&db, "birth.pdf").to_string();
    let before = stdout(&sohoa(&db, &["show", &id]));
    let out = sohoa(&db, &["classify", "set", &id, "y-te"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let (code, out) = verify(&db, &[]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("4 log entries, 2 tree heads"), "{out}");
    // The old code now answers "superseded": it existed, a later record replaced it.
    let old_code = before
        .lines()
        .find_map(|l| l.trim().strip_prefix("verification code: "))
        .unwrap();
    let (status, out) = verify(&db, &["--code", old_code]);
    assert_eq!(status, 1, "{out}");
    assert!(out.contains("superseded"), "{out}");
}

#[test]
fn deleted_document_is_detected() {
    check(
        |db, _| {
            let conn = writable(db);
            conn.execute_batch(
                "PRAGMA foreign_keys = ON;
                 DELETE FROM documents WHERE path LIKE '%building.pdf';",
            )
            .unwrap();
        },
        &["deleted", "no longer in the database"],
    );
}

#[test]
fn forged_document_is_detected() {
    check(
        |db, _| {
            let conn = writable(db);
            conn.execute_batch(
                "INSERT INTO documents (run_id, path, sha256, size, format, page_count, status,
                                        record_id, version, current)
                 SELECT run_id, '/forged.pdf', sha256, size, format, page_count, status,
                        NULL, 1, 1 FROM documents ORDER BY id LIMIT 1;
                 UPDATE documents SET record_id = id WHERE record_id IS NULL;
                 INSERT INTO pages (document_id, number, text, text_source)
                 SELECT MAX(id), 1, 'QUYET DINH cap dat cho ong X', 'ocr' FROM documents;",
            )
            .unwrap();
        },
        &["unsigned", "/forged.pdf"],
    );
    // A forged record appended to the log, with a signature from no key of ours: the
    // land decision's record with its number changed (whichever leaf it is: the three
    // documents are stored in the order their pages finish).
    check(
        |db, _| {
            writable(db)
                .execute(
                    "INSERT INTO records (leaf, document_id, record, record_hash, leaf_hash, code,
                                          key_id, signature)
                     SELECT (SELECT max(leaf) + 1 FROM records), document_id,
                            replace(record, '1234', '9999'), record_hash, leaf_hash, code,
                            key_id, signature
                     FROM records WHERE record LIKE '%1234%' ORDER BY leaf DESC LIMIT 1",
                    [],
                )
                .unwrap();
        },
        &["record-hash", "bad-signature"],
    );
}

#[test]
fn replaced_source_file_is_detected_and_no_files_skips_it() {
    let dir = tempfile::tempdir().unwrap();
    let db = archive(dir.path());
    let land = dir.path().join("scans/land.pdf");
    std::fs::write(&land, b"%PDF-1.5 not the archived bytes").unwrap();
    std::fs::remove_file(dir.path().join("scans/birth.pdf")).unwrap();
    let (code, out) = verify(&db, &[]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("PROBLEM file-modified") && out.contains("land.pdf"),
        "{out}"
    );
    assert!(
        out.contains("PROBLEM file-missing") && out.contains("birth.pdf"),
        "{out}"
    );
    let (code, out) = verify(&db, &["--no-files"]);
    assert_eq!(code, 0, "--no-files does not read the files:\n{out}");
}

#[test]
fn swapped_signatures_are_detected() {
    check(
        |db, _| {
            let conn = writable(db);
            let signature = |leaf: i64| -> String {
                conn.query_row(
                    "SELECT signature FROM records WHERE leaf = ?1",
                    [leaf],
                    |r| r.get(0),
                )
                .unwrap()
            };
            let (first, second) = (signature(0), signature(1));
            for (leaf, sig) in [(0, second), (1, first)] {
                conn.execute(
                    "UPDATE records SET signature = ?1 WHERE leaf = ?2",
                    rusqlite::params![sig, leaf],
                )
                .unwrap();
            }
        },
        &["bad-signature", "log entry 0", "log entry 1"],
    );
}

#[test]
fn database_rolled_back_to_an_older_copy_is_detected() {
    check(
        |db, dir| {
            // Yesterday's copy, then today's run, then yesterday's copy put back.
            let copy = dir.join("yesterday.db");
            writable(db)
                .execute("VACUUM INTO ?1", [copy.to_str().unwrap()])
                .unwrap();
            let scans = dir.join("more");
            std::fs::create_dir_all(&scans).unwrap();
            std::fs::write(
                scans.join("new.pdf"),
                crate::support::lines_pdf(&["QUYET DINH", "Ve viec giao dat"]),
            )
            .unwrap();
            let out = sohoa(db, &["ingest", scans.to_str().unwrap()]);
            assert!(out.status.success(), "{}", stderr(&out));
            std::fs::copy(&copy, db).unwrap();
            for suffix in ["-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
            }
        },
        &["rolled-back", "4 entries"],
    );
}

#[test]
fn truncated_log_is_detected() {
    check(
        |db, _| {
            writable(db)
                .execute(
                    "DELETE FROM records WHERE leaf = (SELECT MAX(leaf) FROM records)",
                    [],
                )
                .unwrap();
        },
        &["log-truncated", "covers 3 entries, the log holds 2"],
    );
    // Truncated together with the tree heads that covered it: the copy of the last
    // head kept beside the database still knows.
    check(
        |db, _| {
            writable(db)
                .execute_batch("DELETE FROM records WHERE leaf = 2; DELETE FROM tree_heads;")
                .unwrap();
        },
        &["rolled-back"],
    );
}

#[test]
fn proofs_check_offline_with_only_the_public_key() {
    let dir = tempfile::tempdir().unwrap();
    let db = archive(dir.path());
    let id = id_of(&db, "land.pdf").to_string();
    let out = sohoa(&db, &["proof", &id]);
    assert!(out.status.success(), "{}", stderr(&out));
    let proof = dir.path().join("proof.json");
    std::fs::write(&proof, stdout(&out)).unwrap();
    let keys = stdout(&sohoa(&db, &["keys", "show", "--json"]));
    let keys: serde_json::Value = serde_json::from_str(&keys).unwrap();
    let public = keys[0]["public_key"].as_str().unwrap().to_owned();
    let scan = dir.path().join("scans/land.pdf");
    // Offline: no database given, nothing but the proof, the key and the file.
    let offline = |args: &[&str]| {
        let mut full = vec![
            "verify-proof",
            proof.to_str().unwrap(),
            "--public-key",
            &public,
        ];
        full.extend_from_slice(args);
        sohoa(Path::new("/nonexistent/none.db"), &full)
    };
    let out = offline(&["--file", scan.to_str().unwrap()]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).contains("file's bytes are the archived source"));
    let other = dir.path().join("scans/birth.pdf");
    let out = offline(&["--file", other.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    // A proof edited after the fact fails.
    let text = std::fs::read_to_string(&proof).unwrap();
    std::fs::write(&proof, text.replace("1234/QĐ-STNMT", "1235/QĐ-STNMT")).unwrap();
    let out = offline(&[]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("FAIL record hash"),
        "{}",
        stdout(&out)
    );
    // Another key does not vouch for it.
    std::fs::write(&proof, text).unwrap();
    let wrong = "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c";
    let out = sohoa(
        Path::new("/nonexistent/none.db"),
        &[
            "verify-proof",
            proof.to_str().unwrap(),
            "--public-key",
            wrong,
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
}

/// `sohoa proof` on a log changed behind sohoa's back: a clear error, never a panic,
/// and no proof built from the changed log.
#[test]
fn proof_of_a_truncated_or_rewritten_log_is_a_clear_error() {
    let check = |tamper: &str, expect: &str| {
        let dir = tempfile::tempdir().unwrap();
        let db = archive(dir.path());
        let id = id_of(&db, "land.pdf").to_string();
        // A correction: the document's second record is the log's last entry (a
        // document left with no record at all would be recorded again, identically).
        assert!(
            sohoa(&db, &["classify", "set", &id, "y-te"])
                .status
                .success()
        );
        assert!(sohoa(&db, &["proof", &id]).status.success());
        writable(&db)
            .execute_batch(&tamper.replace("{id}", &id))
            .unwrap();
        let out = sohoa(&db, &["proof", &id]);
        assert!(!out.status.success(), "{tamper}: {}", stdout(&out));
        assert!(stdout(&out).is_empty(), "{tamper}: no proof is printed");
        let err = stderr(&out);
        assert!(err.contains(expect), "{tamper}: {err}");
        assert!(!err.contains("panicked"), "{tamper}: {err}");
    };
    // The last entry deleted: sealing refuses to sign a shorter log, and says why.
    check(
        "DELETE FROM records WHERE leaf = (SELECT MAX(leaf) FROM records)",
        "entries were removed",
    );
    // An entry's leaf hash replaced, or the document's record edited under its hash.
    check(
        "UPDATE records SET leaf_hash = (SELECT leaf_hash FROM records WHERE leaf = 1) WHERE leaf = 0",
        "rewritten",
    );
    check(
        "UPDATE records SET record = record || ' ' WHERE document_id = {id}",
        "rewritten",
    );
}

#[test]
fn consistency_between_yesterdays_tree_head_and_today() {
    let dir = tempfile::tempdir().unwrap();
    let db = archive(dir.path());
    let yesterday = dir.path().join("head.json");
    std::fs::write(&yesterday, stdout(&sohoa(&db, &["tree-head"]))).unwrap();
    let more = dir.path().join("more");
    std::fs::create_dir_all(&more).unwrap();
    std::fs::write(
        more.join("n.pdf"),
        crate::support::lines_pdf(&["BAO CAO", "So: 5/BC-UBND"]),
    )
    .unwrap();
    assert!(
        sohoa(&db, &["ingest", more.to_str().unwrap()])
            .status
            .success()
    );
    let out = sohoa(&db, &["proof", "--since", yesterday.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let proof = dir.path().join("consistency.json");
    std::fs::write(&proof, stdout(&out)).unwrap();
    let keys: serde_json::Value =
        serde_json::from_str(&stdout(&sohoa(&db, &["keys", "show", "--json"]))).unwrap();
    let public = keys[0]["public_key"].as_str().unwrap();
    let out = sohoa(
        &db,
        &[
            "verify-proof",
            proof.to_str().unwrap(),
            "--public-key",
            public,
        ],
    );
    assert!(out.status.success(), "{}", stdout(&out));
    assert!(stdout(&out).contains("only appended"), "{}", stdout(&out));
    let (code, out) = verify(&db, &["--tree-head", yesterday.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}");
    // History rewritten under yesterday's head: its root no longer matches.
    writable(&db)
        .execute(
            "UPDATE records SET leaf_hash = leaf_hash, record = record || ' ' WHERE leaf = 0",
            [],
        )
        .unwrap();
    let (code, out) = verify(&db, &["--tree-head", yesterday.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("log-rewritten"), "{out}");
}

#[test]
fn key_rotation_keeps_old_signatures_verifiable() {
    let dir = tempfile::tempdir().unwrap();
    let db = archive(dir.path());
    let out = sohoa(&db, &["keys", "rotate"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let more = dir.path().join("more");
    std::fs::create_dir_all(&more).unwrap();
    std::fs::write(
        more.join("n.pdf"),
        crate::support::lines_pdf(&["BAO CAO", "So: 7/BC-UBND"]),
    )
    .unwrap();
    assert!(
        sohoa(&db, &["ingest", more.to_str().unwrap()])
            .status
            .success()
    );
    let keys: serde_json::Value =
        serde_json::from_str(&stdout(&sohoa(&db, &["keys", "show", "--json"]))).unwrap();
    assert_eq!(keys.as_array().unwrap().len(), 2);
    assert!(keys[0]["retired_at"].is_string() && keys[1]["retired_at"].is_null());
    let signers: Vec<String> = {
        let conn = crate::support::sql(&db);
        let mut s = conn
            .prepare("SELECT DISTINCT key_id FROM records ORDER BY leaf")
            .unwrap();
        s.query_map([], |r| r.get(0))
            .unwrap()
            .map(|r| r.unwrap())
            .collect()
    };
    assert_eq!(signers.len(), 2, "the log says which key signed what");
    let (code, out) = verify(&db, &[]);
    assert_eq!(code, 0, "{out}");
    // `keys init` on an archive that has a key refuses.
    let out = sohoa(&db, &["keys", "init"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("already has signing key"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_missing_private_key_stops_writing_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let db = archive(dir.path());
    std::fs::remove_dir_all(format!("{}.keys", db.display())).unwrap();
    let more = dir.path().join("more");
    std::fs::create_dir_all(&more).unwrap();
    std::fs::write(more.join("n.pdf"), crate::support::lines_pdf(&["BAO CAO"])).unwrap();
    let out = sohoa(&db, &["ingest", more.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("private key is not in"),
        "{}",
        stderr(&out)
    );
    // Without the key files, verify trusts no key: it says so rather than passing.
    let (code, out) = verify(&db, &["--no-files"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("untrusted-key"), "{out}");
}
