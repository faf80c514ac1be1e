//! Every kind of bad input: one line naming the file and the reason, a `failed` record,
//! and the batch goes on.

use crate::support::{
    append_page, count, ingest_json, pdf_with_image, sohoa, sql, stderr, stdout, text_pdf,
};
use lopdf::dictionary;
use std::path::Path;

/// A PNG whose header claims 100,000 x 100,000 pixels (and has no real data).
fn huge_png() -> Vec<u8> {
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&100_000u32.to_be_bytes());
    ihdr.extend_from_slice(&100_000u32.to_be_bytes());
    ihdr.extend_from_slice(&[8, 0, 0, 0, 0]);
    let chunk = |kind: &[u8], data: &[u8]| {
        let mut c = (data.len() as u32).to_be_bytes().to_vec();
        c.extend_from_slice(kind);
        c.extend_from_slice(data);
        let mut crc = flate2::Crc::new();
        crc.update(kind);
        crc.update(data);
        c.extend_from_slice(&crc.sum().to_be_bytes());
        c
    };
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend(chunk(b"IHDR", &ihdr));
    png.extend(chunk(
        b"IDAT",
        &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01],
    ));
    png.extend(chunk(b"IEND", &[]));
    png
}

/// A valid text PDF whose `startxref` points at the wrong place.
fn broken_xref_pdf() -> Vec<u8> {
    let mut pdf = text_pdf("Bien ban ban giao ho so luu tru cua so noi vu");
    let at = pdf.windows(9).rposition(|w| w == b"startxref").unwrap() + 10;
    let end = at + pdf[at..].iter().position(|b| !b.is_ascii_digit()).unwrap();
    let bogus = format!("{:0width$}", 17, width = end - at);
    pdf.splice(at..end, bogus.bytes());
    pdf
}

fn encrypted_pdf() -> Vec<u8> {
    crate::support::encrypt(&text_pdf("Mat"), "user-secret")
}

/// A page with neither an image nor text, next to a page with text.
fn pdf_with_blank_page() -> Vec<u8> {
    append_page(&text_pdf("Trang mot co chu"), |_| {
        dictionary! { "MediaBox" => vec![0.into(), 0.into(), 400.into(), 100.into()] }
    })
}

fn inbox(dir: &Path) {
    let w = |name: &str, bytes: &[u8]| std::fs::write(dir.join(name), bytes).unwrap();
    w(
        "good.pdf",
        &text_pdf("Quyet dinh ve viec cap giay chung nhan quyen su dung dat"),
    );
    w("zero.pdf", b"");
    let good = text_pdf("Cong van ve viec huong dan thu tuc dau tu");
    w("truncated.pdf", &good[..good.len() / 2]);
    w("broken-xref.pdf", &broken_xref_pdf());
    w("password.pdf", &encrypted_pdf());
    w(
        "random.png",
        &(0..4096u32)
            .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
            .collect::<Vec<_>>(),
    );
    w(
        "letter.jpg",
        "Kính gửi: đây là văn bản, không phải ảnh.".as_bytes(),
    );
    w("huge.png", &huge_png());
    w("blank-page.pdf", &pdf_with_blank_page());
    let image = dictionary! { "Width" => 100_000, "Height" => 100_000, "ColorSpace" => "DeviceGray", "BitsPerComponent" => 8 };
    w("huge-image.pdf", &pdf_with_image(image, vec![0; 64], false));
    std::os::unix::fs::symlink(dir.join("does-not-exist.pdf"), dir.join("dangling.pdf")).unwrap();
    std::fs::create_dir(dir.join("loop")).unwrap();
    std::os::unix::fs::symlink(dir, dir.join("loop").join("back")).unwrap();
    // Unreadable by permissions: only meaningful when not root (root reads anything).
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        use std::os::unix::fs::PermissionsExt;
        w("locked.pdf", &text_pdf("Khong doc duoc"));
        std::fs::set_permissions(
            dir.join("locked.pdf"),
            std::fs::Permissions::from_mode(0o000),
        )
        .unwrap();
    } else {
        eprintln!(
            "running as root: the permission case is covered by dangling.pdf (same read error path)"
        );
    }
    let fifo = std::ffi::CString::new(dir.join("pipe.pdf").to_str().unwrap()).unwrap();
    // SAFETY: plain libc call with a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) }, 0);
}

#[test]
fn bad_files_fail_alone() {
    let dir = tempfile::tempdir().unwrap();
    let scans = dir.path().join("scans");
    std::fs::create_dir(&scans).unwrap();
    inbox(&scans);
    let db = dir.path().join("a.db");
    let out = sohoa(&db, &["ingest", scans.to_str().unwrap()]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}\n{}", stdout(&out));
    for (file, reason) in [
        ("zero.pdf", "empty file"),
        ("truncated.pdf", "PDF"),
        ("password.pdf", "encrypted PDF"),
        ("random.png", "not a supported scan format"),
        ("letter.jpg", "not a supported scan format"),
        ("huge.png", "exceeds the limit"),
        ("huge-image.pdf", "exceeds the limit"),
        ("dangling.pdf", "No such file"),
        ("back", "symlink loop"),
        ("pipe.pdf", "not a regular file"),
    ] {
        let lines: Vec<&str> = err.lines().filter(|l| l.contains(file)).collect();
        assert_eq!(lines.len(), 1, "one line for {file}:\n{err}");
        assert!(lines[0].contains(reason), "{file}: {}", lines[0]);
    }
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        let line = err
            .lines()
            .find(|l| l.contains("locked.pdf"))
            .expect("locked.pdf reported");
        assert!(line.contains("Permission denied"), "{line}");
    }
    let db_conn = sql(&db);
    let status = |name: &str| -> String {
        db_conn
            .query_row(
                "SELECT d.status FROM documents d JOIN locations l ON l.document_id = d.id WHERE l.path LIKE '%/' || ?1",
                [name],
                |r| r.get(0),
            )
            .unwrap_or_else(|e| panic!("{name}: {e}"))
    };
    assert_eq!(status("good.pdf"), "ok");
    assert_eq!(status("broken-xref.pdf"), "ok", "recovered like readers do");
    assert_eq!(status("blank-page.pdf"), "ok");
    for failed in [
        "zero.pdf",
        "truncated.pdf",
        "password.pdf",
        "random.png",
        "huge.png",
        "dangling.pdf",
    ] {
        assert_eq!(status(failed), "failed", "{failed}");
    }
    let found = stdout(&sohoa(&db, &["search", "ban giao ho so"]));
    assert!(found.contains("broken-xref.pdf"), "{found}");
    // The blank page is stored, empty, with a note saying why.
    let note: String = db_conn
        .query_row(
            "SELECT p.note FROM pages p JOIN documents d ON d.id = p.document_id
             WHERE d.path LIKE '%blank-page.pdf' AND p.number = 2",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(note.contains("neither an image nor text"), "{note}");
    // Failures are listed with their reasons, and in export.
    let failures = stdout(&sohoa(&db, &["failures"]));
    assert!(
        failures.contains("password.pdf") && failures.contains("encrypted"),
        "{failures}"
    );
    let export = stdout(&sohoa(&db, &["export"]));
    assert!(
        export
            .lines()
            .any(|l| l.contains("zero.pdf") && l.contains("\"status\":\"failed\""))
    );
}

#[test]
fn a_full_disk_stops_the_run_and_keeps_what_was_stored() {
    let dir = tempfile::tempdir().unwrap();
    let scans = dir.path().join("scans");
    std::fs::create_dir(&scans).unwrap();
    for i in 0..40 {
        let text = format!(
            "Van ban so {i} ve cai cach thu tuc hanh chinh {}",
            "noi dung ".repeat(1000)
        );
        std::fs::write(scans.join(format!("doc-{i:02}.pdf")), text_pdf(&text)).unwrap();
    }
    let db = dir.path().join("a.db");
    // Files may not grow past 1 MiB: the database (16 KB pages; its empty tables take
    // about half of that) fills up part-way through.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sohoa"))
        .args([
            "--db",
            db.to_str().unwrap(),
            "ingest",
            scans.to_str().unwrap(),
        ])
        .env("OMP_THREAD_LIMIT", "1")
        .pre_exec_limit_file_size(1024 * 1024)
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("full") && err.contains("intact"), "{err}");
    let stored = count(&db, "SELECT count(*) FROM documents");
    assert!(stored > 0 && stored < 40, "some documents fit: {stored}");
    // With room again, the next run finishes the job: every file once, database sound.
    let (code, summary) = ingest_json(&db, &[scans.to_str().unwrap()]);
    assert_eq!(code, 0, "{summary:#}");
    let conn = sql(&db);
    let integrity: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(integrity, "ok");
    let (docs, distinct): (i64, i64) = conn
        .query_row(
            "SELECT count(*), count(DISTINCT sha256) FROM documents",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((docs, distinct), (40, 40));
}

/// Sets RLIMIT_FSIZE for the child and ignores SIGXFSZ, so writes past the limit fail
/// with EFBIG (what SQLite reports as a full disk) instead of killing the process.
trait LimitFileSize {
    fn pre_exec_limit_file_size(&mut self, bytes: u64) -> &mut Self;
}

impl LimitFileSize for std::process::Command {
    fn pre_exec_limit_file_size(&mut self, bytes: u64) -> &mut Self {
        use std::os::unix::process::CommandExt;
        // SAFETY: only async-signal-safe calls between fork and exec.
        unsafe {
            self.pre_exec(move || {
                let limit = libc::rlimit {
                    rlim_cur: bytes,
                    rlim_max: bytes,
                };
                libc::setrlimit(libc::RLIMIT_FSIZE, &limit);
                libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
                Ok(())
            })
        }
    }
}

/// Two pages: born-digital text, then a scanned image.
fn text_then_image_pdf() -> Vec<u8> {
    let scan = image::open(crate::support::repo_path("samples/quyet-dinh-dat-dai.png"))
        .unwrap()
        .to_luma8();
    let (w, h) = scan.dimensions();
    append_page(&text_pdf("Trang mot la van ban so"), |doc| {
        let image = doc.add_object(lopdf::Stream::new(
            dictionary! { "Type" => "XObject", "Subtype" => "Image", "Width" => w as i64, "Height" => h as i64,
                          "ColorSpace" => "DeviceGray", "BitsPerComponent" => 8 },
            scan.into_raw(),
        ));
        let content = doc.add_object(lopdf::Stream::new(
            lopdf::Dictionary::new(),
            b"q 595 0 0 480 0 0 cm /Im0 Do Q".to_vec(),
        ));
        dictionary! {
            "Contents" => content,
            "MediaBox" => vec![0.into(), 0.into(), 595.into(), 480.into()],
            "Resources" => dictionary! { "XObject" => dictionary! { "Im0" => image } },
        }
    })
}

#[test]
fn a_page_past_the_ocr_time_limit_fails_alone() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("a.db");
    let file = dir.path().join("mixed.pdf");
    std::fs::write(&file, text_then_image_pdf()).unwrap();
    let out = sohoa(
        &db,
        &["ingest", "--page-timeout", "0.05", file.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let conn = sql(&db);
    let (status, error): (String, String) = conn
        .query_row("SELECT status, error FROM documents", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!(status, "partial");
    assert!(
        error.contains("page 2") && error.contains("time limit"),
        "{error}"
    );
    let kept: String = conn
        .query_row("SELECT text FROM pages WHERE number = 1", [], |r| r.get(0))
        .unwrap();
    assert!(kept.contains("Trang mot"), "{kept}");
    // Given time, the same page reads fine: a retry completes the document.
    let (code, summary) = ingest_json(&db, &["--retry-failed", file.to_str().unwrap()]);
    assert_eq!(code, 0, "{summary:#}");
    let status: String = sql(&db)
        .query_row("SELECT status FROM documents WHERE current = 1", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(status, "ok");
}

#[test]
fn limits_are_settings() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("a.db");
    let png = crate::support::repo_path("samples/quyet-dinh-dat-dai.png");
    let tif = crate::support::repo_path("samples/don-dang-ky-dat.tif");
    // A fresh archive each time: an unchanged failed file is not read again.
    let db2 = dir.path().join("b.db");
    let db3 = dir.path().join("c.db");
    let out = sohoa(
        &db,
        &["ingest", "--max-pixels", "1000000", png.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("exceeds the limit of 1000000 pixels"),
        "{}",
        stderr(&out)
    );
    let out = sohoa(&db2, &["ingest", "--max-pages", "1", tif.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("more than 1 pages"),
        "{}",
        stderr(&out)
    );
    let out = sohoa(
        &db3,
        &["ingest", "--max-file-mib", "0", png.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("exceeds the limit of 0 bytes"),
        "{}",
        stderr(&out)
    );
}

/// A night of many bad files: every one is reported and listed by `failures`, and the
/// run's stored report keeps its counts and the first failures only (it would grow
/// with the batch).
#[test]
fn the_stored_run_report_keeps_counts_and_the_first_failures() {
    let dir = tempfile::tempdir().unwrap();
    let inbox = dir.path().join("inbox");
    std::fs::create_dir(&inbox).unwrap();
    for i in 0..105 {
        // Different bytes each: the same bytes twice would be one document.
        let bytes = format!("not a PDF at all, number {i}");
        std::fs::write(inbox.join(format!("bad-{i:03}.pdf")), bytes).unwrap();
    }
    let db = dir.path().join("a.db");
    let (code, summary) = ingest_json(&db, &[inbox.to_str().unwrap()]);
    assert_eq!(code, 1, "{summary}");
    assert_eq!(summary["documents_failed"], 105);
    assert_eq!(
        summary["failures"].as_array().unwrap().len(),
        105,
        "the run's own output lists all"
    );
    let runs: serde_json::Value =
        serde_json::from_str(&stdout(&sohoa(&db, &["runs", "--json"]))).unwrap();
    let report = &runs[0]["report"];
    assert_eq!(report["documents_failed"], 105);
    assert_eq!(report["failures"].as_array().unwrap().len(), 100);
    assert_eq!(report["failures_left_out"], 5);
    let listed: serde_json::Value = serde_json::from_str(&stdout(&sohoa(
        &db,
        &[
            "failures",
            "--run",
            &summary["run_id"].to_string(),
            "--json",
        ],
    )))
    .unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 105, "{listed}");
}
