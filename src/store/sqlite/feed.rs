//! The change feed in SQLite: `search_changes`, a row per change queued in the
//! transaction that makes it, and the query that reads a document as the index holds it.

use crate::store::StoreError;
use crate::store::feed::{ChangeFeed, ChangePosition, IndexRow};
use crate::store::index::IndexDoc;
use crate::store::reports::{Dialect, MARK_SEARCHABLE};
use rusqlite::{Connection, OptionalExtension};

/// The feed of one connection (inside a transaction, the transaction's view).
pub(super) struct SqliteFeed<'a>(pub(super) &'a Connection);

impl ChangeFeed for SqliteFeed<'_> {
    fn changes(&self) -> Result<Vec<(ChangePosition, i64)>, StoreError> {
        Ok(self
            .0
            .prepare_cached("SELECT seq, document_id FROM search_changes ORDER BY seq")?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?)
    }

    fn latest_change(&self) -> Result<ChangePosition, StoreError> {
        Ok(self.0.query_row(
            "SELECT COALESCE(MAX(seq), 0) FROM search_changes",
            [],
            |r| r.get(0),
        )?)
    }

    fn forget_changes(&self, through: ChangePosition) -> Result<(), StoreError> {
        // Applied to the index: searchable from now.
        self.0
            .prepare_cached(&Dialect::Sqlite.spell(MARK_SEARCHABLE))?
            .execute([through])?;
        self.0
            .execute("DELETE FROM search_changes WHERE seq <= ?1", [through])?;
        Ok(())
    }

    fn queue_every_document(&self) -> Result<(), StoreError> {
        self.0.execute(
            "INSERT INTO search_changes (document_id) SELECT id FROM documents",
            [],
        )?;
        Ok(())
    }

    fn index_doc(&self, id: i64) -> Result<Option<IndexDoc>, StoreError> {
        Ok(self
            .0
            .prepare_cached(&format!("{INDEX_ROW} AND d.id = ?1"))?
            .query_row([id], index_row)
            .optional()?)
    }

    fn each_index_doc(
        &self,
        each: &mut dyn FnMut(IndexDoc) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        // One statement streams every document: no query per document.
        let mut statement = self.0.prepare(&format!("{INDEX_ROW} ORDER BY d.id"))?;
        let mut rows = statement.query([])?;
        while let Some(row) = rows.next()? {
            each(index_row(row)?)?;
        }
        Ok(())
    }
}

/// What the index needs of visible documents, one row each: the pages (number and
/// text, as JSON) and the indexed fields and classification, for `IndexDoc::new`.
const INDEX_ROW: &str = "SELECT d.id,
        (SELECT json_group_array(json_array(p.number, p.text)) FROM pages p
         WHERE p.document_id = d.id),
        f.document_id IS NOT NULL, f.doc_type, f.number, f.agency, f.issue_date, f.citizen_ids,
        c.sector, c.procedure_code, c.needs_review, d.unit
    FROM documents d
    LEFT JOIN document_fields f ON f.document_id = d.id
    LEFT JOIN classifications c ON c.document_id = d.id
    WHERE d.current = 1 AND d.status IN ('ok', 'partial')";

/// A row of `INDEX_ROW` as the index holds it (`IndexRow`, shared by the backends).
fn index_row(r: &rusqlite::Row) -> rusqlite::Result<IndexDoc> {
    let row = IndexRow {
        id: r.get(0)?,
        pages_json: r.get(1)?,
        has_fields: r.get(2)?,
        doc_type: r.get(3)?,
        number: r.get(4)?,
        agency: r.get(5)?,
        date: r.get(6)?,
        citizen_ids_json: r.get(7)?,
        sector: r.get(8)?,
        procedure_code: r.get(9)?,
        needs_review: r.get(10)?,
        unit: r.get(11)?,
    };
    row.into_index_doc().map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(1, rusqlite::types::Type::Text, e.into())
    })
}
