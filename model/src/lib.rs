//! werkbrug's unified model: sea-orm entities, closed vocabularies, the BSN domain type and its
//! protection at rest, and the privacy class of every field. Depends on nothing else of ours.

pub mod bsn;
pub mod clock;
pub mod crypto;
pub mod db;
pub mod domain;
pub mod entity;
pub mod privacy;
#[cfg(test)]
mod props;

pub use bsn::{Bsn, BsnError};
pub use crypto::{BsnProtector, CryptoError};
pub use domain::{Line, OrganisationKind, ParticipationStep, PlacementKind, Role};
pub use privacy::PrivacyClass;
