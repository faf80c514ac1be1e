//! The write path: a document stored in one transaction (pages, fields, its location,
//! the versions it supersedes or replaces) and queued for the search index in that same
//! transaction.

use super::rows::{to_json, write_classification, write_fields};
use crate::store::reports::PageQuality;
use crate::store::{NewDocument, StoreError, Stored};
use rusqlite::{Connection, OptionalExtension, params};

pub(super) fn upsert_location(
    conn: &Connection,
    run: i64,
    path: &str,
    document_id: i64,
    size: Option<u64>,
    mtime: Option<i64>,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO locations (path, document_id, size, mtime, first_seen_run, last_seen_run)
         VALUES (?1, ?2, ?3, ?4, ?5, ?5)
         ON CONFLICT (path) DO UPDATE SET document_id = excluded.document_id, size = excluded.size,
             mtime = excluded.mtime, last_seen_run = excluded.last_seen_run, gone_run = NULL",
    )?
    .execute(params![
        path,
        document_id,
        size.map(|s| s as i64),
        mtime,
        run
    ])?;
    Ok(())
}

/// Notes that search must see document `id` anew (added, changed, hidden or deleted).
pub(super) fn queue_change(conn: &Connection, id: i64) -> Result<(), StoreError> {
    conn.prepare_cached("INSERT INTO search_changes (document_id) VALUES (?1)")?
        .execute([id])?;
    Ok(())
}

/// Deletes a document with its pages and their index rows (a failed attempt being retried).
pub(super) fn delete_document(conn: &Connection, id: i64) -> Result<(), StoreError> {
    conn.execute("DELETE FROM pages WHERE document_id = ?1", [id])?;
    queue_change(conn, id)?;
    // Versions that pointed at it as their record now stand on their own.
    conn.execute(
        "UPDATE documents SET record_id = id WHERE record_id = ?1 AND id != ?1",
        [id],
    )?;
    conn.execute("DELETE FROM locations WHERE document_id = ?1", [id])?;
    conn.execute("DELETE FROM documents WHERE id = ?1", [id])?;
    Ok(())
}

/// Writes a document, its pages, index rows, analysis and location (inside the caller's
/// transaction).
pub(super) fn insert_document(
    tx: &Connection,
    run: i64,
    doc: &NewDocument,
) -> Result<Stored, StoreError> {
    // The same bytes may already be here (two paths in one batch): one document,
    // two locations.
    if let Some(sha) = &doc.sha256
        && doc.replaces.is_none()
    {
        let existing: Option<i64> = tx
            .query_row(
                "SELECT id FROM documents WHERE sha256 = ?1 AND status != 'failed' AND current = 1
                     ORDER BY id LIMIT 1",
                [sha],
                |r| r.get(0),
            )
            .optional()?;
        if let Some(id) = existing {
            upsert_location(tx, run, &doc.path, id, doc.size, doc.file_mtime)?;
            return Ok(Stored::AlreadyArchived(id));
        }
    }
    let (record_id, version): (Option<i64>, i64) = match doc.supersedes {
        Some(previous) => {
            let (record, version): (Option<i64>, i64) = tx.query_row(
                "SELECT record_id, version FROM documents WHERE id = ?1",
                [previous],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            // The old bytes stay current while another path still holds them (a copy
            // made before the change); otherwise they become history.
            tx.execute(
                "UPDATE documents SET current = 0 WHERE id = ?1
                     AND NOT EXISTS (SELECT 1 FROM locations
                                     WHERE document_id = ?1 AND path != ?2 AND gone_run IS NULL)",
                params![previous, doc.path],
            )?;
            queue_change(tx, previous)?;
            (Some(record.unwrap_or(previous)), version + 1)
        }
        None => (None, 1),
    };
    if let Some(failed) = doc.replaces {
        delete_document(tx, failed)?;
    }
    let quality = PageQuality::of(doc);
    tx.execute(
            "INSERT INTO documents (run_id, path, sha256, size, format, file_mtime, page_count, status, error,
                                    record_id, version, current, warnings, unit,
                                    ocr_pages, confidence_sum, low_confidence_pages)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, 1, ?12, ?13, ?14, ?15, ?16)",
            params![
                run,
                doc.path,
                doc.sha256,
                doc.size.map(|s| s as i64),
                doc.format,
                doc.file_mtime,
                doc.pages.len() as i64,
                doc.status.as_str(),
                doc.error,
                record_id,
                version,
                to_json(&doc.warnings)?,
                doc.unit,
                quality.ocr_pages,
                quality.confidence_sum,
                quality.low_confidence_pages,
            ],
        )?;
    let document_id = tx.last_insert_rowid();
    if record_id.is_none() {
        tx.execute(
            "UPDATE documents SET record_id = id WHERE id = ?1",
            [document_id],
        )?;
    }
    {
        let mut insert_page = tx.prepare_cached(
                "INSERT INTO pages (document_id, number, text, confidence, width, height, dpi, text_source,
                                    error, note, words, image_sha256, preparation)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
            )?;
        for page in &doc.pages {
            let words = serde_json::to_string(&page.words)
                .map_err(|e| StoreError::Corrupt(format!("cannot encode words: {e}")))?;
            let preparation = page
                .preparation
                .as_ref()
                .map(serde_json::to_string)
                .transpose()
                .map_err(|e| StoreError::Corrupt(format!("cannot encode preparation: {e}")))?;
            insert_page.execute(params![
                document_id,
                page.number,
                page.text,
                page.confidence.map(f64::from),
                page.width,
                page.height,
                page.dpi.map(f64::from),
                page.source.as_str(),
                page.error,
                page.note,
                words,
                page.image_sha256,
                preparation,
            ])?;
        }
    }
    if let Some(analysis) = &doc.analysis {
        write_fields(tx, document_id, &analysis.fields)?;
        write_classification(tx, document_id, &analysis.classification)?;
    }
    queue_change(tx, document_id)?;
    upsert_location(tx, run, &doc.path, document_id, doc.size, doc.file_mtime)?;
    Ok(Stored::New(document_id))
}
