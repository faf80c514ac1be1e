//! Accuracy, per-class precision/recall/F1, macro-F1 and the confusion matrix, and
//! the evaluation of classification and fields against a labeled set.

use super::Classifier;
use crate::fields::Fields;
use crate::fold::fold_full;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One line of a labeled file (`classify eval`, `classify train --labeled`).
#[derive(Debug, Clone, Deserialize)]
pub struct LabeledDocument {
    #[serde(default)]
    pub id: Option<String>,
    pub text: String,
    /// Sector id or name.
    pub sector: String,
    /// Procedure code, when the document names one.
    #[serde(default)]
    pub procedure: Option<String>,
    #[serde(default)]
    pub fields: Option<ExpectedFields>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct ExpectedFields {
    pub number: Option<String>,
    #[serde(rename = "type")]
    pub doc_type: Option<String>,
    pub date: Option<String>,
    pub place: Option<String>,
    pub agency: Option<String>,
    pub subject: Option<String>,
    pub citizen_ids: Option<Vec<String>>,
    pub land_parcels: Option<Vec<(String, String)>>,
}

/// Field names in report order.
pub const FIELD_NAMES: &[&str] = &[
    "number",
    "type",
    "date",
    "place",
    "agency",
    "subject",
    "citizen_ids",
    "land_parcels",
];

/// Exact match, up to what a reader ignores: case, marks, `đ`, spacing. "1234 /QD-UBND"
/// is the number "1234/QĐ-UBND"; a different digit is not.
fn same_text(expected: &str, got: Option<&str>, ignore_spaces: bool) -> bool {
    let key = |s: &str| {
        let folded = fold_full(s);
        if ignore_spaces {
            folded.split_whitespace().collect::<String>()
        } else {
            folded.split_whitespace().collect::<Vec<_>>().join(" ")
        }
    };
    got.is_some_and(|g| key(g) == key(expected))
}

/// For each field the labeled document states, whether `got` has it right.
pub fn field_matches(expected: &ExpectedFields, got: &Fields) -> Vec<(&'static str, bool)> {
    let mut out = Vec::new();
    if let Some(n) = &expected.number {
        out.push(("number", same_text(n, got.number.as_deref(), true)));
    }
    if let Some(t) = &expected.doc_type {
        out.push(("type", got.doc_type.as_deref() == Some(t.as_str())));
    }
    if let Some(d) = &expected.date {
        out.push(("date", got.date.as_deref() == Some(d.as_str())));
    }
    if let Some(p) = &expected.place {
        out.push(("place", same_text(p, got.place.as_deref(), false)));
    }
    if let Some(a) = &expected.agency {
        out.push(("agency", same_text(a, got.agency.as_deref(), false)));
    }
    if let Some(s) = &expected.subject {
        out.push(("subject", same_text(s, got.subject.as_deref(), false)));
    }
    if let Some(ids) = &expected.citizen_ids {
        out.push(("citizen_ids", &got.citizen_ids == ids));
    }
    if let Some(parcels) = &expected.land_parcels {
        out.push(("land_parcels", &got.land_parcels == parcels));
    }
    out
}

/// Results of a labeled set.
#[derive(Debug, Default)]
pub struct Evaluation {
    pub sectors: Confusion,
    /// Documents naming a procedure, and how many were filed under the right one.
    pub procedures_total: u64,
    pub procedures_right: u64,
    /// Field → (right, stated).
    pub fields: BTreeMap<&'static str, (u64, u64)>,
    pub flagged_for_review: u64,
    /// Flagged documents whose sector was in fact wrong, and wrong ones not flagged.
    pub flagged_wrong: u64,
    pub unflagged_wrong: u64,
    /// One line per mistake: document id, what was expected, what was found.
    pub mistakes: Vec<String>,
}

impl Evaluation {
    /// Scores one document. `truth` is the sector id the label resolved to.
    pub fn add(&mut self, classifier: &Classifier, doc: &LabeledDocument, truth: &str) {
        let c = classifier.classify(&doc.text);
        self.sectors.add(truth, &c.sector);
        let wrong = c.sector != truth;
        if c.needs_review {
            self.flagged_for_review += 1;
            self.flagged_wrong += u64::from(wrong);
        } else {
            self.unflagged_wrong += u64::from(wrong);
        }
        let id = doc.id.as_deref().unwrap_or("?");
        if wrong {
            self.mistakes.push(format!(
                "{id}: sector {truth}, classified {} ({:.2})",
                c.sector, c.confidence
            ));
        }
        if let Some(p) = &doc.procedure {
            self.procedures_total += 1;
            let right = c.procedure_code.as_deref() == Some(p.as_str());
            self.procedures_right += u64::from(right);
            if !right {
                self.mistakes.push(format!(
                    "{id}: procedure {p}, found {}",
                    c.procedure_code.as_deref().unwrap_or("none")
                ));
            }
        }
        if let Some(expected) = &doc.fields {
            let got = crate::fields::extract(&doc.text);
            for (name, right) in field_matches(expected, &got) {
                let entry = self.fields.entry(name).or_insert((0, 0));
                entry.0 += u64::from(right);
                entry.1 += 1;
                if !right {
                    self.mistakes
                        .push(format!("{id}: field {name} wrong: read {got:?}"));
                }
            }
        }
    }
}

#[derive(Debug, Default, Clone)]
pub struct Confusion {
    /// (true label, predicted label) → count.
    cells: BTreeMap<(String, String), u64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ClassScore {
    pub label: String,
    pub support: u64,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
}

impl Confusion {
    pub fn add(&mut self, truth: &str, predicted: &str) {
        *self
            .cells
            .entry((truth.to_owned(), predicted.to_owned()))
            .or_insert(0) += 1;
    }

    pub fn total(&self) -> u64 {
        self.cells.values().sum()
    }

    pub fn accuracy(&self) -> f64 {
        let right: u64 = self
            .cells
            .iter()
            .filter(|((t, p), _)| t == p)
            .map(|(_, n)| n)
            .sum();
        ratio(right, self.total())
    }

    /// Every label seen as truth or prediction, sorted.
    pub fn labels(&self) -> Vec<String> {
        let mut labels: Vec<String> = self
            .cells
            .keys()
            .flat_map(|(t, p)| [t.clone(), p.clone()])
            .collect();
        labels.sort();
        labels.dedup();
        labels
    }

    pub fn count(&self, truth: &str, predicted: &str) -> u64 {
        self.cells
            .get(&(truth.to_owned(), predicted.to_owned()))
            .copied()
            .unwrap_or(0)
    }

    pub fn per_class(&self) -> Vec<ClassScore> {
        self.labels()
            .into_iter()
            .map(|label| {
                let tp = self.count(&label, &label);
                let actual: u64 = self
                    .cells
                    .iter()
                    .filter(|((t, _), _)| *t == label)
                    .map(|(_, n)| n)
                    .sum();
                let predicted: u64 = self
                    .cells
                    .iter()
                    .filter(|((_, p), _)| *p == label)
                    .map(|(_, n)| n)
                    .sum();
                let precision = ratio(tp, predicted);
                let recall = ratio(tp, actual);
                let f1 = if precision + recall > 0.0 {
                    2.0 * precision * recall / (precision + recall)
                } else {
                    0.0
                };
                ClassScore {
                    label,
                    support: actual,
                    precision,
                    recall,
                    f1,
                }
            })
            .collect()
    }

    /// Mean F1 over the classes that occur in the truth (a class only ever predicted
    /// wrongly scores 0 through the precision of the others, not as a class of its own).
    pub fn macro_f1(&self) -> f64 {
        let scores: Vec<f64> = self
            .per_class()
            .iter()
            .filter(|c| c.support > 0)
            .map(|c| c.f1)
            .collect();
        if scores.is_empty() {
            0.0
        } else {
            scores.iter().sum::<f64>() / scores.len() as f64
        }
    }
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_a_small_confusion() {
        let mut c = Confusion::default();
        for (t, p) in [("a", "a"), ("a", "a"), ("a", "b"), ("b", "b"), ("c", "b")] {
            c.add(t, p);
        }
        assert!((c.accuracy() - 0.6).abs() < 1e-9);
        let per: BTreeMap<String, f64> =
            c.per_class().into_iter().map(|s| (s.label, s.f1)).collect();
        // a: p 1, r 2/3 → 0.8; b: p 1/3, r 1 → 0.5; c: 0.
        assert!((per["a"] - 0.8).abs() < 1e-9);
        assert!((per["b"] - 0.5).abs() < 1e-9);
        assert_eq!(per["c"], 0.0);
        assert!((c.macro_f1() - 1.3 / 3.0).abs() < 1e-9);
    }
}
