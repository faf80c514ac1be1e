//! The write path: a document stored in one transaction (pages, fields, its location,
//! the versions it supersedes or replaces) and queued for the search index in it.

use super::rows::{write_classification, write_fields};
use crate::store::json::to_json;
use crate::store::{NewDocument, StoreError, Stored};
use postgres::GenericClient;

pub(super) fn upsert_location(
    c: &mut impl GenericClient,
    run: i64,
    path: &str,
    document_id: i64,
    size: Option<u64>,
    mtime: Option<i64>,
) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO locations (path, document_id, size, mtime, first_seen_run, last_seen_run)
         VALUES ($1, $2, $3, $4, $5, $5)
         ON CONFLICT (path) DO UPDATE SET document_id = excluded.document_id, size = excluded.size,
             mtime = excluded.mtime, last_seen_run = excluded.last_seen_run, gone_run = NULL",
        &[&path, &document_id, &size.map(|s| s as i64), &mtime, &run],
    )?;
    Ok(())
}

/// Notes that search must see document `id` anew (added, changed, hidden or deleted),
/// for every search index of the archive. The shared feed lock keeps an index being
/// registered from missing it (`PgFeed::queue_every_document`).
pub(super) fn queue_change(c: &mut impl GenericClient, id: i64) -> Result<(), StoreError> {
    c.execute(
        "SELECT pg_advisory_xact_lock_shared($1)",
        &[&super::FEED_LOCK],
    )?;
    c.execute(
        "INSERT INTO search_changes (consumer, document_id)
         SELECT name, $1 FROM search_consumers",
        &[&id],
    )?;
    Ok(())
}

/// Deletes a document with its pages (a failed attempt being retried).
fn delete_document(c: &mut impl GenericClient, id: i64) -> Result<(), StoreError> {
    c.execute("DELETE FROM pages WHERE document_id = $1", &[&id])?;
    queue_change(c, id)?;
    // Versions that pointed at it as their record now stand on their own.
    c.execute(
        "UPDATE documents SET record_id = id WHERE record_id = $1 AND id != $1",
        &[&id],
    )?;
    c.execute("DELETE FROM locations WHERE document_id = $1", &[&id])?;
    c.execute("DELETE FROM document_fields WHERE document_id = $1", &[&id])?;
    c.execute("DELETE FROM classifications WHERE document_id = $1", &[&id])?;
    c.execute("DELETE FROM corrections WHERE document_id = $1", &[&id])?;
    c.execute("DELETE FROM documents WHERE id = $1", &[&id])?;
    Ok(())
}

/// Writes a document, its pages, analysis and location (inside the caller's transaction).
pub(super) fn insert_document(
    tx: &mut impl GenericClient,
    run: i64,
    doc: &NewDocument,
) -> Result<Stored, StoreError> {
    // The same bytes may already be here (two paths in one batch, or two workers):
    // one document, two locations. A failed attempt being retried then goes.
    if let Some(sha) = &doc.sha256 {
        let existing = tx.query_opt(
            "SELECT id FROM documents WHERE sha256 = $1 AND status != 'failed' AND current
             ORDER BY id LIMIT 1",
            &[sha],
        )?;
        if let Some(row) = existing {
            let id: i64 = row.get(0);
            if let Some(failed) = doc.replaces.filter(|&failed| failed != id) {
                delete_document(tx, failed)?;
            }
            upsert_location(tx, run, &doc.path, id, doc.size, doc.file_mtime)?;
            return Ok(Stored::AlreadyArchived(id));
        }
    }
    let (record_id, version): (Option<i64>, i64) = match doc.supersedes {
        Some(previous) => {
            let row = tx.query_one(
                "SELECT record_id, version FROM documents WHERE id = $1",
                &[&previous],
            )?;
            let (record, version): (Option<i64>, i64) = (row.get(0), row.get(1));
            // The old bytes stay current while another path still holds them (a copy
            // made before the change); otherwise they become history.
            tx.execute(
                "UPDATE documents SET current = FALSE WHERE id = $1
                     AND NOT EXISTS (SELECT 1 FROM locations
                                     WHERE document_id = $1 AND path != $2 AND gone_run IS NULL)",
                &[&previous, &doc.path],
            )?;
            queue_change(tx, previous)?;
            (Some(record.unwrap_or(previous)), version + 1)
        }
        None => (None, 1),
    };
    if let Some(failed) = doc.replaces {
        delete_document(tx, failed)?;
    }
    let quality = crate::store::reports::PageQuality::of(doc);
    let document_id: i64 = tx
        .query_one(
            "INSERT INTO documents (run_id, path, sha256, size, format, file_mtime, page_count,
                                    status, error, record_id, version, current, warnings, unit,
                                    ocr_pages, confidence_sum, low_confidence_pages)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, TRUE, $12, $13, $14, $15, $16)
             RETURNING id",
            &[
                &run,
                &doc.path,
                &doc.sha256,
                &doc.size.map(|s| s as i64),
                &doc.format,
                &doc.file_mtime,
                &(doc.pages.len() as i64),
                &doc.status.as_str(),
                &doc.error,
                &record_id,
                &version,
                &to_json(&doc.warnings)?,
                &doc.unit,
                &quality.ocr_pages,
                &quality.confidence_sum,
                &quality.low_confidence_pages,
            ],
        )?
        .get(0);
    if record_id.is_none() {
        tx.execute(
            "UPDATE documents SET record_id = id WHERE id = $1",
            &[&document_id],
        )?;
    }
    let insert_page = tx.prepare(
        "INSERT INTO pages (document_id, number, text, confidence, width, height, dpi,
                            text_source, error, note, words, image_sha256, preparation)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
    )?;
    for page in &doc.pages {
        let words = to_json(&page.words)?;
        let preparation = page.preparation.as_ref().map(to_json).transpose()?;
        tx.execute(
            &insert_page,
            &[
                &document_id,
                &i64::from(page.number),
                &page.text,
                &page.confidence.map(f64::from),
                &page.width.map(i64::from),
                &page.height.map(i64::from),
                &page.dpi.map(f64::from),
                &page.source.as_str(),
                &page.error,
                &page.note,
                &words,
                &page.image_sha256,
                &preparation,
            ],
        )?;
    }
    if let Some(analysis) = &doc.analysis {
        write_fields(tx, document_id, &analysis.fields)?;
        write_classification(tx, document_id, &analysis.classification)?;
    }
    queue_change(tx, document_id)?;
    upsert_location(tx, run, &doc.path, document_id, doc.size, doc.file_mtime)?;
    Ok(Stored::New(document_id))
}
