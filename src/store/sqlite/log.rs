//! The signed log in SQLite: records of document versions (`records`, one row per Merkle
//! leaf, never updated or deleted by sohoa), signed tree heads (`tree_heads`) and the
//! public halves of the signing keys (`signing_keys`). Free functions over a connection
//! so they run inside the transaction that changes the document.

use crate::authenticity::merkle::{self, Hash};
use crate::authenticity::{
    self, DocumentVersion, Record, Signer, TreeHead, VersionPage, verification_code,
};
use crate::store::{DocStatus, LogEntry, SigningKeyRecord, StoreError};
use rusqlite::{Connection, OptionalExtension, params};

fn auth_error(e: authenticity::AuthError) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

/// The record of document `id` as the database holds it now; None for a document that
/// is missing or failed (failures are not records). The record itself is built by
/// `Record::of`, the same for every backend: this only reads.
pub fn record_of(conn: &Connection, id: i64) -> Result<Option<Record>, StoreError> {
    let version = conn
        .prepare_cached(
            "SELECT record_id, version, path, sha256, size, format, status, ingested_at
             FROM documents WHERE id = ?1",
        )?
        .query_row([id], |r| {
            Ok(DocumentVersion {
                document_id: id,
                record_id: r.get(0)?,
                version: r.get(1)?,
                path: r.get(2)?,
                sha256: r.get(3)?,
                size: r.get::<_, Option<i64>>(4)?.map(|s| s as u64),
                format: r.get(5)?,
                status: r.get(6)?,
                ingested_at: r.get(7)?,
                pages: Vec::new(),
                fields: None,
                classification: None,
            })
        })
        .optional()?;
    let Some(mut version) = version else {
        return Ok(None);
    };
    if version.status == DocStatus::Failed.as_str() {
        // Not a record (`Record::of` says the same): its pages need not be read.
        return Ok(None);
    }
    version.pages = conn
        .prepare_cached("SELECT number, image_sha256, text FROM pages WHERE document_id = ?1")?
        .query_map([id], |r| {
            Ok(VersionPage {
                number: r.get(0)?,
                image_sha256: r.get(1)?,
                text: r.get(2)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    version.fields = super::rows::load_fields(conn, id)?;
    version.classification = super::rows::load_classification(conn, id)?;
    Ok(Record::of(version))
}

/// Appends document `id`'s record to the log, signed, unless its latest record already
/// says the same. Returns whether it appended.
pub fn append_record(conn: &Connection, signer: &Signer, id: i64) -> Result<bool, StoreError> {
    let Some(record) = record_of(conn, id)? else {
        return Ok(false);
    };
    let bytes = record.canonical().map_err(auth_error)?;
    let hash = authenticity::sha256(&bytes);
    let hash_hex = hex::encode(hash);
    let latest: Option<String> = conn
        .prepare_cached(
            "SELECT record_hash FROM records WHERE document_id = ?1 ORDER BY leaf DESC LIMIT 1",
        )?
        .query_row([id], |r| r.get(0))
        .optional()?;
    if latest.as_deref() == Some(hash_hex.as_str()) {
        return Ok(false);
    }
    let text = String::from_utf8(bytes).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    conn.prepare_cached(
        "INSERT INTO records (leaf, document_id, record, record_hash, leaf_hash, code, key_id,
                              signature)
         VALUES ((SELECT COALESCE(MAX(leaf) + 1, 0) FROM records), ?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        id,
        text,
        hash_hex,
        hex::encode(merkle::leaf_hash(text.as_bytes())),
        verification_code(&hash),
        signer.id(),
        signer.sign(text.as_bytes()),
    ])?;
    Ok(true)
}

fn entry(r: &rusqlite::Row) -> rusqlite::Result<LogEntry> {
    Ok(LogEntry {
        leaf: r.get::<_, i64>(0)? as u64,
        document_id: r.get(1)?,
        record: r.get(2)?,
        record_hash: r.get(3)?,
        leaf_hash: r.get(4)?,
        code: r.get(5)?,
        key_id: r.get(6)?,
        signature: r.get(7)?,
        logged_at: r.get(8)?,
    })
}

const ENTRY_COLUMNS: &str =
    "leaf, document_id, record, record_hash, leaf_hash, code, key_id, signature, logged_at";

pub fn each_entry(
    conn: &Connection,
    visit: &mut dyn FnMut(LogEntry) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    let mut statement = conn.prepare(&format!(
        "SELECT {ENTRY_COLUMNS} FROM records ORDER BY leaf"
    ))?;
    let mut rows = statement.query([])?;
    while let Some(row) = rows.next()? {
        visit(entry(row)?)?;
    }
    Ok(())
}

pub fn entries_where(
    conn: &Connection,
    condition: &str,
    value: &dyn rusqlite::ToSql,
) -> Result<Vec<LogEntry>, StoreError> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {ENTRY_COLUMNS} FROM records WHERE {condition} ORDER BY leaf"
        ))?
        .query_map([value], entry)?
        .collect::<Result<_, _>>()?)
}

/// Every leaf hash in order (32 bytes each: a million entries are 32 MB).
pub fn leaf_hashes(conn: &Connection) -> Result<Vec<Hash>, StoreError> {
    let mut out = Vec::new();
    each_leaf_hash(conn, 0, i64::MAX, &mut |hash| out.push(hash))?;
    Ok(out)
}

/// Visits the leaf hashes of entries `from..to` in order; an error names the first
/// entry missing (the log has no gaps).
fn each_leaf_hash(
    conn: &Connection,
    from: i64,
    to: i64,
    visit: &mut dyn FnMut(Hash),
) -> Result<(), StoreError> {
    let mut statement = conn.prepare_cached(
        "SELECT leaf, leaf_hash FROM records WHERE leaf >= ?1 AND leaf < ?2 ORDER BY leaf",
    )?;
    let mut rows = statement.query(params![from, to])?;
    let mut next = from;
    while let Some(row) = rows.next()? {
        let (leaf, hash): (i64, String) = (row.get(0)?, row.get(1)?);
        if leaf != next {
            return Err(StoreError::Corrupt(format!(
                "the log has no entry {next} (next is {leaf})"
            )));
        }
        visit(parse_leaf_hash(leaf, &hash)?);
        next += 1;
    }
    Ok(())
}

pub fn tree_heads(conn: &Connection) -> Result<Vec<TreeHead>, StoreError> {
    Ok(conn
        .prepare_cached(
            "SELECT tree_size, root_hash, timestamp, key_id, signature FROM tree_heads
             ORDER BY tree_size",
        )?
        .query_map([], |r| {
            Ok(TreeHead {
                tree_size: r.get::<_, i64>(0)? as u64,
                root_hash: r.get(1)?,
                timestamp: r.get(2)?,
                key_id: r.get(3)?,
                signature: r.get(4)?,
            })
        })?
        .collect::<Result<_, _>>()?)
}

/// Signs a tree head over the whole log when it grew since the last one. Reads only
/// the entries logged since then: the tree's right edge (`merkle::Frontier`) is kept
/// with each head, so a seal costs O(new entries + log n), not the whole log.
pub fn seal(conn: &Connection, signer: &Signer) -> Result<Option<TreeHead>, StoreError> {
    // `leaf` is the rowid: MAX is one look at the b-tree, where COUNT(*) reads it all.
    let size: i64 = conn.query_row("SELECT COALESCE(MAX(leaf) + 1, 0) FROM records", [], |r| {
        r.get(0)
    })?;
    let last: Option<i64> =
        conn.query_row("SELECT MAX(tree_size) FROM tree_heads", [], |r| r.get(0))?;
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
    let mut frontier = stored_frontier(conn)?;
    if last.is_some_and(|last| frontier.size() != last as u64) {
        // Archives from before the frontier was kept (or a lost row): rebuilt once.
        frontier = merkle::Frontier::default();
    }
    each_leaf_hash(conn, frontier.size() as i64, size, &mut |hash| {
        frontier.push(hash)
    })?;
    if frontier.size() != size as u64 {
        return Err(StoreError::Corrupt(format!(
            "the log has no entry {} (it ends at {size})",
            frontier.size()
        )));
    }
    let timestamp: String =
        conn.query_row("SELECT strftime('%Y-%m-%dT%H:%M:%fZ', 'now')", [], |r| {
            r.get(0)
        })?;
    let head =
        TreeHead::sign(size as u64, &frontier.root(), timestamp, signer).map_err(auth_error)?;
    conn.execute(
        "INSERT INTO tree_heads (tree_size, root_hash, timestamp, key_id, signature)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            head.tree_size as i64,
            head.root_hash,
            head.timestamp,
            head.key_id,
            head.signature
        ],
    )?;
    conn.execute(
        "INSERT OR REPLACE INTO log_frontier (id, size, nodes) VALUES (1, ?1, ?2)",
        params![frontier.size() as i64, frontier.node_bytes()],
    )?;
    Ok(Some(head))
}

/// The frontier kept with the last tree head; empty when none is (or it is damaged:
/// the caller rebuilds it from the entries).
fn stored_frontier(conn: &Connection) -> Result<merkle::Frontier, StoreError> {
    let row: Option<(i64, Vec<u8>)> = conn
        .query_row(
            "SELECT size, nodes FROM log_frontier WHERE id = 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    Ok(row
        .and_then(|(size, nodes)| merkle::Frontier::from_parts(size as u64, &nodes))
        .unwrap_or_default())
}

fn parse_leaf_hash(leaf: i64, hash: &str) -> Result<Hash, StoreError> {
    hex::decode(hash)
        .ok()
        .and_then(|b| <[u8; 32]>::try_from(b.as_slice()).ok())
        .ok_or_else(|| StoreError::Corrupt(format!("log entry {leaf}: bad leaf hash")))
}

pub fn signing_keys(conn: &Connection) -> Result<Vec<SigningKeyRecord>, StoreError> {
    Ok(conn
        .prepare_cached(
            "SELECT key_id, public_key, created_at, retired_at FROM signing_keys ORDER BY created_at, key_id",
        )?
        .query_map([], |r| {
            Ok(SigningKeyRecord {
                key_id: r.get(0)?,
                public_key: r.get(1)?,
                created_at: r.get(2)?,
                retired_at: r.get(3)?,
            })
        })?
        .collect::<Result<_, _>>()?)
}

/// Makes `signer` the key that signs from now on; earlier keys are retired (their
/// signatures stay valid).
pub fn add_signing_key(conn: &Connection, signer: &Signer) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE signing_keys SET retired_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
         WHERE retired_at IS NULL AND key_id != ?1",
        [signer.id()],
    )?;
    conn.execute(
        "INSERT OR IGNORE INTO signing_keys (key_id, public_key) VALUES (?1, ?2)",
        params![signer.id(), hex::encode(signer.public_key().as_bytes())],
    )?;
    Ok(())
}

/// Documents that should have a record and have none (stored before signing existed,
/// or while no key was set).
pub fn unrecorded(conn: &Connection) -> Result<Vec<i64>, StoreError> {
    Ok(conn
        .prepare_cached(
            "SELECT id FROM documents d WHERE status != 'failed'
             AND NOT EXISTS (SELECT 1 FROM records r WHERE r.document_id = d.id) ORDER BY id",
        )?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?)
}
