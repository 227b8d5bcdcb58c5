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

/// Whether `address` (`host:port`) is free to listen on, without binding it: a socket
/// already bound there (TCP: listening) in `/proc/net/{tcp,tcp6}` (`stream`) or
/// `/proc/net/{udp,udp6}` is the error a real bind gives, "Address already in use". A
/// wildcard address (0.0.0.0, ::) on either side covers every address of the port. When
/// /proc cannot be read, nothing is said.
pub fn address_free(address: &str, stream: bool) -> Result<(), String> {
    use std::net::ToSocketAddrs;
    let Ok(wanted) = address.to_socket_addrs() else {
        return Ok(());
    };
    let tables: [&str; 2] = match stream {
        true => ["/proc/net/tcp", "/proc/net/tcp6"],
        false => ["/proc/net/udp", "/proc/net/udp6"],
    };
    let taken: Vec<std::net::SocketAddr> = tables
        .iter()
        .filter_map(|t| std::fs::read_to_string(t).ok())
        .flat_map(|text| bound_sockets(&text, stream))
        .collect();
    for want in wanted {
        if taken.iter().any(|t| overlaps(t, &want)) {
            let in_use = std::io::Error::from_raw_os_error(libc::EADDRINUSE);
            return Err(format!("cannot listen on {address}: {in_use}"));
        }
    }
    Ok(())
}

/// The local addresses of a /proc/net/{tcp,udp}[6] table: of listening sockets (state
/// 0A) for TCP, of every socket for UDP.
fn bound_sockets(table: &str, stream: bool) -> Vec<std::net::SocketAddr> {
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let mut cols = line.split_whitespace().skip(1);
            let local = cols.next()?;
            let state = cols.nth(1)?;
            if stream && state != "0A" {
                return None;
            }
            proc_address(local)
        })
        .collect()
}

/// `0100007F:15B5` (IPv4) or 32 hex digits and a port (IPv6), as the kernel prints them:
/// the address in 32-bit words of host byte order, the port as a number.
fn proc_address(text: &str) -> Option<std::net::SocketAddr> {
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
    let (ip, port) = text.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let word = |i: usize| -> Option<[u8; 4]> {
        let hex = ip.get(i * 8..i * 8 + 8)?;
        Some(u32::from_str_radix(hex, 16).ok()?.to_ne_bytes())
    };
    let ip = match ip.len() {
        8 => IpAddr::V4(Ipv4Addr::from(word(0)?)),
        32 => {
            let mut bytes = [0u8; 16];
            for i in 0..4 {
                bytes[i * 4..i * 4 + 4].copy_from_slice(&word(i)?);
            }
            let v6 = Ipv6Addr::from(bytes);
            v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4)
        }
        _ => return None,
    };
    Some(std::net::SocketAddr::new(ip, port))
}

/// Whether binding `want` collides with the socket bound at `taken`: the same port and
/// the same address, or a wildcard on either side (an IPv6 wildcard covers IPv4 too,
/// Linux's dual-stack default).
fn overlaps(taken: &std::net::SocketAddr, want: &std::net::SocketAddr) -> bool {
    use std::net::IpAddr;
    if taken.port() != want.port() {
        return false;
    }
    let (a, b) = (taken.ip(), want.ip());
    let v6_any = |ip: IpAddr| matches!(ip, IpAddr::V6(v6) if v6.is_unspecified());
    let v4_any = |ip: IpAddr| matches!(ip, IpAddr::V4(v4) if v4.is_unspecified());
    a == b || v6_any(a) || v6_any(b) || (v4_any(a) && b.is_ipv4()) || (v4_any(b) && a.is_ipv4())
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

    #[test]
    fn a_port_in_use_is_found_in_proc_net() {
        let held = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = held.local_addr().expect("addr").port();
        if std::fs::read_to_string("/proc/net/tcp").is_err() {
            return;
        }
        for address in [format!("127.0.0.1:{port}"), format!("0.0.0.0:{port}")] {
            let err = address_free(&address, true).expect_err("in use");
            // The C library's text: glibc "Address already in use", musl "Address in use".
            assert!(err.contains("in use"), "{err}");
        }
        assert!(address_free(&format!("127.0.0.2:{port}"), true).is_ok());
        let udp = std::net::UdpSocket::bind("127.0.0.1:0").expect("udp");
        let udp_port = udp.local_addr().expect("addr").port();
        assert!(address_free(&format!("127.0.0.1:{udp_port}"), false).is_err());
        assert_eq!(
            proc_address("0100007F:15B5"),
            Some("127.0.0.1:5557".parse().expect("addr"))
        );
    }
}
