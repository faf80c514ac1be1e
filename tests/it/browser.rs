//! End to end in headless Chromium (Debian's `chromium` and `chromium-driver`, which
//! `scripts/test` installs): a member of staff signs in, searches without diacritics,
//! filters by sector, opens a document and sees its page image, corrects its
//! classification, and a citizen verifies its code on the public page. Screenshots of
//! each step go to `target/e2e-screenshots/`.

use crate::classify::id_of;
use crate::serve::{PASSWORD, Server, code_of, fixture, http};
use crate::support::{repo_path, sohoa, stderr};
use serde_json::{Value, json};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// chromedriver on a free port, stopped when dropped.
struct Driver {
    child: Child,
    addr: String,
}

impl Driver {
    fn start() -> Driver {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect(
                "chromedriver not found: install chromium and chromium-driver (scripts/test does)",
            );
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "chromedriver did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Driver {
            child,
            addr: format!("127.0.0.1:{port}"),
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The W3C WebDriver commands this test needs, as JSON over HTTP (the protocol is that
/// small; a client crate brought two Unicode stacks into every CI build).
struct Browser<'a> {
    driver: &'a Driver,
    session: String,
}

/// The key under which WebDriver returns an element reference.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";
/// How long to wait for an element to appear (page loads, redirects).
const WAIT: Duration = Duration::from_secs(20);

impl<'a> Browser<'a> {
    fn start(driver: &'a Driver) -> Browser<'a> {
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                // Root in a container has no user namespace for Chrome's sandbox.
                "args": ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                         "--disable-gpu", "--window-size=1400,1000", "--lang=vi"]
            }
        }}});
        let reply = http(
            &driver.addr,
            "POST",
            "/session",
            &[("Content-Type", "application/json")],
            capabilities.to_string().as_bytes(),
        );
        let session = reply.json()["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {}", reply.json()))
            .to_owned();
        Browser { driver, session }
    }

    /// A command; `Err` carries WebDriver's error ("no such element", ...).
    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, Value> {
        let body = body.map_or(String::new(), |b| b.to_string());
        let reply = http(
            &self.driver.addr,
            method,
            &format!("/session/{}{path}", self.session),
            &[("Content-Type", "application/json")],
            body.as_bytes(),
        );
        let value = reply.json()["value"].clone();
        if reply.status == 200 {
            Ok(value)
        } else {
            Err(value)
        }
    }

    fn command(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        self.call(method, path, body)
            .unwrap_or_else(|e| panic!("WebDriver {method} {path}: {e}"))
    }

    fn goto(&self, url: &str) {
        self.command("POST", "/url", Some(json!({ "url": url })));
    }

    fn path(&self) -> String {
        let url = self.command("GET", "/url", None);
        let url = url.as_str().unwrap();
        let after_host = url.splitn(4, '/').nth(3).unwrap_or("");
        format!("/{after_host}")
    }

    /// The element `using` ("css selector", "xpath") finds, waiting for it to appear.
    fn wait_for(&self, using: &str, value: &str) -> String {
        let started = Instant::now();
        loop {
            match self.call(
                "POST",
                "/element",
                Some(json!({ "using": using, "value": value })),
            ) {
                Ok(found) => return found[ELEMENT].as_str().unwrap().to_owned(),
                Err(e) if started.elapsed() > WAIT => panic!("{value} never appeared: {e}"),
                Err(_) => std::thread::sleep(Duration::from_millis(100)),
            }
        }
    }

    fn css(&self, selector: &str) -> String {
        self.wait_for("css selector", selector)
    }

    fn click(&self, element: &str) {
        self.command(
            "POST",
            &format!("/element/{element}/click"),
            Some(json!({})),
        );
    }

    fn type_into(&self, element: &str, text: &str) {
        self.command(
            "POST",
            &format!("/element/{element}/value"),
            Some(json!({ "text": text })),
        );
    }

    fn text(&self, element: &str) -> String {
        self.command("GET", &format!("/element/{element}/text"), None)
            .as_str()
            .unwrap()
            .to_owned()
    }

    fn script(&self, script: &str, element: &str) -> Value {
        self.command(
            "POST",
            "/execute/sync",
            Some(json!({ "script": script, "args": [{ ELEMENT: element }] })),
        )
    }

    fn screenshot(&self, path: &Path) {
        let png = self.command("GET", "/screenshot", None);
        std::fs::write(path, base64_decode(png.as_str().unwrap())).unwrap();
    }
}

impl Drop for Browser<'_> {
    fn drop(&mut self) {
        let _ = self.call("DELETE", "", None);
    }
}

fn base64_decode(text: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        _ => 63,
    };
    let digits: Vec<u8> = text
        .bytes()
        .filter(|c| c.is_ascii_alphanumeric() || *c == b'+' || *c == b'/')
        .collect();
    let mut out = Vec::with_capacity(digits.len() * 3 / 4);
    for chunk in digits.chunks(4) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, c)| n | (u32::from(value(*c)) << (18 - 6 * i)));
        out.extend_from_slice(&n.to_be_bytes()[1..chunk.len()]);
    }
    out
}

fn staff_day(browser: &Browser, base: &str, db: &Path, document: i64, shots: &Path) {
    // Sign in: the protected page sends the browser to the sign-in form and back.
    browser.goto(&format!("{base}/"));
    let name = browser.css("input[name=name]");
    assert!(browser.path().starts_with("/login"), "{}", browser.path());
    browser.type_into(&name, "lan");
    browser.type_into(&browser.css("input[name=password]"), PASSWORD);
    browser.screenshot(&shots.join("1-sign-in.png"));
    browser.click(&browser.css("button[type=submit]"));
    let query = browser.css("form.search input[name=q]");
    assert_eq!(browser.path(), "/");

    // Search without diacritics: OCR read "Nghi Phú".
    browser.type_into(&query, "nghi phu");
    browser.click(&browser.css("form.search button"));
    let link = format!("a[href^='/documents/{document}?']");
    browser.css(&link);
    let marked = browser.text(&browser.css("article.hit mark"));
    assert!(
        marked.to_lowercase().starts_with("ngh"),
        "highlighted {marked:?}"
    );
    browser.screenshot(&shots.join("2-search.png"));

    // Filter by sector with its facet.
    browser.click(&browser.wait_for("link text", "Đất đai"));
    browser.css("a.badge[title]");
    assert!(
        browser.path().contains("sector=dat-dai"),
        "{}",
        browser.path()
    );
    browser.css(&link);
    browser.screenshot(&shots.join("3-filtered.png"));

    // Open the document: its page image loads beside its text.
    browser.click(&browser.css(&link));
    let image = browser.css(".pageimg img");
    let started = Instant::now();
    let width = loop {
        let w = browser
            .script("return arguments[0].naturalWidth", &image)
            .as_u64()
            .unwrap_or(0);
        if w > 0 || started.elapsed() > WAIT {
            break w;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(width > 500, "page image did not load (width {width})");
    let text = browser.text(&browser.css(".pagetext"));
    assert!(text.contains("Nghi"), "{text}");
    browser.screenshot(&shots.join("4-document.png"));

    // Correct the classification.
    browser.click(&browser.css("select[name=sector] option[value=xay-dung]"));
    browser.click(&browser.wait_for("xpath", "//button[contains(., 'Lưu phân loại')]"));
    let saved = browser.css("#classification p.status-intact");
    assert!(browser.text(&saved).contains("Đã lưu"));
    let body = browser.text(&browser.css("#classification"));
    assert!(
        body.contains("Xây dựng") && body.contains("cán bộ chỉnh sửa"),
        "{body}"
    );
    browser.screenshot(&shots.join("5-corrected.png"));
    let code = browser.text(&browser.css(".code"));
    assert_eq!(
        code,
        code_of(db, document),
        "the page shows the new record's code"
    );

    // A citizen checks the code on the public page.
    browser.goto(&format!("{base}/verify"));
    browser.type_into(&browser.css("input[name=code]"), &code);
    browser.click(&browser.wait_for("xpath", "//button[contains(., 'Kiểm tra mã')]"));
    let answer = browser.css("h2.status-intact");
    assert!(browser.text(&answer).contains("nguyên vẹn"));
    browser.screenshot(&shots.join("6-verified.png"));
}

#[test]
fn staff_search_read_correct_and_citizens_verify_in_a_browser() {
    let f = fixture();
    let scans = f.dir.path().join("sample");
    std::fs::create_dir_all(&scans).unwrap();
    std::fs::copy(
        repo_path("samples/quyet-dinh-dat-dai.png"),
        scans.join("quyet-dinh-dat-dai.png"),
    )
    .unwrap();
    let out = sohoa(&f.db, &["ingest", "-q", scans.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let document = id_of(&f.db, "quyet-dinh-dat-dai.png");

    let server = Server::start(&f.db);
    let driver = Driver::start();
    let shots: PathBuf = repo_path("target/e2e-screenshots");
    let _ = std::fs::remove_dir_all(&shots);
    std::fs::create_dir_all(&shots).unwrap();
    let browser = Browser::start(&driver);
    let base = format!("http://{}", server.addr);
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        staff_day(&browser, &base, &f.db, document, &shots)
    }));
    if let Err(panic) = outcome {
        if let Ok(png) = browser.call("GET", "/screenshot", None) {
            let _ = std::fs::write(
                shots.join("failed.png"),
                base64_decode(png.as_str().unwrap_or("")),
            );
        }
        std::panic::resume_unwind(panic);
    }
}
