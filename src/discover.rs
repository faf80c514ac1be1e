//! Finding the files to ingest, in a deterministic order.

use std::path::{Path, PathBuf};
use thiserror::Error;
use walkdir::WalkDir;

#[derive(Debug, Error)]
pub enum DiscoverError {
    #[error("{path}: no such file or directory")]
    Missing { path: String },
}

/// File extensions scans come with. In a walked directory, a file with one of these
/// whose bytes are not a known format is a failure (a broken scan); any other file whose
/// bytes are not a known format (`notes.txt`, `.gt.txt` ground truth) is skipped.
const SCAN_EXTENSIONS: &[&str] = &[
    "pdf", "tif", "tiff", "jpg", "jpeg", "jpe", "png", "gif", "bmp", "webp", "pbm", "pgm", "ppm",
    "pnm", "jp2", "jpx", "jfif",
];

#[derive(Debug, Clone)]
pub struct Candidate {
    /// Absolute (not canonical: a symlink stays the path it is), so the nightly job can
    /// run from any directory and still recognize yesterday's files.
    pub path: PathBuf,
    /// Found by walking a directory (rather than named on the command line).
    pub from_walk: bool,
    pub scan_extension: bool,
    /// The walk could not read this entry (permissions, a symlink loop): a failure to
    /// record, not a reason to stop.
    pub error: Option<String>,
}

fn has_scan_extension(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| SCAN_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

fn is_hidden(name: &std::ffi::OsStr) -> bool {
    name.to_str()
        .is_some_and(|s| s.starts_with('.') && s.len() > 1 && s != "..")
}

/// Files named directly, then the files under each named directory, sorted by path
/// within each directory. Hidden files and directories are not walked into. Only a named
/// path that does not exist is an error: everything found inside is a candidate.
pub fn discover(paths: &[impl AsRef<Path>]) -> Result<Vec<Candidate>, DiscoverError> {
    let mut out = Vec::new();
    for path in paths {
        let path = path.as_ref();
        let meta = std::fs::metadata(path).map_err(|_| DiscoverError::Missing {
            path: path.display().to_string(),
        })?;
        let path = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
        if !meta.is_dir() {
            out.push(Candidate {
                scan_extension: has_scan_extension(&path),
                path,
                from_walk: false,
                error: None,
            });
            continue;
        }
        let walker = WalkDir::new(&path)
            .follow_links(true)
            .sort_by_file_name()
            .into_iter()
            .filter_entry(|e| e.depth() == 0 || !is_hidden(e.file_name()));
        for entry in walker {
            match entry {
                Ok(entry) if entry.file_type().is_dir() => {}
                Ok(entry) => out.push(Candidate {
                    scan_extension: has_scan_extension(entry.path()),
                    path: entry.into_path(),
                    from_walk: true,
                    error: None,
                }),
                Err(e) => {
                    let reason = match (e.loop_ancestor(), e.io_error()) {
                        (Some(ancestor), _) => {
                            format!("symlink loop back to {}", ancestor.display())
                        }
                        (None, Some(io)) => format!("cannot read: {io}"),
                        (None, None) => e.to_string(),
                    };
                    out.push(Candidate {
                        path: e.path().unwrap_or(&path).to_path_buf(),
                        from_walk: true,
                        scan_extension: false,
                        error: Some(reason),
                    });
                }
            }
        }
    }
    Ok(out)
}
