//! werkbrug's GraphQL server: HTTP (axum), authentication, the privacy policy, resolvers and the
//! audit log. It reads the model; it never calls the importers.

pub mod audit;
pub mod auth;
pub mod dashboard;
pub mod graphql;
pub mod http;
pub mod matching;
pub mod policy;
pub mod stats;
pub mod visibility;

use std::sync::Arc;
use std::time::Duration;

use model::BsnProtector;
use sea_orm::DatabaseConnection;

pub use graphql::{WerkbrugSchema, sdl};
pub use http::{app, serve};

/// Settings of the HTTP server.
#[derive(Debug, Clone)]
pub struct ServerSettings {
    /// How long a request may take before it is answered with 408.
    pub request_timeout: Duration,
    /// Largest request body accepted, in bytes.
    pub body_limit: usize,
    /// Deepest selection nesting a query may have.
    pub max_depth: usize,
    /// Highest complexity (fields, weighted by page sizes) a query may have.
    pub max_complexity: usize,
    /// Largest `first` a list accepts.
    pub max_page: usize,
    /// Most aliased fields a query may use.
    pub max_aliases: usize,
    /// Smallest number of distinct persons an aggregate cell may count (k).
    pub min_cell_size: usize,
    /// Smallest denominator a rate is shown for.
    pub min_rate_denominator: usize,
    /// Days after a placement ends within which what follows decides its outcome.
    pub outcome_window_days: i64,
    /// How long a statistics snapshot or the matching index serves before it is rebuilt.
    pub stats_cache: Duration,
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            request_timeout: Duration::from_secs(30),
            body_limit: 256 * 1024,
            max_depth: 12,
            max_complexity: 2_000,
            max_page: 100,
            max_aliases: 30,
            min_cell_size: 10,
            min_rate_denominator: 100,
            outcome_window_days: 90,
            stats_cache: Duration::from_secs(60),
        }
    }
}

/// What every request shares: database, keys and the policy.
#[derive(Clone)]
pub struct AppState {
    /// The database.
    pub db: DatabaseConnection,
    /// Token signing and verification keys.
    pub tokens: auth::TokenKeys,
    /// BSN decryption and pseudonym keys.
    pub protector: BsnProtector,
    /// The privacy policy, checked at start-up.
    pub policy: Arc<policy::Policy>,
    /// HTTP settings.
    pub settings: ServerSettings,
    /// The statistics snapshot shared by requests.
    pub stats: Arc<stats::FactsCache>,
    /// The matching index shared by requests.
    pub matching: Arc<matching::IndexCache>,
}

impl AppState {
    /// Builds the state; fails when the privacy policy does not cover every field.
    pub fn new(
        db: DatabaseConnection,
        tokens: auth::TokenKeys,
        protector: BsnProtector,
        settings: ServerSettings,
    ) -> Result<Self, policy::PolicyError> {
        Ok(Self {
            db,
            tokens,
            protector,
            policy: Arc::new(policy::Policy::new()?),
            settings,
            stats: Arc::default(),
            matching: Arc::default(),
        })
    }
}
