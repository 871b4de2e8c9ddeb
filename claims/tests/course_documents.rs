//! `cargo claims course` on documents the catalogue has never seen: findings backed by their
//! facts' evidence (a fact that fails here backs none), the exit code by `--severity`, SARIF
//! on stdout, and bad input (missing, binary, huge) refused with exit 2 naming the file. The
//! evidence is written here, one record per fact, so that no kernel test runs.

use std::path::Path;
use std::process::{Command, Output};

use harness::record::{Outcome, Record};

/// A record of `fact` by `test` (each case of an rstest test) with `outcome`, as a run of the
/// suite on this kernel would leave it.
fn records(fact: &str, test: &str, outcome: Outcome) -> Vec<Record> {
    ["v4", "v6"]
        .iter()
        .enumerate()
        .map(|(i, case)| Record {
            claim: fact.into(),
            test: format!("{test}::case_{}_{case}", i + 1),
            case: Some(case.to_string()),
            outcome,
            reason: (outcome == Outcome::Fail).then(|| "the kernel did otherwise".into()),
            observed: serde_json::Map::from_iter([("seen".to_string(), serde_json::json!(1))]),
            kernel: harness::kernel::release(),
            run: "course-documents-test".into(),
            uid: 0,
            caps: Vec::new(),
            netns: None,
            elapsed_ms: 1,
            at_ms: 1,
        })
        .collect()
}

/// Runs `claims course` with `args` and the evidence `records`, in a scratch directory.
fn course(dir: &Path, records: &[Record], args: &[&str]) -> Output {
    let evidence = dir.join("evidence");
    std::fs::create_dir_all(&evidence).expect("an evidence directory");
    let lines: Vec<String> = records
        .iter()
        .map(|r| serde_json::to_string(r).expect("a record serialises"))
        .collect();
    std::fs::write(evidence.join("test.jsonl"), lines.join("\n") + "\n").expect("evidence");
    Command::new(env!("CARGO_BIN_EXE_claims"))
        .arg("course")
        .args(args)
        .current_dir(dir)
        .env(harness::record::RESULTS_ENV, &evidence)
        .output()
        .expect("run cargo claims course")
}

const ZERO_DOWNTIME: &str = "options.reuseaddr.zero-downtime-deploy";
const UDP_FASTER: &str = "udp.table.speed-high";

/// The evidence of every test that names `fact` (tests/*.rs), all with `outcome`.
fn evidence(fact: &str, outcome: Outcome) -> Vec<Record> {
    let tests: &[&str] = match fact {
        ZERO_DOWNTIME => &[
            "options::reuseaddr_cannot_share_a_listening_port_but_reuseport_can",
            "unix::a_listening_socket_handed_over_keeps_its_port_and_its_queue",
        ],
        _ => &["tcp::udp_round_trips_are_shorter_than_tcp_round_trips"],
    };
    tests
        .iter()
        .flat_map(|t| records(fact, t, outcome))
        .collect()
}

#[test]
fn a_finding_whose_fact_holds_is_reported_in_sarif_and_one_whose_fact_fails_is_not() {
    let dir = tempfile::tempdir().expect("a scratch directory");
    std::fs::write(
        dir.path().join("deploy.md"),
        "# 배포\n\n- SO_REUSEADDR로 무중단 배포 지원\n- UDP는 TCP보다 항상 빠릅니다.\n",
    )
    .expect("write the document");
    let records = [
        evidence(ZERO_DOWNTIME, Outcome::Pass),
        evidence(UDP_FASTER, Outcome::Fail),
    ]
    .concat();
    let out = course(dir.path(), &records, &["deploy.md", "--format", "sarif"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let log: serde_json::Value = serde_json::from_slice(&out.stdout).expect("SARIF on stdout");
    let results = log["runs"][0]["results"].as_array().expect("results");
    assert_eq!(results.len(), 1, "{results:#?}");
    assert_eq!(
        results[0]["ruleId"],
        format!("{ZERO_DOWNTIME}/reuseaddr-zero-downtime")
    );
    let location = &results[0]["locations"][0]["physicalLocation"];
    assert_eq!(location["artifactLocation"]["uri"], "deploy.md");
    assert_eq!(location["region"]["startLine"], 3);
    assert_eq!(results[0]["properties"]["factStatus"], "holds");
    assert!(
        stderr.contains(&format!("fact {UDP_FASTER} not reported")),
        "{stderr}"
    );
    assert!(
        !stderr.contains("running the tests"),
        "evidence exists: {stderr}"
    );
}

#[test]
fn the_exit_code_follows_the_severity_threshold() {
    let dir = tempfile::tempdir().expect("a scratch directory");
    std::fs::write(
        dir.path().join("speed.md"),
        "UDP is always faster than TCP.\n",
    )
    .expect("write the document");
    let records = evidence(UDP_FASTER, Outcome::Pass);
    let warning_only = course(dir.path(), &records, &["speed.md"]);
    let shown = String::from_utf8_lossy(&warning_only.stdout);
    assert_eq!(warning_only.status.code(), Some(0), "{shown}");
    assert!(
        shown.contains("warning[udp.table.speed-high/udp-always-faster]"),
        "{shown}"
    );
    assert!(shown.contains("--> speed.md:1:1"), "{shown}");
    let strict = course(dir.path(), &records, &["speed.md", "--severity", "warning"]);
    assert_eq!(strict.status.code(), Some(1));
    let github = course(dir.path(), &records, &["speed.md", "--format=github"]);
    assert!(String::from_utf8_lossy(&github.stdout)
        .starts_with("::warning file=speed.md,line=1,col=1,"));
}

#[test]
fn a_missing_a_binary_and_a_huge_document_are_refused_naming_the_file() {
    let dir = tempfile::tempdir().expect("a scratch directory");
    std::fs::write(dir.path().join("bin.md"), b"text\0more").expect("write");
    let huge = std::fs::File::create(dir.path().join("huge.md")).expect("create");
    huge.set_len(9 << 20).expect("a sparse 9 MiB file");
    for (file, says) in [
        ("missing.md", "course file missing.md: No such file"),
        (
            "bin.md",
            "course file bin.md: a binary file (a NUL byte at offset 4)",
        ),
        (
            "huge.md",
            "course file huge.md: 9437184 bytes, more than the 8388608",
        ),
    ] {
        let out = course(dir.path(), &[], &[file]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{file}: {stderr}");
        assert!(stderr.contains(says), "{file}: {stderr}");
    }
    let out = course(dir.path(), &[], &["x.md", "--format", "xml"]);
    assert_eq!(out.status.code(), Some(2));
}
