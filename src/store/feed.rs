//! The search index fed from the archive's change feed, the same for every backend.
//!
//! A backend keeps a queue of changed documents (`ChangeFeed`): every write that changes
//! what search may see queues the document in the transaction that makes the change, so
//! the queue can never miss one. `Feeder` applies the queue to the index: each queued
//! document's latest state, built by the one `IndexDoc` builder, replaces what the index
//! held. Documents stored through this handle are handed to the index writer as they are
//! stored (`add_new`), with the queue position their transaction covered, so the next
//! flush need not read them back. Replaying the queue is idempotent: a crash between
//! commit and forgetting replays it.

use super::index::{IndexDoc, IndexWriter, SearchIndex};
use super::{NewDocument, SearchHit, SearchResults, SearchSpec, StoreError};
use std::cell::{OnceCell, RefCell};
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;

/// A position in the change queue: changes are numbered in commit order.
pub type ChangePosition = i64;

/// What a backend offers the index: its queue of changed documents and what the index
/// needs of each.
pub trait ChangeFeed {
    /// Queued changes, oldest first: (position, document id).
    fn changes(&self) -> Result<Vec<(ChangePosition, i64)>, StoreError>;
    /// The latest position queued (0 when none): what a rebuild reading now covers.
    fn latest_change(&self) -> Result<ChangePosition, StoreError>;
    /// Forgets the changes up to `through`, applied to the index.
    fn forget_changes(&self, through: ChangePosition) -> Result<(), StoreError>;
    /// Queues every document (the index is new or was deleted).
    fn queue_every_document(&self) -> Result<(), StoreError>;
    /// Document `id` as the index holds it; None when search must not see it.
    fn index_doc(&self, id: i64) -> Result<Option<IndexDoc>, StoreError>;
    /// Every document search may see, as the index holds it.
    fn each_index_doc(
        &self,
        each: &mut dyn FnMut(IndexDoc) -> Result<(), StoreError>,
    ) -> Result<(), StoreError>;
}

/// Threads the index writer uses for a small queue. Ingest's cores are busy with OCR;
/// one is enough to index thousands of pages a second.
const INDEX_THREADS: usize = 1;
/// A queue this long (a bulk load, a restore) is worth a second writer thread.
const LARGE_QUEUE: usize = 5_000;
/// Threads of the index writer kept while documents are being stored: indexing runs
/// beside the database writes, on the other core.
const LIVE_INDEX_THREADS: usize = 2;
/// Threads of the writer that rebuilds the whole index (`reindex`): both cores.
const REBUILD_INDEX_THREADS: usize = 2;

/// What a backend reads of a visible document for the index, one row of its query (the
/// pages and citizen IDs as the JSON it keeps): turned into the `IndexDoc` here, the
/// same for every backend and the same builder as for a document just stored.
pub struct IndexRow {
    pub id: i64,
    /// `[[number, text], …]`; None for a document without pages.
    pub pages_json: Option<String>,
    /// Whether the document has a fields row (the next five are its columns).
    pub has_fields: bool,
    pub doc_type: Option<String>,
    pub number: Option<String>,
    pub agency: Option<String>,
    pub date: Option<String>,
    pub citizen_ids_json: Option<String>,
    pub sector: Option<String>,
    pub procedure_code: Option<String>,
    pub needs_review: Option<bool>,
    pub unit: Option<String>,
}

impl IndexRow {
    pub fn into_index_doc(self) -> Result<IndexDoc, StoreError> {
        use crate::classify::{ClassSource, Classification};
        use crate::fields::Fields;
        let id = self.id;
        let pages: Vec<(u32, String)> = match &self.pages_json {
            Some(json) => {
                super::json::from_json(json, &format!("document {id}: pages for the index"))?
            }
            None => Vec::new(),
        };
        let fields = if self.has_fields {
            Some(Fields {
                doc_type: self.doc_type,
                number: self.number,
                agency: self.agency,
                date: self.date,
                citizen_ids: match &self.citizen_ids_json {
                    Some(json) => {
                        super::json::from_json(json, &format!("document {id}: citizen IDs"))?
                    }
                    None => Vec::new(),
                },
                ..Fields::default()
            })
        } else {
            None
        };
        let classification = self.sector.map(|sector| Classification {
            sector,
            sector_name: String::new(),
            procedure_code: self.procedure_code,
            procedure_name: None,
            confidence: 0.0,
            needs_review: self.needs_review.unwrap_or(false),
            source: ClassSource::Model,
            reasons: Vec::new(),
        });
        Ok(IndexDoc::new(
            id,
            pages.iter().map(|(n, text)| (*n, text.as_str())),
            fields.as_ref(),
            classification.as_ref(),
            self.unit.as_deref(),
        ))
    }
}

/// A document just stored, as the index holds it: the same builder as a replay's.
pub fn new_index_doc(id: i64, doc: &NewDocument) -> IndexDoc {
    IndexDoc::new(
        id,
        doc.pages.iter().map(|p| (p.number, p.text.as_str())),
        doc.analysis.as_ref().map(|a| &a.fields),
        doc.analysis.as_ref().map(|a| &a.classification),
        doc.unit.as_deref(),
    )
}

/// One archive handle's search index: opened on first use (lookups never need it), and
/// its writer kept between flushes.
pub struct Feeder {
    dir: PathBuf,
    /// Whether storing a document may create the index (SQLite: the index beside the
    /// file is the archive's). A PostgreSQL archive's index lives on the machines that
    /// search it: a worker that only stores must not start one (nor consume the changes
    /// queued for the machines that do).
    create_on_write: bool,
    index: OnceCell<SearchIndex>,
    /// The writer kept between flushes, with what was handed to it since the last one.
    live: RefCell<Option<LiveIndex>>,
}

struct LiveIndex {
    writer: IndexWriter,
    /// Documents added to the writer, each with the last queue position their state
    /// covers.
    added: HashMap<i64, ChangePosition>,
}

impl Feeder {
    /// The index kept in `dir` (created when missing).
    pub fn new(dir: PathBuf) -> Feeder {
        Feeder::with_creation(dir, true)
    }

    /// The index in `dir`, created by storing documents only if `create_on_write`;
    /// searching always creates it.
    pub fn with_creation(dir: PathBuf, create_on_write: bool) -> Feeder {
        Feeder {
            dir,
            create_on_write,
            index: OnceCell::new(),
            live: RefCell::new(None),
        }
    }

    /// Where writes do not feed the index (a PostgreSQL archive's workers are other
    /// machines), searching applies what was queued since the last search first: one
    /// query when nothing was, and what was stored a moment ago on any machine is found.
    fn catch_up(&self, feed: &dyn ChangeFeed) -> Result<(), StoreError> {
        if !self.create_on_write {
            self.index(feed)?;
            self.flush(feed)?;
        }
        Ok(())
    }

    /// Whether writes may feed the index: it is open or on disk, or writes may create it.
    fn may_write(&self) -> bool {
        self.create_on_write || self.index.get().is_some() || self.exists()
    }

    /// Whether the index is on disk.
    pub fn exists(&self) -> bool {
        self.dir.join("meta.json").exists()
    }

    /// The index, opened now if need be. A new one has every document queued for it
    /// (an archive from before the index, or a deleted index).
    fn index(&self, feed: &dyn ChangeFeed) -> Result<&SearchIndex, StoreError> {
        Ok(self.index_opened(feed)?.0)
    }

    /// The index, and whether it was created just now (every document then queued).
    fn index_opened(&self, feed: &dyn ChangeFeed) -> Result<(&SearchIndex, bool), StoreError> {
        if let Some(index) = self.index.get() {
            return Ok((index, false));
        }
        let (index, created) = SearchIndex::open(&self.dir)?;
        if created {
            feed.queue_every_document()?;
        }
        Ok((self.index.get_or_init(|| index), created))
    }

    /// Hands newly stored documents to the index writer (created on first use; when
    /// another process holds the index, the queue covers them instead). `covered` is the
    /// queue position read inside the transaction that stored them: a change queued by
    /// anyone after it is replayed by the next flush.
    pub fn add_new(
        &self,
        feed: &dyn ChangeFeed,
        docs: &[(i64, &NewDocument)],
        covered: ChangePosition,
    ) -> Result<(), StoreError> {
        if docs.is_empty() || !self.may_write() {
            return Ok(());
        }
        let (index, created) = self.index_opened(feed)?;
        if created {
            // Queued just now with every other document, after `covered`: handed over
            // here as well, the next flush would index them a second time (the deleted
            // copies slowed every search by a tenth, measured with bench-search).
            return Ok(());
        }
        let mut live = self.live.borrow_mut();
        if live.is_none() {
            let Some(writer) = index.writer(LIVE_INDEX_THREADS)? else {
                return Ok(());
            };
            *live = Some(LiveIndex {
                writer,
                added: HashMap::new(),
            });
        }
        let live = live.as_mut().expect("set above");
        for (id, doc) in docs {
            // A new document's id was never in the index (ids are only reused after a
            // failed document is deleted, and failures are never indexed): no delete.
            index.add(&live.writer, &new_index_doc(*id, doc))?;
            live.added.insert(*id, covered);
        }
        Ok(())
    }

    /// Applies the queue to the index and commits. False when another process holds the
    /// index writer (the queue waits for the next flush).
    pub fn flush(&self, feed: &dyn ChangeFeed) -> Result<bool, StoreError> {
        if !self.may_write() {
            return Ok(true);
        }
        let index = self.index(feed)?;
        let pending = feed.changes()?;
        let Some(&(last, _)) = pending.last() else {
            return Ok(true);
        };
        let live = self.live.borrow_mut().take();
        if live.is_none() && !self.needs_writer(feed, index, &pending)? {
            // Only documents the index never holds (empty, failed): nothing to write, and
            // a writer (its threads, a 10,000-slot queue of about 5 MB) for nothing would
            // be most of a run's memory over small empty files.
            feed.forget_changes(last)?;
            return Ok(true);
        }
        let (mut writer, added) = match live {
            Some(live) => (live.writer, live.added),
            None => {
                let threads = if pending.len() > LARGE_QUEUE {
                    2
                } else {
                    INDEX_THREADS
                };
                match index.writer(threads)? {
                    Some(w) => (w, HashMap::new()),
                    None => return Ok(false),
                }
            }
        };
        let mut seen = HashSet::new();
        // Deletes only for what the index may hold: the index keeps every delete it is
        // given (a query with its scoring weights, about a kilobyte) for the writer's
        // life, and a night of 100,000 documents that were never indexed (empty,
        // failed) grew memory by that much each.
        index.refresh()?;
        for (position, id) in pending.iter().rev() {
            // The latest state of each document is all that matters.
            if !seen.insert(*id) {
                continue;
            }
            // Already handed over when it was stored, and unchanged since.
            if added.get(id).is_some_and(|covered| position <= covered) {
                continue;
            }
            if added.contains_key(id) || index.holds(*id)? {
                index.delete(&writer, *id);
            }
            if let Some(doc) = feed.index_doc(*id)? {
                index.add(&writer, &doc)?;
            }
        }
        index.commit_keeping(&mut writer)?;
        // The writer stays for the next documents; its merges go on in the background
        // (and are waited for when this handle is dropped).
        *self.live.borrow_mut() = Some(LiveIndex {
            writer,
            added: HashMap::new(),
        });
        // Applied: forget them. A crash before this line replays them (harmless).
        feed.forget_changes(last)?;
        Ok(true)
    }

    /// Whether applying `pending` changes anything in the index: a document to add, or
    /// one it holds to delete. Stops at the first.
    fn needs_writer(
        &self,
        feed: &dyn ChangeFeed,
        index: &SearchIndex,
        pending: &[(ChangePosition, i64)],
    ) -> Result<bool, StoreError> {
        index.refresh()?;
        let mut seen = HashSet::new();
        for (_, id) in pending.iter().rev() {
            if seen.insert(*id) && (index.holds(*id)? || feed.index_doc(*id)?.is_some()) {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Rebuilds the index from scratch: emptied, every visible document added (no
    /// per-document deletes: it is empty), committed. Returns the documents indexed.
    pub fn rebuild(&mut self, feed: &dyn ChangeFeed) -> Result<u64, StoreError> {
        // Uncommitted live additions are rebuilt below anyway.
        drop(self.live.get_mut().take());
        let index = self.index(feed)?;
        let Some(writer) = index.rebuild_writer(REBUILD_INDEX_THREADS)? else {
            return Err(StoreError::Index(
                "another process is writing the index; run again when it has finished".into(),
            ));
        };
        // Changes queued up to here are covered by what is read below; later ones are
        // replayed by the next flush (replaying is idempotent).
        let covered = feed.latest_change()?;
        feed.each_index_doc(&mut |doc| index.add(&writer, &doc))?;
        index.commit(writer)?;
        feed.forget_changes(covered)?;
        Ok(index.len())
    }

    pub fn search(
        &self,
        feed: &dyn ChangeFeed,
        spec: &SearchSpec,
    ) -> Result<SearchResults, StoreError> {
        self.catch_up(feed)?;
        let index = self.index(feed)?;
        index.refresh()?;
        let (total, hits, facets) = index.search(spec)?;
        Ok(SearchResults {
            total,
            hits,
            facets,
        })
    }

    /// Changes whenever what search sees changes (answers cached by it stay right).
    pub fn generation(&self, feed: &dyn ChangeFeed) -> Result<u64, StoreError> {
        self.catch_up(feed)?;
        let index = self.index(feed)?;
        index.refresh()?;
        Ok(index.generation())
    }

    /// Whether a writer is kept open (tests).
    #[cfg(test)]
    pub fn has_writer(&self) -> bool {
        self.live.borrow().is_some()
    }

    /// Documents the index holds, deleted copies included (tests).
    #[cfg(test)]
    pub fn copies(&self, feed: &dyn ChangeFeed) -> Result<u64, StoreError> {
        self.index(feed)?.copies()
    }

    /// Documents most like document `id`.
    pub fn similar(
        &self,
        feed: &dyn ChangeFeed,
        id: i64,
        limit: usize,
    ) -> Result<Vec<SearchHit>, StoreError> {
        self.catch_up(feed)?;
        let Some(doc) = feed.index_doc(id)? else {
            return Ok(Vec::new());
        };
        let index = self.index(feed)?;
        index.refresh()?;
        index.similar(id, &doc.text, limit)
    }
}

impl Drop for Feeder {
    fn drop(&mut self) {
        // Merges still running would leave small segments and unreferenced files.
        if let Some(live) = self.live.get_mut().take() {
            let _ = live.writer.wait_merging_threads();
        }
    }
}
