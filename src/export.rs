//! The stable output formats every front end writes (`export`, `show --json`, the JSON
//! API): their types and schema version, kept out of `cli` and `serve` so that neither
//! depends on the other for them.

use crate::store::{Location, StoredDocument};
use serde::Serialize;

/// Version of the `export` and `--json` output schemas; bumped on incompatible change.
pub const OUTPUT_SCHEMA_VERSION: u32 = 1;

/// A document as `export` and `show --json` write it. Documented in README; add
/// fields freely, never rename or remove them without bumping the schema version.
#[derive(Serialize)]
pub struct ExportedDocument {
    pub schema_version: u32,
    /// Every path known to hold the bytes, as people read it ("PATH (gone since run N)"):
    /// schema 1's form, kept.
    pub locations: Vec<String>,
    /// The same, typed: `path` and `gone_since_run` (null while present).
    pub location_details: Vec<Location>,
    #[serde(flatten)]
    pub doc: StoredDocument,
    /// The code of its latest signed record (`show`; `sohoa verify --code`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verification_code: Option<String>,
    /// Each page's words with their boxes (`export --words`, `?words=true`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub layout: Option<Vec<crate::ocr_xml::PageWords>>,
}

impl ExportedDocument {
    pub fn new(doc: StoredDocument) -> ExportedDocument {
        ExportedDocument {
            schema_version: OUTPUT_SCHEMA_VERSION,
            locations: doc.locations.iter().map(ToString::to_string).collect(),
            location_details: doc.locations.clone(),
            doc,
            verification_code: None,
            layout: None,
        }
    }
}
