//! What a run reports: its counts and failures (as it goes, through `Progress`, and at
//! the end), and the report the archive keeps.

use super::*;

/// Failures kept in the run's stored report; the rest are in the store already.
pub(super) const STORED_REPORT_FAILURES: usize = 100;

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}: {}", self.path, self.kind, self.reason)
    }
}

/// A file that failed, wholly or in part, holds no text, or was read with a warning.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct Failure {
    pub path: String,
    pub reason: String,
    /// The document's status (`failed`, `partial`, `empty`), or `repair` for a
    /// document read in full after a repair.
    pub kind: String,
}

#[derive(Debug, Default, Serialize)]
pub struct IngestSummary {
    pub run_id: i64,
    /// `completed`, `interrupted` (Ctrl-C/SIGTERM) or `failed` (fatal database error).
    pub outcome: String,
    pub files: u64,
    /// New documents stored, by status.
    pub documents_ok: u64,
    pub documents_partial: u64,
    pub documents_failed: u64,
    /// Stored, but no page holds readable text: not counted as digitized.
    pub documents_empty: u64,
    /// Of the documents stored ok, those read only after a repair (see `failures --warnings`).
    pub documents_repaired: u64,
    /// Files already archived and unchanged: no work done.
    pub unchanged: u64,
    /// New versions of files whose bytes changed (the old version is kept as history).
    pub updated: u64,
    /// Known bytes at a new path (moved, renamed or copied): a location added, no OCR.
    pub relocated: u64,
    /// Read, but not stored: another worker took the file's queue job over meanwhile (its
    /// result stands; `sohoa worker` only).
    pub declined: u64,
    /// Known paths under the walked directories no longer there (moved away, deleted).
    pub gone: u64,
    /// Earlier failures read again (`--retry-failed`, or the file changed).
    pub retried: u64,
    /// Files in walked directories that are not scans (e.g. `notes.txt`).
    pub skipped_not_scans: u64,
    /// Files left alone because the archive could not say what it holds for them (a
    /// failed lookup): nothing stored, read again by the next run.
    pub not_planned: u64,
    pub pages: u64,
    pub pages_ocr: u64,
    pub pages_text_layer: u64,
    pub pages_empty: u64,
    pub pages_failed: u64,
    pub mean_confidence: Option<f32>,
    pub elapsed_seconds: f64,
    /// Of which building and signing the documents' records (the log's cost).
    pub signing_seconds: f64,
    pub pages_per_minute: f64,
    pub failures: FailureList,
}

impl IngestSummary {
    pub fn has_failures(&self) -> bool {
        self.documents_failed + self.documents_partial + self.not_planned > 0
    }

    /// Documents stored this run, whatever their status.
    pub fn documents(&self) -> u64 {
        self.documents_ok + self.documents_partial + self.documents_failed + self.documents_empty
    }
}

/// Receives progress as the run goes. Called from the writer thread only.
pub trait Progress {
    fn start(&mut self, files: u64);
    fn page_done(&mut self);
    fn document_done(&mut self, summary: &IngestSummary);
    /// A one-line error about a file; the run goes on.
    fn failure(&mut self, failure: &Failure);
    fn finish(&mut self);
}

/// Progress that says nothing (tests, `--quiet`); failures still go to stderr.
pub struct SilentProgress;

impl Progress for SilentProgress {
    fn start(&mut self, _: u64) {}
    fn page_done(&mut self) {}
    fn document_done(&mut self, _: &IngestSummary) {}
    fn failure(&mut self, failure: &Failure) {
        eprintln!("sohoa: {failure}");
    }
    fn finish(&mut self) {}
}

/// The run's report as the archive keeps it: every count, and the first
/// `STORED_REPORT_FAILURES` failures (the others are the run's documents, listed by
/// `sohoa failures --run N`). A night of 100,000 failed files made it a JSON tree of
/// 170 MB before it was written.
pub(super) fn stored_report(summary: &mut IngestSummary) -> serde_json::Value {
    let failures = std::mem::take(&mut summary.failures);
    let mut report = serde_json::to_value(&*summary).unwrap_or_default();
    let kept = &failures.first()[..failures.first().len().min(STORED_REPORT_FAILURES)];
    report["failures"] = serde_json::to_value(kept).unwrap_or_default();
    report["failures_left_out"] = serde_json::json!(failures.len() - kept.len() as u64);
    summary.failures = failures;
    report
}

/// Failures held in memory; the rest of a run's go to a temporary file. A night of
/// 100,000 bad files kept every failure in memory (tens of MB), against the principle
/// that memory does not grow with the batch.
const FAILURES_IN_MEMORY: usize = STORED_REPORT_FAILURES;

/// The run's failures, every one, in order: the first `FAILURES_IN_MEMORY` in memory,
/// the others spilled as JSON lines to an unnamed temporary file (gone with the
/// process). Read back whole for the run's output, never all at once.
#[derive(Debug, Default)]
pub struct FailureList {
    first: Vec<Failure>,
    spill: Option<std::io::BufWriter<std::fs::File>>,
    spilled: u64,
    /// Failures the temporary file could not take (no space, no temp dir): kept here.
    overflow: Vec<Failure>,
}

impl FailureList {
    pub fn push(&mut self, failure: Failure) {
        if self.first.len() < FAILURES_IN_MEMORY {
            self.first.push(failure);
            return;
        }
        if self.overflow.is_empty() && self.spill_one(&failure).is_ok() {
            self.spilled += 1;
        } else {
            // Order is kept: once one failure could not be spilled, all later ones
            // stay in memory too.
            self.overflow.push(failure);
        }
    }

    fn spill_one(&mut self, failure: &Failure) -> std::io::Result<()> {
        use std::io::Write;
        if self.spill.is_none() {
            self.spill = Some(std::io::BufWriter::new(tempfile::tempfile()?));
        }
        let spill = self.spill.as_mut().expect("set above");
        serde_json::to_writer(&mut *spill, failure)?;
        spill.write_all(b"\n")
    }

    pub fn len(&self) -> u64 {
        self.first.len() as u64 + self.spilled + self.overflow.len() as u64
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The first failures, those held in memory.
    pub fn first(&self) -> &[Failure] {
        &self.first
    }

    /// Every failure in order, read back from the temporary file as it goes.
    pub fn for_each(&self, mut each: impl FnMut(&Failure)) -> std::io::Result<()> {
        use std::io::BufRead;
        self.first.iter().for_each(&mut each);
        if let Some(spill) = &self.spill {
            // What the writer has flushed is in the file, the rest still in its
            // buffer: both, in order (no flush needed, so `&self` will do).
            let reader = std::io::BufReader::new(SpillReader {
                file: spill.get_ref(),
                at: 0,
            })
            .chain(spill.buffer());
            for line in reader.lines() {
                let failure: Failure = serde_json::from_str(&line?)?;
                each(&failure);
            }
        }
        self.overflow.iter().for_each(each);
        Ok(())
    }
}

/// Reads the spill file from its start by position, leaving the writer's offset alone.
struct SpillReader<'a> {
    file: &'a std::fs::File,
    at: u64,
}

impl std::io::Read for SpillReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        use std::os::unix::fs::FileExt;
        let n = self.file.read_at(buf, self.at)?;
        self.at += n as u64;
        Ok(n)
    }
}

impl Serialize for FailureList {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{Error, SerializeSeq};
        let mut seq = serializer.serialize_seq(Some(self.len() as usize))?;
        let mut failed = Ok(());
        let read = self.for_each(|failure| {
            if failed.is_ok() {
                failed = seq.serialize_element(failure);
            }
        });
        failed?;
        read.map_err(|e| {
            S::Error::custom(format!("the run's failures could not be read back: {e}"))
        })?;
        seq.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(i: usize) -> Failure {
        Failure {
            path: format!("inbox/bad-{i}.pdf"),
            reason: format!("reason {i}: «đã hỏng»\nsecond line"),
            kind: "failed".into(),
        }
    }

    fn paths(list: &FailureList) -> Vec<String> {
        let mut out = Vec::new();
        list.for_each(|f| out.push(f.path.clone())).unwrap();
        out
    }

    #[test]
    fn every_failure_is_kept_in_order_beyond_those_in_memory() {
        let mut list = FailureList::default();
        for i in 0..150 {
            list.push(failure(i));
        }
        assert_eq!(list.first().len(), FAILURES_IN_MEMORY);
        let expected: Vec<String> = (0..150).map(|i| failure(i).path).collect();
        assert_eq!(paths(&list), expected);
        // Reading back does not disturb what is written after it.
        for i in 150..2_000 {
            list.push(failure(i));
        }
        let expected: Vec<String> = (0..2_000).map(|i| failure(i).path).collect();
        assert_eq!(paths(&list), expected);
        assert_eq!(list.len(), 2_000);
        let json = serde_json::to_value(&list).unwrap();
        let listed = json.as_array().unwrap();
        assert_eq!(listed.len(), 2_000);
        assert_eq!(listed[1_999]["reason"], failure(1_999).reason);
    }
}
