//! [`Vault`]: the one place secrets are sealed and opened. Every secret value (a release's
//! `secret_env`, later platform credentials) is stored sealed with AES-256-GCM under a random
//! 96-bit nonce, opened only when handed to a platform, and shown everywhere else as
//! [`REDACTED`].
//!
//! The key comes from `LOCO_MASTER_KEY` (32 bytes, base64) or a key file created with mode 0600 on
//! first use; a sealed value names the key that sealed it, so a rotation can open values sealed
//! under the previous key while it re-seals them under the new one.
//!
//! ```
//! let vault = loco_core::Vault::generate();
//! let sealed = vault.seal("hunter2");
//! assert!(sealed.starts_with("loco:v1:") && !sealed.contains("hunter2"));
//! assert_eq!(vault.open(&sealed).unwrap(), "hunter2");
//! ```

use std::io::Write as _;
use std::path::Path;

use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use loco_types::audit::sha256_hex;
use loco_types::{Error, Result};

pub use loco_types::plan::REDACTED;
/// The environment variable holding the master key (32 bytes, standard base64).
pub const MASTER_KEY_ENV: &str = "LOCO_MASTER_KEY";

const PREFIX: &str = "loco:v1:";
const NONCE_BYTES: usize = 12;

/// One AES-256 key and the short id sealed values name it by.
#[derive(Clone)]
struct SealingKey {
    id: String,
    bytes: [u8; 32],
    cipher: Aes256Gcm,
}

impl SealingKey {
    fn new(bytes: &[u8; 32]) -> Self {
        // The id is a public fingerprint: 8 hex digits of the key's SHA-256.
        let id = sha256_hex(&[bytes.as_slice()])[..8].to_owned();
        Self { id, bytes: *bytes, cipher: Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(bytes)) }
    }
}

/// Seals and opens secret values; see the module documentation.
#[derive(Clone)]
pub struct Vault {
    current: SealingKey,
    previous: Vec<SealingKey>,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vault").field("key_id", &self.current.id).finish_non_exhaustive()
    }
}

impl Vault {
    /// A vault with a fresh random key (for in-memory engines, whose secrets die with them).
    pub fn generate() -> Self {
        let key = Aes256Gcm::generate_key(OsRng);
        Self { current: SealingKey::new(key.as_ref()), previous: Vec::new() }
    }

    /// A vault with the given key.
    pub fn from_key(key: &[u8; 32]) -> Self {
        Self { current: SealingKey::new(key), previous: Vec::new() }
    }

    /// A vault from a base64 key (the form of `LOCO_MASTER_KEY` and key files).
    pub fn from_base64(text: &str) -> Result<Self> {
        let bytes = STANDARD
            .decode(text.trim())
            .map_err(|_| Error::invalid("master_key", "is not base64; expected 32 random bytes in standard base64"))?;
        let key: [u8; 32] = bytes
            .try_into()
            .map_err(|b: Vec<u8>| Error::invalid("master_key", format!("has {} bytes; expected 32", b.len())))?;
        Ok(Self::from_key(&key))
    }

    /// The vault of `LOCO_MASTER_KEY` when set, else of the key file at `path`, which is
    /// created (mode 0600, a fresh random key) when missing. A key file readable by others is
    /// refused.
    pub fn load(key_file: &Path) -> Result<Self> {
        if let Ok(text) = std::env::var(MASTER_KEY_ENV) {
            return Self::from_base64(&text);
        }
        Self::from_key_file(key_file)
    }

    /// The vault of `LOCO_MASTER_KEY`; an error naming it when it is not set (an engine on a
    /// shared PostgreSQL database has no key file all its replicas could read).
    pub fn from_environment() -> Result<Self> {
        match std::env::var(MASTER_KEY_ENV) {
            Ok(text) => Self::from_base64(&text),
            Err(_) => Err(Error::invalid(
                MASTER_KEY_ENV,
                "is not set: an engine on PostgreSQL seals secrets with the key in LOCO_MASTER_KEY, the same for \
                 every replica (base64 of 32 random bytes: `head -c 32 /dev/urandom | base64`)",
            )),
        }
    }

    /// The vault of the key file at `path` (one base64 key per line: the current key first, then
    /// keys kept during a rotation), created with a fresh key (mode 0600) when missing.
    pub fn from_key_file(path: &Path) -> Result<Self> {
        use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
        match std::fs::read_to_string(path) {
            Ok(text) => {
                let mode = std::fs::metadata(path).map_err(|e| key_file_error(path, &e))?.permissions().mode();
                if mode & 0o077 != 0 {
                    return Err(Error::storage(format!(
                        "the key file {} is readable by others (mode {:o}); run chmod 600 on it",
                        path.display(),
                        mode & 0o777
                    )));
                }
                let mut keys = text.lines().filter(|l| !l.trim().is_empty()).map(Self::from_base64);
                let mut vault =
                    keys.next().ok_or_else(|| Error::storage(format!("{} holds no key", path.display())))??;
                for previous in keys {
                    vault = vault.with_previous(&previous?);
                }
                Ok(vault)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                // Written in full to a private file, then linked into place: two engines creating
                // the key at once end up with one key, and none reads a half-written file.
                let key = Aes256Gcm::generate_key(OsRng);
                let mut draft = path.as_os_str().to_owned();
                draft.push(format!(".new-{}", ulid::Ulid::new()));
                let draft = std::path::PathBuf::from(draft);
                let written = (|| {
                    let mut file =
                        std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&draft)?;
                    writeln!(file, "{}", STANDARD.encode(key))?;
                    file.sync_all()?;
                    std::fs::hard_link(&draft, path)
                })();
                let _ = std::fs::remove_file(&draft);
                match written {
                    Ok(()) => Ok(Self::from_key(key.as_ref())),
                    // Another engine created it first: use that one.
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Self::from_key_file(path),
                    Err(e) => Err(key_file_error(path, &e)),
                }
            }
            Err(e) => Err(key_file_error(path, &e)),
        }
    }

    /// This vault with `previous` kept for opening values it sealed (during a key rotation).
    #[must_use]
    pub fn with_previous(mut self, previous: &Vault) -> Self {
        self.previous.push(previous.current.clone());
        self.previous.extend(previous.previous.iter().cloned());
        self
    }

    /// The key new values are sealed with, in the base64 form of `LOCO_MASTER_KEY`.
    pub fn key_base64(&self) -> String {
        STANDARD.encode(self.current.bytes)
    }

    /// Writes this vault's keys (current first) to `path`, mode 0600, replacing the file
    /// atomically (a crash leaves the old file or the new one, never half of either).
    pub fn write_key_file(&self, path: &Path) -> Result<()> {
        use std::os::unix::fs::OpenOptionsExt as _;
        let tmp = path.with_extension("key.tmp");
        let _ = std::fs::remove_file(&tmp);
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(|e| key_file_error(&tmp, &e))?;
        for key in std::iter::once(&self.current).chain(&self.previous) {
            writeln!(file, "{}", STANDARD.encode(key.bytes)).map_err(|e| key_file_error(&tmp, &e))?;
        }
        file.sync_all().map_err(|e| key_file_error(&tmp, &e))?;
        std::fs::rename(&tmp, path).map_err(|e| key_file_error(path, &e))
    }

    /// This vault without the keys kept from earlier rotations.
    #[must_use]
    pub fn current_only(&self) -> Self {
        Self { current: self.current.clone(), previous: Vec::new() }
    }

    /// The id of the key new values are sealed with.
    pub fn key_id(&self) -> &str {
        &self.current.id
    }

    /// Seals `plaintext`: `loco:v1:<key id>:<base64url(nonce ‖ ciphertext ‖ tag)>`.
    pub fn seal(&self, plaintext: &str) -> String {
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        // Encrypting a byte slice in memory cannot fail with AES-GCM.
        let ciphertext = self.current.cipher.encrypt(&nonce, plaintext.as_bytes()).unwrap_or_default();
        let mut sealed = nonce.to_vec();
        sealed.extend_from_slice(&ciphertext);
        format!("{PREFIX}{}:{}", self.current.id, URL_SAFE_NO_PAD.encode(sealed))
    }

    /// Opens a value made by [`seal`](Self::seal) with this vault's key (or a previous one).
    pub fn open(&self, sealed: &str) -> Result<String> {
        let malformed = || Error::storage("a sealed secret is malformed");
        let rest = sealed.strip_prefix(PREFIX).ok_or_else(malformed)?;
        let (key_id, body) = rest.split_once(':').ok_or_else(malformed)?;
        let key = std::iter::once(&self.current)
            .chain(&self.previous)
            .find(|k| k.id == key_id)
            .ok_or_else(|| Error::storage(format!("a secret is sealed with key {key_id}, which is not loaded")))?;
        let bytes = URL_SAFE_NO_PAD.decode(body).map_err(|_| malformed())?;
        if bytes.len() < NONCE_BYTES {
            return Err(malformed());
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE_BYTES);
        let plaintext = key
            .cipher
            .decrypt(Nonce::from_slice(nonce), ciphertext)
            .map_err(|_| Error::storage(format!("a secret sealed with key {key_id} does not open (tampered?)")))?;
        String::from_utf8(plaintext).map_err(|_| malformed())
    }

    /// Whether `value` is a sealed secret (as opposed to a plaintext one still to seal).
    pub fn is_sealed(value: &str) -> bool {
        value.starts_with(PREFIX)
    }

    /// The key id a sealed value names, if it is one.
    pub fn sealed_key_id(value: &str) -> Option<&str> {
        value.strip_prefix(PREFIX)?.split_once(':').map(|(id, _)| id)
    }
}

fn key_file_error(path: &Path, e: &std::io::Error) -> Error {
    Error::storage(format!("cannot use the key file {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;

    use super::*;

    #[test]
    fn each_seal_uses_a_fresh_nonce_and_opens_back() {
        let vault = Vault::generate();
        let (a, b) = (vault.seal("s3cret"), vault.seal("s3cret"));
        assert_ne!(a, b, "a random nonce per value");
        assert_eq!((vault.open(&a).unwrap(), vault.open(&b).unwrap()), ("s3cret".into(), "s3cret".into()));
        assert!(Vault::is_sealed(&a) && !Vault::is_sealed("s3cret"));
        assert_eq!(Vault::sealed_key_id(&a), Some(vault.key_id()));
    }

    #[test]
    fn tampering_and_foreign_keys_are_refused() {
        let vault = Vault::generate();
        let sealed = vault.seal("s3cret");
        let mut tampered = sealed.clone().into_bytes();
        let last = tampered.len() - 2;
        tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(tampered).unwrap();
        assert_eq!(vault.open(&tampered).unwrap_err().code(), "storage_error");
        let other = Vault::generate();
        assert!(other.open(&sealed).unwrap_err().to_string().contains("not loaded"));
        for bad in ["", "loco:v1:", "loco:v1:abcd:", "loco:v1:abcd:!!", "plain"] {
            assert!(vault.open(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_rotation_opens_old_values_and_seals_new_ones() {
        let old = Vault::generate();
        let sealed = old.seal("v");
        let new = Vault::generate().with_previous(&old);
        assert_eq!(new.open(&sealed).unwrap(), "v");
        assert_ne!(Vault::sealed_key_id(&new.seal("v")), Some(old.key_id()));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("loco.key");
        new.write_key_file(&path).unwrap();
        let reloaded = Vault::from_key_file(&path).unwrap();
        assert_eq!((reloaded.key_id(), reloaded.open(&sealed).unwrap().as_str()), (new.key_id(), "v"));
        new.current_only().write_key_file(&path).unwrap();
        assert!(Vault::from_key_file(&path).unwrap().open(&sealed).is_err(), "the old key is gone");
        assert_eq!(Vault::from_base64(&new.key_base64()).unwrap().key_id(), new.key_id());
    }

    #[test]
    fn the_key_file_is_created_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("loco.key");
        let first = Vault::from_key_file(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let again = Vault::from_key_file(&path).unwrap();
        assert_eq!(first.key_id(), again.key_id());
        assert_eq!(again.open(&first.seal("x")).unwrap(), "x");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(Vault::from_key_file(&path).unwrap_err().to_string().contains("readable by others"));
        assert_eq!(Vault::from_base64("c2hvcnQ=").unwrap_err().details()[0].field, "master_key");
    }

    #[test]
    fn engines_creating_the_key_at_once_agree_on_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("loco.key");
        let ids: Vec<String> = std::thread::scope(|scope| {
            let racers: Vec<_> =
                (0..8).map(|_| scope.spawn(|| Vault::from_key_file(&path).unwrap().key_id().to_owned())).collect();
            racers.into_iter().map(|r| r.join().unwrap()).collect()
        });
        assert!(ids.iter().all(|id| *id == ids[0]), "{ids:?}");
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(left, ["loco.key"], "no drafts left behind");
    }
}
