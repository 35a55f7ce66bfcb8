//! Secrets at rest: a [`Keyring`] seals values with XChaCha20-Poly1305 (RustCrypto's
//! `chacha20poly1305`) under the operator's key, and opens what it or an earlier key
//! sealed. Every sealed value names the key that sealed it, so that keys can be rotated
//! while the values are re-sealed one by one.
//!
//! XChaCha20's 192-bit nonces are drawn at random for each value: with so many bits, no
//! two values of one key share a nonce in any lifetime of a database, which 96-bit
//! nonces (ChaCha20-Poly1305, AES-GCM) only promise for fewer than 2³² values.

use std::borrow::Cow;
use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use sha2::Digest as _;

/// The length of a key, in bytes.
pub const KEY_LEN: usize = 32;

/// The start of a sealed byte string: a zero byte (no JSON or text begins so), then
/// `0xA5`, `S`, and the format's version.
const MAGIC: [u8; 4] = [0x00, 0xA5, b'S', 0x01];

/// The start of a sealed text value.
const TEXT_PREFIX: &str = "sealed1.";

/// A key id's length in bytes (hex: twice as many characters).
const ID_LEN: usize = 8;

const NONCE_LEN: usize = 24;

/// Why a value could not be sealed, opened or a key read.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SealError {
    /// The value was sealed with a key the keyring does not hold (its id, in hex).
    UnknownKey(String),
    /// The value does not open under the key it names: it was altered, or belongs to
    /// another record.
    Corrupt,
    /// A key is not 64 hexadecimal digits.
    BadKey,
}

impl fmt::Display for SealError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SealError::UnknownKey(id) => write!(
                f,
                "a value is sealed with key {id}, which none of the given keys is"
            ),
            SealError::Corrupt => {
                f.write_str("a sealed value does not open under its key: it was altered or moved")
            }
            SealError::BadKey => f.write_str("a secret key is 64 hexadecimal digits (32 bytes)"),
        }
    }
}

impl std::error::Error for SealError {}

/// One key and its id.
#[derive(Clone)]
struct Key {
    id: [u8; ID_LEN],
    cipher: XChaCha20Poly1305,
}

impl Key {
    fn new(bytes: &[u8; KEY_LEN]) -> Key {
        let digest = sha2::Sha256::new()
            .chain_update(b"apierr key id\0")
            .chain_update(bytes)
            .finalize();
        let mut id = [0; ID_LEN];
        id.copy_from_slice(&digest[..ID_LEN]);
        Key {
            id,
            cipher: XChaCha20Poly1305::new(bytes.into()),
        }
    }
}

/// The keys values are sealed with: the current one seals, it and the previous ones
/// open. Cloning is cheap enough for start-up (the ciphers are small).
#[derive(Clone)]
pub struct Keyring {
    current: Key,
    previous: Vec<Key>,
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Ids only: never a key.
        f.debug_struct("Keyring")
            .field("current", &self.current_id())
            .field(
                "previous",
                &self
                    .previous
                    .iter()
                    .map(|k| hex::encode(k.id))
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl Keyring {
    /// A keyring that seals with `current`.
    pub fn new(current: &[u8; KEY_LEN]) -> Keyring {
        Keyring {
            current: Key::new(current),
            previous: Vec::new(),
        }
    }

    /// Also opens what `key` sealed (a key being rotated out).
    #[must_use]
    pub fn with_previous(mut self, key: &[u8; KEY_LEN]) -> Keyring {
        let key = Key::new(key);
        if key.id != self.current.id && self.previous.iter().all(|k| k.id != key.id) {
            self.previous.push(key);
        }
        self
    }

    /// A new random key from the operating system's generator.
    pub fn generate() -> [u8; KEY_LEN] {
        XChaCha20Poly1305::generate_key(&mut OsRng).into()
    }

    /// A key written as 64 hexadecimal digits (surrounding white space ignored), the
    /// form [`Keyring::key_text`] writes.
    pub fn parse_key(text: &str) -> Result<[u8; KEY_LEN], SealError> {
        let mut key = [0; KEY_LEN];
        hex::decode_to_slice(text.trim(), &mut key).map_err(|_| SealError::BadKey)?;
        Ok(key)
    }

    /// A key as text: 64 hexadecimal digits.
    pub fn key_text(key: &[u8; KEY_LEN]) -> String {
        hex::encode(key)
    }

    /// The id of the key that seals, in hex (16 digits): what sealed values name.
    pub fn current_id(&self) -> String {
        hex::encode(self.current.id)
    }

    /// Whether a key of this id (hex) is in the keyring.
    pub fn knows(&self, id: &str) -> bool {
        self.key(id).is_some()
    }

    fn key(&self, id: &str) -> Option<&Key> {
        std::iter::once(&self.current)
            .chain(&self.previous)
            .find(|k| hex::encode(k.id) == id)
    }

    /// Seals `plain`, bound to `context` (the record it belongs to: a value moved to
    /// another record does not open).
    pub fn seal(&self, plain: &[u8], context: &[u8]) -> Vec<u8> {
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let sealed = self
            .current
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plain,
                    aad: context,
                },
            )
            // Only a value of 256 GiB or more fails; apierr seals secrets and bodies of
            // at most a few MiB.
            .expect("XChaCha20-Poly1305 seals any value under 256 GiB");
        let mut out = Vec::with_capacity(MAGIC.len() + ID_LEN + NONCE_LEN + sealed.len());
        out.extend_from_slice(&MAGIC);
        out.extend_from_slice(&self.current.id);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        out
    }

    /// Opens what [`Keyring::seal`] made with `context`. A value that was never sealed
    /// (written before sealing was on) is given back as it is.
    pub fn open<'a>(&self, value: &'a [u8], context: &[u8]) -> Result<Cow<'a, [u8]>, SealError> {
        let Some(rest) = value.strip_prefix(&MAGIC) else {
            return Ok(Cow::Borrowed(value));
        };
        if rest.len() < ID_LEN + NONCE_LEN {
            return Err(SealError::Corrupt);
        }
        let (id, rest) = rest.split_at(ID_LEN);
        let (nonce, sealed) = rest.split_at(NONCE_LEN);
        let id = hex::encode(id);
        let key = self.key(&id).ok_or(SealError::UnknownKey(id))?;
        key.cipher
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: sealed,
                    aad: context,
                },
            )
            .map(Cow::Owned)
            .map_err(|_| SealError::Corrupt)
    }

    /// The id of the key that sealed `value` ([`Keyring::seal`]'s form), if it is sealed.
    pub fn sealed_by(value: &[u8]) -> Option<String> {
        let rest = value.strip_prefix(&MAGIC)?;
        rest.get(..ID_LEN).map(hex::encode)
    }

    /// Seals text into text (for a text column): `sealed1.`, the key's id, `.`, and the
    /// sealed bytes in URL-safe base64.
    pub fn seal_text(&self, plain: &str, context: &[u8]) -> String {
        let sealed = self.seal(plain.as_bytes(), context);
        let id = self.current_id();
        let body = URL_SAFE_NO_PAD.encode(&sealed[MAGIC.len() + ID_LEN..]);
        format!("{TEXT_PREFIX}{id}.{body}")
    }

    /// Opens what [`Keyring::seal_text`] made; text that was never sealed is given back.
    pub fn open_text<'a>(&self, value: &'a str, context: &[u8]) -> Result<Cow<'a, str>, SealError> {
        let Some(rest) = value.strip_prefix(TEXT_PREFIX) else {
            return Ok(Cow::Borrowed(value));
        };
        let (id, body) = rest.split_once('.').ok_or(SealError::Corrupt)?;
        let mut bytes = MAGIC.to_vec();
        let mut raw_id = [0; ID_LEN];
        hex::decode_to_slice(id, &mut raw_id).map_err(|_| SealError::Corrupt)?;
        bytes.extend_from_slice(&raw_id);
        bytes.extend(
            URL_SAFE_NO_PAD
                .decode(body)
                .map_err(|_| SealError::Corrupt)?,
        );
        let plain = self.open(&bytes, context)?;
        String::from_utf8(plain.into_owned())
            .map(Cow::Owned)
            .map_err(|_| SealError::Corrupt)
    }

    /// The id of the key that sealed text `value`, if it is sealed.
    pub fn text_sealed_by(value: &str) -> Option<&str> {
        value
            .strip_prefix(TEXT_PREFIX)?
            .split_once('.')
            .map(|(id, _)| id)
    }

    /// The SQL `LIKE` pattern of text sealed by any key (`sealed1.%`).
    pub const SEALED_TEXT_PATTERN: &'static str = "sealed1.%";
}

/// What a stored idempotent response's body is sealed to: its record's scope and key,
/// the scope's length first, so that no pair spells another's.
pub fn record_context(scope: &str, key: &str) -> Vec<u8> {
    format!("{}:{scope}:{key}", scope.len()).into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_open_under_their_key_and_context_only() {
        // Scenario: sealed bytes and text open with the sealing key (current or
        // previous), fail under another record's context or another key, name their
        // key, and never hold the plain text; values never sealed pass through.
        let old = Keyring::generate();
        let new = Keyring::generate();
        let before = Keyring::new(&old);
        let after = Keyring::new(&new).with_previous(&old);
        let secret = "whsec_c2VjcmV0LXNlY3JldC1zZWNyZXQ=";
        let sealed = before.seal_text(secret, b"ep_1");
        assert!(!sealed.contains(secret) && !sealed.contains("c2VjcmV0"));
        assert_eq!(
            Keyring::text_sealed_by(&sealed),
            Some(before.current_id().as_str())
        );
        assert_eq!(after.open_text(&sealed, b"ep_1").unwrap(), secret);
        assert_eq!(after.open_text(&sealed, b"ep_2"), Err(SealError::Corrupt));
        assert_eq!(
            Keyring::new(&new).open_text(&sealed, b"ep_1"),
            Err(SealError::UnknownKey(before.current_id()))
        );
        assert_eq!(after.open_text(secret, b"ep_1").unwrap(), secret);
        let body = br#"{"secret":"whsec_x"}"#;
        let sealed = after.seal(body, b"scope\0key");
        assert_eq!(Keyring::sealed_by(&sealed), Some(after.current_id()));
        assert_eq!(&*after.open(&sealed, b"scope\0key").unwrap(), body);
        let mut altered = sealed.clone();
        *altered.last_mut().unwrap() ^= 1;
        assert_eq!(after.open(&altered, b"scope\0key"), Err(SealError::Corrupt));
        assert_eq!(&*after.open(body, b"x").unwrap(), body);
        assert_ne!(
            after.seal(body, b"c"),
            after.seal(body, b"c"),
            "fresh nonces"
        );
        assert_eq!(Keyring::parse_key(&Keyring::key_text(&new)).unwrap(), new);
        assert_eq!(Keyring::parse_key("00"), Err(SealError::BadKey));
    }
}
