//! Fields every Vietnamese administrative document carries, read from its text:
//! number ("Số: 1234/QĐ-UBND"), type, issue date, citizen ID numbers, land parcels.
//!
//! Pure functions over text (no I/O), tolerant of the OCR slips seen on real scans:
//! "Sô:" or "S6:" for "Số:", spaces around the slash, a dropped tone mark.

use crate::fold::fold_full;
use serde::Serialize;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Fields {
    /// The whole number as written, normalized: "1234/QĐ-UBND".
    pub number: Option<String>,
    /// Its parts: serial "1234", type code "QĐ", issuer code "UBND".
    pub serial: Option<String>,
    pub type_code: Option<String>,
    pub issuer_code: Option<String>,
    /// ISO date, from "ngày 26 tháng 01 năm 2024" or "26/01/2024".
    pub date: Option<String>,
    /// 12-digit CCCD and 9-digit CMND numbers.
    pub citizen_ids: Vec<String>,
    /// "thửa đất số 125, tờ bản đồ số 14" as ("125", "14").
    pub land_parcels: Vec<(String, String)>,
}

/// Reads the fields of a document from its text (all pages, in order).
pub fn extract(text: &str) -> Fields {
    let mut fields = Fields::default();
    if let Some((whole, serial, type_code, issuer)) = document_number(text) {
        fields.number = Some(whole);
        fields.serial = Some(serial);
        fields.type_code = type_code;
        fields.issuer_code = issuer;
    }
    fields.date = issue_date(text);
    fields.citizen_ids = citizen_ids(text);
    fields.land_parcels = land_parcels(text);
    fields
}

/// Characters of a document number: letters (with marks), digits, and its separators.
fn is_number_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '/' | '-' | '.')
}

/// Finds "Số: <number>" (the label in any OCR'd form) and splits the number.
fn document_number(text: &str) -> Option<(String, String, Option<String>, Option<String>)> {
    for line in text.lines() {
        let folded = fold_full(line);
        // "so", and the usual OCR readings of "Số" ("s6", "s0", "sô" folds to "so").
        for label in ["so", "s6", "s0"] {
            let mut search = 0;
            while let Some(found) = folded[search..].find(label) {
                let at = search + found;
                search = at + label.len();
                // The label starts a word and is followed by ":" or "." (maybe spaced).
                if at > 0
                    && folded[..at]
                        .chars()
                        .next_back()
                        .is_some_and(char::is_alphanumeric)
                {
                    continue;
                }
                let rest = folded[at + label.len()..].trim_start();
                let Some(rest) = rest.strip_prefix(':').or_else(|| rest.strip_prefix('.')) else {
                    continue;
                };
                // Map back to the original line: folding keeps one char per char except
                // for decomposed input, so take the same number of characters.
                let skip = folded.chars().count() - rest.chars().count();
                let original: String = line.chars().skip(skip).collect();
                if let Some(parsed) = split_number(&original) {
                    return Some(parsed);
                }
            }
        }
    }
    None
}

/// "1234/QĐ-UBND", "29/2023/NĐ-CP", "02-BC/BCĐ", with stray spaces around separators.
fn split_number(raw: &str) -> Option<(String, String, Option<String>, Option<String>)> {
    // Join spaces around separators ("1234 /QĐ- UBND"), then take the first token.
    let mut compact = String::new();
    let chars: Vec<char> = raw.trim().chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        if c == ' ' {
            let prev = compact.chars().last();
            let next = chars[i + 1..].iter().find(|c| **c != ' ').copied();
            if matches!(prev, Some('/' | '-')) || matches!(next, Some('/' | '-')) {
                continue;
            }
            break;
        }
        if !is_number_char(c) {
            break;
        }
        compact.push(c);
    }
    let compact = compact.trim_end_matches(['.', '-', '/']).to_owned();
    let serial: String = compact.chars().take_while(char::is_ascii_digit).collect();
    if serial.is_empty() {
        return None;
    }
    let tail = &compact[serial.len()..];
    // Skip a year part: "29/2023/NĐ-CP".
    let tail = match tail.strip_prefix('/') {
        Some(t)
            if t.get(..4)
                .is_some_and(|y| y.chars().all(|c| c.is_ascii_digit()))
                && t.get(4..).is_some_and(|r| r.starts_with('/')) =>
        {
            &t[4..]
        }
        _ => tail,
    };
    let codes = tail.trim_start_matches(['/', '-']);
    // "QĐ-UBND" (type, then issuer) or "BC/BCĐ" (the "02-BC/BCĐ" form).
    let mut parts = codes.splitn(2, ['-', '/']);
    let type_code = parts.next().filter(|s| !s.is_empty()).map(str::to_owned);
    let issuer = parts.next().filter(|s| !s.is_empty()).map(str::to_owned);
    Some((compact, serial, type_code, issuer))
}

/// The issue date: "ngày 26 tháng 01 năm 2024" (any marks) or "26/01/2024".
fn issue_date(text: &str) -> Option<String> {
    let words: Vec<String> = fold_full(text)
        .split(|c: char| !c.is_alphanumeric() && c != '/')
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect();
    for i in 0..words.len() {
        if words[i] == "ngay"
            && i + 5 < words.len()
            && words[i + 2] == "thang"
            && words[i + 4] == "nam"
            && let Some(date) = iso_date(&words[i + 1], &words[i + 3], &words[i + 5])
        {
            return Some(date);
        }
    }
    words.iter().find_map(|w| {
        let parts: Vec<&str> = w.split('/').collect();
        (parts.len() == 3)
            .then(|| iso_date(parts[0], parts[1], parts[2]))
            .flatten()
    })
}

fn iso_date(day: &str, month: &str, year: &str) -> Option<String> {
    let (d, m, y): (u32, u32, u32) = (day.parse().ok()?, month.parse().ok()?, year.parse().ok()?);
    let valid = (1..=31).contains(&d) && (1..=12).contains(&m) && (1945..=2100).contains(&y);
    valid.then(|| format!("{y:04}-{m:02}-{d:02}"))
}

/// Runs of exactly 12 (CCCD) or 9 (CMND) digits that stand alone.
fn citizen_ids(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for run in text.split(|c: char| !c.is_ascii_digit()) {
        if (run.len() == 12 || run.len() == 9) && !out.iter().any(|s: &String| s == run) {
            out.push(run.to_owned());
        }
    }
    out
}

/// "thửa đất số 125, tờ bản đồ số 14" in any marks.
fn land_parcels(text: &str) -> Vec<(String, String)> {
    let folded = fold_full(text);
    let words: Vec<&str> = folded
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    // The words at `at` are `phrase`, followed by a number: that number.
    let number_after = |at: usize, phrase: &[&str]| -> Option<String> {
        let matches = phrase
            .iter()
            .enumerate()
            .all(|(k, p)| words.get(at + k) == Some(p));
        let number = words.get(at + phrase.len())?;
        (matches && number.chars().all(|c| c.is_ascii_digit())).then(|| (*number).to_owned())
    };
    let mut out = Vec::new();
    for i in 0..words.len() {
        let Some(parcel) = number_after(i, &["thua", "dat", "so"]) else {
            continue;
        };
        // The map sheet follows within a few words ("thửa đất số 125, tờ bản đồ số 14").
        if let Some(sheet) =
            (i + 4..i + 12).find_map(|j| number_after(j, &["to", "ban", "do", "so"]))
        {
            out.push((parcel, sheet));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Checks the number parts, the date and the IDs read from `text`.
    fn check(
        text: &str,
        number: Option<(&str, &str, Option<&str>, Option<&str>)>,
        date: Option<&str>,
    ) {
        let f = extract(text);
        let got = f.number.as_deref().map(|n| {
            (
                n,
                f.serial.as_deref().unwrap_or(""),
                f.type_code.as_deref(),
                f.issuer_code.as_deref(),
            )
        });
        assert_eq!(got, number, "number of {text:?}");
        assert_eq!(f.date.as_deref(), date, "date of {text:?}");
    }

    #[test]
    fn reads_document_numbers() {
        check(
            "Số: 1234/QĐ-UBND",
            Some(("1234/QĐ-UBND", "1234", Some("QĐ"), Some("UBND"))),
            None,
        );
        check(
            "Số: 02-BC/BCĐ",
            Some(("02-BC/BCĐ", "02", Some("BC"), Some("BCĐ"))),
            None,
        );
        check(
            "Số: 29/2023/NĐ-CP",
            Some(("29/2023/NĐ-CP", "29", Some("NĐ"), Some("CP"))),
            None,
        );
        check(
            "Số: 05-CV/BCĐ ngày",
            Some(("05-CV/BCĐ", "05", Some("CV"), Some("BCĐ"))),
            None,
        );
        // OCR slips: a dropped or wrong mark on the label, spaces around separators.
        check(
            "Sô: 1234 /QĐ-UBND",
            Some(("1234/QĐ-UBND", "1234", Some("QĐ"), Some("UBND"))),
            None,
        );
        check(
            "S6: 4635 /SGDĐT-CTrTT",
            Some(("4635/SGDĐT-CTrTT", "4635", Some("SGDĐT"), Some("CTrTT"))),
            None,
        );
        check(
            "SỞ GIÁO DỤC\nSố: 89/BC-SXD Nghệ An",
            Some(("89/BC-SXD", "89", Some("BC"), Some("SXD"))),
            None,
        );
        // Not a number label: "sổ" in running text, "Số" without a colon.
        check("sổ bảo hiểm xã hội số 12", None, None);
        check("Số lượng: nhiều", None, None);
    }

    #[test]
    fn reads_dates() {
        check(
            "Nghệ An, ngày 26 tháng 01 năm 2024",
            None,
            Some("2024-01-26"),
        );
        check("Đà Nẵng, ngay 3 thang 5 nam 2019", None, Some("2019-05-03"));
        check("ban hành 16/5/2019 của Bộ", None, Some("2019-05-16"));
        check("ngày 31 tháng 13 năm 2024", None, None);
    }

    #[test]
    fn reads_ids_and_parcels() {
        let f = extract(
            "CCCD số 040078001122, CMND 186543210; SĐT 0912345678. Thửa đất số 125, tờ bản đồ số 14",
        );
        assert_eq!(f.citizen_ids, vec!["040078001122", "186543210"]);
        assert_eq!(f.land_parcels, vec![("125".to_owned(), "14".to_owned())]);
    }
}
