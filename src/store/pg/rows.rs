//! The analysis rows of a document (`document_fields`, `classifications`) written and
//! read back, shared by the store and the signed log.

use crate::classify::{ClassSource, Classification};
use crate::fields::Fields;
use crate::store::StoreError;
use crate::store::json::{from_json, to_json};
use postgres::GenericClient;

pub(super) fn write_fields(
    c: &mut impl GenericClient,
    document_id: i64,
    f: &Fields,
) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO document_fields (document_id, number, serial, type_code, issuer_code,
             doc_type, doc_type_name, issue_date, place, agency, subject, citizen_ids,
             land_parcels, signer, number_read)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
         ON CONFLICT (document_id) DO UPDATE SET number = excluded.number,
             serial = excluded.serial, type_code = excluded.type_code,
             issuer_code = excluded.issuer_code, doc_type = excluded.doc_type,
             doc_type_name = excluded.doc_type_name, issue_date = excluded.issue_date,
             place = excluded.place, agency = excluded.agency, subject = excluded.subject,
             citizen_ids = excluded.citizen_ids, land_parcels = excluded.land_parcels,
             signer = excluded.signer, number_read = excluded.number_read",
        &[
            &document_id,
            &f.number,
            &f.serial,
            &f.type_code,
            &f.issuer_code,
            &f.doc_type,
            &f.doc_type_name,
            &f.date,
            &f.place,
            &f.agency,
            &f.subject,
            &to_json(&f.citizen_ids)?,
            &to_json(&f.land_parcels)?,
            &f.signer,
            &f.number_read,
        ],
    )?;
    Ok(())
}

pub(super) fn write_classification(
    c: &mut impl GenericClient,
    document_id: i64,
    k: &Classification,
) -> Result<(), StoreError> {
    c.execute(
        &format!(
            "INSERT INTO classifications (document_id, sector, sector_name, procedure_code,
                 procedure_name, confidence, needs_review, source, reasons)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
             ON CONFLICT (document_id) DO UPDATE SET sector = excluded.sector,
                 sector_name = excluded.sector_name, procedure_code = excluded.procedure_code,
                 procedure_name = excluded.procedure_name, confidence = excluded.confidence,
                 needs_review = excluded.needs_review, source = excluded.source,
                 reasons = excluded.reasons, classified_at = {}",
            super::schema::NOW
        ),
        &[
            &document_id,
            &k.sector,
            &k.sector_name,
            &k.procedure_code,
            &k.procedure_name,
            &f64::from(k.confidence),
            &k.needs_review,
            &k.source.as_str(),
            &to_json(&k.reasons)?,
        ],
    )?;
    let review = crate::store::reports::review_statement(k.needs_review);
    c.execute(
        &crate::store::reports::Dialect::Postgres.spell(review),
        &[&document_id],
    )?;
    Ok(())
}

pub(super) fn load_fields(
    c: &mut impl GenericClient,
    document_id: i64,
) -> Result<Option<Fields>, StoreError> {
    let Some(r) = c.query_opt(
        "SELECT number, serial, type_code, issuer_code, doc_type, doc_type_name, issue_date,
                place, agency, subject, citizen_ids, land_parcels, signer, number_read
         FROM document_fields WHERE document_id = $1",
        &[&document_id],
    )?
    else {
        return Ok(None);
    };
    Ok(Some(Fields {
        number: r.get(0),
        serial: r.get(1),
        type_code: r.get(2),
        issuer_code: r.get(3),
        doc_type: r.get(4),
        doc_type_name: r.get(5),
        date: r.get(6),
        place: r.get(7),
        agency: r.get(8),
        subject: r.get(9),
        citizen_ids: from_json(r.get(10), "citizen ids")?,
        land_parcels: from_json(r.get(11), "land parcels")?,
        signer: r.get(12),
        number_read: r.get(13),
    }))
}

pub(super) fn load_classification(
    c: &mut impl GenericClient,
    document_id: i64,
) -> Result<Option<Classification>, StoreError> {
    let Some(r) = c.query_opt(
        "SELECT sector, sector_name, procedure_code, procedure_name, confidence, needs_review,
                source, reasons
         FROM classifications WHERE document_id = $1",
        &[&document_id],
    )?
    else {
        return Ok(None);
    };
    let source: String = r.get(6);
    Ok(Some(Classification {
        sector: r.get(0),
        sector_name: r.get(1),
        procedure_code: r.get(2),
        procedure_name: r.get(3),
        confidence: r.get::<_, f64>(4) as f32,
        needs_review: r.get(5),
        source: ClassSource::parse(&source).ok_or_else(|| {
            StoreError::Corrupt(format!(
                "document {document_id}: classification source {source:?} is neither model nor staff"
            ))
        })?,
        reasons: from_json(r.get(7), "classification reasons")?,
    }))
}
