//! The procedure taxonomy: sectors ("lĩnh vực"), their key phrases and procedures.
//!
//! The default ships as `taxonomy.json` beside this file, generated from a province's
//! official procedure catalog by `scripts/taxonomy.py`; `--taxonomy FILE` replaces it.

use crate::fold::fold_full;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use thiserror::Error;

/// The shipped taxonomy, embedded so that the binary works from anywhere.
pub const DEFAULT_TAXONOMY: &str = include_str!("taxonomy.json");

#[derive(Debug, Error)]
pub enum TaxonomyError {
    #[error("taxonomy {origin}: {source}")]
    Parse {
        origin: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("taxonomy {origin}: {reason}")]
    Invalid { origin: String, reason: String },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Taxonomy {
    #[serde(default)]
    pub about: String,
    /// The sector of documents that match none ("khác").
    pub other: SectorRef,
    pub sectors: Vec<Sector>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SectorRef {
    pub id: String,
    pub name: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Sector {
    pub id: String,
    pub name: String,
    /// The catalog's sector spellings grouped here (documentation only).
    #[serde(default)]
    pub catalog_sectors: Vec<String>,
    /// Phrases that, written in a document, are strong evidence for this sector.
    #[serde(default)]
    pub phrases: Vec<String>,
    #[serde(default)]
    pub procedures: Vec<Procedure>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Procedure {
    pub code: String,
    pub name: String,
}

impl Taxonomy {
    pub fn builtin() -> Taxonomy {
        Taxonomy::parse(DEFAULT_TAXONOMY, "(built in)").expect("the shipped taxonomy is valid")
    }

    pub fn parse(json: &str, origin: &str) -> Result<Taxonomy, TaxonomyError> {
        let taxonomy: Taxonomy =
            serde_json::from_str(json).map_err(|source| TaxonomyError::Parse {
                origin: origin.to_owned(),
                source,
            })?;
        let invalid = |reason: String| TaxonomyError::Invalid {
            origin: origin.to_owned(),
            reason,
        };
        if taxonomy.sectors.len() < 2 {
            return Err(invalid("needs at least two sectors".into()));
        }
        let mut ids = HashSet::new();
        ids.insert(taxonomy.other.id.as_str());
        for sector in &taxonomy.sectors {
            if sector.id.trim().is_empty() || sector.name.trim().is_empty() {
                return Err(invalid("a sector has an empty id or name".into()));
            }
            if !ids.insert(sector.id.as_str()) {
                return Err(invalid(format!("sector id {:?} appears twice", sector.id)));
            }
            if sector.phrases.is_empty() && sector.procedures.is_empty() {
                return Err(invalid(format!(
                    "sector {:?} has neither phrases nor procedures to recognize it by",
                    sector.id
                )));
            }
        }
        Ok(taxonomy)
    }

    /// A sector by id or name, with or without marks, case-insensitive; the "other"
    /// sector included. Unique prefixes of the id or folded name also match.
    pub fn find_sector(&self, wanted: &str) -> Option<SectorRef> {
        let key = fold_full(wanted.trim());
        let all = self
            .sectors
            .iter()
            .map(|s| SectorRef {
                id: s.id.clone(),
                name: s.name.clone(),
            })
            .chain(std::iter::once(self.other.clone()));
        let candidates: Vec<SectorRef> = all.collect();
        if let Some(exact) = candidates
            .iter()
            .find(|s| s.id == key || fold_full(&s.name) == key)
        {
            return Some(exact.clone());
        }
        let prefixed: Vec<&SectorRef> = candidates
            .iter()
            .filter(|s| s.id.starts_with(&key) || fold_full(&s.name).starts_with(&key))
            .collect();
        (prefixed.len() == 1 && !key.is_empty()).then(|| prefixed[0].clone())
    }

    /// A procedure of `sector` by code, or by its name (folded, containing `wanted`).
    pub fn find_procedure(&self, sector: &str, wanted: &str) -> Option<&Procedure> {
        let procedures = &self.sectors.iter().find(|s| s.id == sector)?.procedures;
        if let Some(p) = procedures.iter().find(|p| p.code == wanted.trim()) {
            return Some(p);
        }
        let key = fold_full(wanted.trim());
        if key.is_empty() {
            return None;
        }
        procedures
            .iter()
            .find(|p| fold_full(&p.name) == key)
            .or_else(|| {
                let mut matching = procedures
                    .iter()
                    .filter(|p| fold_full(&p.name).contains(&key));
                let first = matching.next()?;
                matching.next().is_none().then_some(first)
            })
    }

    /// Names of every sector, for error messages.
    pub fn sector_list(&self) -> String {
        self.sectors
            .iter()
            .map(|s| format!("{} ({})", s.id, s.name))
            .chain(std::iter::once(format!(
                "{} ({})",
                self.other.id, self.other.name
            )))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_taxonomy_covers_the_issue_sectors() {
        let t = Taxonomy::builtin();
        assert!(t.sectors.len() >= 12);
        for name in [
            "Đất đai",
            "Đầu tư",
            "Xây dựng",
            "Bảo hiểm xã hội",
            "Hộ tịch",
            "Đăng ký doanh nghiệp",
            "Giao thông vận tải",
            "Tư pháp - Chứng thực",
        ] {
            assert!(t.find_sector(name).is_some(), "{name} missing");
        }
        assert_eq!(t.find_sector("dat dai").unwrap().id, "dat-dai");
        assert_eq!(t.find_sector("HỘ TỊCH").unwrap().id, "ho-tich");
        assert_eq!(t.find_sector("khac").unwrap().id, "khac");
        assert!(t.find_sector("nowhere").is_none());
        let birth = t.find_procedure("ho-tich", "đăng ký khai sinh").unwrap();
        assert_eq!(fold_full(&birth.name), "dang ky khai sinh");
    }

    #[test]
    fn rejects_broken_taxonomies() {
        let bad = [
            "not json",
            r#"{"other": {"id": "khac", "name": "Khác"}, "sectors": []}"#,
            r#"{"other": {"id": "khac", "name": "Khác"}, "sectors": [
                {"id": "a", "name": "A", "phrases": ["x y"]},
                {"id": "a", "name": "B", "phrases": ["z w"]}]}"#,
            r#"{"other": {"id": "khac", "name": "Khác"}, "sectors": [
                {"id": "a", "name": "A", "phrases": ["x y"]},
                {"id": "b", "name": "B"}]}"#,
        ];
        for json in bad {
            assert!(Taxonomy::parse(json, "test").is_err(), "accepted {json}");
        }
    }
}
