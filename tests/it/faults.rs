//! Faults beyond the ingest's own crash test: `reindex`, `classify run`, and an ingest
//! after `keys rotate`, each killed with SIGKILL part-way, then checked with `verify`,
//! an integrity check and a search; and a read-only database, which must give a clear
//! error and change nothing.

use crate::support::{count, ingest_json, sohoa, sql, stderr, stdout, text_pdf};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// Born-digital documents (no OCR), enough that each command runs for a while.
const DOCUMENTS: usize = 150;

fn inbox(dir: &Path, first: usize, n: usize) -> PathBuf {
    let inbox = dir.join(format!("inbox-{first}"));
    std::fs::create_dir(&inbox).unwrap();
    for i in first..first + n {
        let text = format!(
            "Quyet dinh so {i} ve viec cap giay chung nhan quyen su dung dat cho ho gia dinh {}",
            "noi dung ".repeat(50)
        );
        std::fs::write(inbox.join(format!("doc-{i:04}.pdf")), text_pdf(&text)).unwrap();
    }
    inbox
}

/// Runs sohoa with `args` and kills it (SIGKILL) after `delay` if it is still running.
/// True when it was killed.
fn kill_during(db: &Path, args: &[&str], delay: Duration) -> bool {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sohoa"))
        .arg("--db")
        .arg(db)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(delay);
    let killed = child.try_wait().unwrap().is_none();
    if killed {
        child.kill().unwrap();
    }
    child.wait().unwrap();
    killed
}

/// Everything must hold after a fault: the log verifies, SQLite is sound, every file is
/// stored once, and search finds every document.
fn check_whole(db: &Path, documents: i64, context: &str) {
    check_whole_finding(db, documents, "giay chung nhan", context)
}

/// `check_whole`, with the words every document holds.
fn check_whole_finding(db: &Path, documents: i64, words: &str, context: &str) {
    let verify = sohoa(db, &["verify"]);
    assert_eq!(
        verify.status.code(),
        Some(0),
        "{context}: verify\n{}{}",
        stdout(&verify),
        stderr(&verify)
    );
    let integrity: String = sql(db)
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(integrity, "ok", "{context}");
    assert_eq!(
        count(
            db,
            "SELECT count(DISTINCT sha256) FROM documents WHERE current = 1"
        ),
        documents,
        "{context}: each file once"
    );
    assert_eq!(
        count(db, "SELECT count(*) FROM documents WHERE current = 1"),
        documents,
        "{context}: no duplicate"
    );
    let found = sohoa(db, &["search", "--json", "--limit", "1", words]);
    let json: serde_json::Value = serde_json::from_str(&stdout(&found))
        .unwrap_or_else(|e| panic!("{context}: search: {e} {}", stderr(&found)));
    assert_eq!(
        json["total"], documents,
        "{context}: search finds every document"
    );
}

/// Kills `args` at growing delays until one run finishes by itself, checking the archive
/// after every kill; returns how many kills landed.
fn kill_repeatedly(db: &Path, args: &[&str], documents: i64) -> usize {
    let mut kills = 0;
    for step in 0..12u64 {
        let delay = Duration::from_millis(40 + step * step * 25);
        if !kill_during(db, args, delay) {
            break;
        }
        kills += 1;
        // The index may lag after a killed reindex: the next reader replays its queue.
        check_whole(db, documents, &format!("{args:?} killed after {delay:?}"));
    }
    kills
}

#[test]
fn killed_reindex_classify_and_post_rotation_ingest_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("a.db");
    let first = inbox(dir.path(), 0, DOCUMENTS);
    let (code, summary) = ingest_json(&db, &[first.to_str().unwrap()]);
    assert_eq!(code, 0, "{summary:#}");
    let n = DOCUMENTS as i64;
    check_whole(&db, n, "after the first ingest");

    let kills = kill_repeatedly(&db, &["reindex"], n);
    eprintln!("reindex killed {kills} times");
    assert!(sohoa(&db, &["reindex"]).status.success());
    check_whole(&db, n, "after a full reindex");

    let kills = kill_repeatedly(&db, &["classify", "run"], n);
    eprintln!("classify run killed {kills} times");
    assert!(sohoa(&db, &["classify", "run"]).status.success());
    check_whole(&db, n, "after a full classify run");

    let rotate = sohoa(&db, &["keys", "rotate"]);
    assert!(rotate.status.success(), "{}", stderr(&rotate));
    let second = inbox(dir.path(), DOCUMENTS, DOCUMENTS);
    let mut kills = 0;
    for step in 0..6u64 {
        if kill_during(
            &db,
            &["ingest", "--quiet", second.to_str().unwrap()],
            Duration::from_millis(100 + step * 150),
        ) {
            kills += 1;
        }
        let integrity: String = sql(&db)
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(integrity, "ok");
    }
    eprintln!("ingest after rotation killed {kills} times");
    let (code, summary) = ingest_json(&db, &[second.to_str().unwrap()]);
    assert_eq!(code, 0, "{summary:#}");
    check_whole(&db, 2 * n, "after the ingest that followed the rotation");
    let keys = stdout(&sohoa(&db, &["keys", "show"]));
    assert!(keys.lines().count() >= 2, "two keys on record:\n{keys}");
}

#[test]
fn a_read_only_database_gives_a_clear_error_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("a.db");
    let first = inbox(dir.path(), 0, 3);
    let (code, _) = ingest_json(&db, &[first.to_str().unwrap()]);
    assert_eq!(code, 0);
    let second = inbox(dir.path(), 3, 3);
    use std::os::unix::fs::PermissionsExt;
    let mode = |path: &Path, mode: u32| {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap()
    };
    // Everything readable, nothing writable by the user the command runs as. Root
    // writes anything, so as root the command runs as `nobody`.
    mode(dir.path(), 0o555);
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let path = entry.unwrap().path();
        mode(&path, if path.is_dir() { 0o555 } else { 0o444 });
    }
    let before = std::fs::read(&db).unwrap();
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    // `nobody` must reach the binary: a checkout under a private directory (`mktemp -d`
    // makes it 0700) hides it, so as root the command runs from a link (or copy) in an
    // open directory.
    let open_dir = tempfile::tempdir().unwrap();
    let mut exe = PathBuf::from(env!("CARGO_BIN_EXE_sohoa"));
    if root {
        mode(open_dir.path(), 0o755);
        let linked = open_dir.path().join("sohoa");
        std::fs::hard_link(&exe, &linked)
            .or_else(|_| std::fs::copy(&exe, &linked).map(|_| ()))
            .unwrap();
        exe = linked;
    }
    let mut command = Command::new(&exe);
    command
        .arg("--db")
        .arg(&db)
        .args(["ingest", "--quiet", second.to_str().unwrap()]);
    if root {
        use std::os::unix::process::CommandExt;
        command.uid(65534).gid(65534);
    }
    let out = command.output().unwrap();
    mode(dir.path(), 0o755);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&db.display().to_string()) && err.contains("read-only"),
        "names the database and the reason: {err}"
    );
    assert_eq!(
        std::fs::read(&db).unwrap(),
        before,
        "the database is unchanged"
    );
    assert_eq!(count(&db, "SELECT count(*) FROM documents"), 3);
}

/// A tmpfs volume of a given size, unmounted when dropped.
struct Volume(PathBuf);

impl Volume {
    fn mount(at: &Path, size: &str) -> Volume {
        std::fs::create_dir_all(at).unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(at)
            .output()
            .unwrap();
        assert!(out.status.success(), "mount: {}", stderr(&out));
        Volume(at.to_path_buf())
    }

    fn resize(&self, size: &str) {
        let out = Command::new("mount")
            .args(["-o", &format!("remount,size={size}")])
            .arg(&self.0)
            .output()
            .unwrap();
        assert!(out.status.success(), "remount: {}", stderr(&out));
    }
}

impl Drop for Volume {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn a_full_volume_stops_the_run_clearly_and_the_next_run_finishes() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        // Mounting needs root; bad_input's RLIMIT_FSIZE test covers a full disk then.
        eprintln!("not root: no tmpfs volume; see bad_input::a_full_disk_*");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let scans = dir.path().join("scans");
    std::fs::create_dir(&scans).unwrap();
    for i in 0..60 {
        let text = format!(
            "Van ban so {i} ve cai cach thu tuc hanh chinh {}",
            "noi dung ".repeat(1500)
        );
        std::fs::write(scans.join(format!("doc-{i:02}.pdf")), text_pdf(&text)).unwrap();
    }
    // The database, its journal and its search index all live on a 2 MiB volume.
    let volume = Volume::mount(&dir.path().join("volume"), "2m");
    let db = volume.0.join("a.db");
    let out = Command::new(env!("CARGO_BIN_EXE_sohoa"))
        .arg("--db")
        .arg(&db)
        .args(["ingest", "--quiet", scans.to_str().unwrap()])
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("full") && err.contains("intact"),
        "says the disk is full and what was kept: {err}"
    );
    let integrity: String = sql(&db)
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(integrity, "ok");
    let stored = count(&db, "SELECT count(*) FROM documents");
    assert!(stored < 60, "the volume filled up part-way: {stored}");
    // Room again: the next run finishes the job, every file once, everything verifies.
    volume.resize("64m");
    let (code, summary) = ingest_json(&db, &[scans.to_str().unwrap()]);
    assert_eq!(code, 0, "{summary:#}");
    check_whole_finding(&db, 60, "cai cach thu tuc", "after the volume was resized");
}
