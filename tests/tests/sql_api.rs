//! The SQL API as a DBA uses it: pg_regress runs pg_alphadome/regress/sql/*.sql, in the order of
//! its schedule, against a fresh database and compares every output with expected/*.out. The
//! examples in docs/sql-api.md are quoted from those expected files, and checked to be there.
use alphadome_e2e::{pg_bin, repo_root, Cluster};
use std::process::Command;

fn pg_regress() -> std::path::PathBuf {
    let out = Command::new(pg_bin("pg_config"))
        .arg("--pgxs")
        .output()
        .unwrap();
    let pgxs = std::path::PathBuf::from(String::from_utf8(out.stdout).unwrap().trim());
    // <libdir>/pgxs/src/makefiles/pgxs.mk → <libdir>/pgxs/src/test/regress/pg_regress
    pgxs.parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("test/regress/pg_regress")
}

#[test]
fn the_sql_api_gives_the_expected_output() {
    let cluster = Cluster::start(&[]);
    cluster.create_database("regress");
    let regress = repo_root().join("pg_alphadome/regress");
    let results = cluster.dir.join("regress-results");
    let out = Command::new(pg_regress())
        .arg("--use-existing")
        .arg(format!("--host={}", cluster.dir.display()))
        .arg(format!("--port={}", cluster.port))
        .args(["--user=postgres", "--dbname=regress"])
        .arg(format!("--bindir={}", pg_bin("").display()))
        .arg(format!("--inputdir={}", regress.display()))
        .arg(format!("--outputdir={}", results.display()))
        .arg(format!("--schedule={}", regress.join("schedule").display()))
        .output()
        .unwrap();
    let diffs = std::fs::read_to_string(results.join("regression.diffs")).unwrap_or_default();
    assert!(
        out.status.success(),
        "pg_regress: {}\n{}\n{diffs}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Each ```psql block of docs/sql-api.md (a statement and its output, as psql prints them) is
/// a part of an expected file: the docs show what the tests check.
#[test]
fn the_docs_examples_are_quoted_from_the_tested_output() {
    let docs = std::fs::read_to_string(repo_root().join("docs/sql-api.md")).unwrap();
    let expected_dir = repo_root().join("pg_alphadome/regress/expected");
    let expected: Vec<String> = std::fs::read_dir(&expected_dir)
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect();
    let blocks: Vec<&str> = docs
        .split("```psql\n")
        .skip(1)
        .map(|rest| rest.split("```").next().unwrap())
        .collect();
    assert!(
        blocks.len() >= 10,
        "docs/sql-api.md shows its examples ({} found)",
        blocks.len()
    );
    for block in blocks {
        assert!(
            expected.iter().any(|file| file.contains(block)),
            "this example of docs/sql-api.md is not in pg_alphadome/regress/expected:\n{block}"
        );
    }
}
