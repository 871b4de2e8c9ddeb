//! The catalogue's self-test: every entry well formed, every named test present and naming
//! its claim, every conformance test attached to a claim, the whole chapter listed, and a
//! malformed file reported by file, entry and field.

use harness::catalogue::{self, Catalogue, TestIndex, DOCUMENTS, SECTIONS};

fn load() -> Catalogue {
    Catalogue::load(&catalogue::default_dir()).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn catalogue_and_tests_name_each_other() {
    let index =
        TestIndex::scan(&harness::workspace_root().join("tests")).unwrap_or_else(|e| panic!("{e}"));
    let problems = load().cross_check(&index, &["catalogue"]);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn catalogue_covers_the_whole_chapter() {
    let catalogue = load();
    assert!(
        catalogue.claims.len() >= 80,
        "{} claims: the chapter has more checkable sentences",
        catalogue.claims.len()
    );
    for (section, _) in SECTIONS {
        assert!(
            catalogue.claims.iter().any(|c| c.section_key() == section),
            "no claims for section {section}"
        );
    }
    for document in DOCUMENTS {
        assert!(
            catalogue.claims.iter().any(|c| c.section == document),
            "no claims from course document {document}"
        );
    }
}

#[test]
fn malformed_catalogue_errors_name_file_entry_and_field() {
    let dir = tempfile::tempdir().expect("temporary directory");
    std::fs::write(
        dir.path().join("tcp.toml"),
        r#"
[[claim]]
id = "tcp.accept.queue"
section = "07-10-tcp-programming"
course = "x"
fact = "y"
refs = ["accept(2)"]
verdict = "needs-caveat"
tests = ["no_suite_separator"]

[[claim]]
id = "udp.wrong.file"
section = "07-99-nowhere"
course = "x"
fact = "y"
refs = []
verdict = "accurate"
tests = []
"#,
    )
    .expect("write a bad catalogue");
    std::fs::write(
        dir.path().join("unix.toml"),
        "[[claim]]\nid = \"unix.a.b\"\n",
    )
    .expect("write a truncated catalogue");
    let err = Catalogue::load(dir.path()).expect_err("a malformed catalogue must not load");
    for needle in [
        "tcp.toml: claim #1 (id \"tcp.accept.queue\"): field `correction`: required",
        "tcp.toml: claim #1 (id \"tcp.accept.queue\"): field `tests`",
        "tcp.toml: claim #2 (id \"udp.wrong.file\"): field `id`: starts with \"udp\"",
        "tcp.toml: claim #2 (id \"udp.wrong.file\"): field `section`",
        "tcp.toml: claim #2 (id \"udp.wrong.file\"): field `refs`",
        "unix.toml",
        "missing field `section`",
    ] {
        assert!(err.contains(needle), "error lacks {needle:?}:\n{err}");
    }
}
