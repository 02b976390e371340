//! The `werkbrug` binary end to end: `serve --demo`, `token create`, `serve` on a configured
//! database, `export-schema`, graceful shutdown, and clear configuration errors.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_werkbrug");

/// A running server: its process, address and the lines it printed before listening.
struct Running {
    child: Child,
    base: String,
    banner: Vec<String>,
}

fn spawn(cmd: &mut Command) -> Running {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("werkbrug starts");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut banner = vec![];
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let Ok(line) = rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) else {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the server did not print `listening on` within a minute: {banner:?}");
        };
        if let Some(addr) = line.strip_prefix("listening on ") {
            // It listens before migrations have run; /readyz says when it takes requests.
            common::wait_ready(addr, deadline);
            return Running {
                child,
                base: addr.to_owned(),
                banner,
            };
        }
        banner.push(line);
    }
}

impl Drop for Running {
    /// A failed test still leaves no server behind.
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

impl Running {
    async fn query(&self, token: &str, query: &str) -> serde_json::Value {
        reqwest::Client::new()
            .post(format!("{}/graphql", self.base))
            .bearer_auth(token)
            .json(&serde_json::json!({ "query": query }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Sends SIGTERM and waits for a clean exit.
    fn stop(&mut self) {
        let pid = self.child.id().to_string();
        assert!(
            Command::new("kill")
                .args(["-TERM", &pid])
                .status()
                .unwrap()
                .success()
        );
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                assert!(status.success(), "graceful shutdown exits 0, got {status}");
                return;
            }
            assert!(Instant::now() < deadline, "server did not stop on SIGTERM");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Runs `werkbrug ARGS` in `dir` with `envs` and no configuration file.
fn werkbrug(dir: &std::path::Path, envs: &[(&str, String)], args: &[&str]) -> std::process::Output {
    Command::new(BIN)
        .current_dir(dir)
        .env_remove("WERKBRUG_CONFIG")
        .envs(envs.iter().map(|(k, v)| (*k, v.as_str())))
        .args(args)
        .output()
        .unwrap()
}

/// `werkbrug serve` on a free loopback port in `dir` with `envs` and no configuration file.
fn serve(dir: &std::path::Path, envs: &[(&str, String)]) -> Running {
    spawn(
        Command::new(BIN)
            .current_dir(dir)
            .env_remove("WERKBRUG_CONFIG")
            .envs(envs.iter().map(|(k, v)| (*k, v.as_str())))
            .args(["serve", "--listen", "127.0.0.1:0"]),
    )
}

fn token_create(
    dir: &std::path::Path,
    envs: &[(&str, String)],
    args: &[&str],
) -> std::process::Output {
    werkbrug(dir, envs, &[&["token", "create"][..], args].concat())
}

fn last_line(out: &std::process::Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone())
        .unwrap()
        .lines()
        .last()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn demo_serves_sample_data_and_cli_tokens_work() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = spawn(
        Command::new(BIN)
            .current_dir(dir.path())
            .env_remove("DATABASE_URL")
            .env_remove("WERKBRUG_CONFIG")
            .env("RUST_LOG", "warn")
            .args(["serve", "--demo", "--listen", "127.0.0.1:0"]),
    );
    assert!(
        dir.path().join(".werkbrug-dev-keys.toml").exists(),
        "dev keys generated"
    );
    let tokens: Vec<String> = server
        .banner
        .iter()
        .filter_map(|l| l.split("Bearer ").nth(1))
        .map(|t| t.split('"').next().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(
        tokens.len(),
        6,
        "a token per demo role: {:?}",
        server.banner
    );
    assert!(
        server
            .banner
            .iter()
            .any(|l| l.contains("GraphiQL: http://127.0.0.1:"))
    );

    // The special-scope token's header line names the purpose special reads need.
    assert!(
        server
            .banner
            .iter()
            .any(|l| l.contains("\"x-purpose\": \"case_management\"")),
        "{:?}",
        server.banner
    );
    let r = server
        .query(
            &tokens[0],
            "{ persons(first: 3) { edges { node { identity { familyName } } } } }",
        )
        .await;
    assert_eq!(
        r["data"]["persons"]["edges"].as_array().unwrap().len(),
        3,
        "{r}"
    );

    // A token from the command line, for the organisation's name as imported.
    let db_url = format!("sqlite://{}", dir.path().join("werkbrug-demo.db").display());
    let out = token_create(
        dir.path(),
        &[("DATABASE_URL", db_url)],
        &[
            "--role",
            "steward",
            "--org",
            "Gemeente Amsterdam",
            "--ttl",
            "1h",
        ],
    );
    let token = last_line(&out);
    let r = server
        .query(&token, "{ organisations { name kind } }")
        .await;
    let orgs = r["data"]["organisations"].as_array().unwrap();
    assert!(
        orgs.iter().any(|o| o["name"] == "Gemeente Amsterdam"),
        "{r}"
    );

    // The demo went through the importers: four runs (three files and the UWV feed over HTTP),
    // with rejected rows a steward can read.
    let r = server
        .query(
            &token,
            "{ importRuns { source status trigger rowsRead rowsInserted rowsRejected \
               files rejectedRows { file rowNumber column reason } } }",
        )
        .await;
    let runs = r["data"]["importRuns"].as_array().expect("runs");
    assert_eq!(runs.len(), 4, "{r}");
    assert!(
        runs.iter()
            .all(|run| run["status"] == "succeeded" && run["trigger"] == "sample"),
        "{r}"
    );
    let files: Vec<&str> = runs
        .iter()
        .flat_map(|run| run["files"].as_array().unwrap())
        .filter_map(|f| f.as_str())
        .collect();
    assert!(files.iter().any(|f| f.contains(".xlsx [")), "{files:?}");
    assert!(files.iter().any(|f| f.ends_with(".csv")), "{files:?}");
    assert!(
        files.iter().any(|f| f.starts_with("http://127.0.0.1:")),
        "{files:?}"
    );
    let rejected: Vec<&serde_json::Value> = runs
        .iter()
        .flat_map(|run| run["rejectedRows"].as_array().unwrap())
        .collect();
    assert_eq!(rejected.len(), 3, "{r}");
    assert!(
        rejected
            .iter()
            .any(|row| row["column"] == "BSN" && row["rowNumber"].as_i64() > Some(3)),
        "{r}"
    );
    assert!(
        server.banner.iter().any(|l| l
            .contains("Sample exports imported through the importers (4 runs, 3 rows rejected")),
        "{:?}",
        server.banner
    );
    server.stop();
}

#[tokio::test]
async fn serves_a_configured_database() {
    let env = common::TestEnv::with_sample().await;
    let envs = env.binary_env();
    let token = last_line(&token_create(
        env.dir.path(),
        &envs,
        &["--role", "network", "--org", "sociaal-werkkoepel"],
    ));
    let mut server = serve(env.dir.path(), &envs);
    let r = server
        .query(
            &token,
            "{ me { role organisation { code } } organisations(kind: \"employer\") { name } }",
        )
        .await;
    assert_eq!(r["data"]["me"]["role"], "network", "{r}");
    assert_eq!(
        r["data"]["organisations"].as_array().unwrap().len(),
        5,
        "{r}"
    );
    let r = server
        .query(&token, "{ persons(first: 1) { edges { node { id } } } }")
        .await;
    assert!(r["data"].is_null(), "{r}");
    server.stop();

    // Clear errors: unknown organisation, unknown role, scope for a non-caseworker.
    for (args, expect) in [
        (
            vec!["--role", "partner", "--org", "Nobody BV"],
            "no organisation named or coded `Nobody BV`",
        ),
        (
            vec!["--role", "boss", "--org", "uwv"],
            "expected one of: caseworker, partner, network, dashboard, steward",
        ),
        (
            vec![
                "--role",
                "partner",
                "--org",
                "uwv",
                "--scope",
                "special:read",
            ],
            "only for caseworkers",
        ),
    ] {
        let out = token_create(env.dir.path(), &envs, &args);
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(expect), "{err}");
    }
    env.cleanup().await;
}

#[tokio::test]
async fn tokens_are_listed_and_revoked() {
    let env = common::TestEnv::with_sample().await;
    let envs = env.binary_env();
    let werkbrug = |args: &[&str]| werkbrug(env.dir.path(), &envs, args);
    // A token of the partner, issued to `subject`.
    let partner = |subject: &str| {
        last_line(&token_create(
            env.dir.path(),
            &envs,
            &[
                "--role",
                "partner",
                "--org",
                "schoonmaak-amstelglans",
                "--subject",
                subject,
            ],
        ))
    };
    let laptop = partner("laptop-jan");
    let tool = partner("hr-tool");
    // The list names every token by id, never the token itself.
    let out = werkbrug(&["token", "list"]);
    let list = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{list}");
    let id_of = |subject: &str| {
        list.lines()
            .find(|l| l.contains(subject))
            .and_then(|l| l.split('┆').next())
            .map(|c| {
                c.trim_matches(|ch: char| ch == '│' || ch.is_whitespace())
                    .to_owned()
            })
            .unwrap_or_else(|| panic!("{subject} listed: {list}"))
    };
    let tool_id = id_of("hr-tool");
    assert!(
        tool_id.len() == 36 && tool_id.matches('-').count() == 4,
        "a token id: {tool_id}"
    );
    assert!(
        list.contains("schoonmaak-amstelglans") && list.contains("active"),
        "{list}"
    );
    assert!(
        !list.contains(&laptop) && !list.contains(&tool),
        "no token in the list"
    );

    let mut server = serve(env.dir.path(), &envs);
    let me = "{ me { role } }";
    let refused = |token: &str| {
        let (server, token) = (&server, token.to_owned());
        async move {
            common::token_change_heard("revocation", || async {
                let r = server.query(&token, me).await;
                r["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
            })
            .await;
        }
    };
    for t in [&laptop, &tool] {
        assert_eq!(server.query(t, me).await["data"]["me"]["role"], "partner");
    }

    // A lost laptop: every token issued to it is refused on the next request, the others work.
    let out = werkbrug(&["token", "revoke", "--subject", "laptop-jan"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 1);
    refused(&laptop).await;
    assert_eq!(
        server.query(&tool, me).await["data"]["me"]["role"],
        "partner"
    );

    // By id; again changes nothing; an unknown id or no selection says what to do.
    let out = werkbrug(&["token", "revoke", &tool_id]);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), tool_id);
    refused(&tool).await;
    let out = werkbrug(&["token", "revoke", &tool_id]);
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "");
    let out = werkbrug(&["token", "revoke", "no-such-id"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("no token with id `no-such-id`; `werkbrug token list` shows the ids")
    );
    let out = werkbrug(&["token", "revoke"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("name the tokens to revoke: their ids, --subject or --org")
    );

    // A partner that leaves: every token of the organisation, and only those.
    let third = partner("planner");
    let network = last_line(&token_create(
        env.dir.path(),
        &envs,
        &["--role", "network", "--org", "sociaal-werkkoepel"],
    ));
    let out = werkbrug(&["token", "revoke", "--org", "Schoonmaak Amstelglans"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 1);
    refused(&third).await;
    assert_eq!(
        server.query(&network, me).await["data"]["me"]["role"],
        "network"
    );

    // Revoked tokens leave the default list and stay in the full one.
    let out = werkbrug(&["token", "list"]);
    assert!(!String::from_utf8_lossy(&out.stdout).contains("hr-tool"));
    let out = werkbrug(&["token", "list", "--all"]);
    let all = String::from_utf8_lossy(&out.stdout);
    assert_eq!(all.matches("revoked").count(), 3, "{all}");
    server.stop();
    env.cleanup().await;
}

#[test]
fn configuration_errors_say_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let out = Command::new(BIN)
            .current_dir(dir.path())
            .env_remove("WERKBRUG_CONFIG")
            .args(args)
            .output()
            .unwrap();
        assert!(!out.status.success());
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    assert!(
        run(&["--config", "missing.toml", "migrate"])
            .contains("configuration file missing.toml not found")
    );
    std::fs::write(
        dir.path().join("w.toml"),
        "[privacy]\nbsn_pseudonym_key = \"00\"\n",
    )
    .unwrap();
    assert!(
        run(&["--config", "w.toml", "serve"]).contains("set WERKBRUG_PRIVACY__BSN_PSEUDONYM_KEY")
    );
    std::fs::write(
        dir.path().join("ok.toml"),
        "[database]\nurl = \"sqlite://x.db\"\n",
    )
    .unwrap();
    assert!(
        run(&["--config", "ok.toml", "serve"])
            .contains("missing secrets: WERKBRUG_AUTH__SIGNING_KEY")
    );
}

#[test]
fn export_schema_prints_the_committed_sdl() {
    let out = Command::new(BIN).arg("export-schema").output().unwrap();
    assert!(out.status.success());
    let committed =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql")).unwrap();
    assert_eq!(String::from_utf8(out.stdout).unwrap(), committed);
}

#[tokio::test]
async fn a_secret_of_only_digits_is_read_as_text() {
    let env = common::TestEnv::with_sample().await;
    let mut envs = env.binary_env();
    for (k, v) in envs.iter_mut() {
        if *k == "WERKBRUG_AUTH__SIGNING_KEY" {
            *v = format!("{}1", "0".repeat(63));
        }
    }
    let out = token_create(
        env.dir.path(),
        &envs,
        &[
            "--role",
            "steward",
            "--org",
            "gemeente-amsterdam",
            "--ttl",
            "1h",
        ],
    );
    assert!(last_line(&out).starts_with("ey"), "a token");
    env.cleanup().await;
}
