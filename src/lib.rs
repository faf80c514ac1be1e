//! sohoa ("số hóa", digitization): scanned administrative records in, searchable
//! archive out. See ARCHITECTURE.md for the map.

pub mod authenticity;
pub mod classify;
pub mod cli;
pub mod discover;
pub mod eval;
pub mod export;
pub mod fields;
pub mod filters;
pub mod fold;
pub mod layout;
pub mod load;
pub mod location;
pub mod ocr;
pub mod ocr_xml;
pub mod pipeline;
pub mod prepare;
pub mod query;
pub mod report;
pub mod search;
pub mod searchable_pdf;
pub mod serve;
pub mod snippet;
pub mod store;
pub mod synth;
pub mod units;
