//! `sohoa serve` as clients meet it: the real binary on a random loopback port, spoken
//! to over raw HTTP/1.1 (so paths reach the server exactly as written, `..` included).

use crate::classify::{archive, id_of};
use crate::support::{pattern, sohoa, stderr, stdout};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

pub(crate) struct Server {
    child: Child,
    pub(crate) addr: String,
}

impl Server {
    pub(crate) fn start(db: &Path) -> Server {
        Server::start_with(db, &[])
    }

    /// `sohoa serve` with extra options (`--trusted-proxy`, limits).
    pub(crate) fn start_with(db: &Path, options: &[&str]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_sohoa"))
            .arg("--db")
            .arg(db)
            .args(["serve", "--addr", "127.0.0.1:0"])
            .args(options)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start sohoa serve");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let addr = line
            .split("http://")
            .nth(1)
            .and_then(|rest| rest.trim().strip_suffix('/'))
            .unwrap_or_else(|| panic!("no address in {line:?}"))
            .to_owned();
        Server { child, addr }
    }

    pub(crate) fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Reply {
        http(&self.addr, method, path, headers, body)
    }

    pub(crate) fn get(&self, path: &str, headers: &[(&str, &str)]) -> Reply {
        self.request("GET", path, headers, b"")
    }
}

/// One HTTP/1.1 request on a fresh connection, exactly as written.
pub(crate) fn http(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Reply {
    let mut stream = TcpStream::connect(addr).unwrap();
    // A stuck server fails the test instead of hanging it.
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(60)))
        .unwrap();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    // The server may answer (413) before reading a large body; it then closes.
    let _ = stream.write_all(body);
    Reply::parse(&read_response(&mut stream))
}

/// A response's bytes: up to the end of its body by Content-Length or the last chunk
/// (a server may keep the connection open despite `Connection: close`), else to EOF.
fn read_response(stream: &mut TcpStream) -> Vec<u8> {
    let mut raw = Vec::new();
    let mut buf = [0u8; 65536];
    loop {
        if let Some(head_end) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&raw[..head_end]).to_ascii_lowercase();
            let length = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok());
            if length.is_some_and(|n| raw.len() >= head_end + 4 + n)
                || (head.contains("transfer-encoding: chunked") && raw.ends_with(b"0\r\n\r\n"))
            {
                return raw;
            }
        }
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return raw,
            Ok(n) => raw.extend_from_slice(&buf[..n]),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) struct Reply {
    pub(crate) status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Reply {
    fn parse(raw: &[u8]) -> Reply {
        let split = raw
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .unwrap_or_else(|| panic!("no HTTP head in {:?}", String::from_utf8_lossy(raw)));
        let head = String::from_utf8_lossy(&raw[..split]).into_owned();
        let mut lines = head.lines();
        let status = lines
            .next()
            .unwrap()
            .split(' ')
            .nth(1)
            .unwrap()
            .parse()
            .unwrap();
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        let mut body = raw[split + 4..].to_vec();
        if headers
            .iter()
            .any(|(k, v)| k == "transfer-encoding" && v.contains("chunked"))
        {
            body = dechunk(&body);
        }
        Reply {
            status,
            headers,
            body,
        }
    }

    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn cookies(&self) -> HashMap<String, String> {
        self.headers
            .iter()
            .filter(|(k, _)| k == "set-cookie")
            .filter_map(|(_, v)| {
                let (pair, _) = v.split_once(';').unwrap_or((v, ""));
                let (k, v) = pair.split_once('=')?;
                Some((k.to_owned(), v.to_owned()))
            })
            .collect()
    }

    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub(crate) fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }
}

fn dechunk(mut body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(end) = body.windows(2).position(|w| w == b"\r\n") else {
            return out;
        };
        let size =
            usize::from_str_radix(String::from_utf8_lossy(&body[..end]).trim(), 16).unwrap_or(0);
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&body[end + 2..end + 2 + size]);
        body = &body[end + 2 + size + 2..];
    }
}

/// Runs sohoa with `input` on stdin (passwords).
pub(crate) fn sohoa_stdin(db: &Path, args: &[&str], input: &str) -> std::process::Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sohoa"))
        .arg("--db")
        .arg(db)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// application/x-www-form-urlencoded value.
pub(crate) fn form_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

pub(crate) const PASSWORD: &str = "mật khẩu đủ dài 2024";

/// The three-document archive plus an image-only scan, a staff user `lan` and an admin
/// `an`, and an API token for each.
pub(crate) struct Fixture {
    pub(crate) dir: tempfile::TempDir,
    pub(crate) db: PathBuf,
    scans: PathBuf,
    staff_token: String,
    admin_token: String,
}

pub(crate) fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let db = archive(dir.path());
    let scans = dir.path().join("scans");
    let image_dir = dir.path().join("images");
    std::fs::create_dir_all(&image_dir).unwrap();
    pattern(600, 800).save(image_dir.join("scan.png")).unwrap();
    let out = sohoa(
        &db,
        &["ingest", "--ocr", "skip", "-q", image_dir.to_str().unwrap()],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    for (name, role) in [("lan", "staff"), ("an", "admin")] {
        let out = sohoa_stdin(
            &db,
            &["users", "add", name, "--role", role],
            &format!("{PASSWORD}\n"),
        );
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let token = |user: &str| {
        let out = sohoa(
            &db,
            &["tokens", "create", "--user", user, "--label", "test"],
        );
        assert!(out.status.success(), "{}", stderr(&out));
        stdout(&out).trim().to_owned()
    };
    let (staff_token, admin_token) = (token("lan"), token("an"));
    Fixture {
        dir,
        db,
        scans,
        staff_token,
        admin_token,
    }
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

/// The verification code `show` prints for a document.
pub(crate) fn code_of(db: &Path, id: i64) -> String {
    let out = sohoa(db, &["show", &id.to_string(), "--json"]);
    let json: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    json["verification_code"].as_str().unwrap().to_owned()
}

#[test]
fn everything_but_public_verification_needs_sign_in() {
    let f = fixture();
    let server = Server::start(&f.db);
    let id = id_of(&f.db, "land.pdf");
    for path in [
        "/api/search?q=dat",
        &format!("/api/documents/{id}"),
        &format!("/api/documents/{id}/pages/1/image"),
        &format!("/api/documents/{id}/pages/1/alto"),
        "/api/audit",
        "/api/me",
        "/api/sectors",
        "/api/reports?period=2024",
    ] {
        let r = server.get(path, &[]);
        assert_eq!(r.status, 401, "{path}: {}", r.text());
        assert!(
            r.json()["error"].as_str().unwrap().contains("sign in"),
            "{path}"
        );
        let r = server.get(path, &[("Authorization", "Bearer sohoa_not-a-real-token")]);
        assert_eq!(r.status, 401, "{path} with a made-up token");
    }
    for path in [
        "/",
        &format!("/documents/{id}"),
        "/admin/audit",
        "/staff/procedures",
        "/staff/reports",
    ] {
        let r = server.get(path, &[]);
        assert_eq!(r.status, 303, "{path}");
        assert!(
            r.header("location").unwrap().starts_with("/login?next="),
            "{path}"
        );
    }
    let r = server.request(
        "POST",
        &format!("/api/documents/{id}/classification"),
        &[("Content-Type", "application/json")],
        br#"{"sector":"xay-dung"}"#,
    );
    assert_eq!(r.status, 401);
    // Public: no sign-in needed.
    assert_eq!(server.get("/verify", &[]).status, 200);
    assert_eq!(server.get("/api/openapi.json", &[]).status, 200);
    assert_eq!(server.get("/login", &[]).status, 200);
}

#[test]
fn the_procedure_finder_answers_questions_publicly_and_links_staff_to_documents() {
    let f = fixture();
    let server = Server::start(&f.db);
    let question = form_encode("Tôi muốn đăng ký khai sinh cho con thì cần làm những gì?");
    // Public: procedure names, codes and sectors; nothing of the archive.
    let r = server.get(&format!("/api/procedures?q={question}&limit=3"), &[]);
    assert_eq!(r.status, 200, "{}", r.text());
    let json = r.json();
    assert_eq!(json["read_as_question"], true, "{json}");
    let first = &json["procedures"][0];
    assert!(
        first["name"].as_str().unwrap().contains("khai sinh"),
        "{json}"
    );
    assert!(first["code"].as_str().is_some() && first["sector_name"] == "Hộ tịch");
    let page = server.get(&format!("/procedures?q={question}"), &[]);
    assert_eq!(page.status, 200);
    assert!(page.text().contains("khai sinh") && !page.text().contains("/?procedure="));
    assert!(
        server
            .get("/verify", &[])
            .text()
            .contains("action=\"/procedures\"")
    );
    // Pasted text is never an error; nothing to ask is.
    let pasted = form_encode("\"sổ đỏ bị mất - làm lại * OR");
    assert_eq!(
        server
            .get(&format!("/api/procedures?q={pasted}"), &[])
            .status,
        200
    );
    assert_eq!(server.get("/api/procedures?q=", &[]).status, 400);
    assert_eq!(server.get("/api/procedures?q=dat&limit=0", &[]).status, 400);
    // Staff: each procedure links to the archive's documents filed under it.
    let auth = bearer(&f.staff_token);
    let staff = server.get(
        &format!("/staff/procedures?q={question}"),
        &[("Authorization", auth.as_str())],
    );
    assert_eq!(staff.status, 200, "{}", staff.text());
    let code = first["code"].as_str().unwrap();
    assert!(
        staff.text().contains(&format!("/?procedure={code}")),
        "{}",
        staff.text()
    );
}

#[test]
fn api_searches_reads_documents_renders_pages_and_logs_views() {
    let f = fixture();
    let server = Server::start(&f.db);
    let auth = bearer(&f.staff_token);
    let headers = [("Authorization", auth.as_str())];
    let land = id_of(&f.db, "land.pdf");

    let r = server.get("/api/search?q=thu%20hoi%20dat", &headers);
    assert_eq!(r.status, 200, "{}", r.text());
    let json = r.json();
    assert_eq!(json["hits"][0]["id"].as_i64(), Some(land), "{json}");
    assert!(
        json["hits"][0]["snippet"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("thu hoi")
    );
    assert!(json["facets"]["sector"].is_object(), "{json}");
    assert_eq!(json["schema_version"], 1);
    // The CLI's filters, as parameters and inline.
    let by_sector = server
        .get("/api/search?q=so&sector=xay-dung", &headers)
        .json();
    assert!(
        by_sector["hits"]
            .as_array()
            .unwrap()
            .iter()
            .all(|h| h["sector"] == "xay-dung"),
        "{by_sector}"
    );
    let inline = server.get("/api/search?q=type%3AQD", &headers).json();
    assert_eq!(inline["hits"][0]["id"].as_i64(), Some(land), "{inline}");
    // What people paste is searched as text; only nothing to search is refused.
    let pasted = server.get("/api/search?q=%22unbalanced", &headers);
    assert_eq!(pasted.status, 200, "{}", pasted.text());
    let bad = server.get("/api/search?q=-", &headers);
    assert_eq!(bad.status, 400, "{}", bad.text());
    assert!(
        bad.json()["error"].as_str().unwrap().contains("empty"),
        "{}",
        bad.text()
    );
    let bad = server.get("/api/search?q=dat&sort=sideways", &headers);
    assert_eq!(bad.status, 400);

    let doc = server
        .get(&format!("/api/documents/{land}"), &headers)
        .json();
    assert_eq!(doc["id"].as_i64(), Some(land));
    assert!(
        doc["pages"][0]["text"]
            .as_str()
            .unwrap()
            .contains("thua dat so 125"),
        "{doc}"
    );
    assert_eq!(
        doc["verification_code"].as_str(),
        Some(code_of(&f.db, land).as_str())
    );
    assert_eq!(server.get("/api/documents/999999", &headers).status, 404);

    let scan = id_of(&f.db, "scan.png");
    let image = server.get(&format!("/api/documents/{scan}/pages/1/image"), &headers);
    assert_eq!(image.status, 200, "{}", image.text());
    assert_eq!(image.header("content-type"), Some("image/png"));
    assert!(image.body.starts_with(b"\x89PNG"));
    let decoded = image::load_from_memory(&image.body).unwrap();
    assert_eq!((decoded.width(), decoded.height()), (600, 800));
    let again = server.get(&format!("/api/documents/{scan}/pages/1/image"), &headers);
    assert_eq!(again.body, image.body);
    assert_eq!(
        server
            .get(&format!("/api/documents/{scan}/pages/2/image"), &headers)
            .status,
        404
    );
    // The page's layout as ALTO and hOCR; unknown formats and pages are not found.
    let alto = server.get(&format!("/api/documents/{scan}/pages/1/alto"), &headers);
    assert_eq!(alto.status, 200, "{}", alto.text());
    assert_eq!(
        alto.header("content-type"),
        Some("application/xml; charset=utf-8")
    );
    assert!(
        alto.text()
            .contains("http://www.loc.gov/standards/alto/ns-v4#")
    );
    // This fixture's scan was stored without OCR (`--ocr skip`): a page with no words
    // (the words themselves are checked through `export`, which writes the same).
    assert!(
        alto.text().contains(r#"<Page ID="p1" PHYSICAL_IMG_NR="1""#),
        "{}",
        alto.text()
    );
    let hocr = server.get(&format!("/api/documents/{scan}/pages/1/hocr"), &headers);
    assert_eq!(hocr.status, 200);
    assert!(
        hocr.text().contains(r#"<div class="ocr_page" id="page_1""#),
        "{}",
        hocr.text()
    );
    for path in [
        format!("/api/documents/{scan}/pages/1/page"),
        format!("/api/documents/{scan}/pages/2/alto"),
        "/api/documents/999999/pages/1/hocr".to_string(),
    ] {
        assert_eq!(server.get(&path, &headers).status, 404, "{path}");
    }
    // A text-layer page has no image to show.
    assert_eq!(
        server
            .get(&format!("/api/documents/{land}/pages/1/image"), &headers)
            .status,
        404
    );
    // A replaced source file is never shown as the archived original.
    pattern(300, 300)
        .save(f.scans.join("../images/scan.png"))
        .unwrap();
    let server2 = Server::start(&f.db);
    assert_eq!(
        server2
            .get(&format!("/api/documents/{scan}/pages/1/image"), &headers)
            .status,
        410
    );

    // The audit log: admins only, and it names who viewed what.
    assert_eq!(server.get("/api/audit", &headers).status, 403);
    let admin = bearer(&f.admin_token);
    let log = server
        .get("/api/audit", &[("Authorization", admin.as_str())])
        .json();
    assert!(
        log.as_array().unwrap().iter().any(|e| e["user"] == "lan"
            && e["action"] == "view-document"
            && e["document_id"].as_i64() == Some(land)),
        "{log}"
    );
}

#[test]
fn browser_session_signs_in_corrects_with_csrf_and_signs_out() {
    let f = fixture();
    let server = Server::start(&f.db);
    let land = id_of(&f.db, "land.pdf");

    let form = server.get("/login", &[]);
    let login_csrf = form.cookies()["sohoa_login_csrf"].clone();
    assert!(form.text().contains(&login_csrf));
    let cookie = format!("sohoa_login_csrf={login_csrf}");
    let post = |name: &str, password: &str, csrf: &str| {
        let body = format!(
            "name={name}&password={}&csrf={csrf}&next=%2Fdocuments%2F{land}",
            form_encode(password)
        );
        server.request(
            "POST",
            "/login",
            &[
                ("Cookie", &cookie),
                ("Content-Type", "application/x-www-form-urlencoded"),
            ],
            body.as_bytes(),
        )
    };
    assert_eq!(post("lan", "wrong password!!", &login_csrf).status, 401);
    assert_eq!(post("nobody", PASSWORD, &login_csrf).status, 401);
    assert_eq!(
        post("lan", PASSWORD, "forged").status,
        403,
        "sign-in form needs its CSRF token"
    );
    let ok = post("lan", PASSWORD, &login_csrf);
    assert_eq!(ok.status, 303, "{}", ok.text());
    assert_eq!(
        ok.header("location"),
        Some(format!("/documents/{land}").as_str())
    );
    let set = ok
        .headers
        .iter()
        .find(|(k, v)| k == "set-cookie" && v.starts_with("sohoa_session="))
        .map(|(_, v)| v.clone())
        .unwrap();
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Strict"),
        "{set}"
    );
    let session = format!("sohoa_session={}", ok.cookies()["sohoa_session"]);
    let signed_in = [("Cookie", session.as_str())];

    let page = server.get(&format!("/documents/{land}"), &signed_in);
    assert_eq!(page.status, 200);
    let html = page.text();
    assert!(
        html.contains("1234/QĐ-STNMT") && html.contains(&code_of(&f.db, land)),
        "{html}"
    );
    let csrf = html
        .split(r#"name="csrf" value=""#)
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap()
        .to_owned();
    let search = server.get("/?q=dat+dai", &signed_in);
    assert!(search.text().contains("<mark>"), "{}", search.text());
    // A read document shows no condition panel; the image-only scan stored with
    // `--ocr skip` holds no text, and its page says so.
    assert!(!html.contains(r#"id="condition""#), "{html}");
    let scan = id_of(&f.db, "scan.png");
    let empty = server.get(&format!("/documents/{scan}"), &signed_in).text();
    assert!(
        empty.contains(r#"data-status="empty""#) && empty.contains("Không có trang nào có chữ"),
        "{empty}"
    );

    let correct = |csrf: &str| {
        server.request(
            "POST",
            &format!("/documents/{land}/classification"),
            &[
                ("Cookie", &session),
                ("Content-Type", "application/x-www-form-urlencoded"),
            ],
            format!("csrf={csrf}&sector=xay-dung&procedure=").as_bytes(),
        )
    };
    assert_eq!(
        correct("").status,
        403,
        "a correction without the CSRF token is refused"
    );
    assert_eq!(correct("0000").status, 403);
    let done = correct(&csrf);
    assert_eq!(done.status, 303, "{}", done.text());
    let out = sohoa(&f.db, &["show", &land.to_string(), "--json"]);
    let shown: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(shown["classification"]["sector"], "xay-dung");
    assert_eq!(shown["classification"]["source"], "staff");
    // Signed: the archive still verifies, and the correction shows in search at once.
    let verify = sohoa(&f.db, &["verify", "--no-files"]);
    assert!(
        verify.status.success(),
        "{}{}",
        stdout(&verify),
        stderr(&verify)
    );
    let found = server
        .get("/api/search?q=thu+hoi&sector=xay-dung", &signed_in)
        .json();
    assert_eq!(found["hits"][0]["id"].as_i64(), Some(land), "{found}");
    // The JSON API with a session cookie needs the header too.
    let api = |extra: &[(&str, &str)]| {
        let mut headers = vec![
            ("Cookie", session.as_str()),
            ("Content-Type", "application/json"),
        ];
        headers.extend_from_slice(extra);
        server.request(
            "POST",
            &format!("/api/documents/{land}/classification"),
            &headers,
            br#"{"sector":"dat-dai"}"#,
        )
    };
    assert_eq!(api(&[]).status, 403);
    assert_eq!(api(&[("X-CSRF-Token", &csrf)]).status, 200);

    let out = server.request(
        "POST",
        "/logout",
        &[
            ("Cookie", &session),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ],
        format!("csrf={csrf}").as_bytes(),
    );
    assert_eq!(out.status, 303);
    assert_eq!(
        server.get("/api/me", &signed_in).status,
        401,
        "session ended"
    );
}

#[test]
fn public_verification_answers_without_personal_data() {
    let f = fixture();
    let server = Server::start(&f.db);
    let land = id_of(&f.db, "land.pdf");
    let code = code_of(&f.db, land);

    let r = server.get(&format!("/api/verify/{code}"), &[]);
    assert_eq!(r.status, 200, "{}", r.text());
    let json = r.json();
    assert_eq!(json["status"], "intact", "{json}");
    assert_eq!(json["number"], "1234/QĐ-STNMT");
    assert_eq!(json["date"], "2024-03-15");
    let text = r.text();
    for personal in ["040078001122", "Nguyen Van An", "thu hoi dat", "giai phong"] {
        assert!(!text.contains(personal), "{personal} leaked: {text}");
    }
    let bytes = std::fs::read(f.scans.join("land.pdf")).unwrap();
    let by_file = server
        .request("POST", "/api/verify/file", &[], &bytes)
        .json();
    assert_eq!(by_file["status"], "intact");
    assert_eq!(by_file["file_matches"], true);
    let other = server
        .request("POST", "/api/verify/file", &[], b"%PDF-1.4 not archived")
        .json();
    assert_eq!(other["status"], "not-found");
    let bad = server.get("/api/verify/not-a-code", &[]);
    assert_eq!(bad.status, 400);
    // Each answer is counted for the reports: two about the land decision, one of nothing.
    let answered = |condition: &str| {
        crate::support::count(
            &f.db,
            &format!(
                "SELECT COALESCE(sum(answered), 0) FROM public_verifications WHERE {condition}"
            ),
        )
    };
    assert_eq!(
        answered(&format!("document_id = {land} AND answer = 'intact'")),
        2
    );
    assert_eq!(answered("document_id = 0 AND answer = 'not-found'"), 1);

    let page = server.request(
        "POST",
        "/verify",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        format!("code={code}").as_bytes(),
    );
    assert_eq!(page.status, 200);
    let html = page.text();
    assert!(
        html.contains("nguyên vẹn") && html.contains("1234/QĐ-STNMT"),
        "{html}"
    );
    assert!(!html.contains("040078001122") && !html.contains("Nguyen Van An"));
}

#[test]
fn hardening_refuses_traversal_oversized_input_and_floods() {
    let f = fixture();
    let server = Server::start(&f.db);
    let auth = bearer(&f.staff_token);
    let headers = [("Authorization", auth.as_str())];

    // Every answer carries the security headers.
    for r in [
        server.get("/verify", &[]),
        server.get("/api/search?q=dat", &headers),
    ] {
        let csp = r.header("content-security-policy").unwrap_or_default();
        assert!(
            csp.contains("frame-ancestors 'none'") && csp.contains("default-src 'none'"),
            "{csp}"
        );
        assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    }
    // No file outside what the archive recorded is ever served.
    for path in [
        "/static/../Cargo.toml",
        "/static/..%2f..%2fCargo.toml",
        "/static/%2e%2e/%2e%2e/etc/passwd",
        "/../../etc/passwd",
        "/documents/..%2f..%2fetc%2fpasswd/pages/1/image",
        "/api/documents/1/pages/..%2f..%2fetc%2fpasswd/image",
    ] {
        let r = server.get(path, &headers);
        assert!(
            matches!(r.status, 400 | 404),
            "{path}: {} {}",
            r.status,
            r.text()
        );
        assert!(
            !r.text().contains("root:") && !r.text().contains("[package]"),
            "{path}"
        );
    }
    // Size limits.
    let huge = vec![b'x'; 51 * 1024 * 1024];
    assert_eq!(
        server
            .request("POST", "/api/verify/file", &[], &huge)
            .status,
        413
    );
    let big_form = format!("name=lan&password={}&csrf=x", "a".repeat(100_000));
    let r = server.request(
        "POST",
        "/login",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        big_form.as_bytes(),
    );
    assert!(matches!(r.status, 413 | 400), "{}", r.status);
    let long_query = format!("/api/search?q={}", "a".repeat(5000));
    assert_eq!(server.get(&long_query, &headers).status, 414);
    // Rate limits: public verification and sign-in.
    let statuses: Vec<u16> = (0..40)
        .map(|_| server.get("/api/verify/AAAA-AAAA-AAAA-A", &[]).status)
        .collect();
    assert!(statuses.contains(&429), "{statuses:?}");
    let statuses: Vec<u16> = (0..8)
        .map(|_| {
            server
                .request(
                    "POST",
                    "/login",
                    &[("Content-Type", "application/x-www-form-urlencoded")],
                    b"name=lan&password=guess&csrf=x",
                )
                .status
        })
        .collect();
    assert!(statuses.contains(&429), "{statuses:?}");
    // An open redirect through ?next= is not possible.
    let r = server.get("/login?next=//evil.example/", &[]);
    assert!(!r.text().contains("evil.example"));
}

#[test]
fn accounts_and_tokens_from_the_command_line() {
    let f = fixture();
    let short = sohoa_stdin(&f.db, &["users", "add", "minh"], "short\n");
    assert!(!short.status.success());
    assert!(stderr(&short).contains("too short"), "{}", stderr(&short));
    let twice = sohoa_stdin(&f.db, &["users", "add", "lan"], &format!("{PASSWORD}\n"));
    assert!(
        stderr(&twice).contains("already exists"),
        "{}",
        stderr(&twice)
    );
    let list = stdout(&sohoa(&f.db, &["tokens", "list"]));
    assert!(
        list.contains("lan") && !list.contains(&f.staff_token),
        "{list}"
    );
    let users = stdout(&sohoa(&f.db, &["users", "list", "--json"]));
    assert!(
        !users.contains("argon2"),
        "password hashes stay inside: {users}"
    );
    // Stored hashed: the database file does not contain the token or the password.
    let raw = std::fs::read(&f.db).unwrap();
    let contains = |needle: &[u8]| raw.windows(needle.len()).any(|w| w == needle);
    assert!(!contains(f.staff_token.as_bytes()) && !contains(PASSWORD.as_bytes()));

    let server = Server::start(&f.db);
    let auth = bearer(&f.staff_token);
    assert_eq!(
        server
            .get("/api/me", &[("Authorization", auth.as_str())])
            .status,
        200
    );
    let id = stdout(&sohoa(&f.db, &["tokens", "list", "--json"]));
    let tokens: serde_json::Value = serde_json::from_str(&id).unwrap();
    let lan_token = tokens
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["user"] == "lan")
        .unwrap()["id"]
        .to_string();
    assert!(
        sohoa(&f.db, &["tokens", "revoke", &lan_token])
            .status
            .success()
    );
    assert_eq!(
        server
            .get("/api/me", &[("Authorization", auth.as_str())])
            .status,
        401,
        "revoked"
    );
    let admin = bearer(&f.admin_token);
    assert!(sohoa(&f.db, &["users", "remove", "an"]).status.success());
    assert_eq!(
        server
            .get("/api/me", &[("Authorization", admin.as_str())])
            .status,
        401,
        "removed"
    );
}

#[test]
fn keeps_serving_while_an_ingest_writes() {
    let f = fixture();
    let server = Server::start(&f.db);
    let auth = bearer(&f.staff_token);
    let headers = [("Authorization", auth.as_str())];
    let more = f.scans.join("../more");
    std::fs::create_dir_all(&more).unwrap();
    for i in 0..30 {
        let lines = [
            "UBND TINH NGHE AN".to_owned(),
            format!("So: {}/QD-UBND", 500 + i),
            "Vinh, ngay 1 thang 2 nam 2025".to_owned(),
            format!("QUYET DINH phe duyet ke hoach so hoa ho so dot {i} tai kho luu tru"),
        ];
        let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
        std::fs::write(
            more.join(format!("new-{i}.pdf")),
            crate::support::lines_pdf(&lines),
        )
        .unwrap();
    }
    let mut ingest = Command::new(env!("CARGO_BIN_EXE_sohoa"))
        .arg("--db")
        .arg(&f.db)
        .args(["ingest", "-q", more.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut searches = 0;
    loop {
        let r = server.get("/api/search?q=dat", &headers);
        assert_eq!(r.status, 200, "search during ingest: {}", r.text());
        searches += 1;
        if ingest.try_wait().unwrap().is_some() {
            break;
        }
    }
    let status = ingest.wait().unwrap();
    assert!(status.success());
    assert!(searches > 1);
    let found = server
        .get("/api/search?q=%22ke+hoach+so+hoa%22", &headers)
        .json();
    assert_eq!(
        found["total"], 30,
        "new documents searchable from the running service: {found}"
    );
}

/// Signs in through the form as a client at `address` behind the proxy; the status.
fn sign_in_from(server: &Server, address: &str, name: &str, password: &str) -> Reply {
    let form = server.get("/login", &[("X-Forwarded-For", address)]);
    let csrf = form.cookies()["sohoa_login_csrf"].clone();
    let cookie = format!("sohoa_login_csrf={csrf}");
    let body = format!(
        "name={name}&password={}&csrf={csrf}&next=%2F",
        form_encode(password)
    );
    server.request(
        "POST",
        "/login",
        &[
            ("Cookie", &cookie),
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("X-Forwarded-For", address),
        ],
        body.as_bytes(),
    )
}

#[test]
fn behind_a_proxy_limits_follow_the_client_and_accounts_back_off() {
    let f = fixture();
    let server = Server::start_with(&f.db, &["--trusted-proxy", "127.0.0.1/32"]);
    let clerk = "198.51.100.7";
    assert_eq!(sign_in_from(&server, clerk, "lan", PASSWORD).status, 303);
    // One address floods wrong passwords: it is slowed down, no one else is.
    let flood: Vec<u16> = (0..12)
        .map(|_| sign_in_from(&server, "203.0.113.9", "an", "wrong guess!!").status)
        .collect();
    assert!(flood.contains(&429), "{flood:?}");
    let ok = sign_in_from(&server, clerk, "lan", PASSWORD);
    assert_eq!(
        ok.status,
        303,
        "the clerk signs in during the flood: {}",
        ok.text()
    );
    // A forged header from a client the proxy did not vouch for changes nothing: the
    // proxy appends the real address, which is the one counted.
    let forged = sign_in_from(&server, "198.51.100.7, 203.0.113.9", "lan", PASSWORD);
    assert_eq!(forged.status, 429, "{}", forged.text());
    // Guessing one account from many addresses locks that account, with a clear message.
    let statuses: Vec<u16> = (1..=7)
        .map(|i| sign_in_from(&server, &format!("192.0.2.{i}"), "lan", "wrong guess!!").status)
        .collect();
    assert_eq!(&statuses[..5], &[401; 5], "{statuses:?}");
    assert_eq!(statuses[5], 429, "{statuses:?}");
    let locked = sign_in_from(&server, "192.0.2.50", "lan", PASSWORD);
    assert_eq!(locked.status, 429);
    assert!(
        locked.text().contains("Tài khoản tạm khóa"),
        "{}",
        locked.text()
    );
    assert!(locked.header("retry-after").is_some());
    // The clerk's own address, known from an earlier sign-in, is spared the lock.
    assert_eq!(sign_in_from(&server, clerk, "lan", PASSWORD).status, 303);
    // An admin can lift a lock at once.
    for i in 1..=6 {
        sign_in_from(
            &server,
            &format!("192.0.2.{}", 100 + i),
            "an",
            "wrong guess!!",
        );
    }
    assert_eq!(
        sign_in_from(&server, "192.0.2.60", "an", PASSWORD).status,
        429
    );
    let out = sohoa(&f.db, &["users", "unlock", "an"]);
    assert!(
        stdout(&out).contains("an may sign in again"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        sign_in_from(&server, "192.0.2.60", "an", PASSWORD).status,
        303
    );
    // The audit log names the client, not the proxy.
    let auth = bearer(&f.admin_token);
    let log = server
        .get("/api/audit?limit=200", &[("Authorization", &auth)])
        .text();
    assert!(
        log.contains("from 192.0.2.60")
            && log.contains("sign-in-locked")
            && !log.contains("from 127.0.0.1"),
        "{log}"
    );
}

#[test]
fn without_a_trusted_proxy_forwarding_headers_are_ignored() {
    let f = fixture();
    let server = Server::start(&f.db);
    // Every attempt claims a new address; all are the same peer and share its bucket.
    let statuses: Vec<u16> = (1..=8)
        .map(|i| sign_in_from(&server, &format!("192.0.2.{i}"), "nobody", "guess").status)
        .collect();
    assert!(statuses.contains(&429), "{statuses:?}");
}

/// Opens a connection that sends half a request's headers and then nothing.
fn slow_client(addr: &str) -> TcpStream {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(20)))
        .unwrap();
    stream
        .write_all(b"GET /verify HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    stream
}

/// Whether the server closed `stream` (read gives end of file or a reset) in time.
fn closed_by_server(stream: &mut TcpStream) -> bool {
    let mut buf = [0u8; 1024];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return true,
            // A 408 or 400 answer before closing is fine.
            Ok(_) => continue,
            Err(e) => {
                return matches!(
                    e.kind(),
                    std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::BrokenPipe
                );
            }
        }
    }
}

#[test]
fn slow_clients_cannot_hold_the_sockets() {
    let f = fixture();
    let server = Server::start_with(
        &f.db,
        &[
            "--header-timeout",
            "1",
            "--max-connections-per-address",
            "4",
        ],
    );
    let started = std::time::Instant::now();
    let mut slow: Vec<TcpStream> = (0..4).map(|_| slow_client(&server.addr)).collect();
    // A fifth from the same address is turned away at once.
    let mut fifth = slow_client(&server.addr);
    assert!(closed_by_server(&mut fifth), "over the per-address cap");
    // The slow ones are cut off after the header timeout, not kept for ever.
    for s in &mut slow {
        assert!(closed_by_server(s), "a slow client is closed");
    }
    let waited = started.elapsed();
    assert!(waited < std::time::Duration::from_secs(10), "{waited:?}");
    assert_eq!(
        server.get("/verify", &[]).status,
        200,
        "the places are free again"
    );

    // The global cap holds for a trusted proxy too (it is exempt only per address).
    let capped = Server::start_with(
        &f.db,
        &["--trusted-proxy", "127.0.0.1", "--max-connections", "3"],
    );
    let _held: Vec<TcpStream> = (0..3).map(|_| slow_client(&capped.addr)).collect();
    std::thread::sleep(std::time::Duration::from_millis(200));
    let mut over = slow_client(&capped.addr);
    assert!(closed_by_server(&mut over), "over the global cap");
}

/// The rectangles of the page view's highlight overlay: (viewBox size, [x, y, w, h]...).
fn highlight_rects(html: &str) -> ((f32, f32), Vec<[f32; 4]>) {
    let Some(svg) = html.split(r#"<svg class="hl" viewBox="0 0 "#).nth(1) else {
        return ((0.0, 0.0), Vec::new());
    };
    let mut size = svg.split('"').next().unwrap().split(' ');
    let mut next = || size.next().unwrap().parse::<f32>().unwrap();
    let view = (next(), next());
    let number = |rect: &str, attr: &str| -> f32 {
        rect.split(&format!(r#" {attr}=""#))
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    let svg = svg.split("</svg>").next().unwrap();
    let rects = svg
        .split("<rect")
        .skip(1)
        .map(|r| {
            [
                number(r, "x"),
                number(r, "y"),
                number(r, "width"),
                number(r, "height"),
            ]
        })
        .collect();
    (view, rects)
}

/// A search's words marked on the page image where OCR read them, through the page's
/// preparation: on a page scanned sideways the marks turn with the text.
#[test]
fn the_page_view_marks_the_searched_words_on_the_page_image() {
    let db = crate::searchable_pdf::db();
    let out = sohoa_stdin(
        &db,
        &["users", "add", "hl-viewer", "--role", "staff"],
        &format!("{PASSWORD}\n"),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let out = sohoa(
        &db,
        &["tokens", "create", "--user", "hl-viewer", "--label", "hl"],
    );
    let token = bearer(stdout(&out).trim());
    let headers = [("Authorization", token.as_str())];
    let server = Server::start(&db);
    // The search's result links carry the highlighted words.
    let results = server.get("/?q=thu+h%E1%BB%93i", &headers).text();
    assert!(results.contains("&amp;hl=thu%20h"), "{results}");
    let view = |file: &str, hl: &str| {
        let id = crate::searchable_pdf::id_of(file);
        let page = server.get(&format!("/documents/{id}?page=1&hl={hl}"), &headers);
        assert_eq!(page.status, 200);
        highlight_rects(&page.text())
    };
    // "đất" stands several times on the decision; asked for without marks.
    let (upright_size, upright) = view("quyet-dinh-dat-dai.png", "dat");
    assert!(upright.len() >= 3, "{upright:?}");
    for [x, y, w, h] in &upright {
        assert!(
            w > h,
            "a word of a line read across is wider than tall: {upright:?}"
        );
        assert!(
            *x >= 0.0
                && *y >= 0.0
                && x + w <= upright_size.0 + 1.0
                && y + h <= upright_size.1 + 1.0
        );
    }
    // The same page turned 90° clockwise: each mark is the upright one turned with it.
    let (sideways_size, sideways) = view("sideways.png", "dat");
    assert_eq!(sideways_size, (upright_size.1, upright_size.0));
    assert_eq!(sideways.len(), upright.len(), "{sideways:?}");
    for [x, y, w, h] in &upright {
        let turned = [upright_size.1 - (y + h), *x, *h, *w];
        let near = sideways.iter().any(|s| {
            s.iter()
                .zip(turned)
                .all(|(a, b)| (a - b).abs() <= 0.02 * upright_size.0)
        });
        assert!(near, "{turned:?} not among {sideways:?}");
    }
    // No words asked for, or none on the page: no overlay.
    assert!(view("quyet-dinh-dat-dai.png", "").1.is_empty());
    assert!(view("quyet-dinh-dat-dai.png", "xyzzy").1.is_empty());
}

#[test]
fn reports_over_the_api_in_every_format() {
    let f = fixture();
    let server = Server::start(&f.db);
    let day = crate::support::report_today();
    let auth = bearer(&f.admin_token);
    let path = format!("/api/reports?period={day}..{day}&by=sector");
    let r = server.get(&path, &[("Authorization", &auth)]);
    assert_eq!(r.status, 200, "{}", r.text());
    let json = r.json();
    let documents = json["total"]["figures"]["documents"].as_i64().unwrap();
    assert!(
        documents > 0,
        "the fixture's documents were stored today: {json}"
    );
    assert_eq!(json["by"], "sector");
    let csv = server.get(&format!("{path}&format=csv"), &[("Authorization", &auth)]);
    assert!(
        csv.text().starts_with("period,group_by,key"),
        "{}",
        csv.text()
    );
    let pdf = server.get(&format!("{path}&format=pdf"), &[("Authorization", &auth)]);
    assert_eq!(pdf.status, 200);
    assert!(pdf.text().starts_with("%PDF-"));
    let page = server.get(
        &format!("/staff/reports?period={day}..{day}&by=sector"),
        &[("Authorization", &auth)],
    );
    assert_eq!(page.status, 200, "{}", page.text());
    let html = page.text();
    assert!(
        html.contains("Báo cáo kết quả số hóa") && html.contains("Tổng cộng"),
        "{html}"
    );
    assert!(
        html.contains("/api/reports?period=") && html.contains("format=xlsx"),
        "{html}"
    );
    // Staff reach it from every page's navigation bar.
    let home = server.get("/", &[("Authorization", &auth)]).text();
    assert!(home.contains(r#"href="/staff/reports""#), "{home}");
    let bad = server.get("/api/reports?period=2024-Q9", &[("Authorization", &auth)]);
    assert_eq!(bad.status, 400);
    assert!(bad.json()["error"].as_str().unwrap().contains("2024-Q9"));
}
