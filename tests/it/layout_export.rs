//! `sohoa export --format alto|hocr`: every ALTO file written validates against the ALTO
//! 4.2 schema kept in `tests/schema` (xmllint, nothing fetched), every hOCR file has the
//! structure the hOCR 1.2 specification documents, and both carry the page's words in
//! the stored reading order with boxes inside the page.

use crate::searchable_pdf::{db, id_of};
use crate::support::{repo_path, sohoa, stderr, stdout};
use std::path::Path;
use std::process::Command;

fn export(format: &str, dir: &Path, extra: &[&str]) {
    let mut args = vec!["export", "--format", format, "--dir", dir.to_str().unwrap()];
    args.extend_from_slice(extra);
    let out = sohoa(&db(), &args);
    assert!(out.status.success(), "{}", stderr(&out));
}

fn files(dir: &Path, suffix: &str) -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(suffix))
        .collect();
    files.sort();
    files
}

/// An XPath expression's value in `file` (xmllint; hOCR's XHTML namespace bound to `h`).
fn xpath(file: &Path, expr: &str) -> String {
    let out = Command::new("xmllint")
        .args(["--xpath", expr, "--nonet"])
        .arg(file)
        .output()
        .expect("xmllint (libxml2-utils, installed by scripts/test)");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn words_of(text: &str) -> Vec<String> {
    text.split_whitespace().map(str::to_owned).collect()
}

#[test]
fn every_alto_file_is_valid_alto_4_and_holds_the_stored_text_in_order() {
    let dir = tempfile::tempdir().unwrap();
    export("alto", dir.path(), &[]);
    let written = files(dir.path(), ".alto.xml");
    let pages: i64 = crate::support::count(
        &db(),
        "SELECT COUNT(*) FROM pages p JOIN documents d ON d.id = p.document_id WHERE d.current = 1",
    );
    assert_eq!(written.len() as i64, pages, "one file per page");
    let schema = repo_path("tests/schema/alto-4-2.xsd");
    for file in &written {
        let out = Command::new("xmllint")
            .args(["--noout", "--nonet", "--schema"])
            .arg(&schema)
            .arg(file)
            .output()
            .expect("xmllint (libxml2-utils, installed by scripts/test)");
        assert!(
            out.status.success(),
            "{} is not valid ALTO 4.2:\n{}",
            file.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // The words, in order, are the stored page text's (cells' tabs are word breaks).
    let id = id_of("quyet-dinh-dat-dai.png");
    let file = dir.path().join(format!("{id}-0001.alto.xml"));
    let contents = xpath(&file, "//*[local-name()='String']/@CONTENT");
    let alto_words: Vec<String> = contents
        .lines()
        .map(|l| {
            l.trim()
                .trim_start_matches("CONTENT=")
                .trim_matches('"')
                .to_owned()
        })
        .collect();
    let shown: serde_json::Value =
        serde_json::from_str(&stdout(&sohoa(&db(), &["show", &id.to_string(), "--json"]))).unwrap();
    let text = shown["pages"][0]["text"].as_str().unwrap();
    assert_eq!(alto_words, words_of(text));
    // The header's blocks are blocks of their own: agency first, motto after.
    let blocks = xpath(&file, "count(//*[local-name()='TextBlock'])");
    assert!(blocks.parse::<u32>().unwrap() >= 3, "{blocks} blocks");
    let first_line = xpath(
        &file,
        "string-join(//*[local-name()='TextLine'][1]/*[local-name()='String']/@CONTENT, ' ')",
    );
    assert!(
        !first_line.contains("CỘNG"),
        "first line glued across the header: {first_line}"
    );
}

#[test]
fn every_hocr_file_has_the_documented_structure() {
    let dir = tempfile::tempdir().unwrap();
    export("hocr", dir.path(), &[]);
    let written = files(dir.path(), ".hocr.html");
    assert!(!written.is_empty());
    for file in &written {
        let name = file.display();
        let out = Command::new("xmllint")
            .args(["--noout", "--nonet"])
            .arg(file)
            .output()
            .unwrap();
        assert!(out.status.success(), "{name} is not well-formed XHTML");
        let count = |expr: &str| {
            xpath(file, &format!("count({expr})"))
                .parse::<u64>()
                .unwrap()
        };
        // One page; every element where the specification puts it.
        assert_eq!(count("//*[@class='ocr_page']"), 1, "{name}");
        for (class, parent) in [
            ("ocr_carea", "ocr_page"),
            ("ocr_par", "ocr_carea"),
            ("ocr_line", "ocr_par"),
            ("ocrx_word", "ocr_line"),
        ] {
            assert_eq!(
                count(&format!(
                    "//*[@class='{class}'][not(parent::*[@class='{parent}'])]"
                )),
                0,
                "{name}: a {class} outside an {parent}"
            );
        }
        // The capabilities meta lists the classes used; ids are unique; every element
        // has a bbox inside the page; words have a confidence.
        let caps = xpath(
            file,
            "string(//*[local-name()='meta'][@name='ocr-capabilities']/@content)",
        );
        for class in ["ocr_page", "ocr_carea", "ocr_par", "ocr_line", "ocrx_word"] {
            assert!(
                caps.split(' ').any(|c| c == class),
                "{name}: {class} not in {caps}"
            );
        }
        assert_eq!(
            count("//*[@id]"),
            count("//*[@id][not(@id = preceding::*/@id)]"),
            "{name}: ids repeat"
        );
        let page_box = xpath(file, "string(//*[@class='ocr_page']/@title)");
        let bbox = |title: &str| -> Vec<u32> {
            let b = title
                .split(';')
                .find_map(|p| p.trim().strip_prefix("bbox "))
                .unwrap_or_else(|| panic!("{name}: no bbox in {title:?}"));
            b.split(' ').map(|n| n.parse().unwrap()).collect()
        };
        let page = bbox(&page_box);
        let titles = xpath(
            file,
            "//*[@class='ocr_carea' or @class='ocr_line' or @class='ocrx_word']/@title",
        );
        for title in titles.lines() {
            let title = title.trim().trim_start_matches("title=").trim_matches('"');
            let b = bbox(title);
            assert!(
                b[0] <= b[2] && b[1] <= b[3] && b[2] <= page[2] && b[3] <= page[3],
                "{name}: {title} outside {page:?}"
            );
        }
        assert_eq!(
            count("//*[@class='ocrx_word'][not(contains(@title, 'x_wconf '))]"),
            0,
            "{name}: word without x_wconf"
        );
    }
}

#[test]
fn one_documents_pages_and_a_missing_document() {
    let dir = tempfile::tempdir().unwrap();
    let id = id_of("bao-cao-xay-dung.pdf");
    export("alto", dir.path(), &["--document", &id.to_string()]);
    let written = files(dir.path(), ".alto.xml");
    assert_eq!(written.len(), 2, "{written:?}");
    let out = sohoa(
        &db(),
        &[
            "export",
            "--format",
            "hocr",
            "--dir",
            dir.path().to_str().unwrap(),
            "--document",
            "99999",
        ],
    );
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("no document 99999"),
        "{}",
        stderr(&out)
    );
    // A directory that cannot be made: the error names it.
    let file = dir.path().join("a-file");
    std::fs::write(&file, "x").unwrap();
    let out = sohoa(
        &db(),
        &[
            "export",
            "--format",
            "alto",
            "--dir",
            file.to_str().unwrap(),
        ],
    );
    assert!(!out.status.success());
    assert!(stderr(&out).contains("a-file"), "{}", stderr(&out));
    let out = sohoa(&db(), &["export", "--format", "alto"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("--dir"), "{}", stderr(&out));
}

#[test]
fn the_json_export_and_api_carry_each_pages_words_with_boxes() {
    let out = sohoa(&db(), &["export", "--words"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let id = id_of("quyet-dinh-dat-dai.png");
    let line = stdout(&out)
        .lines()
        .find(|l| l.contains(&format!("\"id\":{id},")))
        .expect("the document's line")
        .to_owned();
    let doc: serde_json::Value = serde_json::from_str(&line).unwrap();
    let page = &doc["layout"][0];
    let (width, height) = (
        page["width"].as_u64().unwrap(),
        page["height"].as_u64().unwrap(),
    );
    let words = page["words"].as_array().unwrap();
    let texts: Vec<String> = words
        .iter()
        .map(|w| w["text"].as_str().unwrap().to_owned())
        .collect();
    // The same words, in the same order, as the stored text (and as ALTO).
    assert_eq!(texts, words_of(doc["pages"][0]["text"].as_str().unwrap()));
    for w in words {
        let n = |k: &str| w[k].as_u64().unwrap();
        assert!(n("x") + n("w") <= width && n("y") + n("h") <= height, "{w}");
        assert!(w["confidence"].as_f64().unwrap() > 0.0, "{w}");
    }
    let blocks: std::collections::BTreeSet<u64> =
        words.iter().map(|w| w["block"].as_u64().unwrap()).collect();
    assert!(blocks.len() >= 3, "the header's blocks: {blocks:?}");
    // Without --words the export stays as it was.
    let plain = stdout(&sohoa(&db(), &["export"]));
    assert!(!plain.contains("\"layout\""));
}
