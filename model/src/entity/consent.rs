//! A person's consent to share the generic profile, and a caseworker's approval.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// Consent to share the generic profile with the network or with one partner.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "consent")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub person_id: i64,
    /// `network` or `partner`.
    pub audience: String,
    /// The partner, when `audience` is `partner`.
    pub partner_organisation_id: Option<i64>,
    /// `generic_profile` or `generic_profile_and_job_agreement`.
    pub scope: String,
    /// The person's key: the person agreed.
    pub person_agreed: bool,
    pub granted_at: DateTimeUtc,
    pub expires_at: Option<DateTimeUtc>,
    pub revoked_at: Option<DateTimeUtc>,
    /// The caseworker's key: who approved, and when.
    pub approved_by: Option<String>,
    pub approved_at: Option<DateTimeUtc>,
    /// Who recorded it: a token subject or `import:<source>`.
    pub recorded_by: String,
    pub recorded_by_organisation_id: Option<i64>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
