//! End to end in headless Chromium (Debian's `chromium` and `chromium-driver`, which
//! `scripts/test` installs): a member of staff signs in, searches without diacritics,
//! filters by sector, opens a document and sees its page image, corrects its
//! classification, and a citizen verifies its code on the public page. Screenshots of
//! each step go to `target/e2e-screenshots/`.

use crate::classify::id_of;
use crate::serve::{PASSWORD, Server, code_of, fixture};
use crate::support::{repo_path, sohoa, stderr};
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// chromedriver on a free port, stopped when dropped.
struct Driver {
    child: Child,
    url: String,
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
            url: format!("http://127.0.0.1:{port}"),
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn shot(client: &Client, dir: &Path, name: &str) {
    let png = client.screenshot().await.expect("screenshot");
    std::fs::write(dir.join(name), png).unwrap();
}

async fn path_of(client: &Client) -> String {
    let url = client.current_url().await.unwrap();
    match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_owned(),
    }
}

async fn staff_day(client: &Client, base: &str, db: &Path, document: i64, shots: &Path) {
    // Sign in: the protected page sends the browser to the sign-in form and back.
    client.goto(&format!("{base}/")).await.unwrap();
    assert!(
        path_of(client).await.starts_with("/login"),
        "{}",
        path_of(client).await
    );
    client
        .find(Locator::Css("input[name=name]"))
        .await
        .unwrap()
        .send_keys("lan")
        .await
        .unwrap();
    client
        .find(Locator::Css("input[name=password]"))
        .await
        .unwrap()
        .send_keys(PASSWORD)
        .await
        .unwrap();
    shot(client, shots, "1-sign-in.png").await;
    client
        .find(Locator::Css("button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    client
        .wait()
        .for_element(Locator::Css("form.search input[name=q]"))
        .await
        .unwrap();
    assert_eq!(path_of(client).await, "/");

    // Search without diacritics: OCR read "Nghi Phú".
    client
        .find(Locator::Css("form.search input[name=q]"))
        .await
        .unwrap()
        .send_keys("nghi phu")
        .await
        .unwrap();
    client
        .find(Locator::Css("form.search button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let link = format!("a[href^='/documents/{document}?']");
    client
        .wait()
        .for_element(Locator::Css(&link))
        .await
        .unwrap();
    let marked = client
        .find(Locator::Css("article.hit mark"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        marked.to_lowercase().starts_with("ngh"),
        "highlighted {marked:?}"
    );
    shot(client, shots, "2-search.png").await;

    // Filter by sector with its facet.
    client
        .find(Locator::LinkText("Đất đai"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    client
        .wait()
        .for_element(Locator::Css(&link))
        .await
        .unwrap();
    assert!(
        path_of(client).await.contains("sector=dat-dai"),
        "{}",
        path_of(client).await
    );
    shot(client, shots, "3-filtered.png").await;

    // Open the document: its page image loads beside its text.
    client
        .find(Locator::Css(&link))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let image = client
        .wait()
        .for_element(Locator::Css(".pageimg img"))
        .await
        .unwrap();
    let started = Instant::now();
    let width = loop {
        let w = client
            .execute(
                "return arguments[0].naturalWidth",
                vec![serde_json::to_value(&image).unwrap()],
            )
            .await
            .unwrap()
            .as_u64()
            .unwrap_or(0);
        if w > 0 || started.elapsed() > Duration::from_secs(20) {
            break w;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(width > 500, "page image did not load (width {width})");
    let text = client
        .find(Locator::Css(".pagetext"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.contains("Nghi"), "{text}");
    shot(client, shots, "4-document.png").await;

    // Correct the classification.
    client
        .find(Locator::Css("select[name=sector]"))
        .await
        .unwrap()
        .select_by_value("xay-dung")
        .await
        .unwrap();
    client
        .find(Locator::XPath("//button[contains(., 'Lưu phân loại')]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    client
        .wait()
        .for_element(Locator::Css(".pageimg img"))
        .await
        .unwrap();
    let body = client
        .find(Locator::Css("main"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        body.contains("Xây dựng") && body.contains("cán bộ chỉnh sửa"),
        "{body}"
    );
    shot(client, shots, "5-corrected.png").await;
    let code = client
        .find(Locator::Css(".code"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(
        code,
        code_of(db, document),
        "the page shows the new record's code"
    );

    // A citizen checks the code on the public page.
    client.goto(&format!("{base}/verify")).await.unwrap();
    client
        .find(Locator::Css("input[name=code]"))
        .await
        .unwrap()
        .send_keys(&code)
        .await
        .unwrap();
    client
        .find(Locator::XPath("//button[contains(., 'Kiểm tra mã')]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let answer = client
        .wait()
        .for_element(Locator::Css("h2.status-intact"))
        .await
        .unwrap();
    assert!(answer.text().await.unwrap().contains("nguyên vẹn"));
    shot(client, shots, "6-verified.png").await;
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
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({
                "binary": "/usr/bin/chromium",
                // Root in a container has no user namespace for Chrome's sandbox.
                "args": ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                         "--disable-gpu", "--window-size=1400,1000", "--lang=vi"]
            }),
        );
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities)
            .connect(&driver.url)
            .await
            .expect("start headless Chromium");
        let base = format!("http://{}", server.addr);
        // Run the steps in a task of their own so a failed assertion still closes the
        // browser session below before the test reports it.
        let outcome = {
            let client = client.clone();
            let db = f.db.clone();
            let shots = shots.clone();
            tokio::spawn(async move { staff_day(&client, &base, &db, document, &shots).await })
                .await
        };
        if outcome.is_err()
            && let Ok(png) = client.screenshot().await
        {
            let _ = std::fs::write(shots.join("failed.png"), png);
        }
        let _ = client.close().await;
        if let Err(e) = outcome {
            std::panic::resume_unwind(e.into_panic());
        }
    });
}
