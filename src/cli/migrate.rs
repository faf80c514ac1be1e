//! `sohoa migrate --from A --to B`: moves an archive between SQLite and PostgreSQL (either
//! way), with its signing keys and its kept tree head, and verifies the copy.

use super::auth::{self, VerifyArgs};
use anyhow::{Context, bail};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct MigrateArgs {
    /// The archive to copy: a SQLite file or a postgres:// URL.
    #[arg(long)]
    pub from: PathBuf,
    /// Where to: an empty PostgreSQL database, or a SQLite file that does not exist yet.
    #[arg(long)]
    pub to: PathBuf,
    /// The source's key directory [default: the source's companion, <db>.keys].
    #[arg(long, value_name = "DIR")]
    pub from_keys: Option<PathBuf>,
    /// The destination's key directory [default: its companion].
    #[arg(long, value_name = "DIR")]
    pub to_keys: Option<PathBuf>,
}

/// Copies the files of directory `from` into `to` (created, 0700), keeping none that
/// `to` already has.
fn copy_dir(from: &Path, to: &Path) -> anyhow::Result<u64> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(to).with_context(|| format!("cannot create {}", to.display()))?;
    std::fs::set_permissions(to, std::fs::Permissions::from_mode(0o700))?;
    let mut copied = 0;
    for entry in
        std::fs::read_dir(from).with_context(|| format!("cannot read {}", from.display()))?
    {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_file() && !target.exists() {
            std::fs::copy(entry.path(), &target)
                .with_context(|| format!("cannot copy {}", entry.path().display()))?;
            copied += 1;
        }
    }
    Ok(copied)
}

pub(super) fn run(args: MigrateArgs) -> anyhow::Result<ExitCode> {
    let MigrateArgs {
        from,
        to,
        from_keys,
        to_keys,
    } = args;
    let (from_name, to_name) = (
        crate::location::display(&from),
        crate::location::display(&to),
    );
    if !crate::location::is_database_url(&from) && !from.exists() {
        bail!("no archive at {from_name}");
    }
    if !crate::location::is_database_url(&to) && to.exists() {
        bail!("{to_name} exists: move into a new SQLite file or an empty PostgreSQL database");
    }
    let source = crate::store::open_tables(&from)?;
    let mut destination = crate::store::open_tables(&to)?;
    let started = std::time::Instant::now();
    let counts = crate::store::copy::copy_archive(&*source, &mut *destination)
        .with_context(|| format!("moving {from_name} to {to_name}"))?;
    drop((source, destination));
    let rows: u64 = counts.iter().map(|(_, n)| n).sum();
    println!(
        "copied {rows} rows from {from_name} to {to_name} in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    for (table, n) in counts.iter().filter(|(_, n)| *n > 0) {
        println!("  {table}: {n}");
    }
    // The keys sign on at the destination; the tree head kept outside the source
    // becomes the destination's, and the copy must extend it.
    let from_keys = auth::keys_dir(&from, from_keys.as_deref());
    let to_keys = auth::keys_dir(&to, to_keys.as_deref());
    if from_keys.is_dir() {
        let n = copy_dir(&from_keys, &to_keys)?;
        println!("  signing keys: {n} copied to {}", to_keys.display());
    }
    let from_head = auth::head_file(&from);
    let mut kept = Vec::new();
    if from_head.exists() {
        let to_head = auth::head_file(&to);
        if let Some(dir) = to_head.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::copy(&from_head, &to_head)
            .with_context(|| format!("cannot copy {}", from_head.display()))?;
        kept.push(from_head);
    }
    println!("verifying the copy:");
    auth::verify_command(
        &to,
        &to_keys,
        VerifyArgs {
            no_files: false,
            code: None,
            tree_heads: kept,
            public_keys: Vec::new(),
            json: false,
        },
    )
}
