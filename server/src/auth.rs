//! Bearer tokens: HS256 JWTs carrying role, organisation and scopes, recorded in `api_token` so a
//! steward can list and revoke them. `alg: none` and every other algorithm are refused.

use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use model::Role;
use model::entity::{api_token, organisation};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder, Set,
};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

pub mod cache;

pub use cache::{TokenCache, TokenRecord};

/// The issuer written into and required from every token.
pub const ISSUER: &str = "werkbrug";

/// The scope that lets a caseworker read `special` fields.
pub const SCOPE_SPECIAL_READ: &str = "special:read";

/// Why a token could not be issued or accepted. Messages carry no token material.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// The signing key is too short to be safe.
    #[error(
        "the token signing key must be at least 32 bytes; generate one with `openssl rand -hex 32`"
    )]
    WeakKey,
    /// No organisation with that name or code.
    #[error(
        "no organisation named or coded `{0}`; list them with the `organisations` query or import the sources first"
    )]
    UnknownOrganisation(String),
    /// An unknown scope.
    #[error("unknown scope `{0}`; known scopes: special:read")]
    UnknownScope(String),
    /// Signature, algorithm, expiry, issuer or revocation check failed.
    #[error("invalid or expired token")]
    Invalid,
    /// No issued token has that id.
    #[error("no token with id `{0}`; `werkbrug token list` shows the ids")]
    UnknownToken(String),
    /// A revocation that names no tokens.
    #[error("name the tokens to revoke: their ids, --subject or --org")]
    NothingToRevoke,
    /// The database could not be reached.
    #[error("database error while checking the token: {0}")]
    Db(#[from] sea_orm::DbErr),
}

/// The claims of a werkbrug token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    /// Who the token was issued to (a person's or a tool's account name).
    pub sub: String,
    /// The caller's role.
    pub role: String,
    /// The caller's organisation code.
    pub org: String,
    /// Extra permissions, e.g. `special:read`.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Token id, recorded in `api_token`.
    pub jti: String,
    /// Issuer, always [`ISSUER`].
    pub iss: String,
    /// Issued at (seconds since the epoch).
    pub iat: i64,
    /// Expires at (seconds since the epoch).
    pub exp: i64,
}

/// Who is calling: resolved from a verified token and the database.
#[derive(Debug, Clone)]
pub struct Caller {
    /// Token subject.
    pub subject: String,
    /// Role.
    pub role: Role,
    /// The organisation's database id.
    pub organisation_id: i64,
    /// The organisation's code.
    pub organisation_code: String,
    /// Scopes.
    pub scopes: Vec<String>,
}

impl Caller {
    /// Whether the caller holds `scope`.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }
}

/// Signs and verifies tokens with one symmetric key.
#[derive(Clone)]
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    /// What [`TokenKeys::verify`] checks, set up once rather than per request.
    validation: Validation,
}

impl std::fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenKeys([REDACTED])")
    }
}

impl TokenKeys {
    /// Builds the keys from a secret of at least 32 bytes.
    pub fn new(secret: &SecretString) -> Result<Self, AuthError> {
        let bytes = secret.expose_secret().as_bytes();
        if bytes.len() < 32 {
            return Err(AuthError::WeakKey);
        }
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        validation.leeway = 0;
        Ok(Self {
            encoding: EncodingKey::from_secret(bytes),
            decoding: DecodingKey::from_secret(bytes),
            validation,
        })
    }

    /// Signs claims.
    pub fn sign(&self, claims: &Claims) -> String {
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &self.encoding)
            .expect("HS256 signing of serialisable claims cannot fail")
    }

    /// Verifies signature, algorithm (HS256 only), issuer and expiry.
    pub fn verify(&self, token: &str) -> Result<Claims, AuthError> {
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map(|d| d.claims)
            .map_err(|_| AuthError::Invalid)
    }
}

/// Finds an organisation by exact code or by name (case-insensitive).
pub async fn find_organisation(
    db: &DatabaseConnection,
    name_or_code: &str,
) -> Result<organisation::Model, AuthError> {
    if let Some(org) = organisation::Entity::find()
        .filter(
            Condition::any()
                .add(organisation::Column::Code.eq(name_or_code))
                .add(organisation::Column::Name.eq(name_or_code)),
        )
        .one(db)
        .await?
    {
        return Ok(org);
    }
    let wanted = name_or_code.to_lowercase();
    organisation::Entity::find()
        .all(db)
        .await?
        .into_iter()
        .find(|o| o.name.to_lowercase() == wanted || o.code.to_lowercase() == wanted)
        .ok_or_else(|| AuthError::UnknownOrganisation(name_or_code.to_owned()))
}

/// What a new token is for.
#[derive(Debug, Clone)]
pub struct TokenRequest {
    /// Account name the token is issued to.
    pub subject: String,
    /// Role.
    pub role: Role,
    /// Organisation name or code.
    pub organisation: String,
    /// Scopes.
    pub scopes: Vec<String>,
    /// Lifetime.
    pub ttl: chrono::Duration,
}

/// Issues a token: resolves the organisation, records the token id, returns the signed JWT.
pub async fn issue_token(
    db: &DatabaseConnection,
    keys: &TokenKeys,
    request: &TokenRequest,
) -> Result<(String, DateTime<Utc>), AuthError> {
    for scope in &request.scopes {
        if scope != SCOPE_SPECIAL_READ {
            return Err(AuthError::UnknownScope(scope.clone()));
        }
    }
    let org = find_organisation(db, &request.organisation).await?;
    let now = Utc::now();
    let expires = now + request.ttl;
    let jti = uuid::Uuid::new_v4().to_string();
    api_token::ActiveModel {
        token_id: Set(jti.clone()),
        subject: Set(request.subject.clone()),
        role: Set(request.role.as_str().to_owned()),
        organisation_id: Set(org.id),
        scopes: Set(serde_json::json!(request.scopes)),
        expires_at: Set(expires),
        revoked_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await?;
    let claims = Claims {
        sub: request.subject.clone(),
        role: request.role.as_str().to_owned(),
        org: org.code,
        scopes: request.scopes.clone(),
        jti,
        iss: ISSUER.to_owned(),
        iat: now.timestamp(),
        exp: expires.timestamp(),
    };
    Ok((keys.sign(&claims), expires))
}

/// Which issued tokens to revoke; every token that matches any of them.
#[derive(Debug, Default, Clone)]
pub struct Revocation {
    /// Token ids (`jti`), as `werkbrug token list` shows them.
    pub ids: Vec<String>,
    /// Every token issued to this subject.
    pub subject: Option<String>,
    /// Every token of this organisation (name or code).
    pub organisation: Option<String>,
}

/// Issued tokens with their organisation's code, newest first; without `all`, only those still
/// valid (neither revoked nor expired).
pub async fn list_tokens(
    db: &DatabaseConnection,
    all: bool,
) -> Result<Vec<(api_token::Model, String)>, AuthError> {
    let mut q = api_token::Entity::find()
        .find_also_related(organisation::Entity)
        .order_by_desc(api_token::Column::Id);
    if !all {
        q = q
            .filter(api_token::Column::RevokedAt.is_null())
            .filter(api_token::Column::ExpiresAt.gt(Utc::now()));
    }
    Ok(q.all(db)
        .await?
        .into_iter()
        .map(|(t, org)| (t, org.map(|o| o.code).unwrap_or_default()))
        .collect())
}

/// Revokes the tokens `what` names: every server refuses them once it hears of the change (on
/// PostgreSQL within milliseconds, see [`cache`]; on SQLite from the next request on). Returns
/// the ids revoked now; tokens revoked before stay as they were.
pub async fn revoke_tokens(
    db: &DatabaseConnection,
    what: &Revocation,
) -> Result<Vec<String>, AuthError> {
    if what.ids.is_empty() && what.subject.is_none() && what.organisation.is_none() {
        return Err(AuthError::NothingToRevoke);
    }
    for id in &what.ids {
        let known = api_token::Entity::find()
            .filter(api_token::Column::TokenId.eq(id))
            .one(db)
            .await?;
        if known.is_none() {
            return Err(AuthError::UnknownToken(id.clone()));
        }
    }
    let mut any = Condition::any();
    if !what.ids.is_empty() {
        any = any.add(api_token::Column::TokenId.is_in(what.ids.clone()));
    }
    if let Some(subject) = &what.subject {
        any = any.add(api_token::Column::Subject.eq(subject));
    }
    if let Some(org) = &what.organisation {
        any = any.add(api_token::Column::OrganisationId.eq(find_organisation(db, org).await?.id));
    }
    let txn = model::db::begin_write(db).await?;
    let ids: Vec<String> = api_token::Entity::find()
        .filter(any)
        .filter(api_token::Column::RevokedAt.is_null())
        .all(&txn)
        .await?
        .into_iter()
        .map(|t| t.token_id)
        .collect();
    let now = Utc::now();
    api_token::Entity::update_many()
        .col_expr(api_token::Column::RevokedAt, Expr::value(now))
        .col_expr(api_token::Column::UpdatedAt, Expr::value(now))
        .filter(api_token::Column::TokenId.is_in(ids.clone()))
        .exec(&txn)
        .await?;
    txn.commit().await?;
    Ok(ids)
}

/// Verifies a bearer token and resolves the caller; refuses revoked or unknown tokens. The token's
/// record is read from the database unless `cache` holds it (see [`cache`]).
pub async fn authenticate(
    db: &DatabaseConnection,
    keys: &TokenKeys,
    cache: &TokenCache,
    token: &str,
) -> Result<Caller, AuthError> {
    let claims = keys.verify(token)?;
    let role: Role = claims.role.parse().map_err(|_| AuthError::Invalid)?;
    let record = match cache.get(&claims.jti) {
        Ok(record) => record,
        Err(ticket) => {
            let Some((record, Some(org))) = api_token::Entity::find()
                .filter(api_token::Column::TokenId.eq(&claims.jti))
                .find_also_related(organisation::Entity)
                .one(db)
                .await?
            else {
                return Err(AuthError::Invalid);
            };
            let record = TokenRecord {
                role: record.role,
                revoked: record.revoked_at.is_some(),
                organisation_id: org.id,
                organisation_code: org.code,
            };
            cache.keep(ticket, &claims.jti, &record);
            record
        }
    };
    if record.revoked || record.organisation_code != claims.org || record.role != claims.role {
        return Err(AuthError::Invalid);
    }
    Ok(Caller {
        subject: claims.sub,
        role,
        organisation_id: record.organisation_id,
        organisation_code: record.organisation_code,
        scopes: claims.scopes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(secret: &str) -> TokenKeys {
        TokenKeys::new(&SecretString::from(secret.to_owned())).unwrap()
    }

    fn claims(exp_offset: i64) -> Claims {
        let now = Utc::now().timestamp();
        Claims {
            sub: "a".into(),
            role: "steward".into(),
            org: "x".into(),
            scopes: vec![],
            jti: "j".into(),
            iss: ISSUER.into(),
            iat: now,
            exp: now + exp_offset,
        }
    }

    #[test]
    fn verifies_own_tokens_and_refuses_others() {
        let k = keys("0123456789abcdef0123456789abcdef");
        assert!(k.verify(&k.sign(&claims(60))).is_ok());
        assert!(k.verify(&k.sign(&claims(-60))).is_err(), "expired");
        let other = keys("ffffffffffffffffffffffffffffffff");
        assert!(k.verify(&other.sign(&claims(60))).is_err(), "wrong key");
        assert!(TokenKeys::new(&SecretString::from("short".to_owned())).is_err());
    }
}
