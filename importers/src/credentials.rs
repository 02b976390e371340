//! OAuth2 client-credentials for HTTP sources that do not take a static bearer token.

use secrecy::SecretString;
use serde::Deserialize;

use crate::source::ReadError;

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
}

/// Fetches an access token with the client-credentials grant (RFC 6749 §4.4). Errors name the
/// endpoint and the status, never the secret.
pub async fn client_credentials(
    token_url: &str,
    client_id: &str,
    client_secret: &str,
    timeout_secs: u64,
) -> Result<SecretString, ReadError> {
    let fail = |reason: String| ReadError::Http {
        url: token_url.split('?').next().unwrap_or(token_url).to_owned(),
        reason,
    };
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(timeout_secs))
        .build()
        .map_err(|e| fail(format!("cannot build an HTTP client: {e}")))?;
    let response = client
        .post(token_url)
        .basic_auth(client_id, Some(client_secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .map_err(|e| fail(format!("token request failed: {}", e.without_url())))?;
    if !response.status().is_success() {
        return Err(fail(format!(
            "token endpoint answered HTTP {}; check client_id_env and client_secret_env",
            response.status().as_u16()
        )));
    }
    let token: TokenResponse = response.json().await.map_err(|_| {
        fail("token endpoint did not answer an OAuth2 token (JSON with access_token)".into())
    })?;
    Ok(SecretString::from(token.access_token))
}
