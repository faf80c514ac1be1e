//! `keys`, `verify`, `proof`, `verify-proof`, `tree-head`: the archive's signing keys
//! and everything that checks what they signed.

use super::open_existing;
use crate::authenticity::verify::{self, VerifyConfig};
use crate::authenticity::{
    ConsistencyProof, InclusionProof, TreeHead, keys, merkle, parse_code, parse_public_key, signing,
};
use crate::store::Archive;
use anyhow::{Context, bail};
use clap::Subcommand;
use ed25519_dalek::VerifyingKey;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Subcommand, Debug)]
pub enum KeysCommand {
    /// Create the archive's signing key (and sign any documents stored before it).
    Init,
    /// Print the public keys and which one signs now.
    Show {
        #[arg(long)]
        json: bool,
    },
    /// Start signing with a new key; records signed by older keys stay verifiable.
    Rotate,
}

/// The key directory: `--keys`, else `<db>.keys/`.
pub(crate) fn keys_dir(db: &Path, keys: Option<&Path>) -> PathBuf {
    keys.map_or_else(|| keys::default_dir(db), Path::to_path_buf)
}

pub(crate) use crate::authenticity::signing::head_file;

/// The store, signing with the archive's key; documents stored before signing existed
/// get their records now.
pub(crate) fn open_signing(
    db: &Path,
    keys: &Path,
    must_exist: bool,
) -> anyhow::Result<Box<dyn Archive>> {
    let mut store = if must_exist {
        open_existing(db)?
    } else {
        crate::store::open(db)?
    };
    start_signing(&mut *store, keys)?;
    Ok(store)
}

/// Makes `store` sign with the archive's key from now on (the first key created when
/// there is none), and says on stderr what that took.
pub(crate) fn start_signing(store: &mut dyn Archive, keys: &Path) -> anyhow::Result<()> {
    let started = signing::start(store, keys)?;
    if let Some(key) = &started.created_key {
        eprintln!(
            "sohoa: created the archive's signing key {key} in {} (keep it safe; `sohoa keys show` prints the public key)",
            keys.display()
        );
    }
    if started.backfilled > 0 {
        eprintln!(
            "sohoa: signed the records of {} documents stored before signing",
            started.backfilled
        );
    }
    Ok(())
}

/// Signs a tree head over the log if it grew, and keeps a copy beside the database.
pub(crate) fn seal(store: &mut dyn Archive, db: &Path) -> anyhow::Result<()> {
    signing::seal(store, db)?;
    Ok(())
}

pub(crate) fn keys_command(
    db: &Path,
    dir: &Path,
    command: KeysCommand,
) -> anyhow::Result<ExitCode> {
    match command {
        KeysCommand::Init => {
            let mut store = crate::store::open(db)?;
            if let Some(key) = store.signing_keys()?.last() {
                bail!(
                    "the archive already has signing key {} (`sohoa keys show`; `sohoa keys rotate` for a new one)",
                    key.key_id
                );
            }
            drop(store);
            store = open_signing(db, dir, false)?;
            seal(&mut *store, db)?;
            print_keys(&*store, false)?;
        }
        KeysCommand::Show { json } => {
            let store = open_existing(db)?;
            print_keys(&*store, json)?;
        }
        KeysCommand::Rotate => {
            let mut store = crate::store::open(db)?;
            let signer = keys::create(dir)?;
            store.set_signer(Some(signer.clone()))?;
            store.record_unrecorded()?;
            seal(&mut *store, db)?;
            println!("now signing with key {}", signer.id());
            print_keys(&*store, false)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn print_keys(store: &dyn Archive, json: bool) -> anyhow::Result<()> {
    let keys = store.signing_keys()?;
    if json {
        println!("{}", serde_json::to_string_pretty(&keys)?);
        return Ok(());
    }
    if keys.is_empty() {
        println!("no signing key yet (`sohoa keys init`)");
    }
    for key in keys {
        let state = match &key.retired_at {
            None => "signs now".to_owned(),
            Some(at) => format!("retired {at}"),
        };
        println!(
            "key {}  public {}  created {}  {state}",
            key.key_id, key.public_key, key.created_at
        );
    }
    Ok(())
}

/// Public keys given as hex or as files holding hex (`<id>.pub`).
fn read_public_keys(given: &[String]) -> anyhow::Result<Vec<VerifyingKey>> {
    given
        .iter()
        .map(|k| {
            let text = if Path::new(k).is_file() {
                std::fs::read_to_string(k).with_context(|| format!("cannot read {k}"))?
            } else {
                k.clone()
            };
            parse_public_key(&text).with_context(|| format!("--public-key {k}"))
        })
        .collect()
}

fn read_tree_head(path: &Path) -> anyhow::Result<TreeHead> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_str(&text)
        .with_context(|| format!("{}: not a sohoa tree head", path.display()))
}

/// `sohoa verify`'s flags.
#[derive(clap::Args, Debug)]
pub struct VerifyArgs {
    /// Do not re-read and re-hash the source files.
    #[arg(long)]
    pub no_files: bool,
    /// Answer whether the record with this verification code exists and is intact.
    #[arg(long)]
    pub code: Option<String>,
    /// A tree head saved earlier (`sohoa tree-head`): the log must extend it.
    #[arg(long = "tree-head", value_name = "FILE")]
    pub tree_heads: Vec<PathBuf>,
    /// Also trust this public key (hex, or a .pub file).
    #[arg(long = "public-key", value_name = "KEY")]
    pub public_keys: Vec<String>,
    #[arg(long)]
    pub json: bool,
}

pub(crate) fn verify_command(db: &Path, dir: &Path, args: VerifyArgs) -> anyhow::Result<ExitCode> {
    let store = open_existing(db)?;
    let mut trusted = keys::public_keys(dir)?;
    trusted.extend(read_public_keys(&args.public_keys)?);
    if let Some(code) = &args.code {
        let code = parse_code(code)?;
        let answer = verify::check_code(&*store, &code, &trusted)?;
        if args.json {
            println!("{}", serde_json::to_string_pretty(&answer)?);
        } else {
            match (&answer.record, answer.status) {
                (_, "not-found") | (None, _) => println!("{code}: no record with this code"),
                (Some(r), status) => {
                    let f = r.fields.clone().unwrap_or_default();
                    println!("{code}: {status}");
                    println!(
                        "  {} {} of {}, {}",
                        f.doc_type_name.as_deref().unwrap_or("document"),
                        f.number.as_deref().unwrap_or("(no number)"),
                        f.date.as_deref().unwrap_or("(no date)"),
                        f.agency.as_deref().unwrap_or("(agency unknown)")
                    );
                    println!(
                        "  record {}  document {}  signed by key {}",
                        answer.record_hash.as_deref().unwrap_or("-"),
                        r.document_id,
                        answer.signed_by.as_deref().unwrap_or("-")
                    );
                }
            }
        }
        return Ok(if answer.status == "intact" {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        });
    }
    let mut kept_heads = Vec::new();
    let beside = head_file(db);
    if beside.exists() {
        kept_heads.push((beside.display().to_string(), read_tree_head(&beside)?));
    }
    for path in &args.tree_heads {
        kept_heads.push((path.display().to_string(), read_tree_head(path)?));
    }
    let started = std::time::Instant::now();
    let report = verify::verify_archive(
        &*store,
        &VerifyConfig {
            files: !args.no_files,
            trusted,
            kept_heads,
        },
    )?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        let mut out = std::io::stdout().lock();
        for p in &report.problems {
            writeln!(out, "PROBLEM {}: {}", p.kind, p.detail)?;
        }
        for note in &report.notes {
            writeln!(out, "note: {note}")?;
        }
        writeln!(
            out,
            "{}: {} documents, {} log entries, {} tree heads, {} files re-hashed in {:.2} s: {}",
            crate::location::display(db),
            report.documents,
            report.log_entries,
            report.tree_heads,
            report.files_checked,
            started.elapsed().as_secs_f64(),
            if report.problems.is_empty() {
                "intact".to_owned()
            } else {
                format!("{} problems", report.problems.len())
            }
        )?;
    }
    Ok(if report.problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// `sohoa proof ID`: a self-contained inclusion proof of the document's latest record;
/// `sohoa proof --since HEAD`: a consistency proof from an older tree head.
pub(crate) fn proof_command(
    db: &Path,
    dir: &Path,
    id: Option<i64>,
    since: Option<&Path>,
) -> anyhow::Result<ExitCode> {
    // Seals first, so the proof covers everything stored so far.
    let mut store = open_signing(db, dir, true)?;
    seal(&mut *store, db)?;
    let heads = store.tree_heads()?;
    let Some(head) = heads.last().cloned() else {
        bail!("the archive's log is empty: nothing to prove");
    };
    let leaves = store.leaf_hashes()?;
    // A log changed behind sohoa's back is what `verify` reports; a proof must not be
    // built from it (nor panic on it).
    let Some(leaves) = leaves.get(..head.tree_size as usize) else {
        bail!(
            "the archive's log holds {} entries but its signed tree head covers {}: entries were removed (run `sohoa verify`)",
            leaves.len(),
            head.tree_size
        );
    };
    if hex::encode(merkle::root(leaves)) != head.root_hash {
        bail!(
            "the archive's log does not match its signed tree head of {} entries: entries were rewritten (run `sohoa verify`)",
            head.tree_size
        );
    }
    let json = match (id, since) {
        (Some(id), None) => {
            let Some(entry) = store.log_entries_of(id)?.pop() else {
                bail!(
                    "document {id} has no signed record in {}",
                    crate::location::display(db)
                );
            };
            if leaves.get(entry.leaf as usize) != Some(&merkle::leaf_hash(entry.record.as_bytes()))
            {
                bail!(
                    "log entry {} of document {id} does not match the signed log: it was rewritten (run `sohoa verify`)",
                    entry.leaf
                );
            }
            let record = serde_json::from_str(&entry.record)
                .with_context(|| format!("log entry {} is not a record", entry.leaf))?;
            let proof = InclusionProof {
                proof_version: 1,
                record,
                record_hash: entry.record_hash,
                verification_code: entry.code,
                key_id: entry.key_id,
                signature: entry.signature,
                leaf_index: entry.leaf,
                inclusion_path: merkle::inclusion_proof(leaves, entry.leaf as usize)
                    .iter()
                    .map(hex::encode)
                    .collect(),
                tree_head: head,
            };
            serde_json::to_string_pretty(&proof)?
        }
        (None, Some(path)) => {
            let old = read_tree_head(path)?;
            if old.tree_size > head.tree_size {
                bail!(
                    "{} covers {} entries, more than the archive's log ({}): the archive was rolled back",
                    path.display(),
                    old.tree_size,
                    head.tree_size
                );
            }
            let proof = ConsistencyProof {
                proof: merkle::consistency_proof(leaves, old.tree_size as usize)
                    .iter()
                    .map(hex::encode)
                    .collect(),
                old_head: old,
                new_head: head,
            };
            serde_json::to_string_pretty(&proof)?
        }
        _ => bail!("give a document id, or --since TREE_HEAD.json"),
    };
    println!("{json}");
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn verify_proof_command(
    proof: &Path,
    public_key: &str,
    file: Option<&Path>,
) -> anyhow::Result<ExitCode> {
    let public = read_public_keys(&[public_key.to_owned()])?.remove(0);
    let text = std::fs::read_to_string(proof)
        .with_context(|| format!("cannot read {}", proof.display()))?;
    let value: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("{}: not JSON", proof.display()))?;
    let checks = if value.get("old_head").is_some() {
        if file.is_some() {
            bail!("--file goes with a document's proof, not a consistency proof");
        }
        let proof: ConsistencyProof = serde_json::from_value(value)
            .with_context(|| format!("{}: not a sohoa consistency proof", proof.display()))?;
        proof.check(&public)?
    } else {
        let proof: InclusionProof = serde_json::from_value(value)
            .with_context(|| format!("{}: not a sohoa proof", proof.display()))?;
        let bytes = match file {
            Some(f) => {
                Some(std::fs::read(f).with_context(|| format!("cannot read {}", f.display()))?)
            }
            None => None,
        };
        proof.check(&public, bytes.as_deref())?
    };
    let mut ok = true;
    for (what, passed) in &checks {
        println!("{} {what}", if *passed { "ok  " } else { "FAIL" });
        ok &= passed;
    }
    println!(
        "{}: {}",
        proof.display(),
        if ok { "valid" } else { "NOT valid" }
    );
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

pub(crate) fn tree_head_command(db: &Path) -> anyhow::Result<ExitCode> {
    let store = open_existing(db)?;
    let Some(head) = store.tree_heads()?.pop() else {
        bail!(
            "no signed tree head yet in {}",
            crate::location::display(db)
        );
    };
    println!("{}", serde_json::to_string_pretty(&head)?);
    Ok(ExitCode::SUCCESS)
}

/// The verification code of a document's latest record, for `show`.
pub(crate) fn current_code(store: &dyn Archive, id: i64) -> anyhow::Result<Option<String>> {
    Ok(store.log_entries_of(id)?.pop().map(|e| e.code))
}
