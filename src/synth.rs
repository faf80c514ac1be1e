//! Synthetic archives: Vietnamese administrative documents generated from a seed, for
//! the search benchmark (a million pages, no OCR) and the relevance tests. The same seed
//! gives the same archive. Pure: no I/O.

use crate::classify::{ClassSource, Classification};
use crate::fields::Fields;
use crate::load::TextSource;
use crate::store::{Analysis, NewDocument, NewPage};

/// A small, fast, seedable generator (SplitMix64): reproducible across platforms.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in 0..n.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() <= p
    }

    /// Zipf-like over 0..n: small indexes much more often (rank ~ 1/r).
    pub fn zipf(&mut self, n: usize) -> usize {
        let u = self.unit();
        (((n as f64 + 1.0).powf(u) - 1.0) as usize).min(n - 1)
    }
}

const ONSETS: &[&str] = &[
    "", "b", "c", "ch", "d", "đ", "g", "gi", "h", "k", "kh", "l", "m", "n", "ng", "nh", "ph", "qu",
    "r", "s", "t", "th", "tr", "v", "x",
];
const RHYMES: &[&str] = &[
    "a", "ai", "an", "ang", "anh", "ao", "at", "ay", "âm", "ân", "ât", "ây", "e", "em", "en", "eo",
    "ê", "êm", "ên", "ênh", "êt", "i", "ia", "im", "in", "inh", "it", "o", "oa", "oan", "oang",
    "oc", "oi", "om", "on", "ong", "ô", "ôi", "ôm", "ông", "ơ", "ơi", "ơn", "u", "ua", "ui", "um",
    "un", "ung", "uy", "uyên", "ư", "ưa", "ưng", "ươc", "ương", "ươi",
];
/// Tone marks as combining characters (none, huyền, sắc, hỏi, ngã, nặng).
const TONES: &[&str] = &["", "\u{300}", "\u{301}", "\u{309}", "\u{303}", "\u{323}"];

/// Boilerplate of every administrative text, common ones first (`zipf` picks them
/// often): the worst cases of search, on almost every page.
const PHRASES: &[&str] = &[
    "quyết định",
    "ủy ban nhân dân",
    "theo quy định",
    "tổ chức thực hiện",
    "các cơ quan, đơn vị",
    "trên địa bàn tỉnh",
    "chịu trách nhiệm thi hành",
    "căn cứ Luật",
    "đề nghị",
    "báo cáo kết quả",
    "hồ sơ",
    "thủ tục hành chính",
    "cải cách hành chính",
    "giấy chứng nhận",
    "ngân sách nhà nước",
];
/// Each sector's own phrases (same order as `SECTORS`): common in its documents,
/// rare elsewhere, as in a real archive.
const SECTOR_PHRASES: &[&[&str]] = &[
    &[
        "quyền sử dụng đất",
        "thửa đất",
        "thu hồi đất",
        "bản đồ địa chính",
        "giao đất",
    ],
    &[
        "giấy phép xây dựng",
        "công trình",
        "quy hoạch chi tiết",
        "nghiệm thu",
        "trật tự xây dựng",
    ],
    &[
        "chủ trương đầu tư",
        "nhà đầu tư",
        "vốn đầu tư",
        "khu công nghiệp",
        "ưu đãi đầu tư",
    ],
    &[
        "đăng ký doanh nghiệp",
        "vốn điều lệ",
        "hộ kinh doanh",
        "hợp tác xã",
        "người đại diện",
    ],
    &[
        "đăng ký khai sinh",
        "kết hôn",
        "khai tử",
        "trích lục hộ tịch",
        "cải chính hộ tịch",
    ],
    &[
        "chứng thực bản sao",
        "công chứng",
        "trợ giúp pháp lý",
        "đấu giá tài sản",
        "luật sư",
    ],
    &[
        "an toàn giao thông",
        "giấy phép lái xe",
        "đăng kiểm",
        "vận tải hành khách",
        "quốc lộ",
    ],
    &[
        "bảo hiểm xã hội",
        "lương hưu",
        "trợ cấp thất nghiệp",
        "thai sản",
        "sổ bảo hiểm",
    ],
];
pub const SECTORS: &[(&str, &str)] = &[
    ("dat-dai", "Đất đai"),
    ("xay-dung", "Xây dựng"),
    ("dau-tu", "Đầu tư"),
    ("doanh-nghiep", "Đăng ký doanh nghiệp"),
    ("ho-tich", "Hộ tịch"),
    ("tu-phap", "Tư pháp - Chứng thực"),
    ("giao-thong", "Giao thông vận tải"),
    ("bao-hiem-xa-hoi", "Bảo hiểm xã hội"),
];
const AGENCIES: &[&str] = &[
    "UBND TỈNH NGHỆ AN / SỞ TÀI NGUYÊN VÀ MÔI TRƯỜNG",
    "UBND TỈNH NGHỆ AN / SỞ XÂY DỰNG",
    "UBND TỈNH NGHỆ AN / SỞ KẾ HOẠCH VÀ ĐẦU TƯ",
    "UBND TỈNH NGHỆ AN / SỞ TƯ PHÁP",
    "UBND TỈNH NGHỆ AN / SỞ GIAO THÔNG VẬN TẢI",
    "BẢO HIỂM XÃ HỘI TỈNH NGHỆ AN",
    "UBND HUYỆN NAM ĐÀN / UBND XÃ NAM GIANG",
    "UBND THÀNH PHỐ VINH",
];
const TYPES: &[(&str, &str, &str)] = &[
    ("QĐ", "Quyết định", "QUYẾT ĐỊNH"),
    ("CV", "Công văn", ""),
    ("BC", "Báo cáo", "BÁO CÁO"),
    ("TB", "Thông báo", "THÔNG BÁO"),
    ("TTr", "Tờ trình", "TỜ TRÌNH"),
    ("KH", "Kế hoạch", "KẾ HOẠCH"),
];

/// A syllable from the generated lexicon: `index` picks onset, rhyme and tone.
pub fn syllable(index: usize) -> String {
    use unicode_normalization::UnicodeNormalization;
    let onset = ONSETS[index % ONSETS.len()];
    let rest = index / ONSETS.len();
    let rhyme = RHYMES[rest % RHYMES.len()];
    let tone = TONES[(rest / RHYMES.len()) % TONES.len()];
    // The tone goes on the rhyme's first vowel.
    let mut out = String::from(onset);
    let mut placed = false;
    for c in rhyme.chars() {
        out.push(c);
        if !placed {
            out.push_str(tone);
            placed = true;
        }
    }
    out.nfc().collect()
}

/// How many distinct syllables `syllable` can make.
pub fn lexicon_size() -> usize {
    ONSETS.len() * RHYMES.len() * TONES.len()
}

/// Every syllable of the lexicon, made once (NFC composition is not free).
fn lexicon() -> &'static [String] {
    static LEXICON: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    LEXICON.get_or_init(|| (0..lexicon_size()).map(syllable).collect())
}

/// One page of prose about sector `sector` (an index into `SECTORS`): boilerplate, the
/// sector's phrases and Zipf-distributed syllables, about `chars` long.
pub fn page_text(rng: &mut Rng, sector: usize, chars: usize) -> String {
    let lexicon = lexicon();
    let mut text = String::with_capacity(chars + 64);
    while text.len() < chars {
        if rng.chance(0.2) {
            text.push_str(PHRASES[rng.zipf(PHRASES.len())]);
        } else if rng.chance(0.12) {
            // Mostly the document's own sector; now and then another's.
            let s = if rng.chance(0.9) {
                sector
            } else {
                rng.below(SECTOR_PHRASES.len())
            };
            text.push_str(SECTOR_PHRASES[s][rng.below(SECTOR_PHRASES[s].len())]);
        } else {
            let words = 2 + rng.below(4);
            for w in 0..words {
                if w > 0 {
                    text.push(' ');
                }
                text.push_str(&lexicon[rng.zipf(lexicon.len())]);
            }
        }
        text.push_str(if rng.chance(0.15) { ".\n" } else { ", " });
    }
    text
}

/// A synthetic document of 1–5 pages with fields and a classification, stored without
/// OCR (`TextSource::TextLayer`). Pages are about `page_chars` long.
pub fn document(rng: &mut Rng, index: u64, page_chars: usize) -> NewDocument {
    let sector_index = rng.below(SECTORS.len());
    let sector = SECTORS[sector_index];
    let (code, type_name, title) = *rng.pick(TYPES);
    let agency = *rng.pick(AGENCIES);
    let serial = 1 + rng.below(3000);
    let number = if code == "CV" {
        format!("{serial}/UBND-VP")
    } else {
        format!("{serial}/{code}-UBND")
    };
    let (year, month, day) = (2010 + rng.below(16), 1 + rng.below(12), 1 + rng.below(28));
    let date = format!("{year:04}-{month:02}-{day:02}");
    let pages = 1 + rng.below(5);
    let mut doc = NewDocument::at(format!("/synthetic/{index:08}.pdf"));
    doc.sha256 = Some(format!("{index:064x}"));
    doc.size = Some(1);
    doc.format = Some("pdf".into());
    for number_on in 1..=pages {
        let mut text = String::new();
        if number_on == 1 {
            let (upper, lower) = agency.split_once(" / ").unwrap_or((agency, ""));
            text.push_str(&format!(
                "{upper}\n{lower}\nSố: {number}\nCỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM\nĐộc lập - Tự do - Hạnh phúc\nNghệ An, ngày {day} tháng {month} năm {year}\n{title}\n"
            ));
        }
        text.push_str(&page_text(rng, sector_index, page_chars));
        doc.pages.push(NewPage {
            number: number_on as u32,
            text,
            confidence: None,
            width: None,
            height: None,
            dpi: None,
            source: TextSource::TextLayer,
            error: None,
            note: None,
            words: Vec::new(),
            image_sha256: None,
            preparation: None,
        });
    }
    doc.analysis = Some(Analysis {
        fields: Fields {
            number: Some(number.clone()),
            serial: Some(serial.to_string()),
            type_code: (code != "CV").then(|| code.to_owned()),
            issuer_code: Some("UBND".into()),
            doc_type: Some(code.to_owned()),
            doc_type_name: Some(type_name.to_owned()),
            date: Some(date),
            place: Some("Nghệ An".into()),
            agency: Some(agency.to_owned()),
            subject: None,
            citizen_ids: Vec::new(),
            land_parcels: Vec::new(),
            signer: None,
            number_read: None,
        },
        classification: Classification {
            sector: sector.0.to_owned(),
            sector_name: sector.1.to_owned(),
            procedure_code: None,
            procedure_name: None,
            confidence: 0.9,
            needs_review: false,
            source: ClassSource::Model,
            reasons: Vec::new(),
        },
    });
    doc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_archive() {
        let a: Vec<String> = (0..5)
            .map(|i| document(&mut Rng::new(7), i, 400).pages[0].text.clone())
            .collect();
        let b: Vec<String> = (0..5)
            .map(|i| document(&mut Rng::new(7), i, 400).pages[0].text.clone())
            .collect();
        assert_eq!(a, b);
        assert!(a[0].contains("Số: "), "{}", a[0]);
    }

    #[test]
    fn lexicon_is_vietnamese_syllables() {
        assert_eq!(syllable(0), "a");
        let all: std::collections::HashSet<String> = (0..lexicon_size()).map(syllable).collect();
        assert!(all.len() > lexicon_size() * 9 / 10, "mostly distinct");
        assert!(all.contains("quyết") || all.contains("đất") || all.contains("thành"));
    }
}
