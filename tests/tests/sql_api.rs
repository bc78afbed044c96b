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

/// Every function and procedure of the extension that is not internal (its name does not
/// start with `_`) is in docs/sql-api.md, named as `name(`, `name`` or `, name(`; and
/// docs/security.md lists each check of security_check().
#[test]
fn the_docs_name_every_public_function_and_every_security_check() {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.create_database("docs");
    let names: Vec<String> = db
        .query(
            "SELECT DISTINCT p.proname::text FROM pg_proc p
               JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
               JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'pg_alphadome'
              WHERE p.proname NOT LIKE '\\_%' ORDER BY 1",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(names.len() > 40, "{names:?}");
    let docs = std::fs::read_to_string(repo_root().join("docs/sql-api.md")).unwrap();
    let missing: Vec<&String> = names
        .iter()
        .filter(|name| {
            !docs.contains(&format!("`{name}("))
                && !docs.contains(&format!(", {name}("))
                && !docs.contains(&format!("`{name}`"))
        })
        .collect();
    assert!(missing.is_empty(), "not in docs/sql-api.md: {missing:?}");

    // security.md's table of the self-check has a row per row of security_check(), by name.
    let checks: Vec<String> = db
        .query(
            "SELECT check_name FROM alphadome.security_check() ORDER BY 1",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let security = std::fs::read_to_string(repo_root().join("docs/security.md")).unwrap();
    let section = &security[security
        .find("## The self-check")
        .expect("a self-check section")..];
    let mut documented: Vec<String> = section
        .lines()
        .skip_while(|l| !l.starts_with("| check "))
        .skip(2)
        .take_while(|l| l.starts_with("| `"))
        .map(|l| l[3..].split('`').next().unwrap().to_string())
        .collect();
    documented.sort();
    assert_eq!(documented, checks, "docs/security.md, \"The self-check\"");
}
