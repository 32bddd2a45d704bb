//! The node's CTI key pair (X25519), to which clients on the plain port seal their password:
//! generated on first start into `<data-dir>/cti.key` (hex of the 32-byte secret, mode 0600)
//! and read back on later starts, so clients may pin the public key.

use std::path::Path;

use anyhow::Context;
use switchboard_cti_proto::seal::CtiKeyPair;

/// Reads the key pair at `path`, or creates it there.
pub fn load_or_create(path: &Path) -> anyhow::Result<CtiKeyPair> {
    if path.exists() {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let bytes = hex::decode(text.trim())
            .ok()
            .and_then(|b| <[u8; 32]>::try_from(b).ok())
            .with_context(|| format!("{} is not 32 bytes of hex", path.display()))?;
        return Ok(CtiKeyPair::from_secret_bytes(&bytes));
    }
    let keys = CtiKeyPair::generate(&mut rand::rngs::OsRng);
    let text = format!("{}\n", hex::encode(keys.secret_bytes()));
    write_private(path, text.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(keys)
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)?.write_all(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_once_then_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cti.key");
        let first = load_or_create(&path).unwrap();
        let again = load_or_create(&path).unwrap();
        assert_eq!(first.public_key_base64(), again.public_key_base64());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::write(&path, "not hex").unwrap();
        assert!(load_or_create(&path).is_err());
    }
}
