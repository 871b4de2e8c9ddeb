//! The catalogue's self-test: every entry well formed, every claim id a test names in the
//! catalogue, every conformance test naming a claim, no test for an untestable claim, the whole
//! chapter listed, and a malformed file reported by file, entry and field.

use harness::catalogue::{self, Catalogue, DOCUMENTS, SECTIONS};

use super::TestIndex;

fn load() -> Catalogue {
    Catalogue::load(&catalogue::default_dir()).unwrap_or_else(|e| panic!("{e}"))
}

/// Problems between the catalogue and the test sources: tests that name an unknown claim
/// id, conformance tests that name no claim, and untestable claims that a test names.
fn cross_check(index: &TestIndex, catalogue: &Catalogue) -> Vec<String> {
    let mut problems = Vec::new();
    for (name, ids) in &index.tests {
        if ids.is_empty() {
            problems.push(format!(
                "test {name} names no claim (its body needs claim(\"<id>\"))"
            ));
        }
        for id in ids {
            match catalogue.get(id) {
                None => problems.push(format!("test {name} names unknown claim id {id:?}")),
                Some(claim) if claim.untestable.is_some() => problems.push(format!(
                    "test {name} names claim {id}, whose field `untestable` says no test \
                     can check it"
                )),
                Some(_) => {}
            }
        }
    }
    problems
}

#[test]
fn every_test_names_known_testable_claims() {
    let index =
        TestIndex::scan(&harness::workspace_root().join("tests")).unwrap_or_else(|e| panic!("{e}"));
    let problems = cross_check(&index, &load());
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
kind = "course"

[[claim]]
id = "udp.wrong.file"
section = "07-99-nowhere"
course = "x"
fact = "y"
refs = []
verdict = "accurate"
kind = "topic"

[[claim]]
id = "tcp.half.correction"
section = "07-10-tcp-programming"
kind = "course"
course = "x"
fact = "y"
refs = ["tcp(7)"]
verdict = "inaccurate"
correction = { ko = "z" }
untestable = ""

[[claim]]
id = "tcp.kernel.bounds"
section = "07-10-tcp-programming"
kind = "supplement"
course = "x"
fact = "y"
refs = ["tcp(7)"]
verdict = "accurate"
since = ["6.12.9", "6.13-rc6"]
on = "gvisor"

[[claim]]
id = "tcp.kernel.stray-ref"
section = "07-10-tcp-programming"
kind = "supplement"
course = "x"
fact = "y"
refs = ["tcp(7)"]
verdict = "accurate"
kernel_ref = "commit 5b0af621c3f6"
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
        "tcp.toml: claim #2 (id \"udp.wrong.file\"): field `id`: starts with \"udp\"",
        "tcp.toml: claim #2 (id \"udp.wrong.file\"): field `section`",
        "tcp.toml: claim #2 (id \"udp.wrong.file\"): field `refs`",
        "tcp.toml: claim #3 (id \"tcp.half.correction\"): field `correction.en`",
        "tcp.toml: claim #3 (id \"tcp.half.correction\"): field `untestable`",
        "tcp.toml: claim #4 (id \"tcp.kernel.bounds\"): field `since`: \"6.13-rc6\" is not",
        "tcp.toml: claim #4 (id \"tcp.kernel.bounds\"): field `on`: \"gvisor\" is not \"linux\"",
        "tcp.toml: claim #4 (id \"tcp.kernel.bounds\"): field `kernel_ref`: required",
        "tcp.toml: claim #5 (id \"tcp.kernel.stray-ref\"): field `kernel_ref`: only with",
        "unix.toml",
        "missing field `section`",
    ] {
        assert!(err.contains(needle), "error lacks {needle:?}:\n{err}");
    }
}

#[test]
fn one_way_and_unknown_links_are_rejected() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let claims = dir.path().join("claims");
    let tests = dir.path().join("tests");
    std::fs::create_dir_all(&claims).expect("claims directory");
    std::fs::create_dir_all(&tests).expect("tests directory");
    std::fs::write(
        claims.join("tcp.toml"),
        r#"
[[claim]]
id = "tcp.a.tested"
section = "07-10-tcp-programming"
kind = "course"
course = "x"
fact = "y"
refs = ["tcp(7)"]
verdict = "accurate"

[[claim]]
id = "tcp.b.untestable"
section = "07-10-tcp-programming"
kind = "course"
course = "x"
fact = "y"
refs = []
verdict = "inaccurate"
correction = { ko = "z", en = "z" }
untestable = "history"

[[claim]]
id = "tcp.c.pending"
section = "07-10-tcp-programming"
kind = "topic"
course = "x"
fact = "y"
refs = ["tcp(7)"]
verdict = "accurate"
"#,
    )
    .expect("write a catalogue");
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
    let catalogue = Catalogue::load(&claims).unwrap_or_else(|e| panic!("{e}"));
    let index = TestIndex::scan(&tests).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(index.tests_of("tcp.a.tested"), ["tcp::proves_two"]);
    assert_eq!(index.tests_of("tcp.b.untestable"), ["tcp::proves_two"]);
    assert!(index.tests_of("tcp.c.pending").is_empty());
    assert_eq!(index.suites_of("tcp"), ["tcp"]);
    let problems = cross_check(&index, &catalogue).join("\n");
    for needle in [
        "test tcp::names_a_stranger names unknown claim id \"tcp.z.unknown\"",
        "test tcp::names_nothing names no claim",
        "test tcp::proves_two names claim tcp.b.untestable, whose field `untestable`",
    ] {
        assert!(
            problems.contains(needle),
            "problems lack {needle:?}:\n{problems}"
        );
    }
    assert_eq!(problems.lines().count(), 3, "{problems}");
}
