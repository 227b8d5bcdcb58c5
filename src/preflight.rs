//! Start-up checks that change nothing: whether a directory can be created, a file or
//! directory read, an address parsed. Plugins run them while they are built, so a config
//! that cannot work is refused at start (and by `hekad -test`) naming section and key,
//! instead of failing and restarting once running.

use std::path::Path;

/// Whether `dir` exists as a directory hekad can write into, or can be created: its
/// nearest existing ancestor must be a writable directory.
pub fn dir_creatable(dir: &Path) -> Result<(), String> {
    let mut current = Some(dir);
    while let Some(path) = current {
        match std::fs::metadata(path) {
            Ok(meta) if meta.is_dir() => {
                if writable(path) {
                    return Ok(());
                }
                return Err(if path == dir {
                    format!("directory {} is not writable", dir.display())
                } else {
                    format!(
                        "cannot create directory {}: {} is not writable",
                        dir.display(),
                        path.display()
                    )
                });
            }
            Ok(_) => {
                return Err(format!(
                    "cannot create directory {}: {} is not a directory",
                    dir.display(),
                    path.display()
                ))
            }
            Err(e) if absent(&e) => current = path.parent(),
            Err(e) => return Err(format!("cannot use directory {}: {e}", dir.display())),
        }
        if current.is_some_and(|p| p.as_os_str().is_empty()) {
            current = Some(Path::new("."));
        }
    }
    Ok(())
}

/// Whether the file `path` can be written: an existing file must be writable and not a
/// directory; a new one needs a directory that [`dir_creatable`] accepts.
pub fn file_writable(path: &Path) -> Result<(), String> {
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_dir() => Err(format!("{} is a directory", path.display())),
        Ok(_) if writable(path) => Ok(()),
        Ok(_) => Err(format!("{} is not writable", path.display())),
        Err(e) if absent(&e) => match path.parent().filter(|p| !p.as_os_str().is_empty()) {
            Some(parent) => dir_creatable(parent),
            None => dir_creatable(Path::new(".")),
        },
        Err(e) => Err(format!("cannot use {}: {e}", path.display())),
    }
}

/// Whether `path` exists and can be read (a directory: listed).
pub fn readable(path: &Path) -> Result<(), String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let ok = if meta.is_dir() {
        std::fs::read_dir(path).is_ok()
    } else {
        std::fs::File::open(path).is_ok()
    };
    if ok {
        Ok(())
    } else {
        Err(format!("{} is not readable", path.display()))
    }
}

/// Whether `bin` names a program that can be run: a path to an executable file, or a
/// name found in `PATH`.
pub fn executable(bin: &str) -> Result<(), String> {
    let runnable = |path: &Path| path.is_file() && access(path, libc::X_OK);
    if bin.contains('/') {
        return match runnable(Path::new(bin)) {
            true => Ok(()),
            false if Path::new(bin).exists() => Err(format!("{bin} is not executable")),
            false => Err(format!("{bin} does not exist")),
        };
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    if std::env::split_paths(&path).any(|dir| runnable(&dir.join(bin))) {
        Ok(())
    } else {
        Err(format!("{bin} is not found in PATH"))
    }
}

/// Whether `address` is a `host:port` that resolves (a check that binds nothing).
pub fn socket_address(address: &str) -> Result<(), String> {
    use std::net::ToSocketAddrs;
    match address.to_socket_addrs().map(|mut addrs| addrs.next()) {
        Ok(Some(_)) => Ok(()),
        Ok(None) => Err(format!("{address} resolves to no address")),
        Err(e) => Err(format!("{address} is not a valid host:port: {e}")),
    }
}

/// Not there: missing, or under something that is not a directory (then the walk up
/// finds and names that).
fn absent(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::NotFound || e.raw_os_error() == Some(libc::ENOTDIR)
}

fn writable(path: &Path) -> bool {
    access(path, libc::W_OK)
}

/// access(2): whether this process may use `path` in `mode`.
fn access(path: &Path, mode: libc::c_int) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let Ok(c_path) = std::ffi::CString::new(path.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: access(2) reads the NUL-terminated path and nothing else.
    unsafe { libc::access(c_path.as_ptr(), mode) == 0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_directory_under_a_regular_file_cannot_be_created() {
        let dir = std::env::temp_dir().join(format!("hekad-preflight-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let file = dir.join("plain");
        std::fs::write(&file, b"x").expect("file");
        let err = dir_creatable(&file.join("sub/deeper")).expect_err("under a file");
        assert!(err.contains("is not a directory"), "{err}");
        assert!(dir_creatable(&dir.join("new/one")).is_ok());
        assert!(file_writable(&dir.join("new/out.log")).is_ok());
        assert!(file_writable(&file.join("out.log")).is_err());
        assert!(readable(&dir.join("absent")).is_err());
        assert!(socket_address("127.0.0.1:5565").is_ok());
        assert!(socket_address("127.0.0.1").is_err());
        assert!(executable("sh").is_ok());
        assert!(executable("/bin/sh").is_ok());
        assert!(executable("no-such-program-hekad").is_err());
        assert!(executable(&file.display().to_string()).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
