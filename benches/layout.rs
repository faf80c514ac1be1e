//! Layout and reading order, measured against the `tesseract` command on the same pages
//! in the same run. Pages: the layout set (`scripts/layout_set.py`: 2-4 column pages,
//! ruled and unruled tables, administrative pages with varying header and foot blocks;
//! every fourth page held out of tuning) and the samples' scanned pages.
//!
//! Three readers: sohoa v1 (single block, Tesseract's text), sohoa (automatic layout and
//! its reading order, `layout`), and the command `tesseract IMG - -l vie+eng --dpi 300`
//! (automatic layout, its default; the dpi sohoa assumes too, as the samples' PNGs
//! written here carry none; `OMP_THREAD_LIMIT=1`, two processes at a time, its fastest way
//! on two cores). Prints CER per kind, header order, table cells and pages per minute,
//! for all pages and for the held-out ones. Run by `scripts/bench-layout`; asserts nothing.

use rayon::prelude::*;
use sohoa::eval::character_error_rate;
use sohoa::load::{self, Limits, OcrMode, PageContent};
use sohoa::ocr::{self, Deadline, Segmentation};
use sohoa::pipeline::recognize_prepared;
use sohoa::prepare::PrepareConfig;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A header item counts as read when a line of the output is this close to it (CER).
const LINE_MATCH_CER: f64 = 0.34;
/// A table cell counts as right when the cell in its row and column is this close.
const CELL_MATCH_CER: f64 = 0.25;

struct Page {
    name: String,
    kind: String,
    held_out: bool,
    image: image::GrayImage,
    path: PathBuf,
    truth: String,
    header: Vec<String>,
    signer: Option<String>,
    cells: Vec<Vec<String>>,
}

fn layout_pages(dir: &Path) -> Vec<Page> {
    let mut names: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e} (run scripts/bench-layout)", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "png"))
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|path| {
            let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
            let meta: serde_json::Value = serde_json::from_str(
                &std::fs::read_to_string(dir.join(format!("{stem}.json"))).unwrap(),
            )
            .unwrap();
            let strings = |v: &serde_json::Value| -> Vec<String> {
                v.as_array()
                    .map(|a| a.iter().map(|s| s.as_str().unwrap().to_owned()).collect())
                    .unwrap_or_default()
            };
            Page {
                name: stem.clone(),
                kind: meta["kind"].as_str().unwrap().to_owned(),
                held_out: meta["split"] == "held-out",
                image: image::open(&path).unwrap().to_luma8(),
                truth: std::fs::read_to_string(dir.join(format!("{stem}.gt.txt"))).unwrap(),
                header: strings(&meta["header"]),
                signer: strings(&meta["signature"]).pop(),
                cells: meta["cells"]
                    .as_array()
                    .map(|rows| rows.iter().map(strings).collect())
                    .unwrap_or_default(),
                path,
            }
        })
        .collect()
}

/// The samples' scanned pages (ground truth in reading order), written out as PNG so
/// the command reads the very same pixels.
fn sample_pages(out: &Path) -> Vec<Page> {
    let samples = [
        "quyet-dinh-dat-dai.png",
        "cong-van-bao-hiem.jpg",
        "don-dang-ky-dat.tif",
        "bao-cao-xay-dung.pdf",
        "to-trinh-dau-tu.pdf",
    ];
    let mut pages = Vec::new();
    for name in samples {
        let stem = name.rsplit_once('.').unwrap().0;
        let truth = std::fs::read_to_string(format!("samples/{stem}.gt.txt")).unwrap();
        let bytes = std::fs::read(format!("samples/{name}")).unwrap();
        let (_, mut source) = load::open(Arc::new(bytes), &Limits::default()).unwrap();
        for (i, truth) in truth.split('\u{c}').enumerate().take(source.page_count()) {
            let page = source.load_page(i, OcrMode::Force).unwrap();
            let PageContent::Ocr(image) = page.content else {
                continue;
            };
            let path = out.join(format!("{stem}-{}.png", i + 1));
            image.save(&path).unwrap();
            pages.push(Page {
                name: format!("{stem}-{}", i + 1),
                kind: "samples".into(),
                held_out: false,
                image,
                path,
                truth: truth.to_owned(),
                header: Vec::new(),
                signer: None,
                cells: Vec::new(),
            });
        }
    }
    pages
}

#[derive(Clone, Copy, PartialEq)]
enum Reader {
    V1,
    Sohoa,
    Command,
}

impl Reader {
    fn name(self) -> &'static str {
        match self {
            Reader::V1 => "sohoa v1 (single block)",
            Reader::Sohoa => "sohoa (layout)",
            Reader::Command => "tesseract command",
        }
    }
}

/// A page's text as `reader` gives it, with its words in reading order (none from the
/// command).
fn read(reader: Reader, page: &Page) -> (String, Vec<sohoa::ocr::Word>) {
    match reader {
        Reader::Command => {
            let out = Command::new("tesseract")
                .arg(&page.path)
                .args(["-", "-l", "vie+eng", "--dpi", "300"])
                .env("OMP_THREAD_LIMIT", "1")
                .output()
                .expect("tesseract command (apt-get install tesseract-ocr)");
            (
                String::from_utf8_lossy(&out.stdout).into_owned(),
                Vec::new(),
            )
        }
        Reader::V1 | Reader::Sohoa => {
            let deadline = Deadline {
                time_limit: Duration::from_secs(300),
                cancel: None,
            };
            ocr::with_thread_engine("vie+eng", |engine| {
                engine.set_segmentation(if reader == Reader::V1 {
                    Segmentation::SingleBlock
                } else {
                    Segmentation::Auto
                });
                let (out, _) = recognize_prepared(
                    engine,
                    page.image.clone(),
                    Some(300.0),
                    PrepareConfig { enabled: true },
                    deadline,
                )
                .unwrap();
                engine.set_segmentation(Segmentation::Auto);
                out.map(|o| (o.text, o.words)).unwrap_or_default()
            })
            .unwrap()
        }
    }
}

fn lines(text: &str) -> Vec<&str> {
    text.lines().filter(|l| !l.trim().is_empty()).collect()
}

/// The header's items each found as a line of their own, in order.
fn header_in_order(page: &Page, text: &str) -> bool {
    let lines = lines(text);
    let mut after = 0;
    for item in &page.header {
        let found =
            (after..lines.len()).find(|&i| character_error_rate(item, lines[i]) <= LINE_MATCH_CER);
        match found {
            Some(i) => after = i + 1,
            None => return false,
        }
    }
    true
}

/// Table cells whose text is in the right row and column: each row of the truth is
/// matched to the output line closest to it, which is cut at tabs.
fn cells_right(page: &Page, text: &str) -> (usize, usize) {
    let lines = lines(text);
    let mut right = 0;
    let mut total = 0;
    for row in &page.cells {
        total += row.len();
        let joined = row.join(" ");
        let Some(line) = lines.iter().min_by(|a, b| {
            character_error_rate(&joined, a).total_cmp(&character_error_rate(&joined, b))
        }) else {
            continue;
        };
        let cells: Vec<&str> = line.split('\t').collect();
        right += row
            .iter()
            .enumerate()
            .filter(|(c, cell)| {
                cells
                    .get(*c)
                    .is_some_and(|got| character_error_rate(cell, got) <= CELL_MATCH_CER)
            })
            .count();
    }
    (right, total)
}

/// The header's number, date and signer read as fields from the page, each where its
/// layout puts it (the whole text for the command): (number, date, signer right). The
/// truth comes from the header lines: `Số: N/...` and `..., ngày D tháng M năm Y`.
fn fields_right(page: &Page, text: &str, words: &[sohoa::ocr::Word]) -> (bool, bool, bool, bool) {
    let zones = sohoa::fields::Zones::of_pages(&[words]);
    let zoned = zones.header_left.is_some() && zones.signature.is_some();
    let fields = sohoa::fields::extract_in(text, &zones);
    let number = page.header[2].trim_start_matches("Số: ");
    let date_line = &page.header[5];
    let numbers: Vec<u32> = date_line
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|n| n.parse().ok())
        .collect();
    let date = format!("{:04}-{:02}-{:02}", numbers[2], numbers[1], numbers[0]);
    // As the labeled sets' exact match counts: case, marks, `đ` and spacing aside
    // (Tesseract often reads the `Đ` of `QĐ` as `D`); a different digit is wrong.
    let key = |s: &str| {
        sohoa::fold::fold_full(s)
            .split_whitespace()
            .collect::<String>()
    };
    (
        fields.number.as_deref().map(key) == Some(key(number)),
        fields.date.as_deref() == Some(date.as_str()),
        fields.signer.as_deref().map(key) == page.signer.as_deref().map(key),
        zoned,
    )
}

#[derive(Default)]
struct Tally {
    pages: usize,
    cer: f64,
    header_right: usize,
    header_pages: usize,
    number_right: usize,
    date_right: usize,
    signer_right: usize,
    /// Pages whose header blocks and signature block were found as zones.
    zoned: usize,
    cells_right: usize,
    cells: usize,
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1).cloned())
    };
    let set = PathBuf::from(arg("--set").unwrap_or_else(|| "target/layout-set".into()));
    // `--only sohoa`: read with sohoa only (while working on the layout).
    let only_sohoa = arg("--only").is_some_and(|o| o == "sohoa");
    let verbose = args.iter().any(|a| a == "--verbose");
    // `--dump`: each reading written to SET/read/NAME.READER.txt, to look at.
    let dump = args.iter().any(|a| a == "--dump").then(|| set.join("read"));
    let mut pages = layout_pages(&set);
    let samples_dir = set.join("samples");
    std::fs::create_dir_all(&samples_dir).unwrap();
    pages.extend(sample_pages(&samples_dir));
    // `--kind table`: only pages whose kind contains it.
    if let Some(kind) = arg("--kind") {
        pages.retain(|p| p.kind.contains(kind.as_str()));
    }
    let readers: &[Reader] = if only_sohoa {
        &[Reader::Sohoa]
    } else {
        &[Reader::V1, Reader::Sohoa, Reader::Command]
    };
    println!(
        "layout: {} pages ({} held out) from {}, {} at a time",
        pages.len(),
        pages.iter().filter(|p| p.held_out).count(),
        set.display(),
        rayon::current_num_threads()
    );
    // (reader, kind, held_out) -> tally; kind "all" sums the layout set.
    let mut tallies: BTreeMap<(usize, String, bool), Tally> = BTreeMap::new();
    let mut speed = Vec::new();
    for (r, &reader) in readers.iter().enumerate() {
        let started = Instant::now();
        let readings: Vec<(String, Vec<sohoa::ocr::Word>)> =
            pages.par_iter().map(|p| read(reader, p)).collect();
        let seconds = started.elapsed().as_secs_f64();
        speed.push((reader, pages.len() as f64 * 60.0 / seconds));
        for (page, (text, words)) in pages.iter().zip(&readings) {
            let cer = character_error_rate(&page.truth, text);
            if let Some(dir) = &dump {
                std::fs::create_dir_all(dir).unwrap();
                let short = reader.name().split(' ').next().unwrap_or("r");
                let file = format!("{}.{short}{r}.txt", page.name);
                std::fs::write(dir.join(file), text).unwrap();
            }
            if verbose && !page.header.is_empty() {
                let (number, date, signer, zoned) = fields_right(page, text, words);
                if !(number && date && signer && zoned) {
                    let zones = sohoa::fields::Zones::of_pages(&[words]);
                    for b in sohoa::layout::blocks(words).iter().take(6) {
                        println!("    {:?} {:?}", b.region, b.text);
                    }
                    let fields = sohoa::fields::extract_in(text, &zones);
                    println!(
                        "{} {}: fields number {number} date {date} signer {signer} zoned {zoned}\n  {zones:?}\n  number {:?} date {:?} signer {:?}",
                        reader.name(),
                        page.name,
                        fields.number,
                        fields.date,
                        fields.signer
                    );
                }
            }
            if verbose {
                let (right, total) = cells_right(page, text);
                println!(
                    "{:>28} {:>6.2}% {} cells {right}/{total}",
                    reader.name(),
                    cer * 100.0,
                    page.name
                );
            }
            for held in [false, true] {
                if held && !page.held_out {
                    continue;
                }
                let t = tallies.entry((r, page.kind.clone(), held)).or_default();
                t.pages += 1;
                t.cer += cer;
                if !page.header.is_empty() {
                    t.header_pages += 1;
                    t.header_right += usize::from(header_in_order(page, text));
                    let (number, date, signer, zoned) = fields_right(page, text, words);
                    t.zoned += usize::from(zoned);
                    t.number_right += usize::from(number);
                    t.date_right += usize::from(date);
                    t.signer_right += usize::from(signer);
                }
                if !page.cells.is_empty() {
                    let (right, total) = cells_right(page, text);
                    t.cells_right += right;
                    t.cells += total;
                }
            }
        }
    }
    for held in [false, true] {
        println!(
            "\n{}",
            if held {
                "held-out pages only"
            } else {
                "all pages"
            }
        );
        print!("| pages |");
        for reader in readers {
            print!(" {} |", reader.name());
        }
        println!();
        println!("| --- |{}", " --- |".repeat(readers.len()));
        let kinds: Vec<String> = {
            let mut k: Vec<String> = tallies.keys().map(|(_, k, _)| k.clone()).collect();
            k.dedup();
            k.sort();
            k.dedup();
            k
        };
        for kind in &kinds {
            let first = tallies.get(&(0, kind.clone(), held));
            let Some(first) = first else { continue };
            print!("| {kind} ({}) CER |", first.pages);
            for r in 0..readers.len() {
                let t = &tallies[&(r, kind.clone(), held)];
                print!(" {:.2} % |", t.cer / t.pages as f64 * 100.0);
            }
            println!();
            if first.header_pages > 0 {
                print!("| {kind}: header in order |");
                for r in 0..readers.len() {
                    let t = &tallies[&(r, kind.clone(), held)];
                    print!(" {}/{} |", t.header_right, t.header_pages);
                }
                println!();
                print!("| {kind}: fields number / date / signer exact |");
                for r in 0..readers.len() {
                    let t = &tallies[&(r, kind.clone(), held)];
                    print!(
                        " {} / {} / {} of {} |",
                        t.number_right, t.date_right, t.signer_right, t.header_pages
                    );
                }
                println!();
                print!("| {kind}: header and signature blocks found |");
                for r in 0..readers.len() {
                    let t = &tallies[&(r, kind.clone(), held)];
                    print!(" {}/{} |", t.zoned, t.header_pages);
                }
                println!();
            }
            if first.cells > 0 {
                print!("| {kind}: cells in right row and column |");
                for r in 0..readers.len() {
                    let t = &tallies[&(r, kind.clone(), held)];
                    print!(" {:.1} % |", t.cells_right as f64 * 100.0 / t.cells as f64);
                }
                println!();
            }
        }
    }
    println!();
    print!("| pages/min, all pages |");
    for (_, s) in &speed {
        print!(" {s:.1} |");
    }
    println!();
    if let (Some(sohoa), Some(command)) = (
        speed.iter().find(|(r, _)| *r == Reader::Sohoa),
        speed.iter().find(|(r, _)| *r == Reader::Command),
    ) {
        println!("sohoa / command throughput: {:.2}", sohoa.1 / command.1);
    }
}
