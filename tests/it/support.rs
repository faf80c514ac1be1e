//! Shared fixtures: PDF building, paths, the binary.

use image::GrayImage;
use lopdf::{Dictionary, Document, Object, Stream, dictionary};
use sohoa::load::{self, Limits, OcrMode, PageContent};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;

pub fn repo_path(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// The shared real scans, when this machine has them.
pub fn shared_scans() -> Option<PathBuf> {
    let dir = repo_path("../shared/data/scans");
    dir.is_dir().then_some(dir)
}

/// Runs the sohoa binary with `args` against database `db`.
pub fn sohoa(db: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sohoa"))
        .arg("--db")
        .arg(db)
        .args(args)
        .output()
        .expect("run sohoa")
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A test pattern: every pixel a distinct-ish gray, so mix-ups of rows, columns or
/// samples show.
pub fn pattern(width: u32, height: u32) -> GrayImage {
    GrayImage::from_fn(width, height, |x, y| {
        image::Luma([((x * 7 + y * 13) % 256) as u8])
    })
}

/// A bilevel pattern (0 or 255): blocks and stripes, like text.
pub fn bilevel_pattern(width: u32, height: u32) -> GrayImage {
    GrayImage::from_fn(width, height, |x, y| {
        let ink = (x / 3 + y / 5) % 4 == 0 || (y % 17 == 3 && x % 29 > 4);
        image::Luma([if ink { 0 } else { 255 }])
    })
}

/// A one-page PDF whose page paints `image` (an image XObject dictionary + data) over
/// the whole page. `wrap_in_form` paints it from inside a Form XObject instead.
pub fn pdf_with_image(image: Dictionary, data: Vec<u8>, wrap_in_form: bool) -> Vec<u8> {
    pdf_with_images(
        vec![(image, data, [200.0, 0.0, 0.0, 100.0, 0.0, 0.0])],
        wrap_in_form,
        None,
    )
}

/// A one-page PDF painting each image with its own transformation matrix.
pub fn pdf_with_images(
    images: Vec<(Dictionary, Vec<u8>, [f32; 6])>,
    wrap_in_form: bool,
    rotate: Option<i64>,
) -> Vec<u8> {
    let mut doc = Document::with_version("1.5");
    let mut xobjects = Dictionary::new();
    let mut content = String::new();
    for (i, (dict, data, m)) in images.into_iter().enumerate() {
        let mut dict = dict;
        dict.set("Type", "XObject");
        dict.set("Subtype", "Image");
        let id = doc.add_object(Stream::new(dict, data).with_compression(false));
        let name = format!("Im{i}");
        xobjects.set(name.clone(), id);
        content.push_str(&format!(
            "q {} {} {} {} {} {} cm /{name} Do Q\n",
            m[0], m[1], m[2], m[3], m[4], m[5]
        ));
    }
    let (page_xobjects, page_content) = if wrap_in_form {
        let form = Stream::new(
            dictionary! {
                "Type" => "XObject",
                "Subtype" => "Form",
                "BBox" => vec![0.into(), 0.into(), 200.into(), 100.into()],
                "Resources" => dictionary! { "XObject" => xobjects },
            },
            content.into_bytes(),
        );
        let form_id = doc.add_object(form);
        (dictionary! { "Fm0" => form_id }, b"q /Fm0 Do Q".to_vec())
    } else {
        (xobjects, content.into_bytes())
    };
    let content_id = doc.add_object(Stream::new(Dictionary::new(), page_content));
    let mut page = dictionary! {
        "MediaBox" => vec![0.into(), 0.into(), 200.into(), 100.into()],
        "Contents" => content_id,
        "Resources" => dictionary! { "XObject" => page_xobjects },
    };
    if let Some(r) = rotate {
        page.set("Rotate", r);
    }
    one_page_pdf(doc, page)
}

/// Finishes a one-page document: the page (given without /Parent) under a page tree, a
/// catalog, saved to bytes.
pub fn one_page_pdf(mut doc: Document, mut page: Dictionary) -> Vec<u8> {
    let pages_id = doc.new_object_id();
    page.set("Type", "Page");
    page.set("Parent", pages_id);
    let page_id = doc.add_object(page);
    doc.objects.insert(
        pages_id,
        Object::Dictionary(
            dictionary! { "Type" => "Pages", "Kids" => vec![page_id.into()], "Count" => 1 },
        ),
    );
    let catalog = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
    doc.trailer.set("Root", catalog);
    let mut out = Vec::new();
    doc.save_to(&mut out).expect("save pdf");
    out
}

/// Appends a page (given without /Parent) to a PDF.
pub fn append_page(pdf: &[u8], build: impl FnOnce(&mut Document) -> Dictionary) -> Vec<u8> {
    let mut doc = Document::load_mem(pdf).expect("load pdf");
    let pages_id = doc
        .catalog()
        .unwrap()
        .get(b"Pages")
        .unwrap()
        .as_reference()
        .unwrap();
    let mut page = build(&mut doc);
    page.set("Type", "Page");
    page.set("Parent", pages_id);
    let page_id = doc.add_object(page);
    let pages = doc.get_dictionary_mut(pages_id).unwrap();
    let kids = pages.get_mut(b"Kids").unwrap().as_array_mut().unwrap();
    kids.push(page_id.into());
    let count = kids.len() as i64;
    pages.set("Count", count);
    let mut out = Vec::new();
    doc.save_to(&mut out).expect("save pdf");
    out
}

/// The PDF encrypted (RC4, 128-bit) with `user_password`; empty opens without asking.
pub fn encrypt(pdf: &[u8], user_password: &str) -> Vec<u8> {
    let mut doc = Document::load_mem(pdf).expect("load pdf");
    let id = Object::String(b"0123456789abcdef".to_vec(), lopdf::StringFormat::Literal);
    doc.trailer.set("ID", vec![id.clone(), id]);
    let version = lopdf::EncryptionVersion::V2 {
        document: &doc,
        owner_password: "owner-secret",
        user_password,
        key_length: 128,
        permissions: lopdf::Permissions::default(),
    };
    let state = lopdf::EncryptionState::try_from(version).expect("encryption state");
    doc.encrypt(&state).expect("encrypt");
    let mut out = Vec::new();
    doc.save_to(&mut out).expect("save pdf");
    out
}

/// Loads the first page of `bytes` as sohoa would for OCR, returning the image.
pub fn page_image(bytes: Vec<u8>) -> Result<GrayImage, String> {
    let (_, mut source) =
        load::open(Arc::new(bytes), &Limits::default()).map_err(|e| e.to_string())?;
    let page = source
        .load_page(0, OcrMode::Force)
        .map_err(|e| e.to_string())?;
    match page.content {
        PageContent::Ocr(image) => Ok(image),
        PageContent::Text(t) => Err(format!("page came back as text: {t:?}")),
        PageContent::Empty { reason } => Err(format!("page came back empty: {reason}")),
    }
}

/// A born-digital one-page PDF showing `text` (visible, Helvetica): read from its text
/// layer, no OCR, so incremental and crash tests run fast.
pub fn text_pdf(text: &str) -> Vec<u8> {
    lines_pdf(&[text])
}

/// A born-digital page with one text line per entry (no OCR: fast). Helvetica has no
/// Vietnamese marks, so texts are written without them, as OCR sometimes reads them.
pub fn lines_pdf(lines: &[&str]) -> Vec<u8> {
    let mut doc = Document::with_version("1.5");
    let font = doc.add_object(
        dictionary! { "Type" => "Font", "Subtype" => "Type1", "BaseFont" => "Helvetica" },
    );
    let mut content = String::new();
    for (i, line) in lines.iter().enumerate() {
        let escaped = line
            .replace('\\', "\\\\")
            .replace('(', "\\(")
            .replace(')', "\\)");
        let y = 780 - 14 * i as i64;
        content.push_str(&format!("BT /F1 10 Tf 20 {y} Td ({escaped}) Tj ET\n"));
    }
    let content_id = doc.add_object(Stream::new(Dictionary::new(), content.into_bytes()));
    let page = dictionary! {
        "Contents" => content_id,
        "MediaBox" => vec![0.into(), 0.into(), 595.into(), 842.into()],
        "Resources" => dictionary! { "Font" => dictionary! { "F1" => font } },
    };
    one_page_pdf(doc, page)
}

/// Runs `sohoa --db DB --json ingest ARGS...` and returns (exit code, summary JSON).
pub fn ingest_json(db: &Path, args: &[&str]) -> (i32, serde_json::Value) {
    let mut full = vec!["ingest", "--json"];
    full.extend_from_slice(args);
    let out = sohoa(db, &full);
    let json = serde_json::from_str(&stdout(&out)).unwrap_or_else(|e| {
        panic!(
            "ingest --json gave no JSON ({e}):\n{}\n{}",
            stdout(&out),
            stderr(&out)
        )
    });
    (out.status.code().unwrap_or(-1), json)
}

/// The single number a query returns (a count, an id), from the archive read-only.
pub fn count(db: &Path, query: &str) -> i64 {
    sql(db)
        .query_row(query, [], |r| r.get(0))
        .unwrap_or_else(|e| panic!("{query}: {e}"))
}

/// Opens the archive read-only for assertions.
pub fn sql(db: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .expect("open db")
}

/// An OCR'd page with this text (for documents written straight through the store).
pub fn page(number: u32, text: &str) -> sohoa::store::NewPage {
    sohoa::store::NewPage {
        number,
        text: text.to_owned(),
        confidence: Some(90.0),
        width: None,
        height: None,
        dpi: None,
        source: sohoa::load::TextSource::Ocr,
        error: None,
        note: None,
        words: Vec::new(),
        image_sha256: None,
        preparation: None,
    }
}

/// A new, empty PostgreSQL database on the test server, as a `postgres://` URL.
/// `scripts/test` runs the suite under `pg_virtualenv`, which starts a throwaway server
/// and sets PGHOST, PGPORT, PGUSER and PGPASSWORD; without them this fails, saying so.
pub fn new_postgres_database() -> String {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let var = |name: &str| std::env::var(name).ok();
    let host = var("PGHOST").expect(
        "PGHOST is not set: the PostgreSQL tests need a server; run the suite with \
         scripts/test (it starts one with pg_virtualenv)",
    );
    let port = var("PGPORT").unwrap_or_else(|| "5432".into());
    let user = var("PGUSER").unwrap_or_else(|| "postgres".into());
    let password = var("PGPASSWORD").unwrap_or_default();
    let url = |db: &str| format!("postgres://{user}:{password}@{host}:{port}/{db}");
    let name = format!(
        "sohoa_test_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    let mut admin = postgres::Client::connect(&url("postgres"), postgres::NoTls)
        .expect("connect to the test PostgreSQL server");
    admin
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .expect("create a test database");
    url(&name)
}

/// A PostgreSQL server of the test's own (in a temporary directory, on a free local
/// port), for tests that stop and start the server: the shared test server must stay up
/// for the tests running alongside. Stopped when dropped.
pub struct PrivatePostgres {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
}

impl PrivatePostgres {
    pub fn start() -> PrivatePostgres {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .expect("PostgreSQL is installed (scripts/install-deps)")
            .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
            .filter(|bin| bin.join("initdb").exists())
            .max_by_key(|bin| {
                let version = bin.parent().and_then(|v| v.file_name());
                version.and_then(|v| v.to_str()?.parse::<u32>().ok())
            })
            .expect("an initdb under /usr/lib/postgresql/*/bin");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let server = PrivatePostgres {
            dir: tempfile::tempdir().unwrap(),
            bin,
            port,
        };
        // PostgreSQL refuses to run as root: as root, the server runs as `postgres`.
        if server.as_root() {
            let chown = Command::new("chown")
                .args(["postgres:postgres"])
                .arg(server.dir.path())
                .status()
                .unwrap();
            assert!(chown.success(), "chown the server's directory to postgres");
        }
        server.run(
            "initdb",
            &[
                "-D",
                &server.data(),
                "-U",
                "postgres",
                "-A",
                "trust",
                "-E",
                "UTF8",
            ],
        );
        server.up();
        server
    }

    fn as_root(&self) -> bool {
        std::fs::read_to_string("/proc/self/status")
            .map(|s| {
                s.lines()
                    .find(|l| l.starts_with("Uid:"))
                    .is_some_and(|l| l.split_whitespace().nth(1) == Some("0"))
            })
            .unwrap_or(false)
    }

    fn data(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    /// One of the server's tools, run as the server's owner.
    fn tool(&self, tool: &str) -> Command {
        let program = self.bin.join(tool);
        if self.as_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(program);
            c
        } else {
            Command::new(program)
        }
    }

    fn run(&self, tool: &str, args: &[&str]) {
        let out = self.tool(tool).args(args).output().unwrap();
        assert!(
            out.status.success(),
            "{tool} {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Starts the server and waits until it takes connections.
    pub fn up(&self) {
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -k {}",
            self.port,
            self.dir.path().display()
        );
        let log = self.dir.path().join("server.log").display().to_string();
        self.run(
            "pg_ctl",
            &[
                "-D",
                &self.data(),
                "-l",
                &log,
                "-o",
                &options,
                "-w",
                "start",
            ],
        );
    }

    /// Stops the server at once, cutting every connection (as a restart or a crash does).
    pub fn down(&self) {
        self.run("pg_ctl", &["-D", &self.data(), "-m", "fast", "-w", "stop"]);
    }

    /// A new database on this server, as a `postgres://` URL.
    pub fn new_database(&self, name: &str) -> String {
        let url = |db: &str| format!("postgres://postgres@127.0.0.1:{}/{db}", self.port);
        let mut admin = postgres::Client::connect(&url("postgres"), postgres::NoTls)
            .expect("connect to the private server");
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .unwrap();
        url(name)
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        let data = self.data();
        let _ = self
            .tool("pg_ctl")
            .args(["-D", &data, "-m", "immediate", "stop"])
            .output();
    }
}

/// Today in the reports' calendar (`REPORT_UTC_OFFSET_HOURS`), `YYYY-MM-DD`.
pub fn report_today() -> String {
    let seconds = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let offset = sohoa::store::reports::REPORT_UTC_OFFSET_HOURS * 3600;
    let (y, m, d) = sohoa::report::civil_from_days((seconds + offset).div_euclid(86_400));
    format!("{y:04}-{m:02}-{d:02}")
}
