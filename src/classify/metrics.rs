//! Accuracy, per-class precision/recall/F1, macro-F1 and the confusion matrix.

use serde::Serialize;
use std::collections::BTreeMap;

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
        let per: BTreeMap<String, f64> = c.per_class().into_iter().map(|s| (s.label, s.f1)).collect();
        // a: p 1, r 2/3 → 0.8; b: p 1/3, r 1 → 0.5; c: 0.
        assert!((per["a"] - 0.8).abs() < 1e-9);
        assert!((per["b"] - 0.5).abs() < 1e-9);
        assert_eq!(per["c"], 0.0);
        assert!((c.macro_f1() - 1.3 / 3.0).abs() < 1e-9);
    }
}
