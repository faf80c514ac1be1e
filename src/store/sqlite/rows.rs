//! The analysis rows of a document (`document_fields`, `classifications`) written and
//! read back, and the JSON columns they use: shared by the store and the signed log
//! (which builds records from them), so that neither depends on the other.

use crate::classify::{ClassSource, Classification};
use crate::fields::Fields;
use crate::store::StoreError;
use crate::store::reports::Dialect;
use rusqlite::{Connection, OptionalExtension, params};

pub(in crate::store) use crate::store::json::{from_json, to_json};

pub(in crate::store) fn write_fields(
    conn: &Connection,
    document_id: i64,
    f: &Fields,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT OR REPLACE INTO document_fields (document_id, number, serial, type_code,
             issuer_code, doc_type, doc_type_name, issue_date, place, agency, subject,
             citizen_ids, land_parcels, signer, number_read)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
    )?
    .execute(params![
        document_id,
        f.number,
        f.serial,
        f.type_code,
        f.issuer_code,
        f.doc_type,
        f.doc_type_name,
        f.date,
        f.place,
        f.agency,
        f.subject,
        to_json(&f.citizen_ids)?,
        to_json(&f.land_parcels)?,
        f.signer,
        f.number_read,
    ])?;
    Ok(())
}

pub(in crate::store) fn write_classification(
    conn: &Connection,
    document_id: i64,
    c: &Classification,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT OR REPLACE INTO classifications (document_id, sector, sector_name, procedure_code,
             procedure_name, confidence, needs_review, source, reasons)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?
    .execute(params![
        document_id,
        c.sector,
        c.sector_name,
        c.procedure_code,
        c.procedure_name,
        f64::from(c.confidence),
        c.needs_review,
        c.source.as_str(),
        to_json(&c.reasons)?,
    ])?;
    let review = crate::store::reports::review_statement(c.needs_review);
    conn.prepare_cached(&Dialect::Sqlite.spell(review))?
        .execute([document_id])?;
    Ok(())
}

pub(in crate::store) fn load_fields(
    conn: &Connection,
    document_id: i64,
) -> Result<Option<Fields>, StoreError> {
    let row = conn
        .prepare_cached(
            "SELECT number, serial, type_code, issuer_code, doc_type, doc_type_name, issue_date,
                    place, agency, subject, citizen_ids, land_parcels, signer, number_read
             FROM document_fields WHERE document_id = ?1",
        )?
        .query_row([document_id], |r| {
            Ok((
                Fields {
                    number: r.get(0)?,
                    serial: r.get(1)?,
                    type_code: r.get(2)?,
                    issuer_code: r.get(3)?,
                    doc_type: r.get(4)?,
                    doc_type_name: r.get(5)?,
                    date: r.get(6)?,
                    place: r.get(7)?,
                    agency: r.get(8)?,
                    subject: r.get(9)?,
                    citizen_ids: Vec::new(),
                    land_parcels: Vec::new(),
                    signer: r.get(12)?,
                    number_read: r.get(13)?,
                },
                r.get::<_, String>(10)?,
                r.get::<_, String>(11)?,
            ))
        })
        .optional()?;
    row.map(|(mut fields, ids, parcels)| {
        fields.citizen_ids = from_json(&ids, "citizen ids")?;
        fields.land_parcels = from_json(&parcels, "land parcels")?;
        Ok(fields)
    })
    .transpose()
}

pub(in crate::store) fn load_classification(
    conn: &Connection,
    document_id: i64,
) -> Result<Option<Classification>, StoreError> {
    let row = conn
        .prepare_cached(
            "SELECT sector, sector_name, procedure_code, procedure_name, confidence, needs_review,
                    source, reasons
             FROM classifications WHERE document_id = ?1",
        )?
        .query_row([document_id], |r| {
            Ok((
                Classification {
                    sector: r.get(0)?,
                    sector_name: r.get(1)?,
                    procedure_code: r.get(2)?,
                    procedure_name: r.get(3)?,
                    confidence: r.get::<_, f64>(4)? as f32,
                    needs_review: r.get(5)?,
                    source: ClassSource::Model,
                    reasons: Vec::new(),
                },
                r.get::<_, String>(6)?,
                r.get::<_, String>(7)?,
            ))
        })
        .optional()?;
    row.map(|(mut c, source, reasons)| {
        c.source = ClassSource::parse(&source).ok_or_else(|| {
            StoreError::Corrupt(format!(
                "document {document_id}: classification source {source:?} is neither model nor staff"
            ))
        })?;
        c.reasons = from_json(&reasons, "classification reasons")?;
        Ok(c)
    })
    .transpose()
}
