//! The one filter type every front end shares: the command line's flags
//! (`--sector`, `--type`, …), the web form's and the JSON API's query parameters
//! (`sector=`, `type=`, …), the inline syntax (`sector:dat-dai`), and the store's
//! search spec. As typed, the values are what a person wrote ("Đất đai", "Quyết
//! định"); `search::resolve` checks them and returns the same type holding stored
//! values (a sector id, a procedure code, a type code).

use serde::Deserialize;

/// Narrowing a search by fields and classification.
#[derive(clap::Args, Deserialize, Debug, Clone, Default, PartialEq, Eq)]
pub struct Filters {
    /// Sector id or name, with or without marks: dat-dai, "Đất đai", "ho tich".
    #[arg(long)]
    pub sector: Option<String>,
    /// Procedure code, or part of its name.
    #[arg(long)]
    pub procedure: Option<String>,
    /// Document type code or name: QĐ, CV, BC, "Tờ trình", ...
    #[arg(long = "type", value_name = "TYPE")]
    #[serde(rename = "type")]
    pub doc_type: Option<String>,
    /// Document number, whole ("02-BC/BCĐ") or without the issuer ("02-BC").
    #[arg(long)]
    pub number: Option<String>,
    /// Part of the issuing agency's name, with or without marks.
    #[arg(long)]
    pub agency: Option<String>,
    /// A citizen ID number (12-digit CCCD or 9-digit CMND) the document mentions.
    #[arg(long = "id", value_name = "NUMBER")]
    #[serde(rename = "id")]
    pub citizen_id: Option<String>,
    /// Issued on or after: YYYY, YYYY-MM or YYYY-MM-DD.
    #[arg(long, value_name = "DATE")]
    pub from: Option<String>,
    /// Issued on or before: YYYY, YYYY-MM or YYYY-MM-DD.
    #[arg(long, value_name = "DATE")]
    pub to: Option<String>,
    /// Only documents flagged for review.
    #[arg(long)]
    // The web has its review queue page for this; a query string never sets it.
    #[serde(skip)]
    pub needs_review: bool,
}

impl Filters {
    /// The text-valued filters by the name the web and the inline syntax give them.
    pub fn named(&self) -> [(&'static str, &Option<String>); 8] {
        [
            ("sector", &self.sector),
            ("type", &self.doc_type),
            ("procedure", &self.procedure),
            ("number", &self.number),
            ("agency", &self.agency),
            ("id", &self.citizen_id),
            ("from", &self.from),
            ("to", &self.to),
        ]
    }

    /// The slot a name of [`Filters::named`] fills.
    pub fn slot(&mut self, name: &str) -> Option<&mut Option<String>> {
        Some(match name {
            "sector" => &mut self.sector,
            "type" => &mut self.doc_type,
            "procedure" => &mut self.procedure,
            "number" => &mut self.number,
            "agency" => &mut self.agency,
            "id" => &mut self.citizen_id,
            "from" => &mut self.from,
            "to" => &mut self.to,
            _ => return None,
        })
    }

    /// The same filters with blank values dropped: a form's empty field means "no filter".
    pub fn without_blanks(&self) -> Filters {
        let mut out = Filters {
            needs_review: self.needs_review,
            ..Filters::default()
        };
        for (name, value) in self.named() {
            let given = value.as_deref().map(str::trim).filter(|v| !v.is_empty());
            if let (Some(v), Some(slot)) = (given, out.slot(name)) {
                *slot = Some(v.to_owned());
            }
        }
        out
    }

    pub fn is_empty(&self) -> bool {
        !self.needs_review && self.named().iter().all(|(_, v)| v.is_none())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_named_filter_has_its_slot_and_blanks_are_dropped() {
        let mut filters = Filters::default();
        let names: Vec<&str> = filters.named().iter().map(|(n, _)| *n).collect();
        for name in &names {
            *filters.slot(name).unwrap() = Some(format!(" {name} "));
        }
        for (name, value) in filters.named() {
            assert_eq!(value.as_deref(), Some(format!(" {name} ").as_str()));
        }
        assert!(filters.slot("date").is_none());
        let trimmed = filters.without_blanks();
        assert_eq!(trimmed.sector.as_deref(), Some("sector"));
        *filters.slot("agency").unwrap() = Some("  ".into());
        assert_eq!(filters.without_blanks().agency, None);
        assert!(!filters.is_empty());
        assert!(Filters::default().is_empty());
        let review = Filters {
            needs_review: true,
            ..Filters::default()
        };
        assert!(!review.is_empty());
    }

    #[test]
    fn a_query_string_fills_the_same_fields_as_the_flags() {
        let from_web: Filters =
            serde_urlencoded::from_str("sector=dat-dai&type=QĐ&id=040078001122&to=2024").unwrap();
        assert_eq!(from_web.sector.as_deref(), Some("dat-dai"));
        assert_eq!(from_web.doc_type.as_deref(), Some("QĐ"));
        assert_eq!(from_web.citizen_id.as_deref(), Some("040078001122"));
        assert_eq!(from_web.to.as_deref(), Some("2024"));
        assert!(!from_web.needs_review);
    }
}
