//! The citizen service number (BSN) as a domain type: once parsed, it is valid.

use std::fmt;

/// Why a value is not a BSN. Never carries the value itself.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BsnError {
    /// Not 7 to 9 digits after removing spaces, dots and dashes.
    #[error(
        "a BSN has 9 digits (7 or 8 when a spreadsheet dropped leading zeros); this value has {0}"
    )]
    Length(usize),
    /// Contains something other than digits and separators.
    #[error("a BSN contains digits only (spaces, dots and dashes are ignored)")]
    NotDigits,
    /// Fails the eleven-test.
    #[error("the BSN fails the eleven-test; check for a typing error")]
    ElevenTest,
}

/// A valid BSN: 9 digits passing the eleven-test. `Debug` and `Display` mask it.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Bsn([u8; 9]);

impl Bsn {
    /// Parses a BSN, restoring leading zeros a spreadsheet dropped (e.g. `12345672` → `012345672`).
    pub fn parse(raw: &str) -> Result<Self, BsnError> {
        let raw = raw.trim();
        // A number column may come out as "123456782.0", also with its leading zero dropped.
        let raw = raw
            .strip_suffix(".0")
            .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
            .unwrap_or(raw);
        let mut digits = Vec::with_capacity(9);
        for ch in raw.chars() {
            match ch {
                '0'..='9' => digits.push(ch as u8 - b'0'),
                ' ' | '.' | '-' => {}
                _ => return Err(BsnError::NotDigits),
            }
        }
        if digits.is_empty() || digits.len() > 9 || digits.len() < 7 {
            return Err(BsnError::Length(digits.len()));
        }
        let mut out = [0u8; 9];
        out[9 - digits.len()..].copy_from_slice(&digits);
        let sum: i32 = out[..8]
            .iter()
            .enumerate()
            .map(|(i, d)| (9 - i as i32) * i32::from(*d))
            .sum::<i32>()
            - i32::from(out[8]);
        if sum % 11 != 0 || out.iter().all(|d| *d == 0) {
            return Err(BsnError::ElevenTest);
        }
        Ok(Self(out))
    }

    /// The 9 digits, for encryption and pseudonymisation only.
    pub fn expose(&self) -> String {
        self.0.iter().map(|d| char::from(b'0' + d)).collect()
    }

    /// Masked form for display: only the last three digits, e.g. `******333`.
    pub fn masked(&self) -> String {
        let s = self.expose();
        format!("******{}", &s[6..])
    }
}

impl fmt::Debug for Bsn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Bsn({})", self.masked())
    }
}

impl fmt::Display for Bsn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_valid_and_restores_leading_zero() {
        assert_eq!(Bsn::parse("111222333").unwrap().expose(), "111222333");
        assert_eq!(Bsn::parse("1112.22.333").unwrap().expose(), "111222333");
        // 012345672 passes the eleven-test; Excel shows it as 12345672.
        assert_eq!(Bsn::parse("12345672").unwrap().expose(), "012345672");
        assert_eq!(Bsn::parse("123456782.0").unwrap().expose(), "123456782");
        // Found by the property tests: a number with its leading zero dropped *and* a trailing
        // ".0" was refused by the eleven-test (the ".0" was dropped only from 10 digits).
        assert_eq!(Bsn::parse("12345672.0").unwrap().expose(), "012345672");
    }

    #[test]
    fn rejects_bad_values_without_echoing_them() {
        assert_eq!(Bsn::parse("111222334"), Err(BsnError::ElevenTest));
        assert_eq!(Bsn::parse("12345"), Err(BsnError::Length(5)));
        assert_eq!(Bsn::parse("12a456789"), Err(BsnError::NotDigits));
        assert_eq!(Bsn::parse("000000000"), Err(BsnError::ElevenTest));
        let msg = Bsn::parse("111222334").unwrap_err().to_string();
        assert!(!msg.contains("111222334"));
    }

    #[test]
    fn debug_is_masked() {
        let b = Bsn::parse("111222333").unwrap();
        assert_eq!(format!("{b:?}"), "Bsn(******333)");
    }
}
