//! On-disk home of the node's tomcat identity (`<data-dir>/certs`), written atomically.

use std::fs::{self, OpenOptions};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};

use crate::identity::{generate_tomcat, NodeIdentity};
use crate::PkiError;

const TOMCAT_CERT: &str = "tomcat.pem";
const TOMCAT_KEY: &str = "tomcat-key.pem";

/// The certificate directory. The trust store is not kept here (it lives in the database).
#[derive(Debug, Clone)]
pub struct CertDir {
    dir: PathBuf,
}

impl CertDir {
    /// A certificate directory at `path` (created, mode 0700, on first write).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        CertDir { dir: path.into() }
    }

    /// The directory itself.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// `<dir>/tomcat.pem`: the tomcat certificate (public, mode 0644).
    pub fn tomcat_path(&self) -> PathBuf {
        self.dir.join(TOMCAT_CERT)
    }

    /// `<dir>/tomcat-key.pem`: the tomcat private key (mode 0600).
    pub fn tomcat_key_path(&self) -> PathBuf {
        self.dir.join(TOMCAT_KEY)
    }

    /// Loads the tomcat identity if both files exist; `None` if neither does.
    /// Exactly one of them existing is an [`PkiError::IncompleteIdentity`] error.
    pub fn load_tomcat(&self) -> Result<Option<NodeIdentity>, PkiError> {
        let (cert_path, key_path) = (self.tomcat_path(), self.tomcat_key_path());
        let cert = read_optional(&cert_path)?;
        let key = read_optional(&key_path)?;
        match (cert, key) {
            (None, None) => Ok(None),
            (Some(cert), Some(key)) => NodeIdentity::from_pem(cert, key).map(Some),
            (Some(_), None) => Err(PkiError::IncompleteIdentity {
                present: cert_path,
                missing: key_path,
            }),
            (None, Some(_)) => Err(PkiError::IncompleteIdentity {
                present: key_path,
                missing: cert_path,
            }),
        }
    }

    /// Loads the tomcat identity, generating and storing a self-signed one if there is none.
    /// The boolean is `true` when a new identity was created.
    pub fn load_or_generate_tomcat(
        &self,
        node_name: &str,
        extra_sans: &[String],
    ) -> Result<(NodeIdentity, bool), PkiError> {
        if let Some(identity) = self.load_tomcat()? {
            return Ok((identity, false));
        }
        Ok((self.regenerate_tomcat(node_name, extra_sans)?, true))
    }

    /// Generates a fresh self-signed tomcat identity and atomically replaces the stored one.
    pub fn regenerate_tomcat(
        &self,
        node_name: &str,
        extra_sans: &[String],
    ) -> Result<NodeIdentity, PkiError> {
        let identity = generate_tomcat(node_name, extra_sans)?;
        self.store_tomcat(&identity)?;
        Ok(identity)
    }

    /// Atomically stores `identity` as the tomcat identity (e.g. a CA-signed replacement).
    /// Both files are staged first and then renamed, key before certificate.
    pub fn store_tomcat(&self, identity: &NodeIdentity) -> Result<(), PkiError> {
        self.ensure_dir()?;
        let key_tmp = stage(&self.dir, TOMCAT_KEY, identity.key_pem().as_bytes(), 0o600)?;
        let cert_tmp = match stage(&self.dir, TOMCAT_CERT, identity.cert_pem.as_bytes(), 0o644) {
            Ok(tmp) => tmp,
            Err(e) => {
                let _ = fs::remove_file(&key_tmp);
                return Err(e);
            }
        };
        let result = commit(&key_tmp, &self.tomcat_key_path())
            .and_then(|()| commit(&cert_tmp, &self.tomcat_path()));
        let _ = fs::remove_file(&key_tmp);
        let _ = fs::remove_file(&cert_tmp);
        result?;
        sync_dir(&self.dir);
        Ok(())
    }

    /// Creates the directory if needed and restricts it to the owner (0700 on unix).
    fn ensure_dir(&self) -> Result<(), PkiError> {
        fs::create_dir_all(&self.dir)
            .map_err(|e| PkiError::io("creating directory", &self.dir, e))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let meta =
                fs::metadata(&self.dir).map_err(|e| PkiError::io("inspecting", &self.dir, e))?;
            if meta.permissions().mode() & 0o777 != 0o700 {
                fs::set_permissions(&self.dir, fs::Permissions::from_mode(0o700))
                    .map_err(|e| PkiError::io("restricting permissions of", &self.dir, e))?;
            }
        }
        Ok(())
    }
}

fn read_optional(path: &Path) -> Result<Option<String>, PkiError> {
    match fs::read_to_string(path) {
        Ok(s) => Ok(Some(s)),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        Err(e) => Err(PkiError::io("reading", path, e)),
    }
}

/// Writes `bytes` to a fresh temp file in `dir` created with `mode`, fsynced; returns its path.
fn stage(dir: &Path, name: &str, bytes: &[u8], mode: u32) -> Result<PathBuf, PkiError> {
    let tmp = dir.join(format!(
        ".{name}.tmp-{}",
        hex::encode(rand::random::<[u8; 8]>())
    ));
    let mut opts = OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(mode);
    }
    #[cfg(not(unix))]
    let _ = mode;
    let written = opts.open(&tmp).and_then(|mut f| {
        f.write_all(bytes)?;
        f.sync_all()
    });
    match written {
        Ok(()) => Ok(tmp),
        Err(e) => {
            let _ = fs::remove_file(&tmp);
            Err(PkiError::io("writing", tmp, e))
        }
    }
}

fn commit(tmp: &Path, dest: &Path) -> Result<(), PkiError> {
    fs::rename(tmp, dest).map_err(|e| PkiError::io("replacing", dest, e))
}

/// Best effort: make the renames durable.
fn sync_dir(dir: &Path) {
    #[cfg(unix)]
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
    #[cfg(not(unix))]
    let _ = dir;
}
