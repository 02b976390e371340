//! Protection of the BSN at rest: AES-256-GCM encryption for storage and an HMAC-SHA-256 keyed
//! pseudonym for linking records of one person across sources.

use aes_gcm::aead::{Aead, AeadInPlace, KeyInit, OsRng};
use aes_gcm::{AeadCore, Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD as B64, URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretSlice};
use sha2::Sha256;

use crate::bsn::Bsn;

/// Why a key or a sealed value could not be used. Never carries key material or a BSN.
#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    /// A key is not 32 bytes written as 64 hex digits.
    #[error(
        "{0} must be 32 bytes written as 64 hexadecimal digits (generate one with `openssl rand -hex 32`)"
    )]
    BadKey(&'static str),
    /// The sealed value is not base64 or too short.
    #[error("the stored BSN is not in the expected format (base64 of nonce and ciphertext)")]
    Malformed,
    /// Decryption failed: wrong key or tampered value.
    #[error("the stored BSN could not be decrypted: wrong encryption key or tampered value")]
    Decrypt,
}

/// Holds the two BSN keys; `Debug` never prints them. The ciphers and the keyed HMAC are set
/// up once: sealing runs for every id a response carries and every imported row.
#[derive(Clone)]
pub struct BsnProtector {
    encryption: Aes256Gcm,
    ids: Aes256Gcm,
    mac: Hmac<Sha256>,
}

impl std::fmt::Debug for BsnProtector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BsnProtector([REDACTED])")
    }
}

/// Decodes a 64-hex-digit key.
pub fn parse_key(hex_key: &str, name: &'static str) -> Result<Vec<u8>, CryptoError> {
    let bytes = hex::decode(hex_key.trim()).map_err(|_| CryptoError::BadKey(name))?;
    if bytes.len() != 32 {
        return Err(CryptoError::BadKey(name));
    }
    Ok(bytes)
}

/// A fresh random 32-byte key as 64 hex digits.
pub fn generate_key_hex() -> String {
    let key = Aes256Gcm::generate_key(OsRng);
    hex::encode(key)
}

impl BsnProtector {
    /// Builds a protector from two 64-hex-digit keys.
    pub fn from_hex(encryption_key: &str, pseudonym_key: &str) -> Result<Self, CryptoError> {
        let encryption_key: SecretSlice<u8> =
            parse_key(encryption_key, "the BSN encryption key")?.into();
        let pseudonym_key: SecretSlice<u8> =
            parse_key(pseudonym_key, "the BSN pseudonym key")?.into();
        let mac = <Hmac<Sha256> as Mac>::new_from_slice(pseudonym_key.expose_secret())
            .expect("HMAC accepts any key length");
        let mut id_key = mac.clone();
        id_key.update(b"audience-id-key");
        let ids = Aes256Gcm::new_from_slice(&id_key.finalize().into_bytes()).expect("32-byte key");
        let encryption = Aes256Gcm::new_from_slice(encryption_key.expose_secret())
            .expect("key length checked by parse_key");
        Ok(Self {
            encryption,
            ids,
            mac,
        })
    }

    /// Seals a BSN as base64(nonce ‖ ciphertext ‖ tag); a fresh nonce each time.
    pub fn encrypt(&self, bsn: &Bsn) -> String {
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let ct = self
            .encryption
            .encrypt(&nonce, bsn.expose().as_bytes())
            .expect("AES-GCM encryption of 9 bytes cannot fail");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ct);
        B64.encode(out)
    }

    /// Opens a sealed BSN.
    pub fn decrypt(&self, sealed: &str) -> Result<Bsn, CryptoError> {
        let raw = B64.decode(sealed).map_err(|_| CryptoError::Malformed)?;
        if raw.len() < 12 + 16 {
            return Err(CryptoError::Malformed);
        }
        let (nonce, ct) = raw.split_at(12);
        let plain = self
            .encryption
            .decrypt(Nonce::from_slice(nonce), ct)
            .map_err(|_| CryptoError::Decrypt)?;
        let text = String::from_utf8(plain).map_err(|_| CryptoError::Decrypt)?;
        Bsn::parse(&text).map_err(|_| CryptoError::Decrypt)
    }

    /// The keyed pseudonym that links records of one person: hex HMAC-SHA-256 of the BSN.
    pub fn pseudonym(&self, bsn: &Bsn) -> String {
        self.keyed_hash(b"bsn:", bsn.expose().as_bytes())
    }

    /// A stable, opaque id of a database row for one audience (an organisation): deterministic
    /// AES-256-GCM with a synthetic nonce, so two audiences get unrelated ids for the same row and
    /// only the server can map an id back. URL-safe base64, 48 characters.
    pub fn seal_id(&self, audience: &str, id: i64) -> String {
        // nonce ‖ ciphertext ‖ tag, as `Aead::encrypt` lays them out, built on the stack: a page
        // of candidates seals one id per candidate.
        let mut raw = [0u8; 12 + 8 + 16];
        let (nonce, rest) = raw.split_at_mut(12);
        let (ct, tag) = rest.split_at_mut(8);
        nonce.copy_from_slice(&self.id_nonce(audience, id));
        ct.copy_from_slice(&id.to_be_bytes());
        let sealed_tag = self
            .ids
            .encrypt_in_place_detached(Nonce::from_slice(nonce), audience.as_bytes(), ct)
            .expect("AES-GCM encryption of 8 bytes cannot fail");
        tag.copy_from_slice(&sealed_tag);
        URL_SAFE_NO_PAD.encode(raw)
    }

    /// The row id behind an id sealed for `audience`; `None` for anything else.
    pub fn open_id(&self, audience: &str, sealed: &str) -> Option<i64> {
        let raw = URL_SAFE_NO_PAD.decode(sealed).ok()?;
        if raw.len() != 12 + 8 + 16 {
            return None;
        }
        let (nonce, ct) = raw.split_at(12);
        let plain = self
            .ids
            .decrypt(
                Nonce::from_slice(nonce),
                aes_gcm::aead::Payload {
                    msg: ct,
                    aad: audience.as_bytes(),
                },
            )
            .ok()?;
        Some(i64::from_be_bytes(plain.try_into().ok()?))
    }

    /// The synthetic nonce of an id for an audience: HMAC of `audience-id-nonce:{audience}:`
    /// and the id, first 12 bytes.
    fn id_nonce(&self, audience: &str, id: i64) -> [u8; 12] {
        let mut mac = self.mac.clone();
        mac.update(b"audience-id-nonce:");
        mac.update(audience.as_bytes());
        mac.update(b":");
        mac.update(&id.to_be_bytes());
        let mut nonce = [0u8; 12];
        nonce.copy_from_slice(&mac.finalize().into_bytes()[..12]);
        nonce
    }

    /// A keyed hash of `value` in the namespace `context`, e.g. for audience-specific person ids.
    pub fn keyed_hash(&self, context: &[u8], value: &[u8]) -> String {
        let mut mac = self.mac.clone();
        mac.update(context);
        mac.update(value);
        hex::encode(mac.finalize().into_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn protector() -> BsnProtector {
        BsnProtector::from_hex(&generate_key_hex(), &generate_key_hex()).unwrap()
    }

    #[test]
    fn round_trip_and_no_clear_text() {
        let p = protector();
        let bsn = Bsn::parse("111222333").unwrap();
        let sealed = p.encrypt(&bsn);
        assert!(!sealed.contains("111222333"));
        assert_ne!(sealed, p.encrypt(&bsn), "fresh nonce each time");
        assert_eq!(p.decrypt(&sealed).unwrap(), bsn);
    }

    #[test]
    fn pseudonym_is_stable_and_keyed() {
        let p = protector();
        let bsn = Bsn::parse("111222333").unwrap();
        assert_eq!(p.pseudonym(&bsn), p.pseudonym(&bsn));
        assert_ne!(p.pseudonym(&bsn), protector().pseudonym(&bsn));
    }

    #[test]
    fn audience_ids_are_stable_opaque_and_unlinkable() {
        let p = protector();
        let a = p.seal_id("partner-a", 42);
        assert_eq!(a, p.seal_id("partner-a", 42), "stable per audience");
        assert_ne!(a, p.seal_id("partner-b", 42), "unrelated across audiences");
        assert_ne!(a, p.seal_id("partner-a", 43));
        assert!(!a.contains("42") || a.len() == 48);
        assert_eq!(p.open_id("partner-a", &a), Some(42));
        assert_eq!(
            p.open_id("partner-b", &a),
            None,
            "one audience cannot use another's id"
        );
        assert_eq!(p.open_id("partner-a", "42"), None);
        assert_eq!(protector().open_id("partner-a", &a), None);
    }

    #[test]
    fn sealed_ids_do_not_change_between_versions() {
        // Partners keep the ids and cursors they were given: a sealed id is part of the API.
        let p = BsnProtector::from_hex(&"ab".repeat(32), &"cd".repeat(32)).unwrap();
        assert_eq!(
            p.seal_id("schoonmaak-amstelglans", 4242),
            "4rMnI21lDyqgJ8vdE5pIzlJNo21EGQpt9Mj23oYLSAxaNb4o"
        );
    }

    #[test]
    fn wrong_key_or_tampering_fails() {
        let p = protector();
        let sealed = p.encrypt(&Bsn::parse("111222333").unwrap());
        assert!(matches!(
            protector().decrypt(&sealed),
            Err(CryptoError::Decrypt)
        ));
        let mut raw = B64.decode(&sealed).unwrap();
        raw[20] ^= 1;
        assert!(p.decrypt(&B64.encode(raw)).is_err());
        assert!(BsnProtector::from_hex("abcd", &generate_key_hex()).is_err());
    }
}
