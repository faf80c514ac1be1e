//! What a tree head costs on a long log: `seal` after one new record (a staff
//! correction, a nightly file) on a log of LOG_ENTRIES entries (default 1,000,000),
//! against recomputing the root from every leaf as sealing did before the Merkle
//! frontier was kept. Target: under 10 ms at a million entries.
//! Run by `scripts/bench-seal [ENTRIES]`. The log is built once into
//! target/bench-seal/ and reused while its size matches.

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use rusqlite::{Connection, params};
use sohoa::authenticity::{keys, merkle};
use std::path::{Path, PathBuf};
use std::time::Duration;

fn log_entries() -> u64 {
    std::env::var("LOG_ENTRIES")
        .ok()
        .map_or(1_000_000, |n| n.parse().expect("LOG_ENTRIES: a number"))
}

/// Appends `count` log entries straight into the records table. Their record text is
/// a stand-in: sealing reads leaf hashes only, never records or signatures.
fn append_entries(conn: &Connection, from: u64, count: u64) {
    let mut insert = conn
        .prepare_cached(
            "INSERT INTO records (leaf, document_id, record, record_hash, leaf_hash, code,
                                  key_id, signature)
             VALUES (?1, ?1, ?2, ?3, ?4, 'BENCH', 'bench', 'bench')",
        )
        .unwrap();
    for leaf in from..from + count {
        let record = format!("{{\"bench_record\":{leaf}}}");
        let hash = hex::encode(sohoa::authenticity::sha256(record.as_bytes()));
        let leaf_hash = hex::encode(merkle::leaf_hash(record.as_bytes()));
        insert
            .execute(params![leaf as i64, record, hash, leaf_hash])
            .unwrap();
    }
}

/// A sealed archive with `entries` log entries at `db`, built unless already there.
fn archive(dir: &Path, entries: u64) -> PathBuf {
    let db = dir.join(format!("log-{entries}.db"));
    let done = dir.join(format!("log-{entries}.done"));
    if !done.exists() {
        std::fs::create_dir_all(dir).unwrap();
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
        }
        let _ = std::fs::remove_dir_all(dir.join("keys"));
        let mut store = sohoa::store::open(&db).unwrap();
        store
            .set_signer(Some(keys::create(&dir.join("keys")).unwrap()))
            .unwrap();
        let mut conn = Connection::open(&db).unwrap();
        let tx = conn.transaction().unwrap();
        append_entries(&tx, 0, entries);
        tx.commit().unwrap();
        store.seal().unwrap().expect("a first tree head");
        std::fs::write(&done, "").unwrap();
    }
    db
}

fn seal(c: &mut Criterion) {
    let entries = log_entries();
    let dir = PathBuf::from("target/bench-seal");
    let db = archive(&dir, entries);
    let mut store = sohoa::store::open(&db).unwrap();
    let key = store
        .signing_keys()
        .unwrap()
        .pop()
        .expect("the archive's key");
    store
        .set_signer(Some(keys::load(&dir.join("keys"), &key.key_id).unwrap()))
        .unwrap();
    let writer = Connection::open(&db).unwrap();
    let next = || -> u64 {
        writer
            .query_row("SELECT MAX(leaf) + 1 FROM records", [], |r| {
                r.get::<_, i64>(0)
            })
            .unwrap() as u64
    };
    let mut group = c.benchmark_group(format!("log of {entries} entries"));
    group.measurement_time(Duration::from_secs(10));
    group.bench_function("seal after one new record", |b| {
        b.iter_batched(
            || append_entries(&writer, next(), 1),
            |()| store.seal().unwrap().expect("a new tree head"),
            BatchSize::PerIteration,
        )
    });
    // Before: every seal read every leaf and hashed the whole tree again.
    group.sample_size(10);
    group.bench_function("root recomputed from every leaf (before)", |b| {
        b.iter(|| merkle::root(&store.leaf_hashes().unwrap()))
    });
    group.finish();
}

criterion_group!(benches, seal);
criterion_main!(benches);
