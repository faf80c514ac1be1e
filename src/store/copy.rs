//! Moving an archive between backends (`sohoa migrate`): every table that makes the
//! archive, copied row by row with its ids, so that the signed records (which name
//! document ids and times) read exactly as before and `verify` holds on the copy. The
//! search index is not copied: the destination builds its own on first search.
//! Rows stream in batches: memory does not grow with the archive.

use super::StoreError;

/// A column's value, as both backends can hold it.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}

/// What a column holds (booleans are integers in SQLite, booleans in PostgreSQL).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Int,
    Real,
    Text,
    Bool,
    Blob,
}

pub struct Table {
    pub name: &'static str,
    pub columns: &'static [(&'static str, Kind)],
    /// Whether its `id` is generated (the destination's counter then starts after it).
    pub generated_id: bool,
}

use Kind::{Blob, Bool, Int, Real, Text};

/// The archive's tables, parents before children. Not copied: the search-change queue
/// (the destination's index is built afresh) and the job queue (a PostgreSQL archive's
/// work in progress, not part of the archive).
pub const TABLES: &[Table] = &[
    Table {
        name: "runs",
        columns: &[
            ("id", Int),
            ("arguments", Text),
            ("started_at", Text),
            ("finished_at", Text),
            ("status", Text),
            ("pid", Int),
            ("report", Text),
        ],
        generated_id: true,
    },
    Table {
        name: "units",
        columns: &[
            ("code", Text),
            ("name", Text),
            ("parent", Text),
            ("issuers", Text),
        ],
        generated_id: false,
    },
    Table {
        name: "documents",
        columns: &[
            ("id", Int),
            ("run_id", Int),
            ("path", Text),
            ("sha256", Text),
            ("size", Int),
            ("format", Text),
            ("file_mtime", Int),
            ("page_count", Int),
            ("status", Text),
            ("error", Text),
            ("ingested_at", Text),
            ("record_id", Int),
            ("version", Int),
            ("current", Bool),
            ("warnings", Text),
            ("unit", Text),
            ("ocr_pages", Int),
            ("confidence_sum", Real),
            ("low_confidence_pages", Int),
            ("searchable_at", Text),
        ],
        generated_id: true,
    },
    Table {
        name: "pages",
        columns: &[
            ("id", Int),
            ("document_id", Int),
            ("number", Int),
            ("text", Text),
            ("confidence", Real),
            ("width", Int),
            ("height", Int),
            ("dpi", Real),
            ("text_source", Text),
            ("error", Text),
            ("note", Text),
            ("words", Text),
            ("image_sha256", Text),
            ("preparation", Text),
        ],
        generated_id: true,
    },
    Table {
        name: "locations",
        columns: &[
            ("path", Text),
            ("document_id", Int),
            ("size", Int),
            ("mtime", Int),
            ("first_seen_run", Int),
            ("last_seen_run", Int),
            ("gone_run", Int),
        ],
        generated_id: false,
    },
    Table {
        name: "document_fields",
        columns: &[
            ("document_id", Int),
            ("number", Text),
            ("serial", Text),
            ("type_code", Text),
            ("issuer_code", Text),
            ("doc_type", Text),
            ("doc_type_name", Text),
            ("issue_date", Text),
            ("place", Text),
            ("agency", Text),
            ("subject", Text),
            ("citizen_ids", Text),
            ("land_parcels", Text),
            ("signer", Text),
            ("number_read", Text),
        ],
        generated_id: false,
    },
    Table {
        name: "classifications",
        columns: &[
            ("document_id", Int),
            ("sector", Text),
            ("sector_name", Text),
            ("procedure_code", Text),
            ("procedure_name", Text),
            ("confidence", Real),
            ("needs_review", Bool),
            ("source", Text),
            ("reasons", Text),
            ("classified_at", Text),
        ],
        generated_id: false,
    },
    Table {
        name: "reviews",
        columns: &[
            ("document_id", Int),
            ("opened_at", Text),
            ("closed_at", Text),
        ],
        generated_id: false,
    },
    Table {
        name: "rescans",
        columns: &[
            ("document_id", Int),
            ("page", Int),
            ("reason", Text),
            ("by_user", Text),
            ("marked_at", Text),
            ("cleared_at", Text),
        ],
        generated_id: false,
    },
    Table {
        name: "public_verifications",
        columns: &[
            ("day", Text),
            ("document_id", Int),
            ("answer", Text),
            ("answered", Int),
        ],
        generated_id: false,
    },
    Table {
        name: "corrections",
        columns: &[
            ("id", Int),
            ("document_id", Int),
            ("sector", Text),
            ("procedure_code", Text),
            ("previous_sector", Text),
            ("by_user", Text),
            ("at", Text),
        ],
        generated_id: true,
    },
    Table {
        name: "classifier_training",
        columns: &[
            ("id", Int),
            ("created_at", Text),
            ("description", Text),
            ("documents", Int),
            ("counts", Text),
        ],
        generated_id: true,
    },
    Table {
        name: "signing_keys",
        columns: &[
            ("key_id", Text),
            ("public_key", Text),
            ("created_at", Text),
            ("retired_at", Text),
        ],
        generated_id: false,
    },
    Table {
        name: "records",
        columns: &[
            ("leaf", Int),
            ("document_id", Int),
            ("record", Text),
            ("record_hash", Text),
            ("leaf_hash", Text),
            ("code", Text),
            ("key_id", Text),
            ("signature", Text),
            ("logged_at", Text),
        ],
        generated_id: false,
    },
    Table {
        name: "tree_heads",
        columns: &[
            ("tree_size", Int),
            ("root_hash", Text),
            ("timestamp", Text),
            ("key_id", Text),
            ("signature", Text),
        ],
        generated_id: false,
    },
    Table {
        name: "log_frontier",
        columns: &[("id", Int), ("size", Int), ("nodes", Blob)],
        generated_id: false,
    },
    Table {
        name: "users",
        columns: &[
            ("id", Int),
            ("name", Text),
            ("role", Text),
            ("password_hash", Text),
            ("created_at", Text),
        ],
        generated_id: true,
    },
    Table {
        name: "user_units",
        columns: &[("user_id", Int), ("unit", Text)],
        generated_id: false,
    },
    Table {
        name: "sessions",
        columns: &[
            ("token_sha256", Text),
            ("user_id", Int),
            ("csrf", Text),
            ("expires_unix", Int),
        ],
        generated_id: false,
    },
    Table {
        name: "api_tokens",
        columns: &[
            ("id", Int),
            ("token_sha256", Text),
            ("user_id", Int),
            ("label", Text),
            ("created_at", Text),
            ("revoked_at", Text),
        ],
        generated_id: true,
    },
    Table {
        name: "audit_log",
        columns: &[
            ("id", Int),
            ("at", Text),
            ("user_name", Text),
            ("action", Text),
            ("document_id", Int),
            ("detail", Text),
        ],
        generated_id: true,
    },
    Table {
        name: "sign_in_guard",
        columns: &[("name", Text), ("failures", Int), ("locked_until", Int)],
        generated_id: false,
    },
    Table {
        name: "sign_in_addresses",
        columns: &[("name", Text), ("address", Text), ("last_unix", Int)],
        generated_id: false,
    },
];

impl Table {
    /// Whether the first column alone is the table's key (every table but the two
    /// keyed by a pair).
    pub fn unique_first_column(&self) -> bool {
        !matches!(
            self.name,
            "user_units" | "sign_in_addresses" | "rescans" | "public_verifications"
        )
    }

    pub fn column_list(&self) -> String {
        self.columns
            .iter()
            .map(|(c, _)| *c)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// A backend's tables, read and written row by row (`sohoa migrate`).
pub trait Tables {
    /// Whether the archive holds no document, record, run or user (a destination must).
    fn is_empty_archive(&self) -> Result<bool, StoreError>;
    /// Starts the one transaction the whole copy is written in.
    fn begin_copy(&mut self) -> Result<(), StoreError>;
    /// Every row of `table`, in key order.
    fn read_rows(
        &self,
        table: &Table,
        visit: &mut dyn FnMut(Vec<Value>) -> Result<(), StoreError>,
    ) -> Result<(), StoreError>;
    fn write_rows(&mut self, table: &Table, rows: &[Vec<Value>]) -> Result<(), StoreError>;
    /// Ends the copy: generated ids continue after the copied ones; commits.
    fn finish_copy(&mut self) -> Result<(), StoreError>;
}

/// Rows written per statement batch.
const COPY_BATCH: usize = 500;

/// Copies every table of `from` into the empty archive `to`, in one transaction.
/// Returns the rows copied per table.
pub fn copy_archive(
    from: &dyn Tables,
    to: &mut dyn Tables,
) -> Result<Vec<(&'static str, u64)>, StoreError> {
    if !to.is_empty_archive()? {
        return Err(StoreError::Conflict(
            "the destination already holds an archive (documents, records, runs or users); move into an empty database".into(),
        ));
    }
    to.begin_copy()?;
    let mut counts = Vec::new();
    for table in TABLES {
        let mut batch: Vec<Vec<Value>> = Vec::with_capacity(COPY_BATCH);
        let mut copied = 0u64;
        from.read_rows(table, &mut |row| {
            batch.push(row);
            copied += 1;
            if batch.len() == COPY_BATCH {
                to.write_rows(table, &batch)?;
                batch.clear();
            }
            Ok(())
        })?;
        to.write_rows(table, &batch)?;
        counts.push((table.name, copied));
    }
    to.finish_copy()?;
    Ok(counts)
}

/// The SQL that tells whether an archive is empty, the same on both backends.
pub(in crate::store) const EMPTY_ARCHIVE: &str = "SELECT NOT EXISTS (SELECT 1 FROM documents)
    AND NOT EXISTS (SELECT 1 FROM records) AND NOT EXISTS (SELECT 1 FROM runs)
    AND NOT EXISTS (SELECT 1 FROM users)";
