//! Page preparation, measured: the samples' scanned pages (with ground truth), each
//! degraded as real scans are (turned, skewed, noisy, faint, 150 and 600 dpi) plus
//! blank backs, read by OCR without preparation (v1) and with it. Prints character
//! error rate per degradation, blank-page detection, and pages per minute on the clean
//! set. Run by `scripts/bench-prepare`; asserts nothing.

use rayon::prelude::*;
use sohoa::eval::{DEGRADATIONS, Degradation, character_error_rate};
use sohoa::load::{self, Limits, OcrMode, PageContent};
use sohoa::ocr::{self, Deadline};
use sohoa::pipeline::recognize_prepared;
use sohoa::prepare::PrepareConfig;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The samples with scanned pages (the born-digital one has no image to prepare).
const SAMPLES: &[&str] = &[
    "quyet-dinh-dat-dai.png",
    "cong-van-bao-hiem.jpg",
    "don-dang-ky-dat.tif",
    "bao-cao-xay-dung.pdf",
    "to-trinh-dau-tu.pdf",
];
/// Clean pages are read this many times for the throughput figure.
const THROUGHPUT_ROUNDS: usize = 3;

struct Page {
    image: image::GrayImage,
    dpi: f32,
    truth: String,
}

fn pages() -> Vec<Page> {
    let mut out = Vec::new();
    for name in SAMPLES {
        let path = format!("samples/{name}");
        let truth = std::fs::read_to_string(format!(
            "samples/{}.gt.txt",
            name.rsplit_once('.').unwrap().0
        ))
        .unwrap();
        let truths: Vec<&str> = truth.split('\u{c}').collect();
        let bytes = std::fs::read(&path).unwrap();
        let (_, mut source) = load::open(Arc::new(bytes), &Limits::default()).unwrap();
        for (i, truth) in truths.iter().enumerate().take(source.page_count()) {
            let page = source.load_page(i, OcrMode::Force).unwrap();
            let PageContent::Ocr(image) = page.content else {
                panic!("{path} page {} has no image", i + 1)
            };
            out.push(Page {
                image,
                dpi: page.dpi.unwrap_or(300.0),
                truth: truth.to_string(),
            });
        }
    }
    out
}

struct Reading {
    cer: f64,
    blank: bool,
    action: String,
    seconds: f64,
}

fn read(image: image::GrayImage, dpi: f32, truth: &str, enabled: bool) -> Reading {
    let deadline = Deadline {
        time_limit: Duration::from_secs(300),
        cancel: None,
    };
    let started = Instant::now();
    let (out, prep) = ocr::with_thread_engine("vie+eng", |engine| {
        recognize_prepared(
            engine,
            image,
            Some(dpi),
            PrepareConfig { enabled },
            deadline,
        )
    })
    .unwrap()
    .unwrap();
    let text = out.map(|o| o.text).unwrap_or_default();
    let mut action = Vec::new();
    if prep.rotation != 0 {
        action.push(format!("turned {}", prep.rotation));
    }
    if prep.deskewed {
        action.push(format!("deskewed {:.1}", prep.skew));
    }
    if prep.scale != 1.0 {
        action.push(format!("x{:.2}", prep.scale));
    }
    if prep.cleaned.is_some() {
        action.push("cleaned".into());
    }
    Reading {
        cer: character_error_rate(truth, &text),
        blank: prep.blank,
        action: action.join(" "),
        seconds: started.elapsed().as_secs_f64(),
    }
}

fn main() {
    // `--only NAME`: just the degradations whose name contains NAME.
    let args: Vec<String> = std::env::args().collect();
    let only = args
        .iter()
        .position(|a| a == "--only")
        .and_then(|i| args.get(i + 1).cloned());
    let pages = pages();
    println!(
        "page preparation: {} sample pages x {} degradations, OCR without (v1) and with preparation, {} threads",
        pages.len(),
        DEGRADATIONS.len(),
        rayon::current_num_threads()
    );
    // Throughput on the clean set first, each mode on the same pages.
    for enabled in [false, true].into_iter().filter(|_| only.is_none()) {
        let jobs: Vec<&Page> = (0..THROUGHPUT_ROUNDS).flat_map(|_| pages.iter()).collect();
        let started = Instant::now();
        jobs.par_iter().for_each(|p| {
            read(p.image.clone(), p.dpi, &p.truth, enabled);
        });
        let seconds = started.elapsed().as_secs_f64();
        println!(
            "clean set, preparation {}: {} pages in {seconds:.1} s = {:.1} pages/min",
            if enabled { "on " } else { "off" },
            jobs.len(),
            jobs.len() as f64 * 60.0 / seconds
        );
    }
    println!();
    // Pages/min per degradation: one thread's seconds a page, times the threads.
    let threads = rayon::current_num_threads() as f64;
    println!(
        "| degradation | pages | CER without | CER with | pages/min without | pages/min with | blank found | preparation did |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- |");
    let mut false_blanks = 0;
    for (d_index, &degradation) in DEGRADATIONS.iter().enumerate() {
        if only
            .as_ref()
            .is_some_and(|o| !degradation.name().contains(o.as_str()))
        {
            continue;
        }
        let results: Vec<(Reading, Reading)> = pages
            .par_iter()
            .enumerate()
            .map(|(i, p)| {
                let seed = (d_index * 1000 + i) as u64;
                let (image, dpi) = degradation.apply(&p.image, p.dpi, seed);
                let truth = if degradation == Degradation::Blank {
                    ""
                } else {
                    p.truth.as_str()
                };
                (
                    read(image.clone(), dpi, truth, false),
                    read(image, dpi, truth, true),
                )
            })
            .collect();
        let n = results.len() as f64;
        let mean = |f: &dyn Fn(&(Reading, Reading)) -> f64| results.iter().map(f).sum::<f64>() / n;
        let blanks = results.iter().filter(|r| r.1.blank).count();
        if degradation != Degradation::Blank {
            false_blanks += blanks;
        }
        let mut actions: Vec<String> = results.iter().map(|r| r.1.action.clone()).collect();
        actions.dedup();
        println!(
            "| {} | {} | {:.2} % | {:.2} % | {:.0} | {:.0} | {blanks}/{} | {} |",
            degradation.name(),
            results.len(),
            mean(&|r| r.0.cer) * 100.0,
            mean(&|r| r.1.cer) * 100.0,
            threads * 60.0 / mean(&|r| r.0.seconds),
            threads * 60.0 / mean(&|r| r.1.seconds),
            results.len(),
            actions.join("; ")
        );
    }
    println!("\ntext pages taken for blank: {false_blanks}");
}
