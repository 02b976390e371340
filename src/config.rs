//! Layered configuration: built-in defaults, then `werkbrug.toml` (or `--config` /
//! `WERKBRUG_CONFIG`), then `WERKBRUG_SECTION__KEY` environment variables and `DATABASE_URL`.
//! Secrets come from the environment or key files only, never from the TOML file itself.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

/// File with generated development keys, written when no configuration exists.
pub const DEV_KEYS_FILE: &str = ".werkbrug-dev-keys.toml";

/// The whole configuration.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct Settings {
    /// `[server]`
    pub server: ServerConfig,
    /// `[database]`
    pub database: DatabaseConfig,
    /// `[auth]`
    pub auth: AuthConfig,
    /// `[privacy]`
    pub privacy: PrivacyConfig,
    /// `[stats]`
    pub stats: StatsConfig,
    /// `[import]`: settings for every source.
    pub import: importers::ImportConfig,
    /// `[[source]]`: what to import, from where, when.
    #[serde(rename = "source")]
    pub sources: Vec<importers::SourceConfig>,
}

/// `[server]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct ServerConfig {
    /// Address to listen on.
    pub listen: String,
    /// Seconds a request may take.
    pub request_timeout_secs: u64,
    /// Largest request body in bytes.
    pub body_limit_bytes: usize,
    /// Deepest selection nesting a query may have.
    pub max_query_depth: usize,
    /// Highest query complexity (fields weighted by page sizes).
    pub max_query_complexity: usize,
    /// Largest `first` a list accepts.
    pub max_page_size: usize,
    /// Most aliased fields a query may use.
    pub max_aliases: usize,
    /// Most items a list (in the variables or an argument) may have.
    pub max_list_items: usize,
    /// Serve Prometheus metrics at `GET /metrics` on the same address, without a token (they
    /// hold counts by route, operation name, status and source, never personal data).
    pub metrics: bool,
}

impl Default for ServerConfig {
    fn default() -> Self {
        let limits = server::ServerSettings::default();
        Self {
            listen: "127.0.0.1:8080".into(),
            request_timeout_secs: 30,
            body_limit_bytes: limits.body_limit,
            max_query_depth: limits.max_depth,
            max_query_complexity: limits.max_complexity,
            max_page_size: limits.max_page,
            max_aliases: limits.max_aliases,
            max_list_items: limits.max_list_items,
            metrics: limits.metrics,
        }
    }
}

/// `[database]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct DatabaseConfig {
    /// `sqlite://FILE` or `postgres://…`.
    pub url: String,
    /// Run pending migrations when `serve` starts.
    pub auto_migrate: bool,
    /// Seconds to wait for a database connection (connecting, or a free one from the pool)
    /// before a request is answered 503.
    pub connect_timeout_secs: u64,
    /// Most connections in the pool (default: 10 on PostgreSQL, 4 on SQLite).
    pub max_connections: Option<u32>,
    /// PostgreSQL's `random_page_cost` for werkbrug's connections (default 1.1; PostgreSQL's
    /// own default, 4, is for spinning disks); 0 keeps the server's setting.
    pub postgres_random_page_cost: Option<f64>,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            url: "sqlite://werkbrug.db".into(),
            auto_migrate: true,
            connect_timeout_secs: 10,
            max_connections: None,
            postgres_random_page_cost: Some(1.1),
        }
    }
}

/// `[auth]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct AuthConfig {
    /// Token signing key (environment only: `WERKBRUG_AUTH__SIGNING_KEY`).
    #[serde(skip_serializing)]
    pub signing_key: Option<SecretString>,
    /// File holding the token signing key.
    pub signing_key_file: Option<PathBuf>,
    /// Default token lifetime, e.g. `30d`.
    pub default_token_ttl: String,
    /// PostgreSQL only: keep each token's check in memory until a change to it (or to
    /// organisations) is notified, instead of reading it on every request. A revocation then
    /// takes effect when its notification arrives (milliseconds; at most 60 s should one be lost).
    pub keep_token_checks: bool,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            signing_key: None,
            signing_key_file: None,
            default_token_ttl: "30d".into(),
            keep_token_checks: true,
        }
    }
}

/// `[stats]`: outcomes and aggregate figures.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct StatsConfig {
    /// Days after a placement ends within which what follows decides its outcome.
    pub outcome_window_days: u32,
    /// Seconds a snapshot of the placements serves the figures before it is rebuilt.
    pub cache_seconds: u64,
}

impl Default for StatsConfig {
    fn default() -> Self {
        Self {
            outcome_window_days: 90,
            cache_seconds: 60,
        }
    }
}

/// `[privacy]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct PrivacyConfig {
    /// Smallest number of persons an aggregate cell may count.
    pub min_cell_size: u32,
    /// Smallest denominator for which a rate is shown.
    pub min_rate_denominator: u32,
    /// BSN encryption key, 64 hex digits (environment only).
    #[serde(skip_serializing)]
    pub bsn_encryption_key: Option<SecretString>,
    /// File holding the BSN encryption key.
    pub bsn_encryption_key_file: Option<PathBuf>,
    /// BSN pseudonym key, 64 hex digits (environment only).
    #[serde(skip_serializing)]
    pub bsn_pseudonym_key: Option<SecretString>,
    /// File holding the BSN pseudonym key.
    pub bsn_pseudonym_key_file: Option<PathBuf>,
}

impl Default for PrivacyConfig {
    fn default() -> Self {
        Self {
            min_cell_size: 10,
            min_rate_denominator: 100,
            bsn_encryption_key: None,
            bsn_encryption_key_file: None,
            bsn_pseudonym_key: None,
            bsn_pseudonym_key_file: None,
        }
    }
}

/// Keys that must not be written in the TOML file.
const SECRET_KEYS: &[(&str, &str)] = &[
    ("auth", "signing_key"),
    ("privacy", "bsn_encryption_key"),
    ("privacy", "bsn_pseudonym_key"),
];

/// The loaded configuration and where it came from.
#[derive(Debug)]
pub struct Loaded {
    /// The settings.
    pub settings: Settings,
    /// The configuration file, when one was read.
    pub file: Option<PathBuf>,
}

/// Loads the configuration from `explicit` (the `--config` flag or `WERKBRUG_CONFIG`), else
/// `./werkbrug.toml` when it exists, else defaults; environment variables override all.
pub fn load(explicit: Option<&Path>) -> Result<Loaded> {
    let file = match explicit {
        Some(p) => {
            if !p.exists() {
                bail!(
                    "configuration file {} not found; pass an existing file to --config or WERKBRUG_CONFIG",
                    p.display()
                );
            }
            Some(p.to_path_buf())
        }
        None => Some(PathBuf::from("werkbrug.toml")).filter(|p| p.exists()),
    };
    let mut figment = Figment::from(Serialized::defaults(Settings::default()));
    if let Some(path) = &file {
        refuse_inline_secrets(path)?;
        figment = figment.merge(Toml::file_exact(path));
    }
    // Secrets are taken from the environment as text, never parsed: figment would read a key
    // of only digits as a number and refuse it (or drop its leading zeros).
    let secrets: Vec<String> = SECRET_KEYS
        .iter()
        .map(|(section, key)| format!("{section}.{key}"))
        .collect();
    figment = figment
        .merge(
            Env::prefixed("WERKBRUG_")
                .split("__")
                .filter(move |k| k != "config" && !secrets.iter().any(|s| k == s.as_str())),
        )
        .merge(
            Env::raw()
                .only(&["DATABASE_URL"])
                .map(|_| "database.url".into()),
        );
    for (section, key) in SECRET_KEYS {
        let var = format!(
            "WERKBRUG_{}__{}",
            section.to_uppercase(),
            key.to_uppercase()
        );
        if let Ok(value) = std::env::var(&var) {
            figment = figment.merge((format!("{section}.{key}"), value));
        }
    }
    let settings: Settings = figment
        .extract()
        .context("the configuration is not valid; see werkbrug.example.toml for every key")?;
    Ok(Loaded { settings, file })
}

fn refuse_inline_secrets(path: &Path) -> Result<()> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let value: toml::Table = text
        .parse()
        .with_context(|| format!("{} is not valid TOML", path.display()))?;
    for (section, key) in SECRET_KEYS {
        if value.get(*section).and_then(|s| s.get(*key)).is_some() {
            bail!(
                "{}: `[{section}] {key}` is a secret and does not belong in the configuration file; \
                 set WERKBRUG_{}__{} or `{key}_file` instead",
                path.display(),
                section.to_uppercase(),
                key.to_uppercase()
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_in_the_file_are_refused_with_a_hint() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("werkbrug.toml");
        std::fs::write(&path, "[auth]\nsigning_key = \"abc\"\n").unwrap();
        let err = load(Some(&path)).unwrap_err().to_string();
        assert!(err.contains("WERKBRUG_AUTH__SIGNING_KEY"), "{err}");
    }

    #[test]
    fn file_values_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.toml");
        std::fs::write(
            &path,
            "[server]\nlisten = \"127.0.0.1:9999\"\n[privacy]\nmin_cell_size = 15\n",
        )
        .unwrap();
        let loaded = load(Some(&path)).unwrap();
        assert_eq!(loaded.settings.server.listen, "127.0.0.1:9999");
        assert_eq!(loaded.settings.privacy.min_cell_size, 15);
        assert!(load(Some(&dir.path().join("missing.toml"))).is_err());
    }
}
