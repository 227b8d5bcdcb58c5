//! Throw-away certificates made with the `openssl` command for TLS tests: a CA with a
//! server certificate (localhost, 127.0.0.1) and a client certificate, and a second CA
//! with a client certificate of its own (one the first CA does not vouch for).

use std::path::{Path, PathBuf};
use std::process::Command;

/// The PEM files of one test's certificates.
pub struct Certs {
    pub ca: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
    pub other_ca: PathBuf,
    pub other_client_cert: PathBuf,
    pub other_client_key: PathBuf,
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("openssl (Debian openssl; scripts/test installs it)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A self-signed CA `<name>.pem` / `<name>.key` (P-256).
fn ca(dir: &Path, name: &str) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "2",
            "-subj",
            &format!("/CN=hekad test {name}"),
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.pem"),
        ],
    );
}

/// `<name>.pem` / `<name>.key` signed by CA `ca`, with the extensions `ext`.
fn leaf(dir: &Path, name: &str, ca: &str, ext: &str) {
    std::fs::write(dir.join(format!("{name}.ext")), ext).expect("ext file");
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-subj",
            &format!("/CN={name}"),
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.csr"),
        ],
    );
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &format!("{name}.csr"),
            "-CA",
            &format!("{ca}.pem"),
            "-CAkey",
            &format!("{ca}.key"),
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            &format!("{name}.ext"),
            "-out",
            &format!("{name}.pem"),
        ],
    );
}

/// Makes every certificate in `dir`.
pub fn make(dir: &Path) -> Certs {
    std::fs::create_dir_all(dir).expect("certs dir");
    ca(dir, "ca");
    ca(dir, "other-ca");
    leaf(
        dir,
        "server",
        "ca",
        "basicConstraints=CA:FALSE\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n\
         extendedKeyUsage=serverAuth\n",
    );
    let client = "basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n";
    leaf(dir, "client", "ca", client);
    leaf(dir, "other-client", "other-ca", client);
    let at = |name: &str| dir.join(name);
    Certs {
        ca: at("ca.pem"),
        server_cert: at("server.pem"),
        server_key: at("server.key"),
        client_cert: at("client.pem"),
        client_key: at("client.key"),
        other_ca: at("other-ca.pem"),
        other_client_cert: at("other-client.pem"),
        other_client_key: at("other-client.key"),
    }
}

impl Certs {
    /// TcpInput lines: TLS with client certificates of `ca` required and verified.
    pub fn server_toml(&self, section: &str) -> String {
        format!(
            "use_tls = true\n[{section}.tls]\ncert_file = \"{}\"\nkey_file = \"{}\"\n\
             client_auth = \"RequireAndVerifyClientCert\"\nclient_cafile = \"{}\"\n",
            self.server_cert.display(),
            self.server_key.display(),
            self.ca.display()
        )
    }

    /// TcpOutput lines: TLS trusting `ca`, presenting the client certificate.
    pub fn client_toml(&self, section: &str) -> String {
        format!(
            "use_tls = true\n[{section}.tls]\ncert_file = \"{}\"\nkey_file = \"{}\"\n\
             root_cafile = \"{}\"\n",
            self.client_cert.display(),
            self.client_key.display(),
            self.ca.display()
        )
    }
}
