//! Classification of a document by sector ("lĩnh vực") and procedure.
//!
//! A multinomial naive Bayes over diacritic-folded syllable unigrams and bigrams
//! ("quyen su dung dat" → `quyen`, `quyen su`, `su dung`, ...). Folding makes a dropped
//! or wrong tone mark — the commonest OCR slip in Vietnamese — invisible to it. It
//! starts from the taxonomy alone: every catalog procedure name is a small example of
//! its sector, so it works with no training data; staff corrections and labeled files
//! add real documents to those counts (`Training`). The taxonomy's phrases and
//! procedure names, found in the text, are strong evidence on top, and they name the
//! procedure. Pure: no I/O.

pub mod metrics;
pub mod taxonomy;

use crate::fold::fold_full;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, HashSet};
pub use taxonomy::{Procedure, Sector, SectorRef, Taxonomy, TaxonomyError};

/// Below this confidence a document is flagged for review by default.
pub const DEFAULT_REVIEW_BELOW: f32 = 0.6;
/// Additive smoothing of feature counts. Small, because the taxonomy's examples are
/// short: with 1.0, smoothing would outweigh everything a small sector has seen.
const SMOOTHING: f64 = 0.05;
/// Features spread almost evenly over the sectors ("cap", "giay") carry no evidence
/// and only dilute the rest; below this information weight they are dropped.
const MIN_INFORMATION: f64 = 0.05;
/// Scale from the mean per-feature log-likelihood to the confidence softmax: chosen so
/// that a clear document lands well above `DEFAULT_REVIEW_BELOW` and a document split
/// between two sectors lands below it (measured on the labeled set, see README).
const CONFIDENCE_SCALE: f64 = 6.0;
/// Score bonus per taxonomy phrase found (distinct phrases, at most `MAX_PHRASES`).
const PHRASE_BONUS: f64 = 0.25;
const MAX_PHRASES: usize = 3;
/// Score bonus for a procedure of the sector named in the text, times its coverage.
const PROCEDURE_BONUS: f64 = 0.6;
/// Share of a procedure's name (up to its first bracket) that must be in the
/// text for the document to be filed under that procedure.
const PROCEDURE_MIN_COVERAGE: f64 = 0.75;
/// The subject line ("V/v ...", "Về việc ...") states what the document is about:
/// its words weigh this many times those of the body, which may touch other matters.
const SUBJECT_BOOST: f64 = 3.0;
/// Less informative weight than this, and no phrase: the document is "khác".
const MIN_EVIDENCE: f64 = 1.5;
/// Each trained document adds this much weight, about what one procedure name adds.
const DOCUMENT_MASS: f64 = 30.0;

/// Who decided a classification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClassSource {
    Model,
    Staff,
}

impl ClassSource {
    pub fn as_str(self) -> &'static str {
        match self {
            ClassSource::Model => "model",
            ClassSource::Staff => "staff",
        }
    }

    /// The stored name back; None for any other value (which a reader must report, not
    /// take for `model`: that would let a model overwrite what staff decided).
    pub fn parse(s: &str) -> Option<ClassSource> {
        match s {
            "model" => Some(ClassSource::Model),
            "staff" => Some(ClassSource::Staff),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Classification {
    /// Sector id (`dat-dai`) and display name (`Đất đai`).
    pub sector: String,
    pub sector_name: String,
    pub procedure_code: Option<String>,
    pub procedure_name: Option<String>,
    /// In [0, 1]: the model's probability of the sector (1 when staff set it).
    pub confidence: f32,
    pub needs_review: bool,
    pub source: ClassSource,
    /// What decided it, for `show`.
    pub reasons: Vec<String>,
}

/// A classification set by staff (`classify set`, the web service's correction form):
/// `sector` by id or name, `procedure` by code or part of its name.
pub fn staff_classification(
    taxonomy: &Taxonomy,
    sector: &str,
    procedure: Option<&str>,
    by: &str,
) -> Result<Classification, CorrectionError> {
    let found = taxonomy
        .find_sector(sector)
        .ok_or_else(|| CorrectionError::NoSector {
            sector: sector.to_owned(),
            known: taxonomy.sector_list(),
        })?;
    let procedure = match procedure.map(str::trim).filter(|p| !p.is_empty()) {
        Some(p) => Some(taxonomy.find_procedure(&found.id, p).ok_or_else(|| {
            CorrectionError::NoProcedure {
                procedure: p.to_owned(),
                sector: found.name.clone(),
            }
        })?),
        None => None,
    };
    Ok(Classification {
        sector: found.id.clone(),
        sector_name: found.name.clone(),
        procedure_code: procedure.map(|p| p.code.clone()),
        procedure_name: procedure.map(|p| p.name.clone()),
        confidence: 1.0,
        needs_review: false,
        source: ClassSource::Staff,
        reasons: vec![format!("set by {by}")],
    })
}

#[derive(Debug, thiserror::Error)]
pub enum CorrectionError {
    #[error("no sector {sector:?} in the taxonomy; sectors: {known}")]
    NoSector { sector: String, known: String },
    #[error("no procedure {procedure:?} in sector {sector}; give its code or more of its name")]
    NoProcedure { procedure: String, sector: String },
}

#[derive(Debug, Clone, Copy)]
pub struct ClassifyConfig {
    /// Documents classified with less confidence are flagged `needs_review`.
    pub review_below: f32,
}

impl Default for ClassifyConfig {
    fn default() -> Self {
        ClassifyConfig {
            review_below: DEFAULT_REVIEW_BELOW,
        }
    }
}

/// Folded syllables of `text`, in runs not crossing punctuation or line ends.
fn spans(text: &str) -> Vec<Vec<String>> {
    fold_full(text)
        .split(|c: char| !(c.is_alphanumeric() || c == ' ' || c == '\t'))
        .map(|span| {
            span.split_whitespace()
                .filter(|w| w.chars().any(char::is_alphabetic))
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .filter(|s| !s.is_empty())
        .collect()
}

/// Unigram and bigram counts of `text`.
pub fn features(text: &str) -> HashMap<String, f64> {
    let mut counts = HashMap::new();
    for span in spans(text) {
        for (i, word) in span.iter().enumerate() {
            *counts.entry(word.clone()).or_insert(0.0) += 1.0;
            if let Some(next) = span.get(i + 1) {
                *counts.entry(format!("{word} {next}")).or_insert(0.0) += 1.0;
            }
        }
    }
    counts
}

/// What the model learned from real documents, per sector: feature weights. Kept in
/// the archive; the taxonomy's own examples are added when the classifier is built, so
/// an edited taxonomy takes effect without retraining.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Training {
    pub description: String,
    /// Documents per sector id.
    pub documents: BTreeMap<String, u64>,
    /// Sector id → feature → weight.
    pub features: BTreeMap<String, HashMap<String, f64>>,
}

impl Training {
    /// Adds one labeled document. Weights are log-scaled term counts (a word repeated
    /// fifty times is not fifty times the evidence), scaled to `DOCUMENT_MASS`.
    pub fn add(&mut self, sector: &str, text: &str) {
        let counts = features(text);
        let total: f64 = counts.values().map(|tf| 1.0 + tf.ln()).sum();
        if total == 0.0 {
            return;
        }
        let into = self.features.entry(sector.to_owned()).or_default();
        for (feature, tf) in counts {
            *into.entry(feature).or_insert(0.0) += (1.0 + tf.ln()) / total * DOCUMENT_MASS;
        }
        *self.documents.entry(sector.to_owned()).or_insert(0) += 1;
    }

    pub fn document_count(&self) -> u64 {
        self.documents.values().sum()
    }
}

/// A procedure name prepared for matching.
struct ProcedureKey {
    sector: usize,
    code: String,
    name: String,
    /// Bigrams of the name up to its first bracket.
    head: Vec<String>,
    /// Bigrams of the whole name.
    all: Vec<String>,
}

/// Per feature: log-probability under each sector, and how informative it is.
struct FeatureStats {
    log_prob: Box<[f32]>,
    information: f32,
}

impl std::fmt::Debug for Classifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Classifier")
            .field("sectors", &self.sectors.len())
            .field("features", &self.stats.len())
            .field("trained_documents", &self.trained_documents)
            .finish()
    }
}

pub struct Classifier {
    sectors: Vec<SectorRef>,
    other: SectorRef,
    stats: HashMap<String, FeatureStats>,
    /// Per sector: (folded phrase with spaces around it, phrase as written).
    phrases: Vec<Vec<(String, String)>>,
    procedures: Vec<ProcedureKey>,
    config: ClassifyConfig,
    trained_documents: u64,
}

fn bigrams(words: &[String]) -> Vec<String> {
    words
        .windows(2)
        .map(|w| format!("{} {}", w[0], w[1]))
        .collect()
}

impl Classifier {
    pub fn new(taxonomy: &Taxonomy, training: Option<&Training>, config: ClassifyConfig) -> Self {
        let n = taxonomy.sectors.len();
        let index: HashMap<&str, usize> = taxonomy
            .sectors
            .iter()
            .enumerate()
            .map(|(i, s)| (s.id.as_str(), i))
            .collect();
        // Counts per feature per sector: the taxonomy's examples, then trained ones.
        let mut counts: HashMap<String, Vec<f64>> = HashMap::new();
        let mut add = |feature: String, sector: usize, weight: f64| {
            counts.entry(feature).or_insert_with(|| vec![0.0; n])[sector] += weight;
        };
        let mut procedures = Vec::new();
        for (i, sector) in taxonomy.sectors.iter().enumerate() {
            for text in sector.phrases.iter().chain(std::iter::once(&sector.name)) {
                for (feature, tf) in features(text) {
                    add(feature, i, tf);
                }
            }
            for p in &sector.procedures {
                for (feature, tf) in features(&p.name) {
                    add(feature, i, tf);
                }
                let head_text = p.name.split(['(', ';']).next().unwrap_or("");
                let head_words: Vec<String> = spans(head_text).concat();
                let all_words: Vec<String> = spans(&p.name).concat();
                if head_words.len() >= 3 {
                    procedures.push(ProcedureKey {
                        sector: i,
                        code: p.code.clone(),
                        name: p.name.clone(),
                        head: bigrams(&head_words),
                        all: bigrams(&all_words),
                    });
                }
            }
        }
        if let Some(training) = training {
            for (sector, features) in &training.features {
                // Sectors dropped from an edited taxonomy: their lessons are ignored.
                let Some(&i) = index.get(sector.as_str()) else {
                    continue;
                };
                for (feature, weight) in features {
                    add(feature.clone(), i, *weight);
                }
            }
        }
        let mut totals = vec![0.0; n];
        for per_sector in counts.values() {
            for (t, c) in totals.iter_mut().zip(per_sector) {
                *t += c;
            }
        }
        let vocabulary = counts.len() as f64;
        let max_entropy = (n as f64).ln();
        let stats = counts
            .into_iter()
            .filter_map(|(feature, per_sector)| {
                let log_prob: Vec<f64> = per_sector
                    .iter()
                    .zip(&totals)
                    .map(|(c, total)| ((c + SMOOTHING) / (total + SMOOTHING * vocabulary)).ln())
                    .collect();
                // Information: 1 − normalized entropy of P(sector | feature).
                let max = log_prob.iter().cloned().fold(f64::MIN, f64::max);
                let p: Vec<f64> = log_prob.iter().map(|l| (l - max).exp()).collect();
                let sum: f64 = p.iter().sum();
                let entropy: f64 = p
                    .iter()
                    .map(|x| x / sum)
                    .filter(|x| *x > 0.0)
                    .map(|x| -x * x.ln())
                    .sum();
                let information = 1.0 - entropy / max_entropy;
                (information >= MIN_INFORMATION).then(|| {
                    (
                        feature,
                        FeatureStats {
                            log_prob: log_prob.iter().map(|&l| l as f32).collect(),
                            information: information as f32,
                        },
                    )
                })
            })
            .collect();
        let phrases = taxonomy
            .sectors
            .iter()
            .map(|s| {
                s.phrases
                    .iter()
                    .map(|p| (format!(" {} ", spans(p).concat().join(" ")), p.clone()))
                    .filter(|(key, _)| key.trim().contains(' '))
                    .collect()
            })
            .collect();
        Classifier {
            sectors: taxonomy
                .sectors
                .iter()
                .map(|s| SectorRef {
                    id: s.id.clone(),
                    name: s.name.clone(),
                })
                .collect(),
            other: taxonomy.other.clone(),
            stats,
            phrases,
            procedures,
            config,
            trained_documents: training.map_or(0, Training::document_count),
        }
    }

    /// Documents the model learned from beyond the taxonomy.
    pub fn trained_documents(&self) -> u64 {
        self.trained_documents
    }

    pub fn classify(&self, text: &str) -> Classification {
        let n = self.sectors.len();
        let doc_spans = spans(text);
        let joined = format!(
            " {} ",
            doc_spans
                .iter()
                .map(|s| s.join(" "))
                .collect::<Vec<_>>()
                .join(" | ")
        );
        let subject = crate::fields::subject(text).unwrap_or_default();
        let subject_spans = spans(&subject);
        let subject_features: HashSet<String> = subject_spans
            .iter()
            .flat_map(|s| s.iter().cloned().chain(bigrams(s)))
            .collect();
        // Naive Bayes: mean log-likelihood per unit of informative weight.
        let mut counts: HashMap<&str, f64> = HashMap::new();
        let mut doc_bigrams: HashSet<String> = HashSet::new();
        let bigram_list: Vec<String> = doc_spans.iter().flat_map(|s| bigrams(s)).collect();
        for word in doc_spans.iter().flatten() {
            *counts.entry(word.as_str()).or_insert(0.0) += 1.0;
        }
        for b in &bigram_list {
            *counts.entry(b.as_str()).or_insert(0.0) += 1.0;
        }
        let mut scores = vec![0.0f64; n];
        let mut evidence = 0.0;
        let mut used: Vec<(&str, f64, &FeatureStats)> = Vec::new();
        for (feature, tf) in &counts {
            if let Some(stats) = self.stats.get(*feature) {
                let boost = if subject_features.contains(*feature) {
                    SUBJECT_BOOST
                } else {
                    1.0
                };
                let weight = (1.0 + tf.ln()) * stats.information as f64 * boost;
                evidence += weight;
                for (s, l) in scores.iter_mut().zip(stats.log_prob.iter()) {
                    *s += weight * *l as f64;
                }
                used.push((feature, weight, stats));
            }
        }
        if evidence > 0.0 {
            for s in &mut scores {
                *s /= evidence;
            }
        }
        doc_bigrams.extend(bigram_list.iter().cloned());
        // Phrases of the taxonomy written in the text.
        let mut found_phrases: Vec<Vec<(String, usize)>> = vec![Vec::new(); n];
        for (i, phrases) in self.phrases.iter().enumerate() {
            for (key, shown) in phrases {
                let times = joined.matches(key.as_str()).count();
                if times > 0 {
                    found_phrases[i].push((shown.clone(), times));
                }
            }
            let distinct = found_phrases[i].len().min(MAX_PHRASES);
            scores[i] += PHRASE_BONUS * distinct as f64;
        }
        // Procedures named in the text: the best per sector adds to its score, twice
        // as much when the subject line names it.
        let subject_bigrams: HashSet<&String> = subject_features
            .iter()
            .filter(|f| f.contains(' '))
            .collect();
        let mut best_procedure: Vec<Option<(&ProcedureKey, f64, usize)>> = vec![None; n];
        let mut in_subject = vec![false; n];
        for p in &self.procedures {
            let covered =
                |grams: &[String]| grams.iter().filter(|g| doc_bigrams.contains(*g)).count();
            let head_coverage = covered(&p.head) as f64 / p.head.len() as f64;
            if head_coverage < PROCEDURE_MIN_COVERAGE {
                continue;
            }
            let named_in_subject = p
                .head
                .iter()
                .filter(|g| subject_bigrams.contains(g))
                .count() as f64
                / p.head.len() as f64
                >= PROCEDURE_MIN_COVERAGE;
            let all_covered = covered(&p.all);
            let better = match best_procedure[p.sector] {
                None => true,
                Some((_, c, a)) => {
                    (named_in_subject, all_covered, head_coverage) > (in_subject[p.sector], a, c)
                }
            };
            if better {
                best_procedure[p.sector] = Some((p, head_coverage, all_covered));
                in_subject[p.sector] = named_in_subject;
            }
        }
        for (i, best) in best_procedure.iter().enumerate() {
            if let Some((_, coverage, _)) = best {
                let boost = if in_subject[i] { 2.0 } else { 1.0 };
                scores[i] += PROCEDURE_BONUS * coverage * boost;
            }
        }
        let any_phrase = found_phrases.iter().any(|f| !f.is_empty());
        let any_procedure = best_procedure.iter().any(Option::is_some);
        if evidence < MIN_EVIDENCE && !any_phrase && !any_procedure {
            return Classification {
                sector: self.other.id.clone(),
                sector_name: self.other.name.clone(),
                procedure_code: None,
                procedure_name: None,
                confidence: 0.0,
                needs_review: true,
                source: ClassSource::Model,
                reasons: vec![format!(
                    "too little text about any sector (evidence {evidence:.1}, at least {MIN_EVIDENCE} needed)"
                )],
            };
        }
        // Softmax over scaled scores gives the confidence.
        let max = scores.iter().cloned().fold(f64::MIN, f64::max);
        let exp: Vec<f64> = scores
            .iter()
            .map(|s| ((s - max) * CONFIDENCE_SCALE).exp())
            .collect();
        let sum: f64 = exp.iter().sum();
        let mut ranked: Vec<usize> = (0..n).collect();
        ranked.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
        let (top, second) = (ranked[0], ranked[1]);
        let confidence = (exp[top] / sum) as f32;
        let mut reasons = Vec::new();
        if !found_phrases[top].is_empty() {
            let list: Vec<String> = found_phrases[top]
                .iter()
                .map(|(p, t)| {
                    if *t > 1 {
                        format!("«{p}» ×{t}")
                    } else {
                        format!("«{p}»")
                    }
                })
                .collect();
            reasons.push(format!("taxonomy phrases: {}", list.join(", ")));
        }
        let procedure = best_procedure[top].map(|(p, coverage, _)| {
            reasons.push(format!(
                "procedure {} «{}»: {:.0}% of its name found",
                p.code,
                p.name,
                coverage * 100.0
            ));
            p
        });
        // The words that most separate the winner from the runner-up.
        used.sort_by(|a, b| {
            let lift = |(_, w, s): &(&str, f64, &FeatureStats)| {
                w * (s.log_prob[top] - s.log_prob[second]) as f64
            };
            lift(b).total_cmp(&lift(a))
        });
        let words: Vec<&str> = used
            .iter()
            .filter(|(_, w, s)| w * ((s.log_prob[top] - s.log_prob[second]) as f64) > 0.0)
            .take(8)
            .map(|(f, _, _)| *f)
            .collect();
        if !words.is_empty() {
            reasons.push(format!("words: {}", words.join(", ")));
        }
        reasons.push(format!(
            "runner-up: {} ({:.2})",
            self.sectors[second].name,
            exp[second] / sum
        ));
        Classification {
            sector: self.sectors[top].id.clone(),
            sector_name: self.sectors[top].name.clone(),
            procedure_code: procedure.map(|p| p.code.clone()),
            procedure_name: procedure.map(|p| p.name.clone()),
            confidence,
            needs_review: confidence < self.config.review_below,
            source: ClassSource::Model,
            reasons,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_two_stored_sources_parse() {
        for source in [ClassSource::Model, ClassSource::Staff] {
            assert_eq!(ClassSource::parse(source.as_str()), Some(source));
        }
        // Anything else is not quietly the model's: staff decisions must stay staff's.
        for other in ["", "Staff", "manual", "model "] {
            assert_eq!(ClassSource::parse(other), None, "{other:?}");
        }
    }

    fn classifier() -> Classifier {
        Classifier::new(&Taxonomy::builtin(), None, ClassifyConfig::default())
    }

    /// The sector (and procedure code, when given) `text` is filed under.
    fn check(text: &str, sector: &str, procedure_name: Option<&str>) {
        let c = classifier().classify(text);
        assert_eq!(c.sector, sector, "{text:?}: {c:?}");
        if let Some(name) = procedure_name {
            assert_eq!(
                c.procedure_name.as_deref().map(fold_full),
                Some(fold_full(name)),
                "{text:?}: {c:?}"
            );
        }
    }

    #[test]
    fn files_documents_by_sector_out_of_the_box() {
        check(
            "V/v cấp Giấy chứng nhận quyền sử dụng đất cho hộ ông Nguyễn Văn An, thửa đất số 125, tờ bản đồ số 14",
            "dat-dai",
            None,
        );
        check(
            "Tờ khai đăng ký khai sinh cho cháu Lê Thị Hoa, cha là Lê Văn Bình, mẹ là Trần Thị Cúc",
            "ho-tich",
            Some("Đăng ký khai sinh"),
        );
        check(
            "Đề nghị cấp giấy phép xây dựng nhà ở riêng lẻ tại phường Hưng Bình",
            "xay-dung",
            None,
        );
        check(
            "Giải quyết hưởng trợ cấp thất nghiệp cho người lao động",
            "bao-hiem-xa-hoi",
            Some("Giải quyết hưởng trợ cấp thất nghiệp"),
        );
        check(
            "Cấp giấy phép lái xe, đăng kiểm phương tiện giao thông đường bộ",
            "giao-thong",
            None,
        );
    }

    #[test]
    fn tone_mark_slips_do_not_flip_the_class() {
        let clean = "Đề nghị cấp Giấy chứng nhận quyền sử dụng đất, giao đất, thuê đất";
        let slipped = "De nghi cáp Giây chưng nhân quyên sư dụng đât, giao đat, thuê dất";
        assert_eq!(classifier().classify(clean).sector, "dat-dai");
        assert_eq!(classifier().classify(slipped).sector, "dat-dai");
    }

    #[test]
    fn text_about_nothing_is_other_and_needs_review() {
        for text in ["", "Trang 2", "12345 ... ---"] {
            let c = classifier().classify(text);
            assert_eq!(c.sector, "khac", "{text:?}");
            assert!(c.needs_review);
        }
    }

    #[test]
    fn training_moves_the_model() {
        let taxonomy = Taxonomy::builtin();
        let text = "Hồ sơ xin cấp phép khai thác cát sỏi lòng sông tại xã Nam Đàn";
        let before = Classifier::new(&taxonomy, None, ClassifyConfig::default()).classify(text);
        let mut training = Training::default();
        for _ in 0..20 {
            training.add("giao-thong", text);
        }
        let after =
            Classifier::new(&taxonomy, Some(&training), ClassifyConfig::default()).classify(text);
        assert_eq!(after.sector, "giao-thong", "before: {before:?}");
        assert!(after.confidence > 0.5, "{after:?}");
    }

    #[test]
    fn explains_itself() {
        let c = classifier().classify("Đăng ký kết hôn có yếu tố nước ngoài, hộ tịch");
        assert!(
            c.reasons.iter().any(|r| r.starts_with("taxonomy phrases")),
            "{c:?}"
        );
        assert!(
            c.reasons.iter().any(|r| r.starts_with("runner-up")),
            "{c:?}"
        );
        assert!((0.0..=1.0).contains(&c.confidence));
    }
}
