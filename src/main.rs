use clap::Parser;
use std::process::ExitCode;

/// Tesseract 5 (Debian) parallelises each page with OpenMP; with rayon running pages in
/// parallel that oversubscribes the cores and is 5–6× slower per page. OpenMP reads
/// `OMP_THREAD_LIMIT` once, at library load, so setting it from inside the running
/// process is too late: re-execute ourselves with it set.
fn ensure_single_threaded_openmp() {
    use std::os::unix::process::CommandExt;
    if std::env::var_os("OMP_THREAD_LIMIT").is_some() {
        return;
    }
    let Ok(exe) = std::env::current_exe() else {
        return;
    };
    let err = std::process::Command::new(exe)
        .args(std::env::args_os().skip(1))
        .env("OMP_THREAD_LIMIT", "1")
        .exec();
    // Only reached when exec failed: run on, slower, rather than not at all.
    eprintln!(
        "sohoa: warning: could not re-execute with OMP_THREAD_LIMIT=1 ({err}); OCR will be slower"
    );
}

fn main() -> ExitCode {
    ensure_single_threaded_openmp();
    sohoa::cli::run(sohoa::cli::Cli::parse())
}
