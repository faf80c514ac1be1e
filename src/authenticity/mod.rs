//! Electronic authentication: every stored document version gets a canonical record
//! (RFC 8785 JSON) of its hashes, fields, classification and ingest time, signed with
//! the archive's Ed25519 key and appended to a Certificate-Transparency-style Merkle
//! log whose tree heads are signed too. This module is pure (records, codes, proofs);
//! key files live in `keys`, SQLite in `store`, the checks in `verify`.

pub mod keys;
pub mod merkle;
pub mod signing;
pub mod verify;

use crate::classify::Classification;
use crate::fields::Fields;
use ed25519_dalek::{Signature, Signer as _, SigningKey, Verifier as _, VerifyingKey};
use merkle::Hash;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Version of the record layout; a new layout is a new number, old records stay valid.
pub const RECORD_VERSION: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("{0}")]
    Invalid(String),
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}

/// What the record says of one page: hashes of its decoded pixels and of its text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageHashes {
    pub number: u32,
    /// SHA-256 over the page's decoded gray pixels (width, height, then rows); none for
    /// a page read from a text layer or not read at all.
    pub image_sha256: Option<String>,
    pub text_sha256: String,
}

/// The classification as signed: no confidence (a float has no single canonical
/// form worth trusting across implementations) and no reasons (explanations).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedClassification {
    pub sector: String,
    pub procedure_code: Option<String>,
    pub needs_review: bool,
    pub source: String,
}

/// One document version's canonical record: what a signature vouches for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub record_version: u32,
    pub document_id: i64,
    /// The logical record (all versions of one file share it) and this version.
    pub record_id: i64,
    pub version: i64,
    pub path: String,
    pub source_sha256: Option<String>,
    pub size: Option<u64>,
    pub format: Option<String>,
    pub status: String,
    pub pages: Vec<PageHashes>,
    pub fields: Option<Fields>,
    pub classification: Option<SignedClassification>,
    pub ingested_at: String,
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

pub fn sha256(bytes: &[u8]) -> Hash {
    Sha256::digest(bytes).into()
}

/// The hash of a page's pixels as the record holds it.
pub fn pixels_sha256(width: u32, height: u32, gray: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(width.to_be_bytes());
    h.update(height.to_be_bytes());
    h.update(gray);
    hex::encode(h.finalize())
}

pub fn signed_classification(c: &Classification) -> SignedClassification {
    SignedClassification {
        sector: c.sector.clone(),
        procedure_code: c.procedure_code.clone(),
        needs_review: c.needs_review,
        source: c.source.as_str().to_owned(),
    }
}

/// RFC 8785 canonical bytes of any serializable value.
pub fn canonical<T: Serialize>(value: &T) -> Result<Vec<u8>, AuthError> {
    serde_json_canonicalizer::to_vec(value)
        .map_err(|e| AuthError::Invalid(format!("cannot canonicalize: {e}")))
}

impl Record {
    pub fn canonical(&self) -> Result<Vec<u8>, AuthError> {
        canonical(self)
    }

    /// The record of a document version as the archive holds it, whatever the backend
    /// read it from; None for a failed document (nothing was read: not a record).
    /// Pages are hashed and put in order here.
    pub fn of(version: DocumentVersion) -> Option<Record> {
        if version.status == "failed" {
            return None;
        }
        let mut pages: Vec<PageHashes> = version
            .pages
            .iter()
            .map(|p| PageHashes {
                number: p.number,
                image_sha256: p.image_sha256.clone(),
                text_sha256: sha256_hex(p.text.as_bytes()),
            })
            .collect();
        pages.sort_by_key(|p| p.number);
        Some(Record {
            record_version: RECORD_VERSION,
            document_id: version.document_id,
            record_id: version.record_id,
            version: version.version,
            path: version.path,
            source_sha256: version.sha256,
            size: version.size,
            format: version.format,
            status: version.status,
            pages,
            fields: version.fields,
            classification: version.classification.as_ref().map(signed_classification),
            ingested_at: version.ingested_at,
        })
    }
}

/// What a record is built from: one document version as stored.
#[derive(Debug, Clone)]
pub struct DocumentVersion {
    pub document_id: i64,
    pub record_id: i64,
    pub version: i64,
    pub path: String,
    pub sha256: Option<String>,
    pub size: Option<u64>,
    pub format: Option<String>,
    /// The document's status as stored (`ok`, `partial`, `empty`, `failed`).
    pub status: String,
    pub ingested_at: String,
    /// In any order.
    pub pages: Vec<VersionPage>,
    pub fields: Option<Fields>,
    pub classification: Option<Classification>,
}

#[derive(Debug, Clone)]
pub struct VersionPage {
    pub number: u32,
    pub image_sha256: Option<String>,
    pub text: String,
}

/// A key's short id: the first 8 bytes of SHA-256 of the public key, in hex.
pub fn key_id(public: &VerifyingKey) -> String {
    hex::encode(&Sha256::digest(public.as_bytes())[..8])
}

/// The archive's signing key in memory.
#[derive(Clone)]
pub struct Signer {
    key: SigningKey,
    id: String,
}

impl Signer {
    pub fn new(key: SigningKey) -> Signer {
        let id = key_id(&key.verifying_key());
        Signer { key, id }
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn public_key(&self) -> VerifyingKey {
        self.key.verifying_key()
    }

    pub fn sign(&self, message: &[u8]) -> String {
        hex::encode(self.key.sign(message).to_bytes())
    }
}

/// Parses a public key given as 64 hex digits.
pub fn parse_public_key(text: &str) -> Result<VerifyingKey, AuthError> {
    let bytes = hex::decode(text.trim())
        .map_err(|_| AuthError::Invalid("a public key is 64 hex digits".into()))?;
    let bytes: [u8; 32] = bytes
        .try_into()
        .map_err(|_| AuthError::Invalid("a public key is 64 hex digits".into()))?;
    VerifyingKey::from_bytes(&bytes)
        .map_err(|_| AuthError::Invalid("not an Ed25519 public key".into()))
}

/// Whether `signature` (hex) is `public`'s signature of `message`.
pub fn signature_valid(public: &VerifyingKey, message: &[u8], signature: &str) -> bool {
    let Ok(bytes) = hex::decode(signature) else {
        return false;
    };
    let Ok(bytes) = <[u8; 64]>::try_from(bytes.as_slice()) else {
        return false;
    };
    public
        .verify(message, &Signature::from_bytes(&bytes))
        .is_ok()
}

/// A signed statement of the log's size and root at a moment (RFC 6962 STH).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TreeHead {
    pub tree_size: u64,
    /// Hex of the Merkle tree hash over the first `tree_size` entries.
    pub root_hash: String,
    pub timestamp: String,
    pub key_id: String,
    pub signature: String,
}

#[derive(Serialize)]
struct TreeHeadBody<'a> {
    tree_size: u64,
    root_hash: &'a str,
    timestamp: &'a str,
    key_id: &'a str,
}

impl TreeHead {
    /// The bytes its signature covers.
    pub fn signed_bytes(&self) -> Result<Vec<u8>, AuthError> {
        canonical(&TreeHeadBody {
            tree_size: self.tree_size,
            root_hash: &self.root_hash,
            timestamp: &self.timestamp,
            key_id: &self.key_id,
        })
    }

    pub fn sign(
        tree_size: u64,
        root: &Hash,
        timestamp: String,
        signer: &Signer,
    ) -> Result<TreeHead, AuthError> {
        let mut head = TreeHead {
            tree_size,
            root_hash: hex::encode(root),
            timestamp,
            key_id: signer.id().to_owned(),
            signature: String::new(),
        };
        head.signature = signer.sign(&head.signed_bytes()?);
        Ok(head)
    }

    pub fn signature_valid(&self, public: &VerifyingKey) -> bool {
        self.signed_bytes()
            .is_ok_and(|bytes| signature_valid(public, &bytes, &self.signature))
    }
}

// Verification codes: Crockford base32 (no I, L, O, U: nothing to misread), 60 bits of
// the record hash in 12 symbols, then a check symbol (value mod 37), grouped by four.
const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const CHECK_SYMBOLS: &[u8; 37] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ*~$=U";
/// Symbols of hash in a code: 60 bits, a collision among a million records is a one
/// in two million chance.
const CODE_SYMBOLS: usize = 12;

/// "7KQ2-M9XD-4RTA-P": the human-typable code of a record hash.
pub fn verification_code(record_hash: &Hash) -> String {
    let value = u64::from_be_bytes(record_hash[..8].try_into().expect("8 bytes")) >> 4;
    let mut symbols: Vec<u8> = (0..CODE_SYMBOLS)
        .rev()
        .map(|i| CROCKFORD[((value >> (5 * i)) & 31) as usize])
        .collect();
    symbols.push(CHECK_SYMBOLS[(value % 37) as usize]);
    let text = String::from_utf8(symbols).expect("ascii");
    let mut out = String::new();
    for (i, c) in text.chars().enumerate() {
        if i > 0 && i % 4 == 0 {
            out.push('-');
        }
        out.push(c);
    }
    out
}

/// Reads a code as typed (any case, hyphens or spaces, O for 0, I/L for 1) and checks
/// its check symbol; returns the canonical form.
pub fn parse_code(typed: &str) -> Result<String, AuthError> {
    let mut value: u64 = 0;
    let mut symbols = Vec::new();
    for c in typed.chars().filter(|c| !matches!(c, '-' | ' ')) {
        symbols.push(match c.to_ascii_uppercase() {
            'O' => '0',
            'I' | 'L' => '1',
            c => c,
        });
    }
    if symbols.len() != CODE_SYMBOLS + 1 {
        return Err(AuthError::Invalid(format!(
            "a verification code has {} symbols (got {})",
            CODE_SYMBOLS + 1,
            symbols.len()
        )));
    }
    for c in &symbols[..CODE_SYMBOLS] {
        let Some(v) = CROCKFORD.iter().position(|s| *s as char == *c) else {
            return Err(AuthError::Invalid(format!(
                "'{c}' is not a symbol of verification codes"
            )));
        };
        value = (value << 5) | v as u64;
    }
    let check = symbols[CODE_SYMBOLS];
    if CHECK_SYMBOLS[(value % 37) as usize] as char != check {
        return Err(AuthError::Invalid(
            "the code's last symbol does not match: a symbol was mistyped".into(),
        ));
    }
    let mut hash = [0u8; 32];
    hash[..8].copy_from_slice(&(value << 4).to_be_bytes());
    let code = verification_code(&hash);
    Ok(code)
}

/// A self-contained proof that a record is in the archive's log (`sohoa proof`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InclusionProof {
    pub proof_version: u32,
    pub record: Record,
    /// Hex SHA-256 of the record's canonical bytes.
    pub record_hash: String,
    pub verification_code: String,
    pub key_id: String,
    pub signature: String,
    pub leaf_index: u64,
    pub inclusion_path: Vec<String>,
    pub tree_head: TreeHead,
}

/// Proof that the log at `new_head` extends the log at `old_head`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ConsistencyProof {
    pub old_head: TreeHead,
    pub new_head: TreeHead,
    pub proof: Vec<String>,
}

fn hash_from_hex(text: &str) -> Result<Hash, AuthError> {
    hex::decode(text)
        .ok()
        .and_then(|b| <[u8; 32]>::try_from(b.as_slice()).ok())
        .ok_or_else(|| AuthError::Invalid(format!("not a SHA-256 hash: {text:?}")))
}

/// What checking a proof found: every check, in order, and whether each passed.
pub type Checks = Vec<(String, bool)>;

impl InclusionProof {
    /// Checks everything offline with only the archive's public key and, when given,
    /// the file's bytes.
    pub fn check(&self, public: &VerifyingKey, file: Option<&[u8]>) -> Result<Checks, AuthError> {
        let bytes = self.record.canonical()?;
        let hash = sha256(&bytes);
        let mut checks: Checks = vec![
            (
                "record hash matches the record".into(),
                hex::encode(hash) == self.record_hash,
            ),
            (
                "verification code matches the record".into(),
                verification_code(&hash) == self.verification_code,
            ),
            (
                format!("record signed by key {}", key_id(public)),
                self.key_id == key_id(public) && signature_valid(public, &bytes, &self.signature),
            ),
            (
                format!(
                    "tree head of {} entries signed by the key",
                    self.tree_head.tree_size
                ),
                self.tree_head.key_id == key_id(public) && self.tree_head.signature_valid(public),
            ),
        ];
        let path: Vec<Hash> = self
            .inclusion_path
            .iter()
            .map(|h| hash_from_hex(h))
            .collect::<Result<_, _>>()?;
        let root = hash_from_hex(&self.tree_head.root_hash)?;
        checks.push((
            format!("record is entry {} of the signed log", self.leaf_index),
            merkle::verify_inclusion(
                &merkle::leaf_hash(&bytes),
                self.leaf_index as usize,
                self.tree_head.tree_size as usize,
                &path,
                &root,
            ),
        ));
        if let Some(file) = file {
            checks.push((
                "file's bytes are the archived source".into(),
                self.record.source_sha256.as_deref() == Some(sha256_hex(file).as_str()),
            ));
        }
        Ok(checks)
    }
}

impl ConsistencyProof {
    pub fn check(&self, public: &VerifyingKey) -> Result<Checks, AuthError> {
        let proof: Vec<Hash> = self
            .proof
            .iter()
            .map(|h| hash_from_hex(h))
            .collect::<Result<_, _>>()?;
        Ok(vec![
            (
                format!(
                    "older tree head ({} entries) signed by the key",
                    self.old_head.tree_size
                ),
                self.old_head.signature_valid(public),
            ),
            (
                format!(
                    "newer tree head ({} entries) signed by the key",
                    self.new_head.tree_size
                ),
                self.new_head.signature_valid(public),
            ),
            (
                "newer log only appended to the older one".into(),
                merkle::verify_consistency(
                    self.old_head.tree_size as usize,
                    self.new_head.tree_size as usize,
                    &hash_from_hex(&self.old_head.root_hash)?,
                    &hash_from_hex(&self.new_head.root_hash)?,
                    &proof,
                ),
            ),
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn version(status: &str, pages: &[(u32, &str)]) -> DocumentVersion {
        DocumentVersion {
            document_id: 7,
            record_id: 3,
            version: 2,
            path: "inbox/qd-12.pdf".into(),
            sha256: Some("ab".repeat(32)),
            size: Some(1234),
            format: Some("pdf".into()),
            status: status.into(),
            ingested_at: "2026-12-07T07:00:00.000Z".into(),
            pages: pages
                .iter()
                .map(|&(number, text)| VersionPage {
                    number,
                    image_sha256: None,
                    text: text.into(),
                })
                .collect(),
            fields: None,
            classification: Some(Classification {
                sector: "dat_dai".into(),
                sector_name: "Đất đai".into(),
                procedure_code: Some("1.000".into()),
                procedure_name: None,
                confidence: 0.83,
                needs_review: false,
                source: crate::classify::ClassSource::Staff,
                reasons: vec!["«đất»".into()],
            }),
        }
    }

    #[test]
    fn a_record_is_built_from_the_stored_version_alone() {
        let record = Record::of(version("ok", &[(2, "trang hai"), (1, "trang một")])).unwrap();
        let numbers: Vec<u32> = record.pages.iter().map(|p| p.number).collect();
        assert_eq!(
            numbers,
            [1, 2],
            "pages in order whatever order they were read in"
        );
        assert_eq!(
            record.pages[0].text_sha256,
            sha256_hex("trang một".as_bytes())
        );
        let signed = record.classification.as_ref().unwrap();
        assert_eq!(signed.source, "staff");
        // The same version gives the same canonical bytes: the record is a function of it.
        let again = Record::of(version("ok", &[(1, "trang một"), (2, "trang hai")])).unwrap();
        assert_eq!(record.canonical().unwrap(), again.canonical().unwrap());
        assert!(
            Record::of(version("failed", &[])).is_none(),
            "failures are not records"
        );
        assert!(Record::of(version("empty", &[(1, "")])).is_some());
    }

    #[test]
    fn codes_round_trip_and_catch_a_mistyped_symbol() {
        for seed in 0..200u32 {
            let hash = sha256(&seed.to_be_bytes());
            let code = verification_code(&hash);
            assert_eq!(code.len(), 16, "{code}");
            assert_eq!(parse_code(&code).unwrap(), code);
            assert_eq!(
                parse_code(&code.to_lowercase().replace('-', " ")).unwrap(),
                code
            );
            // Every single-symbol substitution is caught by the mod-37 check.
            let mut chars: Vec<char> = code.chars().collect();
            let first = if chars[0] == '7' { '8' } else { '7' };
            chars[0] = first;
            let typo: String = chars.into_iter().collect();
            assert!(parse_code(&typo).is_err(), "{typo}");
        }
        assert!(parse_code("ABC").is_err());
        assert!(parse_code("UUUU-UUUU-UUUU-U").is_err());
    }

    #[test]
    fn canonical_records_sort_keys_and_keep_marks() {
        let bytes = canonical(&serde_json::json!({"b": "Đất đai", "a": [2, 1]})).unwrap();
        assert_eq!(
            String::from_utf8(bytes).unwrap(),
            r#"{"a":[2,1],"b":"Đất đai"}"#
        );
    }

    #[test]
    fn signatures_verify_only_for_their_message_and_key() {
        let signer = Signer::new(SigningKey::from_bytes(&[7; 32]));
        let other = Signer::new(SigningKey::from_bytes(&[8; 32]));
        let sig = signer.sign(b"record");
        assert!(signature_valid(&signer.public_key(), b"record", &sig));
        assert!(!signature_valid(&signer.public_key(), b"recorD", &sig));
        assert!(!signature_valid(&other.public_key(), b"record", &sig));
        assert!(!signature_valid(&signer.public_key(), b"record", "zz"));
        let head = TreeHead::sign(3, &[1; 32], "2026-01-01T00:00:00Z".into(), &signer).unwrap();
        assert!(head.signature_valid(&signer.public_key()));
        let mut forged = head.clone();
        forged.tree_size = 2;
        assert!(!forged.signature_valid(&signer.public_key()));
    }
}
