//! `schema.graphql` is the server's SDL; regenerate it with
//! `cargo run -- export-schema > schema.graphql`.

#[test]
fn schema_graphql_matches_the_server() {
    let committed = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql"))
        .expect("schema.graphql exists");
    let current = server::sdl();
    assert!(
        committed == current,
        "schema.graphql is out of date; run `cargo run -- export-schema > schema.graphql`"
    );
}
