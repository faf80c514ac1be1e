//! The archive's signing keys on disk: a directory beside the database
//! (`<db>.keys/`, mode 0700) holding one `<key id>.key` per key (the secret, hex, mode
//! 0600) and `<key id>.pub`. Private keys never enter the database: whoever can write
//! the database must still not be able to sign.

use super::{AuthError, Signer, key_id};
use ed25519_dalek::{SigningKey, VerifyingKey};
use std::io::{Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The default key directory of the archive at `db`.
pub fn default_dir(db: &Path) -> PathBuf {
    crate::location::companion(db, ".keys")
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> AuthError + '_ {
    move |source| AuthError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// A new key from the operating system's randomness, written to `dir`.
pub fn create(dir: &Path) -> Result<Signer, AuthError> {
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(io(dir))?;
    let mut secret = [0u8; 32];
    let urandom = Path::new("/dev/urandom");
    std::fs::File::open(urandom)
        .and_then(|mut f| f.read_exact(&mut secret))
        .map_err(io(urandom))?;
    let signer = Signer::new(SigningKey::from_bytes(&secret));
    let path = dir.join(format!("{}.key", signer.id()));
    // Created with 0600 from the start: never readable by others, not even briefly.
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .map_err(io(&path))?;
    file.write_all(format!("{}\n", hex::encode(secret)).as_bytes())
        .and_then(|_| file.sync_all())
        .map_err(io(&path))?;
    let public = dir.join(format!("{}.pub", signer.id()));
    std::fs::write(
        &public,
        format!("{}\n", hex::encode(signer.public_key().as_bytes())),
    )
    .map_err(io(&public))?;
    Ok(signer)
}

/// The key `id` from `dir`.
pub fn load(dir: &Path, id: &str) -> Result<Signer, AuthError> {
    let path = dir.join(format!("{id}.key"));
    let text = std::fs::read_to_string(&path).map_err(io(&path))?;
    let bytes = hex::decode(text.trim())
        .ok()
        .and_then(|b| <[u8; 32]>::try_from(b.as_slice()).ok())
        .ok_or_else(|| {
            AuthError::Invalid(format!("{}: not a sohoa signing key", path.display()))
        })?;
    let signer = Signer::new(SigningKey::from_bytes(&bytes));
    if signer.id() != id {
        return Err(AuthError::Invalid(format!(
            "{}: holds key {}, not {id}",
            path.display(),
            signer.id()
        )));
    }
    Ok(signer)
}

/// The public keys of every key file in `dir` (none when it does not exist): the keys
/// this archive's own signatures are checked against.
pub fn public_keys(dir: &Path) -> Result<Vec<VerifyingKey>, AuthError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io(dir)(e)),
    };
    let mut out = Vec::new();
    for entry in entries {
        let path = entry.map_err(io(dir))?.path();
        if path.extension().is_some_and(|e| e == "key")
            && let Some(id) = path.file_stem().and_then(|s| s.to_str())
        {
            out.push(load(dir, id)?.public_key());
        }
    }
    out.sort_by_key(key_id);
    Ok(out)
}
