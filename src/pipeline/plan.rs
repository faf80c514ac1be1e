//! Incremental planning: what a file needs before any page is read (nothing, a new
//! location, or a full read), decided from what the archive holds.

use super::*;

pub(super) fn mtime(meta: &std::fs::Metadata) -> Option<i64> {
    let modified = meta.modified().ok()?;
    let since = modified.duration_since(std::time::UNIX_EPOCH).ok()?;
    // Nanoseconds: a file rewritten within the same second must still look changed.
    i64::try_from(since.as_nanos()).ok()
}

/// What the loader decided about one candidate before reading its pages.
pub(super) enum Plan {
    /// Nothing to read: the message says why.
    Done(ToWriter),
    /// Read these bytes as a document.
    Read {
        doc: Box<NewDocument>,
        bytes: Arc<Vec<u8>>,
        retry: bool,
    },
}

pub(super) type PlanError = (Box<NewDocument>, String, bool);

/// The contents (SHA-256) the loader sent on most recently, so the same bytes twice in
/// a run are read once. Only the last `RECENT_CONTENTS` are kept: older ones are in the
/// store by then (at most the writer's queue and the OCR queue are in flight), where
/// planning finds them; and should one not be yet, storing it twice is refused by the
/// store (`Stored::AlreadyArchived`), so the bound costs at most a second reading.
#[derive(Default)]
pub(super) struct RecentContents {
    set: HashSet<String>,
    order: std::collections::VecDeque<String>,
}

/// Contents remembered by the loader: four times the documents that can be in flight
/// (`WRITER_QUEUE` plus the OCR queue), under 200 KB.
pub(super) const RECENT_CONTENTS: usize = 1024;

impl RecentContents {
    /// False when `sha` was sent on recently.
    fn insert(&mut self, sha: &str) -> bool {
        if self.set.contains(sha) {
            return false;
        }
        if self.order.len() == RECENT_CONTENTS
            && let Some(oldest) = self.order.pop_front()
        {
            self.set.remove(&oldest);
        }
        self.set.insert(sha.to_owned());
        self.order.push_back(sha.to_owned());
        true
    }
}

/// What planning asks the archive: what it holds at a path, and for some bytes.
pub(super) trait Lookups {
    fn location(&self, path: &str) -> Result<Option<KnownLocation>, StoreError>;
    fn content(&self, sha256: &str) -> Result<Option<KnownContent>, StoreError>;
}

impl Lookups for dyn Store + '_ {
    fn location(&self, path: &str) -> Result<Option<KnownLocation>, StoreError> {
        Documents::location(self, path)
    }
    fn content(&self, sha256: &str) -> Result<Option<KnownContent>, StoreError> {
        Documents::content(self, sha256)
    }
}

/// A lookup that failed: the file's error. Taking it for "not archived" would make a
/// changed file a new record instead of a new version, or store known bytes twice.
pub(super) fn not_planned(path: &str, asked: &str, error: StoreError) -> Plan {
    Plan::Done(ToWriter::NotPlanned {
        failure: Failure {
            path: path.to_owned(),
            reason: format!(
                "not read: the archive could not say what it holds {asked} ({error}); the next run tries again"
            ),
            kind: DocStatus::Failed.as_str().to_owned(),
        },
    })
}

/// Decides what a candidate needs: nothing (unchanged), a location (known bytes), or a
/// full read. Reads and hashes the file only when the fast path cannot decide.
pub(super) fn plan<L: Lookups + ?Sized>(
    candidate: &Candidate,
    config: &IngestConfig,
    reader: &L,
    seen_this_run: &mut RecentContents,
) -> Result<Plan, PlanError> {
    let path = candidate.path.display().to_string();
    let mut doc = NewDocument::at(path.clone());
    let known = match reader.location(&path) {
        Ok(known) => known,
        Err(e) => return Ok(not_planned(&path, "at this path", e)),
    };
    let retry = known.as_ref().is_some_and(|k| k.status != DocStatus::Ok);
    // A failed file that fails again replaces its old failure record.
    doc.replaces = known
        .as_ref()
        .filter(|k| k.status == DocStatus::Failed)
        .map(|k| k.document_id);
    let fail = |doc: NewDocument, reason: String| Err((Box::new(doc), reason, retry));
    if let Some(reason) = &candidate.error {
        return fail(doc, reason.clone());
    }
    let meta = match std::fs::metadata(&candidate.path) {
        Ok(m) => m,
        Err(e) => return fail(doc, format!("cannot read: {e}")),
    };
    if !meta.is_file() {
        return fail(doc, "not a regular file".into());
    }
    doc.size = Some(meta.len());
    doc.file_mtime = mtime(&meta);
    let location = |doc: &NewDocument| Location {
        path: path.clone(),
        size: doc.size,
        mtime: doc.file_mtime,
    };
    // Fast path: same path, size and mtime as last time means same bytes.
    if let Some(k) = &known
        && k.size == doc.size
        && k.mtime == doc.file_mtime
        && !(config.retry_failed && k.status != DocStatus::Ok)
    {
        return Ok(Plan::Done(ToWriter::Unchanged { path }));
    }
    if meta.len() > config.limits.max_file_bytes {
        let reason = LoadError::TooLarge(format!(
            "file of {} bytes exceeds the limit of {} bytes",
            meta.len(),
            config.limits.max_file_bytes
        ));
        return fail(doc, reason.to_string());
    }
    let bytes = match std::fs::File::open(&candidate.path).and_then(|mut f| {
        let mut bytes = Vec::with_capacity(meta.len() as usize);
        f.read_to_end(&mut bytes).map(|_| bytes)
    }) {
        Ok(b) => b,
        Err(e) => return fail(doc, format!("cannot read: {e}")),
    };
    if candidate.from_walk && !candidate.scan_extension && load::detect(&bytes).is_none() {
        return Ok(Plan::Done(ToWriter::Skipped));
    }
    let sha = crate::authenticity::sha256_hex(&bytes);
    doc.sha256 = Some(sha.clone());
    let content = match reader.content(&sha) {
        Ok(content) => content,
        Err(e) => return Ok(not_planned(&path, "for these bytes", e)),
    };
    if let Some(content) = content {
        let retry_this = config.retry_failed && content.status != DocStatus::Ok;
        if content.status != DocStatus::Failed && !retry_this {
            let moved = known
                .as_ref()
                .is_none_or(|k| k.document_id != content.document_id);
            return Ok(Plan::Done(ToWriter::Relocated {
                location: location(&doc),
                document_id: content.document_id,
                moved,
            }));
        }
        if content.status == DocStatus::Failed && !config.retry_failed {
            // The same broken bytes: nothing new to learn by reading them again.
            return Ok(Plan::Done(ToWriter::Relocated {
                location: location(&doc),
                document_id: content.document_id,
                moved: known
                    .as_ref()
                    .is_none_or(|k| k.document_id != content.document_id),
            }));
        }
        // A retry of these very bytes replaces the earlier attempt.
        doc.replaces = Some(content.document_id);
    } else if let Some(k) = &known
        && k.status != DocStatus::Failed
        && k.sha256.as_deref() != Some(sha.as_str())
    {
        // The file at this path changed: a new version of its record, owned by the
        // same unit (which may have been assigned by hand).
        doc.supersedes = Some(k.document_id);
        doc.unit = k.unit.clone();
    }
    if !seen_this_run.insert(&sha) {
        return Ok(Plan::Done(ToWriter::Alias {
            location: location(&doc),
            sha256: sha,
        }));
    }
    let retry = retry || doc.replaces.is_some();
    Ok(Plan::Read {
        doc: Box::new(doc),
        bytes: Arc::new(bytes),
        retry,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lookups that fail as a database with an I/O error does: `at_path` for where a
    /// file was, `for_bytes` for whose bytes these are.
    struct FailingLookups {
        at_path: bool,
        for_bytes: bool,
    }

    impl Lookups for FailingLookups {
        fn location(&self, _: &str) -> Result<Option<KnownLocation>, StoreError> {
            match self.at_path {
                true => Err(StoreError::Corrupt("disk I/O error".into())),
                false => Ok(None),
            }
        }
        fn content(&self, _: &str) -> Result<Option<KnownContent>, StoreError> {
            match self.for_bytes {
                true => Err(StoreError::Corrupt("disk I/O error".into())),
                false => Ok(None),
            }
        }
    }

    #[test]
    fn recent_contents_are_remembered_up_to_their_bound() {
        let mut recent = RecentContents::default();
        assert!(recent.insert("a"));
        assert!(!recent.insert("a"), "the same bytes again: an alias");
        for i in 0..RECENT_CONTENTS - 1 {
            assert!(recent.insert(&i.to_string()));
        }
        assert!(!recent.insert("a"), "still among the last RECENT_CONTENTS");
        assert!(recent.insert("one more"));
        // The oldest is forgotten (the store knows it by then): memory stays bounded.
        assert!(recent.insert("a"));
        assert_eq!(recent.set.len(), RECENT_CONTENTS);
        assert_eq!(recent.order.len(), RECENT_CONTENTS);
    }

    #[test]
    fn a_failed_lookup_while_planning_is_that_files_error_not_a_new_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("scan.png");
        std::fs::write(&path, b"\x89PNG\r\n\x1a\n not really").unwrap();
        let candidate = Candidate {
            path: path.clone(),
            from_walk: false,
            scan_extension: true,
            error: None,
        };
        let config = IngestConfig::default();
        let plan_with = |at_path, for_bytes| {
            let lookups = FailingLookups { at_path, for_bytes };
            plan(
                &candidate,
                &config,
                &lookups,
                &mut RecentContents::default(),
            )
        };
        for (at_path, for_bytes, asked) in [
            (true, false, "at this path"),
            (false, true, "for these bytes"),
        ] {
            match plan_with(at_path, for_bytes) {
                Ok(Plan::Done(ToWriter::NotPlanned { failure })) => {
                    assert_eq!(failure.path, path.display().to_string());
                    assert!(
                        failure.reason.contains(asked) && failure.reason.contains("disk I/O error"),
                        "{}",
                        failure.reason
                    );
                }
                _ => panic!("a failed lookup {asked} must be the file's error"),
            }
        }
        // With the archive answering, the same file is read.
        assert!(matches!(plan_with(false, false), Ok(Plan::Read { .. })));
    }
}
