//! The output formats on the sample documents' findings: SARIF 2.1.0 valid against the
//! standard's JSON schema (vendored: `tests/sarif-schema-2.1.0.json`, OASIS errata01), with one
//! result per finding on the file's own lines; JSON; GitHub annotations; and the terminal text.

use std::path::Path;
use std::sync::OnceLock;

use doccheck::load::{load_dir, workspace_dir};
use doccheck::render::{self, Checked};
use doccheck::{check, Document, FactStatus, Finding, Origin, Rules, Severity, Status, Text};

/// The rules, the two samples and their findings (each fact holding), built once.
fn checked() -> &'static (Rules, Vec<Document>, Vec<Checked>) {
    static CHECKED: OnceLock<(Rules, Vec<Document>, Vec<Checked>)> = OnceLock::new();
    CHECKED.get_or_init(build)
}

fn build() -> (Rules, Vec<Document>, Vec<Checked>) {
    let rules = load_dir(&workspace_dir()).expect("the fact files load");
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/samples");
    let mut docs = Vec::new();
    let mut findings = Vec::new();
    for name in ["tcp-server-guide.ko.md", "udp-and-local-ipc.en.md"] {
        let text = std::fs::read_to_string(dir.join(name)).expect("read a sample");
        let doc = Document::parse(&format!("docs/{name}"), &text);
        findings.extend(check(&doc, &rules).into_iter().map(|f| {
            let status = FactStatus {
                status: Status::Holds,
                evidence: "observed on this run".into(),
            };
            (f, status)
        }));
        docs.push(doc);
    }
    assert!(findings.len() > 30);
    (rules, docs, findings)
}

/// The SARIF log of `findings`, asserted valid against the SARIF 2.1.0 schema.
fn valid_sarif(findings: &[Checked], rules: &Rules) -> serde_json::Value {
    let log: serde_json::Value =
        serde_json::from_str(&render::sarif(findings, rules)).expect("SARIF is JSON");
    let schema: serde_json::Value =
        serde_json::from_str(include_str!("sarif-schema-2.1.0.json")).expect("the schema is JSON");
    let validator = jsonschema::validator_for(&schema).expect("the schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(&log)
        .map(|e| format!("{} at {}", e, e.instance_path))
        .collect();
    assert!(errors.is_empty(), "{}", errors.join("\n"));
    log
}

#[test]
fn a_compiler_finding_gets_its_rule_in_the_sarif_driver() {
    let (rules, _, _) = checked();
    let finding = Finding {
        file: "docs/a.md".into(),
        line: 12,
        column: 5,
        end_line: 12,
        end_column: 9,
        origin: Origin::Compile,
        rule: "c-compile".into(),
        fact: None,
        severity: Severity::Error,
        message: Text {
            ko: "암시적 선언".into(),
            en: "implicit declaration".into(),
        },
        correction: None,
        excerpt: "inet_pton(AF_INET, ip, &a);".into(),
    };
    let status = FactStatus {
        status: Status::Holds,
        evidence: "the C compiler (cc) says so".into(),
    };
    let log = valid_sarif(&[(finding, status)], rules);
    let run = &log["runs"][0];
    let index = run["results"][0]["ruleIndex"]
        .as_u64()
        .expect("a rule index") as usize;
    assert_eq!(run["tool"]["driver"]["rules"][index]["id"], "c-compile");
}

#[test]
fn sarif_is_valid_against_the_2_1_0_schema_with_one_result_per_finding() {
    let (rules, _, findings) = checked();
    let log = valid_sarif(findings, rules);

    let results = log["runs"][0]["results"].as_array().expect("results");
    assert_eq!(results.len(), findings.len());
    let rule_ids: Vec<&str> = log["runs"][0]["tool"]["driver"]["rules"]
        .as_array()
        .expect("rules")
        .iter()
        .map(|r| r["id"].as_str().expect("a rule id"))
        .collect();
    for (result, (f, _)) in results.iter().zip(findings) {
        assert_eq!(result["ruleId"], f.rule);
        assert_eq!(
            rule_ids[result["ruleIndex"].as_u64().unwrap() as usize],
            f.rule
        );
        let location = &result["locations"][0]["physicalLocation"];
        assert_eq!(location["artifactLocation"]["uri"], f.file.as_str());
        let region = &location["region"];
        assert_eq!(region["startLine"], f.line);
        assert_eq!(region["startColumn"], f.column);
        assert_eq!(region["endColumn"], f.end_column);
    }
    // Front matter counts: the Korean sample's first finding is on its own line 14.
    assert_eq!(
        results[0]["locations"][0]["physicalLocation"]["region"]["startLine"],
        14
    );
}

#[test]
fn json_and_github_annotations_carry_every_finding_with_its_fact_status() {
    let (_, _, findings) = checked();
    let json: serde_json::Value = serde_json::from_str(&render::json(findings)).expect("JSON");
    let list = json["findings"].as_array().expect("findings");
    assert_eq!(list.len(), findings.len());
    assert_eq!(list[0]["fact_status"]["status"], "holds");
    let github = render::github(findings);
    assert_eq!(github.lines().count(), findings.len());
    let (f, _) = &findings[0];
    assert!(
        github.starts_with(&format!(
            "::error file=docs/tcp-server-guide.ko.md,line={},col={},endLine={},endColumn={},title={}::",
            f.line, f.column, f.end_line, f.end_column, f.rule
        )),
        "{github}"
    );
}

#[test]
fn text_points_a_caret_at_the_words_with_rule_fact_status_and_correction() {
    let (_, docs, findings) = checked();
    let shown = render::text(&findings[..1], docs, false);
    for part in [
        "error[tcp.lifecycle.backlog-capped-by-somaxconn/backlog-is-max-clients]: listen()의 backlog는",
        "--> docs/tcp-server-guide.ko.md:14:55",
        "14 | `listen(fd, 128)`을 호출하면",
        "fact tcp.lifecycle.backlog-capped-by-somaxconn: holds on this kernel: observed on this run",
        "help: write instead: backlog는 accept()를 기다리는 완료된 연결 큐의 길이",
    ] {
        assert!(shown.contains(part), "{part:?} not in\n{shown}");
    }
    let caret_line = shown
        .lines()
        .find(|l| l.trim_start().starts_with('|') && l.contains('^'))
        .expect("a caret line");
    assert!(caret_line.contains("^^^^"), "{shown}");
}
