//! The built-in dashboard page (`GET /dashboard`): one self-contained HTML file that asks for a
//! network or dashboard token and draws the main KPIs from the public `stats` query. It is
//! compiled into the binary, so nothing is built or fetched at run time.

use std::sync::LazyLock;

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use sha2::{Digest, Sha256};

/// The page: HTML with one inline `<style>` and one inline `<script>`.
pub const DASHBOARD_HTML: &str = include_str!("../assets/dashboard.html");

/// The page's `Content-Security-Policy`: nothing but its own inline style and script (allowed
/// by their SHA-256 hashes) and requests to this server.
pub static DASHBOARD_CSP: LazyLock<String> = LazyLock::new(|| {
    format!(
        "default-src 'none'; script-src {}; style-src {}; connect-src 'self'; img-src data:; \
         base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
        inline_hash(DASHBOARD_HTML, "script"),
        inline_hash(DASHBOARD_HTML, "style"),
    )
});

/// The CSP source expression (`'sha256-…'`) of the text between the first `<tag>` and its
/// `</tag>`, or `'none'` when the page has no such element.
fn inline_hash(html: &str, tag: &str) -> String {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let Some(start) = html.find(&open).map(|i| i + open.len()) else {
        return "'none'".into();
    };
    let Some(len) = html[start..].find(&close) else {
        return "'none'".into();
    };
    let digest = Sha256::digest(&html.as_bytes()[start..start + len]);
    format!("'sha256-{}'", B64.encode(digest))
}

/// `GET /dashboard`: the page with its security headers.
pub async fn page() -> Response {
    let mut resp = (
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        DASHBOARD_HTML,
    )
        .into_response();
    let headers = resp.headers_mut();
    if let Ok(csp) = HeaderValue::from_str(&DASHBOARD_CSP) {
        headers.insert(header::CONTENT_SECURITY_POLICY, csp);
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_has_exactly_one_inline_script_and_style_and_both_are_hashed() {
        for tag in ["script", "style"] {
            assert_eq!(
                DASHBOARD_HTML.matches(&format!("<{tag}")).count(),
                1,
                "{tag}"
            );
        }
        let csp = DASHBOARD_CSP.as_str();
        assert_eq!(csp.matches("'sha256-").count(), 2, "{csp}");
        assert!(!csp.contains("unsafe"), "{csp}");
        assert!(HeaderValue::from_str(csp).is_ok());
    }

    #[test]
    fn the_page_asks_only_for_stats() {
        // Nothing from elsewhere: the only URL is the SVG namespace.
        let html = DASHBOARD_HTML.replace("http://www.w3.org/2000/svg", "");
        assert!(!html.contains("http:") && !html.contains("https:") && !html.contains("src="));
        // One request, to this server's GraphQL endpoint, whose fields are `stats` aliases.
        assert_eq!(DASHBOARD_HTML.matches("fetch(").count(), 1);
        assert!(DASHBOARD_HTML.contains("fetch('/graphql'"));
        assert!(DASHBOARD_HTML.contains("': stats(measure: '"));
        for field in [
            "persons(",
            "persons {",
            "candidates",
            "identity",
            "sensitive",
            "innerHTML",
        ] {
            assert!(!DASHBOARD_HTML.contains(field), "{field}");
        }
    }
}
