//! Secret keys: decrypting, signing, generating (SPEC §3.4). Never printed.

use std::fmt;
use std::path::Path;

use super::*;

/// A secret key, decrypted and ready to sign. Never printed.
pub struct SecretKey {
    sk: minisign::SecretKey,
    pk: minisign::PublicKey,
    id: KeyId,
}

impl SecretKey {
    /// Loads a minisign secret key file. `password` is used only if the key
    /// is encrypted; if it is needed and absent, an error says so.
    ///
    /// # Errors
    /// [`Error::Io`] or [`Error::Key`] (never containing key material).
    pub fn from_file(path: &Path, password: Option<String>) -> Result<Self> {
        let what = path.display().to_string();
        let text = read_small(path, MAX_KEY_BYTES)?;
        let bad = |reason: String| Error::Key {
            what: what.clone(),
            reason,
        };
        let raw = decode_secret_box(&text).map_err(bad)?;
        let sk = if raw[2..4] == *b"\0\0" {
            // Unencrypted (`minisign -G -W`, `ferry keygen --unencrypted`).
            // minisign 0.11 leaves the checksum of such keys zeroed, so it
            // is not checked here; a damaged key still cannot sign, because
            // every signature is verified with the public key before use.
            minisign::SecretKey::from_bytes(&raw)
                .map_err(|_| bad("not a minisign secret key file".into()))?
        } else {
            let password = password.ok_or_else(|| {
                bad("the key is encrypted: give its password (prompt or FERRY_PASSWORD)".into())
            })?;
            minisign::SecretKeyBox::from_string(&text)
                .and_then(|b| b.into_secret_key(Some(password)))
                .map_err(|_| bad("wrong password, or the key file is damaged".into()))?
        };
        let pk = minisign::PublicKey::from_secret_key(&sk)
            .map_err(|_| bad("cannot derive the public key".into()))?;
        let mut id = [0u8; 8];
        id.copy_from_slice(sk.keynum());
        Ok(SecretKey {
            sk,
            pk,
            id: KeyId(id),
        })
    }

    /// Whether the key file is encrypted (so a password is needed).
    ///
    /// # Errors
    /// [`Error::Io`] or [`Error::Key`].
    pub fn file_is_encrypted(path: &Path) -> Result<bool> {
        let text = read_small(path, MAX_KEY_BYTES)?;
        let raw = decode_secret_box(&text).map_err(|reason| Error::Key {
            what: path.display().to_string(),
            reason,
        })?;
        Ok(raw[2..4] != *b"\0\0")
    }

    /// The key id.
    #[must_use]
    pub fn id(&self) -> KeyId {
        self.id
    }

    /// The matching public key.
    ///
    /// # Panics
    /// Never: the public key was derived from this secret key.
    #[must_use]
    pub fn public_key(&self) -> PublicKey {
        PublicKey::from_base64(&self.pk.to_base64(), "derived public key")
            .expect("a derived public key is valid")
    }

    /// Signs `data` (prehashed) with `trusted_comment`; returns the text of
    /// the `.minisig` file.
    ///
    /// # Errors
    /// [`Error::Key`] if signing fails, [`Error::Read`] if `data` fails.
    pub fn sign<R: Read>(&self, data: R, trusted_comment: &str) -> Result<String> {
        if trusted_comment.chars().any(|c| c.is_control() && c != '\t')
            || trusted_comment.len() > MAX_TRUSTED_COMMENT
        {
            return Err(Error::Key {
                what: format!("key {}", self.id),
                reason: "a trusted comment is one printable line".into(),
            });
        }
        let untrusted = format!("signature from ferry key {}", self.id);
        let sig = minisign::sign(
            Some(&self.pk),
            &self.sk,
            data,
            Some(trusted_comment),
            Some(&untrusted),
        )
        .map_err(|e| Error::Key {
            what: format!("key {}", self.id),
            reason: format!("signing failed: {e}"),
        })?;
        Ok(sig.into_string())
    }
}

impl SecretKey {
    /// A plain Ed25519 signature (RFC 8032) over `message` with this key —
    /// for formats that carry raw Ed25519 signatures over their own
    /// canonical bytes (TUF metadata, SPEC §3.13). Never a minisign
    /// signature: minisign verifiers refuse it, and ferry never accepts it
    /// where a minisign signature is expected.
    ///
    /// # Errors
    /// [`Error::Key`] if the decrypted key is malformed (never for a key
    /// that loaded).
    pub fn sign_ed25519(&self, message: &[u8]) -> Result<[u8; 64]> {
        use ed25519_dalek::Signer as _;
        // minisign's secret key bytes: sig_alg(2) kdf_alg(2) chk_alg(2)
        // salt(32) opslimit(8) memlimit(8) keynum(8) sk(64: seed || pk) chk(32).
        let raw = self.sk.to_bytes();
        let seed: [u8; 32] = raw
            .get(62..94)
            .and_then(|s| s.try_into().ok())
            .ok_or_else(|| Error::Key {
                what: format!("key {}", self.id),
                reason: "malformed secret key".into(),
            })?;
        let signing = ed25519_dalek::SigningKey::from_bytes(&seed);
        if signing.verifying_key().to_bytes() != *self.public_key().raw() {
            return Err(Error::Key {
                what: format!("key {}", self.id),
                reason: "secret and public key do not match".into(),
            });
        }
        Ok(signing.sign(message).to_bytes())
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretKey({}, redacted)", self.id)
    }
}

/// Decodes the base64 line of a secret key file: `Ed`, KDF algorithm,
/// checksum algorithm, salt, limits, key id, key, checksum (158 bytes).
fn decode_secret_box(text: &str) -> std::result::Result<Vec<u8>, String> {
    use base64::Engine as _;
    let not_a_key = || "not a minisign secret key file".to_string();
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    let first = lines.next().ok_or_else(not_a_key)?;
    if !first.starts_with("untrusted comment:") {
        return Err(not_a_key());
    }
    let b64 = lines.next().ok_or_else(not_a_key)?;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .map_err(|_| not_a_key())?;
    if raw.len() != 158 || &raw[..2] != b"Ed" {
        return Err(not_a_key());
    }
    Ok(raw)
}

/// A freshly generated key pair, as file texts.
pub struct GeneratedKey {
    /// The key id.
    pub id: KeyId,
    /// The `.pub` file text.
    pub public: String,
    /// The `.key` file text (encrypted unless generated without a password).
    pub secret: String,
}

impl fmt::Debug for GeneratedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "GeneratedKey({}, secret redacted)", self.id)
    }
}

/// Generates a key pair; `password: None` makes an unencrypted secret key
/// (as `minisign -G -W`).
///
/// # Errors
/// [`Error::Key`] if the system RNG fails.
pub fn generate(password: Option<String>) -> Result<GeneratedKey> {
    let bad = |e: minisign::PError| Error::Key {
        what: "new key".into(),
        reason: format!("key generation failed: {e}"),
    };
    let encrypted = password.is_some();
    let minisign::KeyPair { pk, sk } = match password {
        Some(p) => minisign::KeyPair::generate_encrypted_keypair(Some(p)).map_err(bad)?,
        None => minisign::KeyPair::generate_unencrypted_keypair().map_err(bad)?,
    };
    let mut id = [0u8; 8];
    id.copy_from_slice(pk.keynum());
    let id = KeyId(id);
    let comment = if encrypted {
        "minisign encrypted secret key"
    } else {
        "minisign secret key"
    };
    Ok(GeneratedKey {
        id,
        public: pk.to_box().map_err(bad)?.into_string(),
        secret: sk.to_box(Some(comment)).map_err(bad)?.into_string(),
    })
}
