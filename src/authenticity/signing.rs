//! Setting up the archive's signing and sealing its log, for every front end (the
//! command line, the web service): typed errors, nothing printed; the caller says what
//! happened in its own way.

use super::{AuthError, Signer, TreeHead, keys};
use crate::store::{Store, StoreError};
use std::path::{Path, PathBuf};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum SigningError {
    #[error(
        "the archive signs with key {key_id}, whose private key is not in {dir} (restore it, or \
         `sohoa keys rotate` to start signing with a new one): {source}"
    )]
    PrivateKeyMissing {
        key_id: String,
        dir: String,
        source: AuthError,
    },
    #[error("the archive has no signing key yet (`sohoa keys init`, or any ingest, creates one)")]
    NoKey,
    #[error(transparent)]
    Keys(#[from] AuthError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot write {path}: {source}")]
    HeadFile {
        path: String,
        source: std::io::Error,
    },
}

/// What `start` did besides setting the signer.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Started {
    /// The key created because the archive had none.
    pub created_key: Option<String>,
    /// Documents stored before signing existed that got their records now.
    pub backfilled: u64,
}

/// The key that signs now (the archive's newest unretired one), read from `dir`; None
/// when the archive has no key yet.
pub fn active_signer(store: &dyn Store, dir: &Path) -> Result<Option<Signer>, SigningError> {
    let current = store
        .signing_keys()?
        .into_iter()
        .rev()
        .find(|k| k.retired_at.is_none());
    let Some(key) = current else {
        return Ok(None);
    };
    keys::load(dir, &key.key_id)
        .map(Some)
        .map_err(|source| SigningError::PrivateKeyMissing {
            key_id: key.key_id,
            dir: dir.display().to_string(),
            source,
        })
}

/// Makes `store` sign with the archive's key from now on, creating the first key in
/// `dir` when the archive has none, and records the documents stored before signing
/// existed (a pass over the whole archive: for start-up, not for every change).
pub fn start(store: &mut dyn Store, dir: &Path) -> Result<Started, SigningError> {
    let mut started = Started::default();
    let signer = match active_signer(store, dir)? {
        Some(signer) => signer,
        None => {
            let signer = keys::create(dir)?;
            started.created_key = Some(signer.id().to_owned());
            signer
        }
    };
    store.set_signer(Some(signer))?;
    started.backfilled = store.record_unrecorded()?;
    Ok(started)
}

/// Makes `store` sign with the archive's existing key: for a handle that writes one
/// change of an archive `start` already set up (a web correction). Creates nothing.
pub fn resume(store: &mut dyn Store, dir: &Path) -> Result<(), SigningError> {
    let signer = active_signer(store, dir)?.ok_or(SigningError::NoKey)?;
    store.set_signer(Some(signer))?;
    Ok(())
}

/// Where the latest signed tree head is copied after every change: outside the
/// database, so that a database rolled back to an older copy is caught by `verify`.
pub fn head_file(db: &Path) -> PathBuf {
    crate::location::companion(db, ".head.json")
}

/// Signs a tree head over the log if it grew, and keeps a copy beside the database
/// (written whole, then renamed into place). The new head, if any.
pub fn seal(store: &mut dyn Store, db: &Path) -> Result<Option<TreeHead>, SigningError> {
    let Some(head) = store.seal()? else {
        return Ok(None);
    };
    let path = head_file(db);
    let tmp = path.with_extension("json.tmp");
    let json = serde_json::to_string_pretty(&head).expect("a tree head serializes") + "\n";
    std::fs::write(&tmp, json)
        .and_then(|_| std::fs::rename(&tmp, &path))
        .map_err(|source| SigningError::HeadFile {
            path: path.display().to_string(),
            source,
        })?;
    Ok(Some(head))
}
