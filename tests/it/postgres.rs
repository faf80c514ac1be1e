//! The whole command line on a PostgreSQL archive (`--db postgres://…`), on the server
//! `scripts/test` starts: what works on SQLite works here, and the password stays out of
//! what is printed and kept.

use crate::support::{ingest_json, new_postgres_database, sohoa, stderr, stdout, text_pdf};
use std::path::Path;

/// `dir/inbox` holding a text PDF per (name, text).
fn inbox(dir: &Path, files: &[(&str, &str)]) -> std::path::PathBuf {
    let inbox = dir.join("inbox");
    std::fs::create_dir(&inbox).unwrap();
    for (name, text) in files {
        std::fs::write(inbox.join(name), text_pdf(text)).unwrap();
    }
    inbox
}

#[test]
fn the_command_line_works_on_a_postgres_archive() {
    let dir = tempfile::tempdir().unwrap();
    let inbox = inbox(
        dir.path(),
        &[
            (
                "a.pdf",
                "Quyet dinh ve viec giao dat cho ho gia dinh tai xa Nam Anh",
            ),
            (
                "b.pdf",
                "Cong van ve bao hiem xa hoi mot lan cua nguoi lao dong",
            ),
        ],
    );
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
    // A worker that never reached its database says so at once (a setting to fix);
    // only a database that went away after is waited for.
    let started = std::time::Instant::now();
    let out = sohoa(
        Path::new("postgres://sohoa:secret@127.0.0.1:1/archive"),
        &["worker", "--exit-when-empty"],
    );
    assert!(!out.status.success());
    assert!(started.elapsed().as_secs() < 30, "the worker waited");
    let err = stderr(&out);
    assert!(
        err.contains("127.0.0.1:1") && !err.contains("secret"),
        "{err}"
    );
}

/// A connection to the archive's database, for assertions.
fn sql(url: &str) -> postgres::Client {
    postgres::Client::connect(url, postgres::NoTls).expect("connect to the test archive")
}

fn count(url: &str, query: &str) -> i64 {
    sql(url).query_one(query, &[]).unwrap().get(0)
}

fn queue_status(db: &Path) -> serde_json::Value {
    let out = sohoa(db, &["queue", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    serde_json::from_str(&stdout(&out)).unwrap()
}

/// A new PostgreSQL archive with its signing key and `inbox`'s files queued; its URL.
fn queued_archive(inbox: &Path) -> String {
    let url = new_postgres_database();
    let db = Path::new(&url);
    keys_init(db);
    let out = sohoa(db, &["enqueue", inbox.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    url
}

fn keys_init(db: &Path) {
    let out = sohoa(db, &["keys", "init"]);
    assert!(out.status.success(), "{}", stderr(&out));
}

fn worker(db: &Path, args: &[&str]) -> std::process::Child {
    std::process::Command::new(env!("CARGO_BIN_EXE_sohoa"))
        .arg("--db")
        .arg(db)
        .arg("worker")
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start a worker")
}

fn finished(child: std::process::Child) -> std::process::Output {
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "worker: {}", stderr(&out));
    out
}

/// `dir/inbox` holding `count` scans that take OCR time (seconds each: a sample page four
/// times over, one tall page), each with bytes of its own.
fn scans(dir: &Path, count: u8) -> std::path::PathBuf {
    let inbox = dir.join("inbox");
    std::fs::create_dir(&inbox).unwrap();
    let page = image::open(crate::support::repo_path("samples/quyet-dinh-dat-dai.png"))
        .unwrap()
        .to_luma8();
    const TIMES: u32 = 4;
    let mut tall = image::GrayImage::new(page.width(), page.height() * TIMES);
    for i in 0..TIMES {
        image::imageops::replace(&mut tall, &page, 0, i64::from(i * page.height()));
    }
    let mut scan = Vec::new();
    tall.write_to(
        &mut std::io::Cursor::new(&mut scan),
        image::ImageFormat::Png,
    )
    .unwrap();
    for i in 0..count {
        let mut bytes = scan.clone();
        bytes.push(i);
        std::fs::write(inbox.join(format!("scan-{i}.png")), bytes).unwrap();
    }
    inbox
}

/// Waits (at most a minute) until `ready` holds for the queue's status.
fn wait_for_queue(db: &Path, what: &str, ready: impl Fn(&serde_json::Value) -> bool) {
    let started = std::time::Instant::now();
    loop {
        let status = queue_status(db);
        if ready(&status) {
            return;
        }
        assert!(started.elapsed().as_secs() < 60, "{what}: {status:#}");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// Sends `signal` (`STOP`, `CONT`, …) to `child`.
fn signal(child: &std::process::Child, signal: &str) {
    let sent = std::process::Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(sent.success(), "kill -{signal}");
}

/// What a finished queue run must hold: every one of `files` jobs done, each file one
/// document signed once, the log without gaps, `verify` intact.
fn check_every_file_stored_once(url: &str, files: i64) {
    let db = Path::new(url);
    let status = queue_status(db);
    assert_eq!(
        (status["done"].as_i64(), status["failed"].as_i64()),
        (Some(files), Some(0)),
        "{status:#}"
    );
    assert_eq!(count(url, "SELECT count(*) FROM documents"), files);
    assert_eq!(
        count(url, "SELECT count(*) FROM documents WHERE status = 'ok'"),
        files
    );
    assert_eq!(count(url, "SELECT count(*) FROM locations"), files);
    // One record per document, leaves numbered without a gap.
    assert_eq!(count(url, "SELECT count(*) FROM records"), files);
    assert_eq!(
        count(url, "SELECT count(DISTINCT document_id) FROM records"),
        files
    );
    assert_eq!(
        count(
            url,
            "SELECT COALESCE(max(leaf) - min(leaf) + 1, 0) FROM records"
        ),
        files
    );
    let verify = sohoa(db, &["verify"]);
    assert!(
        verify.status.success() && stdout(&verify).contains("intact"),
        "{}{}",
        stdout(&verify),
        stderr(&verify)
    );
}

#[test]
fn a_worker_back_after_its_lease_ran_out_cannot_store_over_the_new_owner() {
    let dir = tempfile::tempdir().unwrap();
    let inbox = scans(dir.path(), 2);
    let url = queued_archive(&inbox);
    let db = Path::new(&url);
    let args = [
        "--exit-when-empty",
        "--lease",
        "3",
        "-j",
        "1",
        "--batch",
        "2",
    ];
    let report = dir.path().join("late.json");
    let late = worker(
        db,
        &[
            &args[..],
            &["--name", "late", "--report", report.to_str().unwrap()],
        ]
        .concat(),
    );
    wait_for_queue(db, "the first worker claims both jobs", |s| {
        s["running"] == 2
    });
    // Paused mid-OCR (a frozen VM, a swapping machine, a network partition): its leases
    // run out, and another worker takes both jobs over and stores them, the first file
    // as it is now (replaced by a new scan meanwhile).
    std::thread::sleep(std::time::Duration::from_millis(700));
    signal(&late, "STOP");
    let replaced = inbox.join("scan-0.png");
    let mut rescanned = std::fs::read(&replaced).unwrap();
    rescanned.extend_from_slice(b"rescanned");
    std::fs::write(&replaced, &rescanned).unwrap();
    let owner = finished(worker(db, &[&args[..], &["--name", "owner"]].concat()));
    assert!(stdout(&owner).contains("2 jobs done"), "{}", stdout(&owner));
    // Back: it finishes reading, and its documents are declined, not stored.
    signal(&late, "CONT");
    let late = finished(late);
    assert!(
        stdout(&late).contains("0 jobs done") && stdout(&late).contains("2 taken over"),
        "{}{}",
        stdout(&late),
        stderr(&late)
    );
    // Its report (rewritten after each batch) says the same.
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    assert_eq!(
        (report["done"].as_u64(), report["taken_over"].as_u64()),
        (Some(0), Some(2)),
        "{report:#}"
    );
    check_every_file_stored_once(&url, 2);
    assert_eq!(
        count(&url, "SELECT count(*) FROM jobs WHERE worker = 'owner'"),
        2
    );
    // The path holds the new owner's reading of the new scan, not the late one's.
    let sha = sohoa::authenticity::sha256_hex(&rescanned);
    let stored: String = sql(&url)
        .query_one(
            "SELECT d.sha256 FROM locations l JOIN documents d ON d.id = l.document_id
             WHERE l.path = $1",
            &[&replaced.display().to_string()],
        )
        .unwrap()
        .get(0);
    assert_eq!(stored, sha);
}

#[test]
fn three_workers_killed_ten_times_at_random_store_every_file_once() {
    let dir = tempfile::tempdir().unwrap();
    let inbox = scans(dir.path(), 4);
    let words = [
        "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india",
        "juliet", "kilo", "lima",
    ];
    for (i, word) in words.iter().enumerate() {
        let text = format!("Ho so luu tru so {i} ma {word}");
        std::fs::write(inbox.join(format!("{word}.pdf")), text_pdf(&text)).unwrap();
    }
    let files = 4 + words.len() as i64;
    let url = queued_archive(&inbox);
    let db = Path::new(&url);
    // The seed is printed by every failing assertion below: a failure can be replayed.
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos() as u64
        | 1;
    let mut state = seed;
    let mut random = move |below: u64| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state % below
    };
    // Lost often on purpose: a job may lose many workers here before it is given up.
    let args = [
        "--exit-when-empty",
        "--lease",
        "3",
        "-j",
        "1",
        "--batch",
        "2",
        "--give-up-after",
        "50",
    ];
    let mut workers: Vec<std::process::Child> = (0..3).map(|_| worker(db, &args)).collect();
    let mut kills = 0;
    for _ in 0..200 {
        if kills == 10 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(150 + random(900)));
        let slot = random(3) as usize;
        if workers[slot].try_wait().unwrap().is_none() {
            workers[slot].kill().unwrap(); // SIGKILL
            kills += 1;
        }
        workers[slot].wait().unwrap();
        workers[slot] = worker(db, &args);
    }
    assert_eq!(kills, 10, "seed {seed}: the queue drained before 10 kills");
    for w in workers {
        finished(w);
    }
    check_every_file_stored_once(&url, files);
    let found: serde_json::Value = serde_json::from_str(&stdout(&sohoa(
        db,
        &["search", "--json", "--limit", "100", "luu tru"],
    )))
    .unwrap();
    let hits = found["hits"].as_array().expect("hits");
    assert_eq!(hits.len(), words.len(), "seed {seed}: {found:#}");
    for word in words {
        let out = stdout(&sohoa(db, &["search", word]));
        assert!(out.contains(&format!("{word}.pdf")), "seed {seed}: {out}");
    }
}

#[test]
fn workers_reconnect_when_the_database_restarts_and_finish() {
    let server = crate::support::PrivatePostgres::start();
    let url = server.new_database("restarted");
    let db = Path::new(&url);
    let dir = tempfile::tempdir().unwrap();
    let inbox = scans(dir.path(), 5);
    keys_init(db);
    assert!(
        sohoa(db, &["enqueue", inbox.to_str().unwrap()])
            .status
            .success()
    );
    let args = [
        "--exit-when-empty",
        "--lease",
        "5",
        "-j",
        "1",
        "--batch",
        "1",
    ];
    let workers = [worker(db, &args), worker(db, &args)];
    wait_for_queue(db, "a first job is done", |s| s["done"].as_u64() >= Some(1));
    server.down(); // every connection cut, mid-OCR or mid-transaction
    std::thread::sleep(std::time::Duration::from_secs(2));
    server.up();
    let outputs: Vec<_> = workers.into_iter().map(finished).collect();
    assert!(
        outputs
            .iter()
            .any(|o| stderr(o).contains("the database went away")),
        "{}",
        stderr(&outputs[0])
    );
    check_every_file_stored_once(&url, 5);
}

#[test]
fn workers_share_the_queue_and_take_over_what_a_lost_worker_held() {
    let dir = tempfile::tempdir().unwrap();
    let inbox = dir.path().join("inbox");
    std::fs::create_dir(&inbox).unwrap();
    let topics = [
        "giao dat",
        "thu hoi dat",
        "cap phep xay dung",
        "bao hiem xa hoi",
        "dang ky kinh doanh",
        "chung thuc ban sao",
        "ho tich khai sinh",
        "dau tu du an",
    ];
    for (i, topic) in topics.iter().enumerate() {
        let text = format!("Quyet dinh so {i} ve viec {topic} tai tinh Nghe An");
        std::fs::write(inbox.join(format!("{i}.pdf")), text_pdf(&text)).unwrap();
    }
    // The same bytes at two paths: one document, two locations.
    let twin = text_pdf("Cong van ve viec tiep nhan ho so truc tuyen");
    std::fs::write(inbox.join("twin-a.pdf"), &twin).unwrap();
    std::fs::write(inbox.join("twin-b.pdf"), &twin).unwrap();
    std::fs::write(inbox.join("broken.pdf"), b"%PDF-1.4 nothing else").unwrap();
    let url = new_postgres_database();
    let db = Path::new(&url);
    keys_init(db);

    let out = sohoa(db, &["enqueue", inbox.to_str().unwrap()]);
    assert!(stdout(&out).contains("queued 11 files"), "{}", stdout(&out));
    let out = sohoa(db, &["enqueue", inbox.to_str().unwrap()]);
    assert!(
        stdout(&out).contains("queued 0 files (11 already queued"),
        "{}",
        stdout(&out)
    );

    // A worker claims two jobs and is lost (killed before it renews its lease).
    let mut ghost = sohoa::store::open_queue(db).unwrap();
    let lost = ghost
        .claim("ghost", 2, std::time::Duration::from_millis(500))
        .unwrap();
    assert_eq!(lost.len(), 2);
    std::thread::sleep(std::time::Duration::from_millis(800));

    let args = [
        "--exit-when-empty",
        "--lease",
        "5",
        "-j",
        "1",
        "--batch",
        "3",
    ];
    let (a, b) = (worker(db, &args), worker(db, &args));
    let (a, b) = (finished(a), finished(b));

    let status = queue_status(db);
    assert_eq!(status["pending"], 0, "{status:#}");
    assert_eq!(status["running"], 0, "{status:#}");
    assert_eq!(status["done"], 10, "{status:#}");
    assert_eq!(status["failed"], 1, "{status:#}");
    let failure = &status["failures"][0];
    assert!(
        failure["path"].as_str().unwrap().ends_with("broken.pdf"),
        "{status:#}"
    );
    assert!(
        !failure["reason"].as_str().unwrap().is_empty(),
        "{status:#}"
    );
    for job in &lost {
        let attempts: i64 = sql(&url)
            .query_one("SELECT attempts FROM jobs WHERE id = $1", &[&job.id])
            .unwrap()
            .get(0);
        assert_eq!(attempts, 2, "{} was taken over once", job.path);
    }
    // Each file is in the archive once; the twins are one document.
    assert_eq!(
        count(
            &url,
            "SELECT count(*) FROM documents WHERE status != 'failed'"
        ),
        9
    );
    assert_eq!(count(&url, "SELECT count(*) FROM locations"), 11);
    // Both workers did part of the work, and the signed log holds every document.
    for out in [&a, &b] {
        assert!(stdout(out).contains("jobs done"), "{}", stdout(out));
    }
    let verify = sohoa(db, &["verify"]);
    assert!(
        verify.status.success() && stdout(&verify).contains("intact"),
        "{}{}",
        stdout(&verify),
        stderr(&verify)
    );
    let search = sohoa(db, &["search", "chung thuc"]);
    assert!(stdout(&search).contains("5.pdf"), "{}", stdout(&search));
}

#[test]
fn a_job_that_keeps_losing_its_worker_ends_as_failed() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("poison.pdf");
    std::fs::write(&file, text_pdf("Bao cao tong hop")).unwrap();
    let url = new_postgres_database();
    let db = Path::new(&url);
    let mut queue = sohoa::store::open_queue(db).unwrap();
    let (queued, _) = queue.enqueue(&[file.display().to_string()]).unwrap();
    assert_eq!(queued, 1);
    let instantly = std::time::Duration::ZERO;
    for attempt in 1..=sohoa::store::MAX_JOB_ATTEMPTS {
        let jobs = queue.claim("doomed", 5, instantly).unwrap();
        assert_eq!(jobs.len(), 1, "claim {attempt}");
        assert_eq!(jobs[0].attempts, attempt);
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(queue.claim("next", 5, instantly).unwrap().is_empty());
    let status = queue.status(5).unwrap();
    assert_eq!((status.failed, status.pending, status.running), (1, 0, 0));
    assert!(
        status.failures[0].reason.contains("lost 3 times"),
        "{:?}",
        status.failures
    );
}

#[test]
fn a_worker_killed_mid_batch_loses_nothing_and_stores_nothing_twice() {
    let dir = tempfile::tempdir().unwrap();
    let inbox = scans(dir.path(), 3);
    let url = queued_archive(&inbox);
    let db = Path::new(&url);

    let mut doomed = worker(db, &["--lease", "3", "-j", "1", "--batch", "3"]);
    let started = std::time::Instant::now();
    while queue_status(db)["running"] != 3 {
        assert!(started.elapsed().as_secs() < 60, "the worker never claimed");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    doomed.kill().unwrap(); // SIGKILL: no clean-up, no lease released
    doomed.wait().unwrap();

    let out = finished(worker(
        db,
        &["--exit-when-empty", "--lease", "3", "-j", "1"],
    ));
    let status = queue_status(db);
    assert_eq!(
        (status["done"].as_u64(), status["running"].as_u64()),
        (Some(3), Some(0)),
        "{status:#}\n{}",
        stderr(&out)
    );
    assert_eq!(count(&url, "SELECT count(*) FROM documents"), 3);
    assert_eq!(
        count(&url, "SELECT count(*) FROM documents WHERE status = 'ok'"),
        3
    );
    // The killed worker's run is on record as crashed, not as running forever.
    assert_eq!(
        count(&url, "SELECT count(*) FROM runs WHERE status = 'running'"),
        0
    );
}

#[test]
fn the_same_bytes_stored_by_two_writers_at_once_are_one_document() {
    let url = new_postgres_database();
    for round in 0..8u64 {
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(2));
        let handles: Vec<_> = (0..2)
            .map(|writer| {
                let barrier = std::sync::Arc::clone(&barrier);
                let url = url.clone();
                std::thread::spawn(move || {
                    let mut store = sohoa::store::open(Path::new(&url)).unwrap();
                    let run = store.begin_run("test").unwrap();
                    let mut doc =
                        sohoa::synth::document(&mut sohoa::synth::Rng::new(round), round, 50);
                    doc.path = format!("/writer-{writer}/{round}.pdf");
                    barrier.wait();
                    store.put_document(run, &doc).unwrap()
                })
            })
            .collect();
        let stored: Vec<sohoa::store::Stored> =
            handles.into_iter().map(|h| h.join().unwrap()).collect();
        let new = stored
            .iter()
            .filter(|s| matches!(s, sohoa::store::Stored::New(_)))
            .count();
        assert_eq!(new, 1, "round {round}: {stored:?}");
    }
    assert_eq!(count(&url, "SELECT count(*) FROM documents"), 8);
    assert_eq!(count(&url, "SELECT count(*) FROM locations"), 16);
}

/// sohoa as run on another machine: its own state directory (index, keys).
fn on_machine(state: &Path, db: &Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_sohoa"))
        .env("SOHOA_STATE_DIR", state)
        .arg("--db")
        .arg(db)
        .args(args)
        .output()
        .expect("run sohoa")
}

#[test]
fn workers_on_other_machines_feed_the_search_machine_index() {
    let dir = tempfile::tempdir().unwrap();
    let (search_node, worker_node) = (dir.path().join("search"), dir.path().join("worker"));
    let inbox = inbox(
        dir.path(),
        &[(
            "a.pdf",
            "Giay chung nhan quyen su dung dat cap cho ong Nguyen Van A",
        )],
    );
    let url = new_postgres_database();
    let db = Path::new(&url);
    // The search machine searches once (its index is made and registered), nothing yet.
    let out = on_machine(&search_node, db, &["search", "quyen su dung dat"]);
    assert!(out.status.success(), "{}", stderr(&out));
    // The worker machine has the archive's key, made once and copied to it.
    let out = on_machine(&worker_node, db, &["keys", "init"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        on_machine(&worker_node, db, &["enqueue", inbox.to_str().unwrap()])
            .status
            .success()
    );
    let out = on_machine(
        &worker_node,
        db,
        &["worker", "--exit-when-empty", "-j", "1"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    // The worker made no index of its own, and left the change to the search machine.
    let made: Vec<_> = std::fs::read_dir(&worker_node)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        !made.iter().any(|name| name.ends_with(".index")),
        "{made:?}"
    );
    let out = on_machine(&search_node, db, &["search", "quyen su dung dat"]);
    assert!(
        stdout(&out).contains("a.pdf"),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
}

#[test]
fn an_archive_moves_to_postgres_and_back_and_still_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let inbox = inbox(
        dir.path(),
        &[
            (
                "a.pdf",
                "Quyet dinh ve viec cap giay phep xay dung nha o rieng le",
            ),
            (
                "b.pdf",
                "Thong bao ve viec tiep nhan ho so dang ky ho kinh doanh",
            ),
        ],
    );
    let sqlite = dir.path().join("a.db");
    let (code, _) = ingest_json(&sqlite, &[inbox.to_str().unwrap()]);
    assert_eq!(code, 0);
    let url = new_postgres_database();
    let migrate = |from: &Path, to: &Path| {
        std::process::Command::new(env!("CARGO_BIN_EXE_sohoa"))
            .env("SOHOA_STATE_DIR", dir.path().join("state"))
            .arg("migrate")
            .arg("--from")
            .arg(from)
            .arg("--to")
            .arg(to)
            .output()
            .unwrap()
    };
    let out = migrate(&sqlite, Path::new(&url));
    assert!(
        out.status.success() && stdout(&out).contains("intact"),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    assert_eq!(count(&url, "SELECT count(*) FROM records"), 2);
    let search = on_machine(
        &dir.path().join("state"),
        Path::new(&url),
        &["search", "xay dung"],
    );
    assert!(stdout(&search).contains("a.pdf"), "{}", stderr(&search));

    // And back, into a new SQLite file: the same records, still verifiable.
    let back = dir.path().join("back.db");
    let out = migrate(Path::new(&url), &back);
    assert!(
        out.status.success() && stdout(&out).contains("intact"),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    // Never into an archive that holds one already.
    let out = migrate(&sqlite, Path::new(&url));
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("already holds an archive"),
        "{}",
        stderr(&out)
    );
}
