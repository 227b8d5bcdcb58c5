//! `[hekad] pid_file`: refuse to start twice, remove on clean exit.

use std::path::Path;

/// Writes our pid to `path`, unless it names a live process ("Process N is already running.").
pub fn claim(path: &Path) -> Result<(), String> {
    if let Ok(text) = std::fs::read_to_string(path) {
        if let Ok(pid) = text.trim().parse::<i32>() {
            // SAFETY: kill with signal 0 only checks that the process exists.
            if pid > 0 && unsafe { libc::kill(pid, 0) } == 0 {
                return Err(format!("Process {pid} is already running."));
            }
        }
    }
    std::fs::write(path, format!("{}\n", std::process::id()))
        .map_err(|e| format!("pid_file {}: {e}", path.display()))
}
