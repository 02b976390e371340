//! One change of an introduction's status: who made it, for which organisation, and when.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// A row of `introduction_event`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "introduction_event")]
pub struct Model {
    /// Row id.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The introduction that changed.
    pub introduction_id: i64,
    /// The status it changed to: requested, accepted, declined or withdrawn.
    pub status: String,
    /// The token subject that made the change.
    pub actor: String,
    /// The role the actor acted in.
    pub actor_role: String,
    /// The actor's organisation.
    pub actor_organisation_id: i64,
    /// When the change was made.
    pub created_at: DateTimeUtc,
    /// Equal to `created_at`: events are never changed.
    pub updated_at: DateTimeUtc,
}

/// No relations are navigated through sea-orm.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
