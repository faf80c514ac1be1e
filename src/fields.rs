//! Fields every Vietnamese administrative document carries, read from its text:
//! number ("Số: 1234/QĐ-UBND"), type, issue place and date, issuing agency, subject,
//! citizen ID numbers, land parcels.
//!
//! Pure functions over text (no I/O), tolerant of the OCR slips seen on real scans:
//! "Sô:" or "S6:" for "Số:", spaces around the slash, a dropped tone mark.

use crate::fold::fold_full;
use crate::layout::{self, Block, Region};
use crate::ocr::Word;
use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fields {
    /// The whole number as written, normalized: "1234/QĐ-UBND".
    pub number: Option<String>,
    /// Its parts: serial "1234", type code "QĐ" (when the number carries a known one),
    /// issuer code "UBND" (everything after the type: "SGDĐT-CTrTT" for a letter).
    pub serial: Option<String>,
    pub type_code: Option<String>,
    pub issuer_code: Option<String>,
    /// The document type's code and name ("QĐ", "Quyết định"), from the number's code,
    /// else the title, else "V/v" (an official letter, which carries no code).
    pub doc_type: Option<String>,
    pub doc_type_name: Option<String>,
    /// ISO date, from "ngày 26 tháng 01 năm 2024" or "26/01/2024".
    pub date: Option<String>,
    /// "Nghệ An" from "Nghệ An, ngày 26 tháng 01 năm 2024".
    pub place: Option<String>,
    /// Header lines at the top left, joined: "UBND TỈNH NGHỆ AN / SỞ TƯ PHÁP".
    pub agency: Option<String>,
    /// "V/v ..." or "Về việc ...", without the label.
    pub subject: Option<String>,
    /// 12-digit CCCD and 9-digit CMND numbers.
    pub citizen_ids: Vec<String>,
    /// "thửa đất số 125, tờ bản đồ số 14" as ("125", "14").
    pub land_parcels: Vec<(String, String)>,
    /// Who signed: the name at the foot of the signature block ("TM. ỦY BAN NHÂN DÂN /
    /// CHỦ TỊCH / Nguyễn Văn Hùng"). Left out of the record when not found, so records
    /// signed before this field existed still verify.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signer: Option<String>,
    /// The number as OCR read it, when its codes were restored to their printed form
    /// ("77/QD-UBND" for "77/QĐ-UBND"). Left out of the record when the same.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number_read: Option<String>,
}

/// Where Decree 30/2020 puts a document's fields on paper, as the layout found them:
/// the header's left block (agency, number, `V/v` subject) and right block (national
/// motto, place and date) on the first page, the signature block (`TM.` …, title, name)
/// at the foot of the last. Each is the block's text; `None` where the layout has no such
/// block (text-layer pages, documents stored before layout analysis, pages of another
/// shape), and then the fields are looked for in the whole text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Zones {
    pub header_left: Option<String>,
    pub header_right: Option<String>,
    pub signature: Option<String>,
}

/// The header's blocks start in this top share of the page's text…
const HEADER_TOP_SHARE: f32 = 0.35;
/// …the left one at most this share of its width (a centred title or body text spans it)…
const HEADER_MAX_WIDTH_SHARE: f32 = 0.65;
/// …and the right one starts at least this share of the width from the left margin.
const HEADER_RIGHT_START_SHARE: f32 = 0.3;

impl Zones {
    /// Finds the zones among the blocks of the first and the last page
    /// (`layout::blocks`, in reading order).
    pub fn find(first_page: &[Block], last_page: &[Block]) -> Zones {
        // Each header block with the blocks under it in its column: layout analysis
        // may set the number apart from the agency, or the date from the motto.
        let (header_left, header_right) = match header_blocks(first_page) {
            Some((left, right)) => (
                Some(with_column_below(left, first_page)),
                Some(with_column_below(right, first_page)),
            ),
            None => (None, None),
        };
        // The last block that opens a signature: the signer's, below `Nơi nhận`; with
        // the block under it when the name stands apart (a tall signature between):
        // below it, centred within its width and no wider (a line across the page is not).
        let signature = last_page
            .iter()
            .rposition(|b| b.text.lines().any(opens_signature))
            .map(|at| {
                let block = &last_page[at];
                let mut text = block.text.clone();
                let centre = |r: &Region| r.x + r.w / 2;
                if let Some(next) = last_page.get(at + 1)
                    && next.region.y >= block.region.y + block.region.h
                    && next.region.w <= block.region.w
                    && (block.region.x..block.region.x + block.region.w)
                        .contains(&centre(&next.region))
                {
                    text.push('\n');
                    text.push_str(&next.text);
                }
                text
            });
        Zones {
            header_left,
            header_right,
            signature,
        }
    }

    /// The zones of a document's pages, each given as its words in reading order.
    pub fn of_pages(pages: &[&[Word]]) -> Zones {
        match (
            pages.iter().find(|p| !p.is_empty()),
            pages.iter().rfind(|p| !p.is_empty()),
        ) {
            (Some(first), Some(last)) => Zones::find(&layout::blocks(first), &layout::blocks(last)),
            _ => Zones::default(),
        }
    }
}

/// The header's two blocks: side by side near the top of the page, the right one
/// holding the national motto (so two columns of body text are not taken for a header)
/// and starting away from the left margin, the left one narrower than the text. The
/// topmost such pair. (The right block may run wide: layout analysis often joins the
/// centred title and subject below the date to it.)
fn header_blocks(blocks: &[Block]) -> Option<(&Block, &Block)> {
    let page = Region::enclosing(blocks.iter().map(|b| b.region))?;
    let near_top = |b: &Block| (b.region.y - page.y) as f32 <= HEADER_TOP_SHARE * page.h as f32;
    let has_motto = |b: &Block| {
        b.text
            .lines()
            .any(|l| motto_start(&fold_aligned(l).1).is_some())
    };
    let right_side =
        |b: &Block| (b.region.x - page.x) as f32 >= HEADER_RIGHT_START_SHARE * page.w as f32;
    let mut best: Option<(&Block, &Block)> = None;
    for right in blocks
        .iter()
        .filter(|b| near_top(b) && right_side(b) && has_motto(b))
    {
        let beside = blocks.iter().filter(|left| {
            near_top(left)
                && left.region.w as f32 <= HEADER_MAX_WIDTH_SHARE * page.w as f32
                && left.region.x + left.region.w <= right.region.x
                && left.region.y < right.region.y + right.region.h
                && right.region.y < left.region.y + left.region.h
        });
        for left in beside {
            let top = left.region.y.min(right.region.y);
            if best.is_none_or(|(l, r)| top < l.region.y.min(r.region.y)) {
                best = Some((left, right));
            }
        }
    }
    best
}

/// `anchor`'s text followed by the blocks right under it within its column: each
/// inside its left and right edges and no further below the one above than the
/// anchor is tall (the date under the motto, not the body further down).
fn with_column_below(anchor: &Block, blocks: &[Block]) -> String {
    let (left, right) = (anchor.region.x, anchor.region.x + anchor.region.w);
    let mut under: Vec<&Block> = blocks
        .iter()
        .filter(|b| {
            b.region.y >= anchor.region.y + anchor.region.h
                && b.region.x >= left
                && b.region.x + b.region.w <= right
        })
        .collect();
    under.sort_by_key(|b| b.region.y);
    let mut text = anchor.text.clone();
    let mut bottom = anchor.region.y + anchor.region.h;
    for block in under {
        if block.region.y > bottom + anchor.region.h {
            break;
        }
        text.push('\n');
        text.push_str(&block.text);
        bottom = block.region.y + block.region.h;
    }
    text
}

/// Reads the fields of a document from its text (all pages, in order).
pub fn extract(text: &str) -> Fields {
    extract_in(text, &Zones::default())
}

/// Reads the fields of a document from its text, each where the layout puts it: the
/// number and agency in the header's left block, place and date in its right block, the
/// signer in the signature block. A number its zone does not hold is looked for in the
/// whole text; a date or a signer is not: a header whose date line does not read (a day
/// left blank, a smudge) has no date, rather than the first date the body cites, and a
/// signature block without a readable name has no signer.
pub fn extract_in(text: &str, zones: &Zones) -> Fields {
    let text: String = text.nfc().collect();
    let text = text.as_str();
    let nfc = |zone: &Option<String>| zone.as_ref().map(|z| z.nfc().collect::<String>());
    let (left, right, signature) = (
        nfc(&zones.header_left),
        nfc(&zones.header_right),
        nfc(&zones.signature),
    );
    let mut fields = Fields::default();
    // The number in the left block, else anywhere (a header the layout did not find).
    let left_number = left.as_deref().and_then(document_number);
    let number = left_number.clone().or_else(|| document_number(text));
    // The agency: the capitalized lines above the number, in the left block if found.
    fields.agency = match left.as_deref() {
        Some(l) => agency(l, left_number.as_ref().map(|(line, _)| *line)),
        None => agency(text, number.as_ref().map(|(line, _)| *line)),
    };
    if let Some((_, (whole, serial, type_code, issuer, read))) = number {
        fields.number = Some(whole);
        fields.number_read = read;
        fields.serial = Some(serial);
        fields.type_code = type_code;
        fields.issuer_code = issuer;
    }
    // A title names the type outright. Without one, a "V/v" subject line marks an
    // official letter, whose number's first code is its issuer's ("123/TTr-VP" from the
    // inspectorate is a letter, not a Tờ trình). Otherwise the number's code.
    let letter = || subject_label(text) == Some(SubjectLabel::Vv);
    let doc_type = type_by_title(text)
        .or_else(|| letter().then(|| type_by_code("CV")).flatten())
        .or_else(|| fields.type_code.as_deref().and_then(type_by_code));
    if let Some(t) = doc_type {
        fields.doc_type = Some(t.code.to_owned());
        fields.doc_type_name = Some(t.name.to_owned());
    }
    let dated = right.as_deref().unwrap_or(text);
    if let Some((place, date)) = place_and_date(dated) {
        fields.place = place;
        fields.date = Some(date);
    } else {
        fields.date = issue_date(dated);
    }
    fields.subject = subject(text);
    fields.citizen_ids = citizen_ids(text);
    fields.land_parcels = land_parcels(text);
    // In the signature block only, when there is one: a line below it is not its name.
    fields.signer = match signature.as_deref() {
        Some(block) => signer(block),
        None => signer(text),
    };
    fields
}

/// How a signature block opens: on behalf of (`TM.`), for (`KT.`, `TL.`, `TUQ.`,
/// `Q.`), or the signer's title itself.
const SIGNING_FORMULAS: &[&str] = &["tm.", "kt.", "tl.", "tuq.", "q."];
const SIGNING_TITLES: &[&str] = &[
    "chu tich",
    "pho chu tich",
    "giam doc",
    "pho giam doc",
    "truong phong",
    "chanh van phong",
    "chanh thanh tra",
    "bi thu",
    "cuc truong",
    "vu truong",
    "thu truong",
    "bo truong",
    "hieu truong",
    "truong ban",
    "chi cuc truong",
];
/// The name comes within this many lines of the block's first line (formula, title, a
/// line or two of seal or signature noise).
const SIGNER_MAX_LINES_BELOW: usize = 5;

/// The signer: in the last signature block (reading order puts it after `Nơi nhận`, whole),
/// the first line below its opening that reads as a person's name.
fn signer(text: &str) -> Option<String> {
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let start = lines.iter().rposition(|l| opens_signature(l))?;
    // Back to the block's first line: "TM. ỦY BAN NHÂN DÂN" above "CHỦ TỊCH".
    let start = (0..=start)
        .rev()
        .take_while(|&i| opens_signature(lines[i]))
        .last()?;
    lines
        .iter()
        .skip(start + 1)
        .take(SIGNER_MAX_LINES_BELOW)
        .find(|l| is_person_name(l))
        .map(|l| l.to_string())
}

/// A line that opens a signature block: a signing formula or a signer's title.
fn opens_signature(line: &str) -> bool {
    let folded = fold_full(line.trim());
    SIGNING_FORMULAS.iter().any(|f| folded.starts_with(f))
        || SIGNING_TITLES.iter().any(|t| folded == *t)
}

/// Two to five words, each capitalized and not all capitals (titles are set in capitals,
/// names in title case), without digits or punctuation.
fn is_person_name(line: &str) -> bool {
    let words: Vec<&str> = line.split_whitespace().collect();
    (2..=5).contains(&words.len())
        && words.iter().all(|w| {
            let mut chars = w.chars();
            chars.next().is_some_and(char::is_uppercase)
                && chars.clone().all(char::is_alphabetic)
                && (w.chars().count() == 1 || chars.any(char::is_lowercase))
        })
}

/// A number split: (whole, serial, type code, issuer code).
/// The number as printed, its serial, type code and issuer codes, and the OCR's reading
/// when it differs from the printed form.
type NumberParts = (
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
);

/// Characters of a document number: letters (with marks), digits, and its separators.
fn is_number_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '/' | '-' | '.')
}

/// Finds "Số: <number>" (the label in any OCR'd form) and splits the number.
fn document_number(text: &str) -> Option<(usize, NumberParts)> {
    for (line_index, line) in text.lines().enumerate() {
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
                // The dotted line a number is written in on ("Số:....4435/SGDĐT").
                let rest = rest.trim_start_matches(['.', '…', ' ']);
                // Map back to the original line: folding keeps one char per char except
                // for decomposed input, so take the same number of characters.
                let skip = folded.chars().count() - rest.chars().count();
                let original: String = line.chars().skip(skip).collect();
                if let Some(parsed) = split_number(&original) {
                    return Some((line_index, parsed));
                }
            }
        }
    }
    None
}

/// "1234/QĐ-UBND", "29/2023/NĐ-CP", "02-BC/BCĐ", with stray spaces around separators.
fn split_number(raw: &str) -> Option<NumberParts> {
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
    let compact = without_glued_place(compact.trim_end_matches(['.', '-', '/']));
    let serial: String = compact.chars().take_while(char::is_ascii_digit).collect();
    if serial.is_empty() {
        return None;
    }
    // A number is a serial and codes; digits alone, or digits and dates, are a citizen
    // ID ("Số: 040123456789"), a phone or a date ("Số: 15/03/2024"), not a number.
    let codes_part = &compact[serial.len()..];
    if !codes_part.chars().any(char::is_alphabetic)
        && (serial.len() > MAX_BARE_SERIAL_DIGITS || !codes_part.is_empty())
    {
        return None;
    }
    let read = compact.clone();
    let compact = as_printed(&compact);
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
    // "QĐ-UBND" (type, then issuer) or "BC/BCĐ" (the "02-BC/BCĐ" form); an official
    // letter's "SGDĐT-CTrTT" names no type, only the issuer and its unit.
    let mut parts = codes.splitn(2, ['-', '/']);
    let first = parts.next().filter(|s| !s.is_empty());
    let rest = parts.next().filter(|s| !s.is_empty());
    let (type_code, issuer) = match first.and_then(type_by_code) {
        Some(t) => (Some(t.code.to_owned()), rest.map(str::to_owned)),
        None => (None, (!codes.is_empty()).then(|| codes.to_owned())),
    };
    let read = (read != compact).then_some(read);
    Some((compact, serial, type_code, issuer, read))
}

/// Digits a number without any code may have ("Số: 125"); 9 and 12 are ID numbers.
const MAX_BARE_SERIAL_DIGITS: usize = 6;

/// "2315/UBND-CN-Nghệ": the place of the date line glued to the number when OCR lost
/// the space. Codes are capitals (a few with an ASCII small letter: `TTr`, `CTrTT`); a
/// trailing part with a small Vietnamese letter is a word, not a code.
fn without_glued_place(number: &str) -> String {
    let mut number = number.to_owned();
    while let Some(cut) = number.rfind(['-', '/']) {
        let last = &number[cut + 1..];
        let is_word = last
            .chars()
            .any(|c| c.is_lowercase() && !c.is_ascii_lowercase());
        if !is_word {
            break;
        }
        number.truncate(cut);
    }
    number
}

/// Issuer codes of document numbers as the agencies print them, for those with a
/// letter OCR often reads without its mark (`Đ` as `D`, `Ð`). The codes follow the
/// standard abbreviations of Vietnamese state bodies (Decree 30/2020/NĐ-CP, appendix I
/// §II: the issuer's name abbreviated by its initials; `Đ` kept as printed). Codes that
/// are printed both ways stay out: a provincial party committee writes `TU`.
const ISSUER_CODES: &[&str] = &[
    "HĐND",
    "UBND",
    "BCĐ",
    "ĐKKD",
    "SKHĐT",
    "SGDĐT",
    "SLĐTBXH",
    "LĐTBXH",
    "ĐU",
    "ĐTN",
    "HĐTĐKT",
    "HĐQT",
    "ĐCSVN",
    "ĐĐBQH",
    "VPĐK",
    "VPĐKĐĐ",
    "CNVPĐKĐĐ",
    "TTPTQĐ",
    "BQLDAĐTXD",
];

/// The number with its codes as printed: the type code is a closed list (`QD` read for
/// `QĐ` becomes `QĐ`), and issuer codes found in `ISSUER_CODES` take their spelling.
/// Digits and unknown codes are left as read.
fn as_printed(number: &str) -> String {
    let mut out = String::new();
    for (i, part) in number.split(['/', '-']).enumerate() {
        if i > 0 {
            // The separator that preceded this part, as read.
            let at = out.chars().count();
            out.push(number.chars().nth(at).unwrap_or('/'));
        }
        let key = fold_full(part);
        let known = (!part.chars().all(|c| c.is_ascii_digit()))
            .then(|| {
                DOC_TYPES
                    .iter()
                    .map(|t| t.code)
                    .chain(ISSUER_CODES.iter().copied())
                    .find(|code| {
                        fold_full(code) == key && code.chars().count() == part.chars().count()
                    })
            })
            .flatten();
        out.push_str(known.unwrap_or(part));
    }
    out
}

/// A document type: its code in numbers and its name in titles.
pub struct DocType {
    pub code: &'static str,
    pub name: &'static str,
}

/// Types of administrative documents (Nghị định 30/2020/NĐ-CP, appendix I) and the
/// party's own; codes as written in document numbers.
pub const DOC_TYPES: &[DocType] = &[
    DocType {
        code: "QĐ",
        name: "Quyết định",
    },
    DocType {
        code: "CV",
        name: "Công văn",
    },
    DocType {
        code: "BC",
        name: "Báo cáo",
    },
    DocType {
        code: "NĐ",
        name: "Nghị định",
    },
    DocType {
        code: "NQ",
        name: "Nghị quyết",
    },
    DocType {
        code: "TB",
        name: "Thông báo",
    },
    DocType {
        code: "GP",
        name: "Giấy phép",
    },
    DocType {
        code: "TTr",
        name: "Tờ trình",
    },
    DocType {
        code: "KH",
        name: "Kế hoạch",
    },
    DocType {
        code: "CT",
        name: "Chỉ thị",
    },
    DocType {
        code: "TT",
        name: "Thông tư",
    },
    DocType {
        code: "HD",
        name: "Hướng dẫn",
    },
    DocType {
        code: "CTr",
        name: "Chương trình",
    },
    DocType {
        code: "PA",
        name: "Phương án",
    },
    DocType {
        code: "ĐA",
        name: "Đề án",
    },
    DocType {
        code: "BB",
        name: "Biên bản",
    },
    DocType {
        code: "HĐ",
        name: "Hợp đồng",
    },
    DocType {
        code: "CĐ",
        name: "Công điện",
    },
    DocType {
        code: "QC",
        name: "Quy chế",
    },
    DocType {
        code: "QyĐ",
        name: "Quy định",
    },
    DocType {
        code: "GCN",
        name: "Giấy chứng nhận",
    },
    DocType {
        code: "GXN",
        name: "Giấy xác nhận",
    },
    DocType {
        code: "GUQ",
        name: "Giấy ủy quyền",
    },
    DocType {
        code: "GM",
        name: "Giấy mời",
    },
    DocType {
        code: "GGT",
        name: "Giấy giới thiệu",
    },
];

/// A type by its code, as OCR may have read it ("QD" for "QĐ"); case matters only
/// between codes that differ by case alone ("TTr" Tờ trình, "TT" Thông tư).
pub fn type_by_code(code: &str) -> Option<&'static DocType> {
    let key = fold_full(code);
    DOC_TYPES
        .iter()
        .find(|t| t.code == code)
        .or_else(|| DOC_TYPES.iter().find(|t| fold_full(t.code) == key))
}

/// A type by code or name, as a user may type it ("qd", "Quyết định", "quyet dinh").
pub fn type_by_code_or_name(wanted: &str) -> Option<&'static DocType> {
    let key = fold_full(wanted.trim());
    type_by_code(wanted.trim()).or_else(|| DOC_TYPES.iter().find(|t| fold_full(t.name) == key))
}

/// Lines near the top that are a type's name in capitals ("QUYẾT ĐỊNH", "BÁO CÁO").
fn type_by_title(text: &str) -> Option<&'static DocType> {
    text.lines().take(TITLE_SEARCH_LINES).find_map(|line| {
        let trimmed = line.trim().trim_end_matches(':');
        if !mostly_upper(trimmed) {
            return None;
        }
        let key = fold_full(trimmed);
        DOC_TYPES.iter().find(|t| fold_full(t.name) == key)
    })
}

/// Titles sit under the header: within this many lines of the top.
const TITLE_SEARCH_LINES: usize = 20;
/// The agency is in the first lines, above the number.
const HEADER_LINES: usize = 4;
/// A subject runs over a few lines at most; longer means we ran into the body.
const MAX_SUBJECT_CHARS: usize = 300;

fn mostly_upper(s: &str) -> bool {
    let letters: Vec<char> = s.chars().filter(|c| c.is_alphabetic()).collect();
    letters.len() >= 2
        && letters.iter().filter(|c| c.is_uppercase()).count() * 10 >= letters.len() * 7
}

/// Folds each character on its own, so positions in the folded line are positions in
/// the original (NFC) line.
fn fold_aligned(line: &str) -> (Vec<char>, Vec<char>) {
    let original: Vec<char> = line.chars().collect();
    let folded = original
        .iter()
        .map(|c| fold_full(&c.to_string()).chars().next().unwrap_or(' '))
        .collect();
    (original, folded)
}

fn find_chars(haystack: &[char], needle: &str) -> Option<usize> {
    let needle: Vec<char> = needle.chars().collect();
    haystack
        .windows(needle.len())
        .position(|w| w == needle.as_slice())
}

/// The national motto beside the header ("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM / Độc lập -
/// Tự do - Hạnh phúc"), often read onto the agency's lines: where it starts, if here.
fn motto_start(folded: &[char]) -> Option<usize> {
    ["cong hoa xa", "cong hoa", "doc lap - tu do", "doc lap"]
        .iter()
        .filter_map(|m| find_chars(folded, m))
        .min()
}

/// "UBND TỈNH NGHỆ AN / SỞ TƯ PHÁP": the capitalized header lines above the number.
fn agency(text: &str, number_line: Option<usize>) -> Option<String> {
    let lines: Vec<&str> = text.lines().collect();
    let end = number_line
        .unwrap_or(HEADER_LINES)
        .min(HEADER_LINES)
        .min(lines.len());
    let mut parts = Vec::new();
    for line in &lines[..end] {
        let (original, folded) = fold_aligned(line);
        let cut = motto_start(&folded).unwrap_or(original.len());
        let kept: String = original[..cut].iter().collect();
        // Stray marks OCR leaves at the edges ("‘SỞ", "ĐÀO TẠO.", "- ").
        let kept = kept.trim_matches(|c: char| !c.is_alphanumeric());
        // A title ends the header: a type's name, or a citizen's form ("ĐƠN ĐĂNG KÝ…",
        // "TỜ KHAI…"), which has no number line above it to stop at.
        let key = fold_full(kept);
        let is_title = DOC_TYPES.iter().any(|t| fold_full(t.name) == key)
            || key.starts_with("don ")
            || key.starts_with("to khai");
        if is_title {
            break;
        }
        if mostly_upper(kept) {
            parts.push(kept.split_whitespace().collect::<Vec<_>>().join(" "));
        }
    }
    (!parts.is_empty()).then(|| parts.join(" / "))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SubjectLabel {
    /// "V/v": an official letter's subject under its number.
    Vv,
    /// "Về việc": under a title.
    VeViec,
}

/// Labels of a subject line as OCR reads them ("V/V", "Vlv", "V/y" for "V/v").
const SUBJECT_LABELS: &[(&str, SubjectLabel)] = &[
    ("v/v", SubjectLabel::Vv),
    ("vlv", SubjectLabel::Vv),
    ("v/y", SubjectLabel::Vv),
    ("ve viec", SubjectLabel::VeViec),
];

fn subject_line(line: &str) -> Option<(usize, SubjectLabel)> {
    let folded = fold_full(line.trim());
    SUBJECT_LABELS
        .iter()
        .find(|(l, _)| folded.starts_with(l))
        .map(|(l, kind)| (l.chars().count(), *kind))
}

fn subject_label(text: &str) -> Option<SubjectLabel> {
    text.lines()
        .take(TITLE_SEARCH_LINES)
        .find_map(subject_line)
        .map(|(_, kind)| kind)
}

/// The subject line: "V/v ..." (letters) or "Về việc ..." (under a title), with the
/// lines that continue it.
pub fn subject(text: &str) -> Option<String> {
    let lines: Vec<&str> = text.lines().collect();
    for (i, line) in lines.iter().enumerate().take(TITLE_SEARCH_LINES) {
        let Some((skip, _)) = subject_line(line) else {
            continue;
        };
        let original: Vec<char> = line.trim().chars().collect();
        let mut subject: String = original[skip..].iter().collect();
        subject = subject
            .trim_start_matches([':', ' ', '.'])
            .trim()
            .to_owned();
        for next in &lines[i + 1..] {
            let next = next.trim();
            let folded_next = fold_full(next);
            // Numbered body lines ("1.", "a)", "Điều 1.", "- ") start after it.
            let numbered = next.starts_with(['-', '+', '*', '•'])
                || folded_next.starts_with("dieu ")
                || next.split_once(['.', ')']).is_some_and(|(head, _)| {
                    !head.is_empty()
                        && head.chars().count() <= 3
                        && head.chars().all(|c| c.is_ascii_alphanumeric())
                });
            let ends = next.is_empty()
                || numbered
                || mostly_upper(next)
                || ["kinh gui", "can cu", "cong hoa", "doc lap", "so:", "xet "]
                    .iter()
                    .any(|s| folded_next.starts_with(s))
                || place_and_date(next).is_some()
                || subject.chars().count() + next.chars().count() > MAX_SUBJECT_CHARS;
            if ends {
                break;
            }
            subject.push(' ');
            subject.push_str(next);
        }
        let subject = subject
            .trim_end_matches(['.', ',', ';', ':'])
            .trim()
            .to_owned();
        return (!subject.is_empty()).then_some(subject);
    }
    None
}

/// "Nghệ An, ngày 26 tháng 01 năm 2024" → ("Nghệ An", "2024-01-26").
fn place_and_date(text: &str) -> Option<(Option<String>, String)> {
    for line in text.lines() {
        let (original, folded) = fold_aligned(line);
        let mut from = 0;
        while let Some(at) = find_chars(&folded[from..], "ngay ").map(|p| p + from) {
            from = at + 1;
            let rest: String = folded[at..].iter().collect();
            let words: Vec<&str> = rest
                .split(|c: char| !c.is_alphanumeric())
                .flat_map(digits_apart)
                .filter(|w| !w.is_empty())
                .take(6)
                .collect();
            let [_, day, "thang", month, "nam", year] = words.as_slice() else {
                continue;
            };
            let Some(date) = iso_date(day, month, year) else {
                continue;
            };
            let before: String = original[..at].iter().collect();
            let before = before.trim_end().trim_end_matches(',').trim_end();
            // The place is the capitalized words just before (the motto may precede).
            let words: Vec<&str> = before.split_whitespace().collect();
            let start = words
                .iter()
                .rposition(|w| !w.chars().next().is_some_and(char::is_uppercase))
                .map_or(0, |p| p + 1);
            let place = words[start..].join(" ");
            let place = (!place.is_empty() && words.len() - start <= 5).then_some(place);
            return Some((place, date));
        }
    }
    None
}

/// The issue date: "ngày 26 tháng 01 năm 2024" (any marks) or "26/01/2024".
fn issue_date(text: &str) -> Option<String> {
    let words: Vec<String> = fold_full(text)
        .split(|c: char| !c.is_alphanumeric() && c != '/')
        .flat_map(digits_apart)
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

/// A word cut where digits (and the `/` of a date) meet letters: OCR often drops the
/// space of "26 tháng", reading "26tháng".
fn digits_apart(word: &str) -> Vec<&str> {
    let numeric = |c: char| c.is_ascii_digit() || c == '/';
    let mut out = Vec::new();
    let mut start = 0;
    let mut last: Option<bool> = None;
    for (i, c) in word.char_indices() {
        if last.is_some_and(|l| l != numeric(c)) {
            out.push(&word[start..i]);
            start = i;
        }
        last = Some(numeric(c));
    }
    out.push(&word[start..]);
    out
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

    /// Every field read from `text`, as "key=value" lines; empty fields are left out.
    fn describe(f: &Fields) -> String {
        let mut out = Vec::new();
        let mut put = |key: &str, value: &Option<String>| {
            if let Some(v) = value {
                out.push(format!("{key}={v}"));
            }
        };
        put("number", &f.number);
        put("read", &f.number_read);
        put("serial", &f.serial);
        put("type_code", &f.type_code);
        put("issuer", &f.issuer_code);
        put("type", &f.doc_type);
        put("date", &f.date);
        put("place", &f.place);
        put("agency", &f.agency);
        put("subject", &f.subject);
        put("signer", &f.signer);
        if !f.citizen_ids.is_empty() {
            out.push(format!("ids={}", f.citizen_ids.join(",")));
        }
        if !f.land_parcels.is_empty() {
            let parcels: Vec<String> = f
                .land_parcels
                .iter()
                .map(|(a, b)| format!("{a}/{b}"))
                .collect();
            out.push(format!("parcels={}", parcels.join(",")));
        }
        out.join("; ")
    }

    /// `expect` lists every field that must be read, "key=value; ..."; no others may be.
    fn check(text: &str, expect: &str) {
        assert_eq!(describe(&extract(text)), expect, "fields of {text:?}");
    }

    /// A block at (x, y, w, h) in page pixels.
    fn block(x: u32, y: u32, w: u32, h: u32, text: &str) -> Block {
        Block {
            region: Region { x, y, w, h },
            text: text.to_owned(),
        }
    }

    const HEADER_LEFT: &str = "UBND TỈNH NGHỆ AN\nSỞ TƯ PHÁP\nSố: 12/QĐ-STP";
    const MOTTO: &str = "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM\nĐộc lập - Tự do - Hạnh phúc";
    const BODY: &str = "Căn cứ Luật Tổ chức chính quyền địa phương ngày 19 tháng 6 năm 2015;";

    /// Fields read from a one-page document laid out as `blocks` (text in their order),
    /// against what the text alone gives: `expect` and `text_only`, as for `check`.
    fn check_laid_out(blocks: &[Block], expect: &str, text_only: &str) {
        let text: Vec<&str> = blocks.iter().map(|b| b.text.as_str()).collect();
        let text = text.join("\n\n");
        let zones = Zones::find(blocks, blocks);
        assert_eq!(describe(&extract_in(&text, &zones)), expect, "{zones:?}");
        assert_eq!(describe(&extract(&text)), text_only, "text only");
    }

    #[test]
    fn fields_are_read_where_the_layout_puts_them() {
        let head = "number=12/QĐ-STP; serial=12; type_code=QĐ; issuer=STP; type=QĐ";
        let agency = "agency=UBND TỈNH NGHỆ AN / SỞ TƯ PHÁP";
        // A form's "Mẫu số" in the top corner, read first: the number is the left block's.
        let form = [
            block(1800, 50, 300, 40, "Mẫu số: 04/ĐK"),
            block(100, 150, 800, 200, HEADER_LEFT),
            block(
                1000,
                150,
                1100,
                200,
                &format!("{MOTTO}\nNghệ An, ngày 5 tháng 3 năm 2024"),
            ),
            block(100, 600, 2000, 300, BODY),
        ];
        check_laid_out(
            &form,
            &format!("{head}; date=2024-03-05; place=Nghệ An; {agency}"),
            // Text alone takes the form's code for the number, and no agency stands above it.
            "number=04/ĐK; serial=04; issuer=ĐK; date=2024-03-05; place=Nghệ An",
        );
        // The date set apart from the motto, the number from the agency: still theirs.
        let split = [
            block(100, 150, 800, 130, "UBND TỈNH NGHỆ AN\nSỞ TƯ PHÁP"),
            block(1000, 150, 1100, 130, MOTTO),
            block(150, 300, 600, 50, "Số: 12/QĐ-STP"),
            block(1200, 320, 800, 50, "Nghệ An, ngày 5 tháng 3 năm 2024"),
            block(100, 600, 2000, 300, BODY),
        ];
        let dated = format!("{head}; date=2024-03-05; place=Nghệ An; {agency}");
        check_laid_out(&split, &dated, &dated);
        // The title and subject joined to the motto's block, running past the text's
        // middle: still the header's right block.
        let wide = [
            block(100, 150, 800, 200, HEADER_LEFT),
            block(
                1000,
                150,
                1400,
                400,
                &format!("{MOTTO}\nNghệ An, ngày 5 tháng 3 năm 2024\nQUYẾT ĐỊNH\nVề việc cấp phép"),
            ),
            block(100, 600, 2300, 300, BODY),
        ];
        let subject = format!("{dated}; subject=cấp phép");
        check_laid_out(&wide, &subject, &subject);
        // The day left blank in the header: no date, not the first one the body cites.
        let undated = [
            block(100, 150, 800, 200, HEADER_LEFT),
            block(
                1000,
                150,
                1100,
                200,
                &format!("{MOTTO}\nNghệ An, ngày    tháng 3 năm 2024"),
            ),
            block(100, 600, 2000, 300, BODY),
        ];
        check_laid_out(
            &undated,
            &format!("{head}; {agency}"),
            &format!("{head}; date=2015-06-19; {agency}"),
        );
        // A signature block with no readable name: no signer, not the next line's words.
        let unsigned = [
            block(100, 150, 800, 200, HEADER_LEFT),
            block(1000, 150, 1100, 200, MOTTO),
            block(100, 2400, 600, 300, "Nơi nhận:\n- Như trên;\n- Lưu: VT."),
            block(1200, 2400, 700, 200, "TM. ỦY BAN NHÂN DÂN\nCHỦ TỊCH"),
            block(100, 2900, 2000, 60, "Bảng Kê Kèm Theo"),
        ];
        check_laid_out(
            &unsigned,
            &format!("{head}; {agency}"),
            &format!("{head}; {agency}; signer=Bảng Kê Kèm Theo"),
        );
        // The name standing apart below a tall signature is the block's.
        let signed = [
            block(100, 150, 800, 200, HEADER_LEFT),
            block(1000, 150, 1100, 200, MOTTO),
            block(1200, 2400, 700, 200, "KT. GIÁM ĐỐC\nPHÓ GIÁM ĐỐC"),
            block(1300, 3000, 500, 60, "Đỗ Văn Long"),
        ];
        let both = format!("{head}; {agency}; signer=Đỗ Văn Long");
        check_laid_out(&signed, &both, &both);
    }

    #[test]
    fn two_columns_of_body_text_are_not_a_header() {
        // No motto on the right: no header zones, the fields come from the whole text.
        let columns = [
            block(100, 100, 900, 2000, "Số: 7/BC-UBND\nBáo cáo tình hình"),
            block(1100, 100, 900, 2000, "ngày 2 tháng 1 năm 2023 kết quả"),
        ];
        let zones = Zones::find(&columns, &columns);
        assert_eq!(zones.header_left, None);
        let both =
            "number=7/BC-UBND; serial=7; type_code=BC; issuer=UBND; type=BC; date=2023-01-02";
        check_laid_out(&columns, both, both);
    }

    #[test]
    fn reads_the_signer_below_the_signature_block() {
        let foot = "Nơi nhận:\n- Như Điều 3;\n- Lưu: VT.\n\nTM. ỦY BAN NHÂN DÂN\nCHỦ TỊCH\n\nNguyễn Văn Hùng";
        check(foot, "signer=Nguyễn Văn Hùng");
        // Signature noise between title and name; a title alone opens the block too.
        let body = "SỞ Y TẾ\nSố: 12/QĐ-SYT\nQuyết định có hiệu lực từ ngày ký.\n";
        let head = "number=12/QĐ-SYT; serial=12; type_code=QĐ; issuer=SYT; type=QĐ; agency=SỞ Y TẾ";
        check(
            &format!("{body}KT. GIÁM ĐỐC\nPHÓ GIÁM ĐỐC\n~ ;\nĐỗ Văn Long"),
            &format!("{head}; signer=Đỗ Văn Long"),
        );
        check(
            &format!("{body}GIÁM ĐỐC\n\nTrần Thị Lan"),
            &format!("{head}; signer=Trần Thị Lan"),
        );
        // No signature block, or none with a name: nothing.
        check("Tm. Cấp giấy phép xây dựng", "");
        check(&format!("{body}TM. ỦY BAN NHÂN DÂN\nCHỦ TỊCH\nĐÃ KÝ"), head);
    }

    #[test]
    fn a_record_without_a_signer_is_serialized_as_before_the_field_existed() {
        // Records signed before `signer` existed are rebuilt from the store to verify:
        // they must serialize to the same bytes.
        let json = serde_json::to_string(&Fields::default()).unwrap();
        assert!(!json.contains("signer"), "{json}");
        let with = Fields {
            signer: Some("Lê Văn A".into()),
            ..Fields::default()
        };
        assert!(
            serde_json::to_string(&with)
                .unwrap()
                .contains(r#""signer":"Lê Văn A""#)
        );
    }

    #[test]
    fn reads_document_numbers() {
        check(
            "Số:.4435 /SGDĐT-CTrTT",
            "number=4435/SGDĐT-CTrTT; serial=4435; issuer=SGDĐT-CTrTT",
        );
        check(
            "Số: 1234/QĐ-UBND",
            "number=1234/QĐ-UBND; serial=1234; type_code=QĐ; issuer=UBND; type=QĐ",
        );
        check(
            "Số: 02-BC/BCĐ",
            "number=02-BC/BCĐ; serial=02; type_code=BC; issuer=BCĐ; type=BC",
        );
        check(
            "Số: 29/2023/NĐ-CP",
            "number=29/2023/NĐ-CP; serial=29; type_code=NĐ; issuer=CP; type=NĐ",
        );
        check(
            "Số: 05-CV/BCĐ ngày",
            "number=05-CV/BCĐ; serial=05; type_code=CV; issuer=BCĐ; type=CV",
        );
        check(
            "Số: 12/TTr-SNV",
            "number=12/TTr-SNV; serial=12; type_code=TTr; issuer=SNV; type=TTr",
        );
        // OCR slips: a wrong mark on the label or the code, spaces around separators.
        check(
            "Sô: 1234 /QĐ-UBND",
            "number=1234/QĐ-UBND; serial=1234; type_code=QĐ; issuer=UBND; type=QĐ",
        );
        check(
            "Sỏ: 77/QD- UBND",
            "number=77/QĐ-UBND; read=77/QD-UBND; serial=77; type_code=QĐ; issuer=UBND; type=QĐ",
        );
        check(
            "Số:1234/QÐ-UBND",
            "number=1234/QĐ-UBND; read=1234/QÐ-UBND; serial=1234; type_code=QĐ; issuer=UBND; type=QĐ",
        );
        // Issuer codes as the agency prints them; unknown ones as read.
        check(
            "Số: 81/BC-DKKD",
            "number=81/BC-ĐKKD; read=81/BC-DKKD; serial=81; type_code=BC; issuer=ĐKKD; type=BC",
        );
        check(
            "Số: 412/TB-SKHDT",
            "number=412/TB-SKHĐT; read=412/TB-SKHDT; serial=412; type_code=TB; issuer=SKHĐT; type=TB",
        );
        check(
            "Số: 2506-BC/BCD",
            "number=2506-BC/BCĐ; read=2506-BC/BCD; serial=2506; type_code=BC; issuer=BCĐ; type=BC",
        );
        check(
            "Số: 2687/TB-STP",
            "number=2687/TB-STP; serial=2687; type_code=TB; issuer=STP; type=TB",
        );
        // The place glued to the number when OCR lost the space.
        check(
            "Số: 2315/UBND-CN-Nghệ An, ngày",
            "number=2315/UBND-CN; serial=2315; issuer=UBND-CN",
        );
        // Never a citizen ID, a phone number or a date.
        check("Số: 040123456789", "ids=040123456789");
        check("Số: 15/03/2024", "date=2024-03-15");
        check("Số: 125", "number=125; serial=125");
        check(
            "Số: 45-QĐ/TU",
            "number=45-QĐ/TU; serial=45; type_code=QĐ; issuer=TU; type=QĐ",
        );
        check(
            "S0 : 7 / NQ - HĐND",
            "number=7/NQ-HĐND; serial=7; type_code=NQ; issuer=HĐND; type=NQ",
        );
        // An official letter's number names the issuer and its unit, not a type.
        check(
            "S6: 4635 /SGDĐT-CTrTT",
            "number=4635/SGDĐT-CTrTT; serial=4635; issuer=SGDĐT-CTrTT",
        );
        check(
            "SỞ XÂY DỰNG\nSố: 89/BC-SXD Nghệ An",
            "number=89/BC-SXD; serial=89; type_code=BC; issuer=SXD; type=BC; agency=SỞ XÂY DỰNG",
        );
        // Not a number label: "sổ" in running text, "Số" without a colon.
        check("sổ bảo hiểm xã hội số 12", "");
        check("Số lượng: nhiều", "");
    }

    #[test]
    fn reads_places_and_dates() {
        check(
            "Nghệ An, ngày 26 tháng 01 năm 2024",
            "date=2024-01-26; place=Nghệ An",
        );
        check(
            "Độc lập - Tự do - Hạnh phúc Đà Nẵng, ngay 3 thang 5 nam 2019",
            "date=2019-05-03; place=Đà Nẵng",
        );
        // The space after the day lost by OCR (a real phone photo of a Công văn).
        check(
            "Đà Nẵng, ngày 26tháng 7 năm 2020",
            "date=2020-07-26; place=Đà Nẵng",
        );
        check("ban hành 16/5/2019 của Bộ", "date=2019-05-16");
        check("ngày 31 tháng 13 năm 2024", "");
        check("Vinh, ngày 5 tháng 3 năm 1930", "");
    }

    #[test]
    fn reads_headers_titles_and_subjects() {
        check(
            "UBND TỈNH NGHỆ AN\nSỞ TƯ PHÁP\nSố: 15/QĐ-STP\nCỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM\n\
             Độc lập - Tự do - Hạnh phúc\nVinh, ngày 2 tháng 3 năm 2023\nQUYẾT ĐỊNH\n\
             Về việc công nhận hòa giải viên\nCăn cứ Luật Hòa giải ở cơ sở;",
            "number=15/QĐ-STP; serial=15; type_code=QĐ; issuer=STP; type=QĐ; date=2023-03-02; \
             place=Vinh; agency=UBND TỈNH NGHỆ AN / SỞ TƯ PHÁP; subject=công nhận hòa giải viên",
        );
        // The real letter of ../shared/data/scans/cong-van-p1 (ground truth).
        check(
            "UBND THÀNH PHỐ ĐÀ NẴNG\nSỞ GIÁO DỤC VÀ ĐÀO TẠO\nSố: 1906 /SGDĐT-CTrTT\n\
             V/v khẩn trương thực hiện các biện pháp phòng, chống dịch COVID-19\n\
             CỘNG HOÀ XÃ HỘI CHỦ NGHĨA VIỆT NAM\nĐộc lập - Tự do - Hạnh phúc\n\
             Đà Nẵng, ngày 26 tháng 7 năm 2020\nKính gửi:",
            "number=1906/SGDĐT-CTrTT; serial=1906; issuer=SGDĐT-CTrTT; type=CV; date=2020-07-26; \
             place=Đà Nẵng; agency=UBND THÀNH PHỐ ĐÀ NẴNG / SỞ GIÁO DỤC VÀ ĐÀO TẠO; \
             subject=khẩn trương thực hiện các biện pháp phòng, chống dịch COVID-19",
        );
        // OCR read the motto onto the agency's line, dropped marks, and wrapped the subject.
        check(
            "UBND HUYEN NAM ĐÀN CONG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM\nPHÒNG TÀI NGUYÊN VÀ MÔI TRƯỜNG \
             Độc lập - Tự do - Hanh phúc\nSô: 310 /TNMT-ĐĐ\nV/v đề nghị cấp Giấy chứng nhận\n\
             quyền sử dụng đất lần đầu\nNam Đàn, ngày 09 tháng 11 năm 2022\nKính gửi: UBND xã",
            "number=310/TNMT-ĐĐ; serial=310; issuer=TNMT-ĐĐ; type=CV; date=2022-11-09; \
             place=Nam Đàn; agency=UBND HUYEN NAM ĐÀN / PHÒNG TÀI NGUYÊN VÀ MÔI TRƯỜNG; \
             subject=đề nghị cấp Giấy chứng nhận quyền sử dụng đất lần đầu",
        );
        check("BÁO CÁO\nKết quả công tác quý I", "type=BC");
        check(
            "ỦY BAN NHÂN DÂN\nXÃ NGHI PHÚ\nĐƠN ĐĂNG KÝ ĐẤT ĐAI\nKính gửi: UBND xã",
            "agency=ỦY BAN NHÂN DÂN / XÃ NGHI PHÚ",
        );
        check(
            "V/V: tăng cường phòng cháy, chữa cháy",
            "type=CV; subject=tăng cường phòng cháy, chữa cháy",
        );
        check(
            "Vlv triển khai Luật Đất đai 2024\nKính gửi: UBND các huyện",
            "type=CV; subject=triển khai Luật Đất đai 2024",
        );
        // A title word in running text is not a title.
        check("Ủy ban đã nhận báo cáo của Sở", "");
    }

    #[test]
    fn reads_ids_and_parcels() {
        check(
            "CCCD số 040078001122, CMND 186543210; SĐT 0912345678. Thửa đất số 125, tờ bản đồ số 14",
            "ids=040078001122,186543210; parcels=125/14",
        );
        check(
            "thua dat so 7 to ban do so 3; thửa đất số 8, tờ bản đồ số 3",
            "parcels=7/3,8/3",
        );
        check("Số tiền 1234567890123 đồng", "");
    }
}
