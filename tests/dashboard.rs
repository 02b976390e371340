//! The built-in dashboard page: `GET /dashboard` answers HTML under a strict content security
//! policy, and in headless Chromium (Debian's `chromium`) against the real app on the sample it
//! loads, draws its charts from `stats` with withheld cells drawn as withheld, and reports no
//! errors; a partner's token gets the API's refusal shown in the page.

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use common::{TestEnv, post, send};
use model::Role;

const CHROMIUM: &str = "/usr/bin/chromium";

/// Serves the real app on a random port of 127.0.0.1.
async fn serve(env: &TestEnv) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = server::app(env.state());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

/// Whether Chromium is here to run; without it the browser checks fail under CI (which
/// installs it) and are skipped elsewhere.
fn chromium_available() -> bool {
    if Path::new(CHROMIUM).exists() {
        return true;
    }
    if std::env::var_os("CI").is_some() {
        panic!("{CHROMIUM} is missing and CI is set: install Debian's `chromium` package");
    }
    eprintln!(
        "SKIPPED: the headless dashboard checks need {CHROMIUM} (apt-get install chromium); \
         set CI=1 to make its absence an error"
    );
    false
}

/// The page's DOM after Chromium ran it for (virtual) ten seconds.
async fn dump_dom(url: String) -> String {
    tokio::task::spawn_blocking(move || {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("dom.html");
        let err = dir.path().join("stderr.txt");
        let mut child = std::process::Command::new(CHROMIUM)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--virtual-time-budget=10000",
            ])
            .arg(format!(
                "--user-data-dir={}",
                dir.path().join("profile").display()
            ))
            .arg("--dump-dom")
            .arg(&url)
            .stdin(std::process::Stdio::null())
            .stdout(std::fs::File::create(&out).unwrap())
            .stderr(std::fs::File::create(&err).unwrap())
            .spawn()
            .expect("chromium starts");
        let started = Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if started.elapsed() > Duration::from_secs(90) {
                child.kill().ok();
                child.wait().ok();
                panic!("chromium did not finish within 90 s");
            }
            std::thread::sleep(Duration::from_millis(100));
        };
        let dom = std::fs::read_to_string(&out).unwrap_or_default();
        assert!(
            status.success() && !dom.is_empty(),
            "chromium failed ({status}): {}",
            std::fs::read_to_string(&err).unwrap_or_default()
        );
        dom
    })
    .await
    .unwrap()
}

/// The markup from the element with `id` to the end of its `</tag>`.
fn element<'a>(dom: &'a str, id: &str, tag: &str) -> &'a str {
    let marker = format!("id=\"{id}\"");
    let at = dom
        .find(&marker)
        .unwrap_or_else(|| panic!("no #{id} in the page"));
    let start = dom[..at].rfind('<').unwrap();
    let close = format!("</{tag}>");
    let end = at + dom[at..].find(&close).expect("element closes") + close.len();
    &dom[start..end]
}

/// The value of `data-status` on `<body>`.
fn status(dom: &str) -> &str {
    let body = &dom[dom.find("<body").expect("a body")..];
    let body = &body[..body.find('>').unwrap()];
    let at = body.find("data-status=\"").expect("data-status") + 13;
    &body[at..at + body[at..].find('"').unwrap()]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_page_is_served_with_a_strict_content_security_policy() {
    let env = TestEnv::migrated().await;
    let addr = serve(&env).await;
    let resp = reqwest::get(format!("http://{addr}/dashboard"))
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let header = |name: &str| {
        resp.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    assert!(header("content-type").starts_with("text/html"));
    let csp = header("content-security-policy");
    for part in [
        "default-src 'none'",
        "script-src 'sha256-",
        "style-src 'sha256-",
        "connect-src 'self'",
        "frame-ancestors 'none'",
    ] {
        assert!(csp.contains(part), "{part} missing from {csp}");
    }
    assert!(!csp.contains("unsafe"), "{csp}");
    assert_eq!(header("x-content-type-options"), "nosniff");
    let html = resp.text().await.unwrap();
    assert!(html.contains("<title>werkbrug dashboard</title>"));
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_headless_chromium_the_dashboard_draws_its_charts_without_errors() {
    if !chromium_available() {
        return;
    }
    let env = TestEnv::with_sample().await;
    let addr = serve(&env).await;
    let token = env
        .token(Role::Dashboard, importers::sample::NETWORK, &[])
        .await;
    let dom = dump_dom(format!("http://{addr}/dashboard#token={token}")).await;

    let errors = element(&dom, "errors", "div");
    assert!(
        errors.contains("data-count=\"0\"") && errors.ends_with("\"0\"></div>"),
        "the page reported errors: {errors}"
    );
    assert_eq!(status(&dom), "ready", "{dom}");

    // The five headline numbers, each a figure or marked withheld.
    let kpis = element(&dom, "kpis", "dl");
    assert_eq!(kpis.matches("<dd").count(), 5, "{kpis}");

    // Each chart is an SVG with bars; withheld cells are drawn as withheld, as many as the API
    // withheld, and never as a figure.
    let app = server::app(env.state());
    let withheld = |measure: &'static str| {
        let app = app.clone();
        let token = token.clone();
        async move {
            let q = format!(
                "{{ stats(measure: {measure}, groupBy: [MONTH]) {{ rows {{ suppressed }} }} }}"
            );
            let r = send(&app, post(&q, Some(&token))).await;
            r.body["data"]["stats"]["rows"]
                .as_array()
                .unwrap_or_else(|| panic!("{}", r.text))
                .iter()
                .filter(|row| row["suppressed"] == true)
                .count()
        }
    };
    let trend = element(&dom, "chart-trend", "svg");
    assert_eq!(
        trend.matches("data-suppressed=\"true\"").count(),
        withheld("OUTFLOW").await + withheld("WORK_TO_WORK").await,
        "{trend}"
    );
    assert!(trend.matches("class=\"bar").count() > 0, "{trend}");
    let activity = element(&dom, "chart-activity", "svg");
    assert!(
        activity.matches("class=\"bar s2\"").count() >= 12,
        "twelve months of active persons: {activity}"
    );
    let lines = element(&dom, "chart-lines", "svg");
    for line in ["3e lijn", "4e lijn"] {
        assert!(lines.contains(line), "{lines}");
    }
    assert!(lines.matches("class=\"bar s").count() >= 2, "{lines}");
    for chart in [trend, activity, lines] {
        assert!(chart.contains("role=\"img\"") && chart.contains("<title"));
    }
    // Each chart has its table; the districts are a table.
    assert!(dom.matches("<summary>Show as a table</summary>").count() >= 3);
    let districts = element(&dom, "table-districts", "table");
    assert!(districts.matches("<tr>").count() > 3, "{districts}");
    assert!(!dom.contains(&token), "the token stays out of the page");

    // A partner's token may not ask for `stats`: the refusal is shown in the page.
    let partner = env
        .token(Role::Partner, importers::sample::PARTNERS[0], &[])
        .await;
    let dom = dump_dom(format!("http://{addr}/dashboard#token={partner}")).await;
    assert_eq!(status(&dom), "error", "{dom}");
    let errors = element(&dom, "errors", "div");
    assert!(errors.contains("Unknown field"), "{errors}");
    env.cleanup().await;
}
