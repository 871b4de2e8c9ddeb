//! The catalogue's self-test: every fact and claim well formed, every fact id a test names in
//! the catalogue, every conformance test naming a fact, no test for an untestable fact, every
//! claim with a testable fact checked by a test (none pending), the whole chapter listed, and a
//! malformed file reported by file, entry and field.

use harness::catalogue::{self, Catalogue, DOCUMENTS, SECTIONS};

use super::TestIndex;

fn load() -> Catalogue {
    Catalogue::load(&catalogue::default_dir()).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn every_test_names_known_testable_claims() {
    let index =
        TestIndex::scan(&harness::workspace_root().join("tests")).unwrap_or_else(|e| panic!("{e}"));
    let problems = index.cross_check(&load());
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Claims that rest on a testable fact no test names: their status would be "pending", a
/// verdict no kernel run backs.
fn untested(index: &TestIndex, catalogue: &Catalogue) -> Vec<String> {
    catalogue
        .claims
        .iter()
        .filter_map(|claim| {
            let testable: Vec<&str> = claim
                .facts
                .iter()
                .filter(|id| catalogue.fact(id).is_some_and(|f| f.untestable.is_none()))
                .map(String::as_str)
                .collect();
            let tested = testable.iter().any(|id| !index.tests_of(id).is_empty());
            (!testable.is_empty() && !tested).then(|| {
                format!(
                    "claim {} rests on testable facts no test names: {} (a test body needs \
                     claim(\"<one of them>\"))",
                    claim.id,
                    testable.join(", ")
                )
            })
        })
        .collect()
}

#[test]
fn every_claim_with_a_testable_fact_has_a_test_naming_one() {
    let index =
        TestIndex::scan(&harness::workspace_root().join("tests")).unwrap_or_else(|e| panic!("{e}"));
    let problems = untested(&index, &load());
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
    let facts = dir.path().join("facts");
    let claims = dir.path().join("claims");
    std::fs::create_dir_all(&facts).expect("facts directory");
    std::fs::create_dir_all(&claims).expect("claims directory");
    std::fs::write(
        facts.join("tcp.toml"),
        r#"
[[fact]]
id = "tcp.accept.queue"
statement = "y"
refs = ["accept(2)"]

[[fact]]
id = "udp.wrong.file"
statement = "y"
refs = []

[[fact]]
id = "tcp.half.untestable"
statement = "y"
untestable = ""

[[fact]]
id = "tcp.kernel.bounds"
statement = "y"
refs = ["tcp(7)"]
since = ["6.12.9", "6.13-rc6"]
on = "gvisor"

[[fact]]
id = "tcp.kernel.stray-ref"
statement = "y"
refs = ["tcp(7)"]
kernel_ref = "commit 5b0af621c3f6"
"#,
    )
    .expect("write bad facts");
    std::fs::write(facts.join("unix.toml"), "[[fact]]\nid = \"unix.a.b\"\n")
        .expect("write truncated facts");
    std::fs::write(
        claims.join("07-01-overview.toml"),
        r#"
[[claim]]
id = "tcp.accept.queue"
section = "07-10-tcp-programming"
kind = "course"
words = "x"
facts = ["tcp.accept.queue"]
verdict = "needs-caveat"

[[claim]]
id = "tcp.wrong.section"
section = "07-99-nowhere"
kind = "topic"
words = "x"
facts = ["tcp.no.such-fact"]
verdict = "accurate"

[[claim]]
id = "tcp.half.correction"
section = "07-10-tcp-programming"
kind = "course"
words = "x"
facts = ["tcp.accept.queue"]
verdict = "inaccurate"
correction = { ko = "z" }
"#,
    )
    .expect("write bad claims");
    std::fs::write(claims.join("notes.toml"), "").expect("write a stray file");
    // A section file renamed (the loader would skip it) and one emptied.
    std::fs::write(facts.join("udp.TOML"), "[[fact]]\nid = \"udp.a.b\"\n").expect("write");
    std::fs::write(facts.join("options.toml"), "").expect("write an emptied file");
    let err = Catalogue::load(dir.path()).expect_err("a malformed catalogue must not load");
    for needle in [
        "facts/tcp.toml: fact #2 (id \"udp.wrong.file\"): field `id`: starts with \"udp\"",
        "facts/tcp.toml: fact #2 (id \"udp.wrong.file\"): field `refs`",
        "facts/tcp.toml: fact #3 (id \"tcp.half.untestable\"): field `untestable`",
        "facts/tcp.toml: fact #4 (id \"tcp.kernel.bounds\"): field `since`: \"6.13-rc6\" is not",
        "facts/tcp.toml: fact #4 (id \"tcp.kernel.bounds\"): field `on`: \"gvisor\" is not \"linux\"",
        "facts/tcp.toml: fact #4 (id \"tcp.kernel.bounds\"): field `kernel_ref`: required",
        "facts/tcp.toml: fact #5 (id \"tcp.kernel.stray-ref\"): field `kernel_ref`: only with",
        "facts/unix.toml",
        "missing field `statement`",
        "07-01-overview.toml: claim #1 (id \"tcp.accept.queue\"): field `correction`: required",
        "07-01-overview.toml: claim #2 (id \"tcp.wrong.section\"): field `section`",
        "07-01-overview.toml: claim #2 (id \"tcp.wrong.section\"): field `facts`: \"tcp.no.such-fact\" is not a fact",
        "07-01-overview.toml: claim #3 (id \"tcp.half.correction\"): field `correction.en`",
        "claims/notes.toml: file name: notes.toml is not a course document",
        "claims/notes.toml: holds no [[claim]]",
        "facts/udp.TOML: file name: not read",
        "facts/options.toml: holds no [[fact]]",
    ] {
        assert!(err.contains(needle), "error lacks {needle:?}:\n{err}");
    }
}

#[test]
fn one_way_and_unknown_links_are_rejected() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let facts = dir.path().join("facts");
    let claims = dir.path().join("claims");
    let tests = dir.path().join("tests");
    for d in [&facts, &claims, &tests] {
        std::fs::create_dir_all(d).expect("directory");
    }
    std::fs::write(
        facts.join("tcp.toml"),
        r#"
[[fact]]
id = "tcp.a.tested"
statement = "y"
refs = ["tcp(7)"]

[[fact]]
id = "tcp.b.untestable"
statement = "y"
untestable = "history"

[[fact]]
id = "tcp.c.pending"
statement = "y"
refs = ["tcp(7)"]
"#,
    )
    .expect("write facts");
    std::fs::write(
        claims.join("07-01-overview.toml"),
        r#"
[[claim]]
id = "tcp.a.tested"
section = "07-10-tcp-programming"
kind = "course"
words = "x"
facts = ["tcp.a.tested", "tcp.c.pending"]
verdict = "accurate"

[[claim]]
id = "tcp.c.pending"
section = "07-10-tcp-programming"
kind = "course"
words = "y"
facts = ["tcp.c.pending"]
verdict = "accurate"
"#,
    )
    .expect("write claims");
    std::fs::write(
        tests.join("tcp.rs"),
        r#"
#[test]
fn proves_two() {
    claim("tcp.a.tested")
        .and(
            "tcp.b.untestable",
        )
        .run(|_| {});
}

#[rstest]
fn names_a_stranger() {
    claim("tcp.z.unknown").run(|_| {});
}

#[test]
fn names_nothing() {
    let id = "tcp.a.tested";
}
"#,
    )
    .expect("write a test file");
    // Tests of a section whose facts file is gone.
    std::fs::write(
        tests.join("udp.rs"),
        "#[test]\nfn names_udp() {\n    claim(\"udp.a.b\").run(|_| {});\n}\n",
    )
    .expect("write a test file");
    let catalogue = Catalogue::load(dir.path()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(catalogue.claims[0].facts, ["tcp.a.tested", "tcp.c.pending"]);
    assert_eq!(catalogue.claims[0].fact, "y y");
    let index = TestIndex::scan(&tests).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(index.tests_of("tcp.a.tested"), ["tcp::proves_two"]);
    assert_eq!(index.tests_of("tcp.b.untestable"), ["tcp::proves_two"]);
    assert!(index.tests_of("tcp.c.pending").is_empty());
    assert_eq!(index.suites_of("tcp"), ["tcp"]);
    let problems = index.cross_check(&catalogue).join("\n");
    for needle in [
        "fixtures/facts/udp.toml: no facts of section udp, which tests in udp name",
        "test tcp::names_a_stranger names unknown fact id \"tcp.z.unknown\"",
        "test tcp::names_nothing names no fact",
        "test tcp::proves_two names fact tcp.b.untestable, whose field `untestable`",
    ] {
        assert!(
            problems.contains(needle),
            "problems lack {needle:?}:\n{problems}"
        );
    }
    assert_eq!(problems.lines().count(), 5, "{problems}");
    let untested = untested(&index, &catalogue);
    assert_eq!(untested.len(), 1, "{untested:?}");
    assert!(
        untested[0].starts_with("claim tcp.c.pending rests on testable facts no test names"),
        "{untested:?}"
    );
}
