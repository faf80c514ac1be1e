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
///
/// The paths are checked here; the files are found as the returned `Discovery` is
/// iterated, so memory does not grow with the number of files (a nightly inbox may hold
/// hundreds of thousands).
pub fn discover(paths: &[impl AsRef<Path>]) -> Result<Discovery, DiscoverError> {
    let mut roots = Vec::with_capacity(paths.len());
    for path in paths {
        let path = path.as_ref();
        let meta = std::fs::metadata(path).map_err(|_| DiscoverError::Missing {
            path: path.display().to_string(),
        })?;
        let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
        roots.push((absolute, meta.is_dir()));
    }
    Ok(Discovery { roots })
}

/// The named paths of a run, checked to exist; iterate for the candidates.
#[derive(Debug, Clone)]
pub struct Discovery {
    /// Each named path, absolute, and whether it is a directory.
    roots: Vec<(PathBuf, bool)>,
}

impl Discovery {
    /// The directories named, walked for their files.
    pub fn directories(&self) -> impl Iterator<Item = &Path> {
        self.roots
            .iter()
            .filter(|(_, dir)| *dir)
            .map(|(p, _)| p.as_path())
    }

    /// Whether a run over these paths finds `path` itself (named, or under a directory
    /// and not inside a hidden one, which the walk skips).
    pub fn covers(&self, path: &Path) -> bool {
        self.roots
            .iter()
            .any(|(root, dir)| match (dir, path.strip_prefix(root)) {
                (false, _) => path == root,
                (true, Ok(rest)) => !rest.iter().any(is_hidden),
                (true, Err(_)) => false,
            })
    }

    /// How many candidates iterating finds: a walk that keeps nothing, for progress.
    pub fn count(&self) -> u64 {
        self.candidates().count() as u64
    }

    /// The candidates, in order, found as they are asked for.
    pub fn candidates(&self) -> impl Iterator<Item = Candidate> + Send + '_ {
        self.roots.iter().flat_map(
            |(path, dir)| -> Box<dyn Iterator<Item = Candidate> + Send> {
                if !*dir {
                    return Box::new(std::iter::once(Candidate {
                        scan_extension: has_scan_extension(path),
                        path: path.clone(),
                        from_walk: false,
                        error: None,
                    }));
                }
                let walker = WalkDir::new(path)
                    .follow_links(true)
                    .sort_by_file_name()
                    .into_iter()
                    .filter_entry(|e| e.depth() == 0 || !is_hidden(e.file_name()));
                Box::new(walker.filter_map(move |entry| match entry {
                    Ok(entry) if entry.file_type().is_dir() => None,
                    Ok(entry) => Some(Candidate {
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
                        Some(Candidate {
                            path: e.path().unwrap_or(path).to_path_buf(),
                            from_walk: true,
                            scan_extension: false,
                            error: Some(reason),
                        })
                    }
                }))
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_covers_what_its_walk_finds() {
        let dir = tempfile::tempdir().unwrap();
        let inbox = dir.path().join("inbox");
        std::fs::create_dir_all(inbox.join(".trash")).unwrap();
        std::fs::write(inbox.join("a.pdf"), b"x").unwrap();
        std::fs::write(inbox.join(".trash/b.pdf"), b"x").unwrap();
        let named = dir.path().join("c.pdf");
        std::fs::write(&named, b"x").unwrap();
        let run = discover(&[inbox.clone(), named.clone()]).unwrap();
        let found: Vec<PathBuf> = run.candidates().map(|c| c.path).collect();
        assert_eq!(found, vec![inbox.join("a.pdf"), named.clone()]);
        assert_eq!(run.count(), 2);
        for (path, covered) in [
            (inbox.join("a.pdf"), true),
            (inbox.join("gone-since.pdf"), true),
            (inbox.join(".trash/b.pdf"), false),
            (named, true),
            (dir.path().join("elsewhere.pdf"), false),
        ] {
            assert_eq!(run.covers(&path), covered, "{}", path.display());
        }
        assert!(discover(&[dir.path().join("missing")]).is_err());
    }
}
