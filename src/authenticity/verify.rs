//! `sohoa verify`: the whole archive checked against its signed log. Reads the store
//! and, unless told not to, the source files; reports every problem with the document
//! it concerns and never stops at the first.

use super::merkle::{self, Hash};
use super::{Record, TreeHead, canonical, key_id, sha256, signature_valid};
use crate::store::{LogEntry, Store, StoreError};
use ed25519_dalek::VerifyingKey;
use serde::Serialize;
use std::collections::{HashMap, HashSet};
use std::io::Read;

pub struct VerifyConfig {
    /// Re-read and re-hash every source file at its known locations.
    pub files: bool,
    /// The keys signatures must come from (the archive's key files, plus any given).
    pub trusted: Vec<VerifyingKey>,
    /// Tree heads kept outside the database (the copy written beside it after every
    /// run, an auditor's saved head): the log must still contain what they signed.
    pub kept_heads: Vec<(String, TreeHead)>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Problem {
    pub document_id: Option<i64>,
    /// A stable name: altered, unsigned, deleted, bad-signature, untrusted-key,
    /// record-hash, log-gap, log-truncated, log-rewritten, rolled-back,
    /// bad-tree-head, file-missing, file-modified, unreadable-file.
    pub kind: &'static str,
    pub detail: String,
}

#[derive(Debug, Default, Serialize)]
pub struct Report {
    pub documents: u64,
    pub log_entries: u64,
    pub tree_heads: u64,
    pub files_checked: u64,
    pub problems: Vec<Problem>,
    /// Not problems: entries not yet covered by a signed tree head (a run that died
    /// before sealing; the next run seals them).
    pub notes: Vec<String>,
}

impl Report {
    fn problem(&mut self, document_id: Option<i64>, kind: &'static str, detail: String) {
        self.problems.push(Problem {
            document_id,
            kind,
            detail,
        });
    }
}

/// What differs between a record as signed and as the database holds it now.
pub fn differences(signed: &Record, now: &Record) -> Vec<String> {
    let mut out = Vec::new();
    let pages_now: HashMap<u32, _> = now.pages.iter().map(|p| (p.number, p)).collect();
    let pages_signed: HashMap<u32, _> = signed.pages.iter().map(|p| (p.number, p)).collect();
    for p in &signed.pages {
        match pages_now.get(&p.number) {
            None => out.push(format!("page {} is missing", p.number)),
            Some(n) => {
                if n.text_sha256 != p.text_sha256 {
                    out.push(format!("page {} text", p.number));
                }
                if n.image_sha256 != p.image_sha256 {
                    out.push(format!("page {} image hash", p.number));
                }
            }
        }
    }
    for p in &now.pages {
        if !pages_signed.contains_key(&p.number) {
            out.push(format!("page {} was added", p.number));
        }
    }
    let json = |v: &Option<crate::fields::Fields>| {
        serde_json::to_value(v).unwrap_or(serde_json::Value::Null)
    };
    if let (serde_json::Value::Object(a), serde_json::Value::Object(b)) =
        (json(&signed.fields), json(&now.fields))
    {
        for (k, v) in &a {
            if b.get(k) != Some(v) {
                out.push(format!("field {k}"));
            }
        }
    } else if signed.fields != now.fields {
        out.push("fields".into());
    }
    if signed.classification != now.classification {
        out.push("classification".into());
    }
    let same_source = (
        &signed.source_sha256,
        signed.size,
        &signed.format,
        &signed.path,
    ) == (&now.source_sha256, now.size, &now.format, &now.path);
    if !same_source {
        out.push("source file identity".into());
    }
    if (
        signed.record_id,
        signed.version,
        &signed.status,
        &signed.ingested_at,
    ) != (now.record_id, now.version, &now.status, &now.ingested_at)
    {
        out.push("version, status or ingest time".into());
    }
    if out.is_empty() {
        out.push("record".into());
    }
    out
}

fn file_sha256(path: &str) -> std::io::Result<String> {
    use sha2::{Digest, Sha256};
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buffer)?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}

/// Checks the whole archive.
pub fn verify_archive(store: &dyn Store, config: &VerifyConfig) -> Result<Report, StoreError> {
    let mut report = Report::default();
    let trusted: HashMap<String, &VerifyingKey> =
        config.trusted.iter().map(|k| (key_id(k), k)).collect();
    for key in store.signing_keys()? {
        match trusted.get(&key.key_id) {
            None => report.problem(
                None,
                "untrusted-key",
                format!(
                    "key {} is registered in the database but is not one of the archive's keys",
                    key.key_id
                ),
            ),
            Some(k) if hex::encode(k.as_bytes()) != key.public_key => report.problem(
                None,
                "untrusted-key",
                format!("the database's public key for {} was replaced", key.key_id),
            ),
            Some(_) => {}
        }
    }

    // The log: every entry's hash and signature, leaves recomputed from the records.
    let mut leaves: Vec<Hash> = Vec::new();
    let mut latest: HashMap<i64, LogEntry> = HashMap::new();
    store.each_log_entry(&mut |entry| {
        if entry.leaf as usize != leaves.len() {
            report.problem(
                Some(entry.document_id),
                "log-gap",
                format!(
                    "the log jumps from entry {} to {}: entries were removed",
                    leaves.len(),
                    entry.leaf
                ),
            );
        }
        let bytes = entry.record.as_bytes();
        if hex::encode(sha256(bytes)) != entry.record_hash {
            report.problem(
                Some(entry.document_id),
                "record-hash",
                format!(
                    "log entry {}: its record does not hash to its record hash",
                    entry.leaf
                ),
            );
        }
        match trusted.get(&entry.key_id) {
            Some(key) if signature_valid(key, bytes, &entry.signature) => {}
            Some(_) => report.problem(
                Some(entry.document_id),
                "bad-signature",
                format!(
                    "log entry {}: the signature does not match the record",
                    entry.leaf
                ),
            ),
            None => report.problem(
                Some(entry.document_id),
                "untrusted-key",
                format!(
                    "log entry {}: signed by unknown key {}",
                    entry.leaf, entry.key_id
                ),
            ),
        }
        leaves.push(merkle::leaf_hash(bytes));
        latest.insert(entry.document_id, entry);
        Ok(())
    })?;
    report.log_entries = leaves.len() as u64;

    // Tree heads, in the database and kept outside it.
    let heads = store.tree_heads()?;
    report.tree_heads = heads.len() as u64;
    let mut all_heads: Vec<(String, TreeHead)> = heads
        .iter()
        .map(|h| ("the database".to_owned(), h.clone()))
        .collect();
    all_heads.extend(config.kept_heads.iter().cloned());
    let sizes: Vec<usize> = all_heads
        .iter()
        .map(|(_, h)| h.tree_size as usize)
        .collect();
    let roots = merkle::roots_at(&leaves, &sizes);
    let newest_in_db = heads.iter().map(|h| h.tree_size).max().unwrap_or(0);
    for ((source, head), root) in all_heads.iter().zip(roots) {
        let signed_ok = trusted
            .get(&head.key_id)
            .is_some_and(|k| head.signature_valid(k));
        if !signed_ok {
            report.problem(
                None,
                "bad-tree-head",
                format!(
                    "tree head of {} entries ({}) from {source}: signature invalid or key unknown",
                    head.tree_size, head.timestamp
                ),
            );
            continue;
        }
        let kept_outside = source != "the database";
        match root {
            None if kept_outside && head.tree_size > newest_in_db => report.problem(
                None,
                "rolled-back",
                format!(
                    "{source} holds a tree head of {} entries signed {}, the database's log has \
                     only {}: the database was rolled back or its log truncated",
                    head.tree_size,
                    head.timestamp,
                    leaves.len()
                ),
            ),
            None => report.problem(
                None,
                "log-truncated",
                format!(
                    "a tree head signed {} covers {} entries, the log holds {}",
                    head.timestamp,
                    head.tree_size,
                    leaves.len()
                ),
            ),
            Some(root) if hex::encode(root) != head.root_hash => report.problem(
                None,
                "log-rewritten",
                format!(
                    "the first {} log entries no longer hash to the root signed {} ({source})",
                    head.tree_size, head.timestamp
                ),
            ),
            Some(_) => {}
        }
    }
    if (newest_in_db as usize) < leaves.len() {
        report.notes.push(format!(
            "{} log entries are not yet covered by a signed tree head",
            leaves.len() - newest_in_db as usize
        ));
    }

    // Documents: what the database holds now against their latest signed record.
    let mut seen = HashSet::new();
    for document in store.recordable_documents()? {
        let (id, locations) = (document.id, document.locations);
        report.documents += 1;
        seen.insert(id);
        let Some(now) = store.current_record(id)? else {
            continue;
        };
        let Some(entry) = latest.get(&id) else {
            report.problem(
                Some(id),
                "unsigned",
                format!("document {id} ({}) has no signed record", now.path),
            );
            continue;
        };
        // The signed record is parsed only when needed (altered, or files to check),
        // and then once: an intact archive checked without files parses none.
        let signed = std::cell::OnceCell::new();
        let signed = || signed.get_or_init(|| serde_json::from_str::<Record>(&entry.record).ok());
        let now_bytes = canonical(&now).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        if hex::encode(sha256(&now_bytes)) != entry.record_hash {
            let what = match signed() {
                Some(signed) => differences(signed, &now).join(", "),
                None => "record".into(),
            };
            report.problem(
                Some(id),
                "altered",
                format!(
                    "document {id} ({}): {what} differ(s) from its signed record",
                    now.path
                ),
            );
        }
        if config.files {
            let signed_sha = signed().as_ref().and_then(|r| r.source_sha256.clone());
            for (path, _) in locations.iter().filter(|(_, gone)| !gone) {
                report.files_checked += 1;
                match file_sha256(path) {
                    Ok(sha) if Some(&sha) == signed_sha.as_ref() => {}
                    Ok(_) => report.problem(
                        Some(id),
                        "file-modified",
                        format!(
                            "{path}: the file's bytes changed since document {id} was archived"
                        ),
                    ),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => report.problem(
                        Some(id),
                        "file-missing",
                        format!("{path}: not there any more (moved or deleted); document {id}"),
                    ),
                    Err(e) => report.problem(
                        Some(id),
                        "unreadable-file",
                        format!("{path}: {e}; document {id}"),
                    ),
                }
            }
        }
    }
    let mut deleted: Vec<&i64> = latest.keys().filter(|id| !seen.contains(id)).collect();
    deleted.sort();
    for id in deleted {
        report.problem(
            Some(*id),
            "deleted",
            format!("document {id} is in the signed log but no longer in the database"),
        );
    }
    report
        .problems
        .sort_by_key(|p| (p.document_id.unwrap_or(-1), p.kind));
    Ok(report)
}

/// What `verify --code` answers about one code.
#[derive(Debug, Serialize)]
pub struct CodeAnswer {
    pub code: String,
    /// "intact", "altered", "superseded" (a later record of the same document exists),
    /// "deleted" or "not-found".
    pub status: &'static str,
    pub record: Option<Record>,
    pub record_hash: Option<String>,
    pub signed_by: Option<String>,
}

pub fn check_code(
    store: &dyn Store,
    code: &str,
    trusted: &[VerifyingKey],
) -> Result<CodeAnswer, StoreError> {
    let not_found = |status| CodeAnswer {
        code: code.to_owned(),
        status,
        record: None,
        record_hash: None,
        signed_by: None,
    };
    let Some(entry) = store.log_entries_by_code(code)?.pop() else {
        return Ok(not_found("not-found"));
    };
    let record: Option<Record> = serde_json::from_str(&entry.record).ok();
    let signed = trusted.iter().any(|k| {
        key_id(k) == entry.key_id && signature_valid(k, entry.record.as_bytes(), &entry.signature)
    }) && hex::encode(sha256(entry.record.as_bytes())) == entry.record_hash;
    let newest = store.log_entries_of(entry.document_id)?.pop();
    let now = store.current_record(entry.document_id)?;
    let status = if !signed {
        "altered"
    } else if newest.as_ref().is_some_and(|n| n.leaf != entry.leaf) {
        "superseded"
    } else {
        match &now {
            None => "deleted",
            Some(now) => {
                let bytes = canonical(now).map_err(|e| StoreError::Corrupt(e.to_string()))?;
                if hex::encode(sha256(&bytes)) == entry.record_hash {
                    "intact"
                } else {
                    "altered"
                }
            }
        }
    };
    Ok(CodeAnswer {
        code: code.to_owned(),
        status,
        record,
        record_hash: Some(entry.record_hash),
        signed_by: Some(entry.key_id),
    })
}

/// The bytes of a document's source file, read from the first of its known locations
/// whose bytes still match the archived SHA-256; `None` when every copy is missing or
/// altered. What is shown or re-published as "the original" must be the original.
pub fn verified_source(doc: &crate::store::StoredDocument) -> Option<Vec<u8>> {
    let expected = doc.sha256.as_deref()?;
    std::iter::once(&doc.path)
        .chain(doc.locations.iter().map(|l| &l.path))
        .filter_map(|path| std::fs::read(path).ok())
        .find(|bytes| super::sha256_hex(bytes) == expected)
}
