//! The signed log in PostgreSQL: the same tables and rules as SQLite's (`sqlite::log`).
//! Many workers append at once, so every append and every seal first takes one
//! transaction-scoped advisory lock (`LOG_LOCK`): leaves are numbered in the order their
//! transactions commit, with no gap (a rolled-back append releases its number with the
//! lock) and no fork (two appends never read the same end of the log).

use super::schema::NOW;
use crate::authenticity::merkle::{self, Hash};
use crate::authenticity::{
    self, DocumentVersion, Record, Signer, TreeHead, VersionPage, verification_code,
};
use crate::store::{DocStatus, LogEntry, SigningKeyRecord, StoreError};
use postgres::GenericClient;

/// The advisory lock serializing appends to the log and seals, until commit.
const LOG_LOCK: i64 = 0x736f_686f_6100_0002;

fn auth_error(e: authenticity::AuthError) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

fn lock_log(c: &mut impl GenericClient) -> Result<(), StoreError> {
    c.execute("SELECT pg_advisory_xact_lock($1)", &[&LOG_LOCK])?;
    Ok(())
}

/// The record of document `id` as the database holds it now; None for a document that
/// is missing or failed. Built by `Record::of`, as on every backend.
pub(super) fn record_of(c: &mut impl GenericClient, id: i64) -> Result<Option<Record>, StoreError> {
    let Some(r) = c.query_opt(
        "SELECT record_id, version, path, sha256, size, format, status, ingested_at
         FROM documents WHERE id = $1",
        &[&id],
    )?
    else {
        return Ok(None);
    };
    let mut version = DocumentVersion {
        document_id: id,
        record_id: r.get(0),
        version: r.get(1),
        path: r.get(2),
        sha256: r.get(3),
        size: r.get::<_, Option<i64>>(4).map(|s| s as u64),
        format: r.get(5),
        status: r.get(6),
        ingested_at: r.get(7),
        pages: Vec::new(),
        fields: None,
        classification: None,
    };
    if version.status == DocStatus::Failed.as_str() {
        return Ok(None);
    }
    version.pages = c
        .query(
            "SELECT number, image_sha256, text FROM pages WHERE document_id = $1",
            &[&id],
        )?
        .iter()
        .map(|r| VersionPage {
            number: r.get::<_, i64>(0) as u32,
            image_sha256: r.get(1),
            text: r.get(2),
        })
        .collect();
    version.fields = super::rows::load_fields(c, id)?;
    version.classification = super::rows::load_classification(c, id)?;
    Ok(Record::of(version))
}

/// Appends document `id`'s record to the log, signed, unless its latest record already
/// says the same. Returns whether it appended.
pub(super) fn append_record(
    c: &mut impl GenericClient,
    signer: &Signer,
    id: i64,
) -> Result<bool, StoreError> {
    let Some(record) = record_of(c, id)? else {
        return Ok(false);
    };
    let bytes = record.canonical().map_err(auth_error)?;
    let hash = authenticity::sha256(&bytes);
    let hash_hex = hex::encode(hash);
    lock_log(c)?;
    let latest: Option<String> = c
        .query_opt(
            "SELECT record_hash FROM records WHERE document_id = $1 ORDER BY leaf DESC LIMIT 1",
            &[&id],
        )?
        .map(|r| r.get(0));
    if latest.as_deref() == Some(hash_hex.as_str()) {
        return Ok(false);
    }
    let text = String::from_utf8(bytes).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    c.execute(
        "INSERT INTO records (leaf, document_id, record, record_hash, leaf_hash, code, key_id,
                              signature)
         VALUES ((SELECT COALESCE(MAX(leaf) + 1, 0) FROM records), $1, $2, $3, $4, $5, $6, $7)",
        &[
            &id,
            &text,
            &hash_hex,
            &hex::encode(merkle::leaf_hash(text.as_bytes())),
            &verification_code(&hash),
            &signer.id(),
            &signer.sign(text.as_bytes()),
        ],
    )?;
    Ok(true)
}

const ENTRY_COLUMNS: &str =
    "leaf, document_id, record, record_hash, leaf_hash, code, key_id, signature, logged_at";

fn entry(r: &postgres::Row) -> LogEntry {
    LogEntry {
        leaf: r.get::<_, i64>(0) as u64,
        document_id: r.get(1),
        record: r.get(2),
        record_hash: r.get(3),
        leaf_hash: r.get(4),
        code: r.get(5),
        key_id: r.get(6),
        signature: r.get(7),
        logged_at: r.get(8),
    }
}

/// Entries in leaf order, read in batches: the visitor may call back into the store.
pub(super) fn entries_from(
    c: &mut impl GenericClient,
    after: i64,
    batch: i64,
) -> Result<Vec<LogEntry>, StoreError> {
    Ok(c.query(
        &format!("SELECT {ENTRY_COLUMNS} FROM records WHERE leaf > $1 ORDER BY leaf LIMIT $2"),
        &[&after, &batch],
    )?
    .iter()
    .map(entry)
    .collect())
}

pub(super) fn entries_of(
    c: &mut impl GenericClient,
    document_id: i64,
) -> Result<Vec<LogEntry>, StoreError> {
    Ok(c.query(
        &format!("SELECT {ENTRY_COLUMNS} FROM records WHERE document_id = $1 ORDER BY leaf"),
        &[&document_id],
    )?
    .iter()
    .map(entry)
    .collect())
}

pub(super) fn entries_by_code(
    c: &mut impl GenericClient,
    code: &str,
) -> Result<Vec<LogEntry>, StoreError> {
    Ok(c.query(
        &format!("SELECT {ENTRY_COLUMNS} FROM records WHERE code = $1 ORDER BY leaf"),
        &[&code],
    )?
    .iter()
    .map(entry)
    .collect())
}

/// Every leaf hash in order.
pub(super) fn leaf_hashes(c: &mut impl GenericClient) -> Result<Vec<Hash>, StoreError> {
    let mut out = Vec::new();
    each_leaf_hash(c, 0, i64::MAX, &mut |hash| out.push(hash))?;
    Ok(out)
}

/// Visits the leaf hashes of entries `from..to` in order; an error names the first
/// entry missing (the log has no gaps).
fn each_leaf_hash(
    c: &mut impl GenericClient,
    from: i64,
    to: i64,
    visit: &mut dyn FnMut(Hash),
) -> Result<(), StoreError> {
    let rows = c.query(
        "SELECT leaf, leaf_hash FROM records WHERE leaf >= $1 AND leaf < $2 ORDER BY leaf",
        &[&from, &to],
    )?;
    for (expected, row) in (from..).zip(rows) {
        let (leaf, hash): (i64, String) = (row.get(0), row.get(1));
        if leaf != expected {
            return Err(StoreError::Corrupt(format!(
                "the log has no entry {expected} (next is {leaf})"
            )));
        }
        visit(parse_leaf_hash(leaf, &hash)?);
    }
    Ok(())
}

pub(super) fn tree_heads(c: &mut impl GenericClient) -> Result<Vec<TreeHead>, StoreError> {
    Ok(c.query(
        "SELECT tree_size, root_hash, timestamp, key_id, signature FROM tree_heads
         ORDER BY tree_size",
        &[],
    )?
    .iter()
    .map(|r| TreeHead {
        tree_size: r.get::<_, i64>(0) as u64,
        root_hash: r.get(1),
        timestamp: r.get(2),
        key_id: r.get(3),
        signature: r.get(4),
    })
    .collect())
}

/// Signs a tree head over the whole log when it grew since the last one, reading only
/// the entries logged since then (`merkle::Frontier`).
pub(super) fn seal(
    c: &mut impl GenericClient,
    signer: &Signer,
) -> Result<Option<TreeHead>, StoreError> {
    lock_log(c)?;
    let size: i64 = c
        .query_one("SELECT COALESCE(MAX(leaf) + 1, 0) FROM records", &[])?
        .get(0);
    let last: Option<i64> = c
        .query_one("SELECT MAX(tree_size) FROM tree_heads", &[])?
        .get(0);
    if let Some(last) = last
        && last > size
    {
        return Err(StoreError::Corrupt(format!(
            "the log holds {size} entries but a signed tree head covers {last}: entries were removed"
        )));
    }
    if last == Some(size) || (size == 0 && last.is_none()) {
        return Ok(None);
    }
    let mut frontier = stored_frontier(c)?;
    if last.is_some_and(|last| frontier.size() != last as u64) {
        frontier = merkle::Frontier::default();
    }
    each_leaf_hash(c, frontier.size() as i64, size, &mut |hash| {
        frontier.push(hash)
    })?;
    if frontier.size() != size as u64 {
        return Err(StoreError::Corrupt(format!(
            "the log has no entry {} (it ends at {size})",
            frontier.size()
        )));
    }
    let timestamp: String = c.query_one(&format!("SELECT {NOW}"), &[])?.get(0);
    let head =
        TreeHead::sign(size as u64, &frontier.root(), timestamp, signer).map_err(auth_error)?;
    c.execute(
        "INSERT INTO tree_heads (tree_size, root_hash, timestamp, key_id, signature)
         VALUES ($1, $2, $3, $4, $5)",
        &[
            &(head.tree_size as i64),
            &head.root_hash,
            &head.timestamp,
            &head.key_id,
            &head.signature,
        ],
    )?;
    c.execute(
        "INSERT INTO log_frontier (id, size, nodes) VALUES (1, $1, $2)
         ON CONFLICT (id) DO UPDATE SET size = excluded.size, nodes = excluded.nodes",
        &[&(frontier.size() as i64), &frontier.node_bytes()],
    )?;
    Ok(Some(head))
}

fn stored_frontier(c: &mut impl GenericClient) -> Result<merkle::Frontier, StoreError> {
    let row = c.query_opt("SELECT size, nodes FROM log_frontier WHERE id = 1", &[])?;
    Ok(row
        .and_then(|r| {
            let (size, nodes): (i64, Vec<u8>) = (r.get(0), r.get(1));
            merkle::Frontier::from_parts(size as u64, &nodes)
        })
        .unwrap_or_default())
}

fn parse_leaf_hash(leaf: i64, hash: &str) -> Result<Hash, StoreError> {
    hex::decode(hash)
        .ok()
        .and_then(|b| <[u8; 32]>::try_from(b.as_slice()).ok())
        .ok_or_else(|| StoreError::Corrupt(format!("log entry {leaf}: bad leaf hash")))
}

pub(super) fn signing_keys(
    c: &mut impl GenericClient,
) -> Result<Vec<SigningKeyRecord>, StoreError> {
    Ok(c.query(
        "SELECT key_id, public_key, created_at, retired_at FROM signing_keys
         ORDER BY created_at, key_id",
        &[],
    )?
    .iter()
    .map(|r| SigningKeyRecord {
        key_id: r.get(0),
        public_key: r.get(1),
        created_at: r.get(2),
        retired_at: r.get(3),
    })
    .collect())
}

/// Makes `signer` the key that signs from now on; earlier keys are retired.
pub(super) fn add_signing_key(
    c: &mut impl GenericClient,
    signer: &Signer,
) -> Result<(), StoreError> {
    c.execute(
        &format!(
            "UPDATE signing_keys SET retired_at = {NOW} WHERE retired_at IS NULL AND key_id != $1"
        ),
        &[&signer.id()],
    )?;
    c.execute(
        "INSERT INTO signing_keys (key_id, public_key) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        &[&signer.id(), &hex::encode(signer.public_key().as_bytes())],
    )?;
    Ok(())
}

/// Documents that should have a record and have none.
pub(super) fn unrecorded(c: &mut impl GenericClient) -> Result<Vec<i64>, StoreError> {
    Ok(c.query(
        "SELECT id FROM documents d WHERE status != 'failed'
         AND NOT EXISTS (SELECT 1 FROM records r WHERE r.document_id = d.id) ORDER BY id",
        &[],
    )?
    .iter()
    .map(|r| r.get(0))
    .collect())
}
