//! The report from catalogue and evidence to its Markdown: statuses, the to-do list, case labels.

use serde_json::Value;

use super::judge::case_label;
use super::{build, Lang, Status};
use crate::course;
use crate::index::TestIndex;
use harness::catalogue::{Catalogue, Claim, Correction, Kind, Verdict};
use harness::privileges::Privileges;
use harness::record::{Outcome, Record};

fn claim(id: &str, kind: Kind, course: &str, verdict: Verdict) -> Claim {
    Claim {
        id: id.into(),
        section: match kind {
            Kind::Topic => "07-10-tcp-programming",
            _ => "07-01-overview",
        }
        .into(),
        kind,
        course: course.into(),
        facts: vec![id.into()],
        fact: "f".into(),
        refs: vec!["socket(7)".into()],
        verdict,
        correction: (verdict != Verdict::Accurate).then(|| Correction {
            ko: format!("{id} 고친 문장"),
            en: format!("{id} fixed sentence"),
        }),
        untestable: None,
        since: Vec::new(),
        until: Vec::new(),
        on: None,
        kernel_ref: None,
    }
}

fn record(claim: &str, test: &str, outcome: Outcome, observed: &[(&str, &str)]) -> Record {
    Record {
        claim: claim.into(),
        test: test.into(),
        case: None,
        outcome,
        reason: (outcome == Outcome::Skipped).then(|| "needs CAP_NET_RAW".into()),
        observed: observed
            .iter()
            .map(|(k, v)| (k.to_string(), Value::String(v.to_string())))
            .collect(),
        kernel: "6.12.0".into(),
        run: "r".into(),
        uid: 0,
        caps: Vec::new(),
        netns: None,
        elapsed_ms: 3,
        at_ms: 1,
    }
}

#[test]
fn a_claim_holds_only_when_every_test_of_it_passed() {
    let catalogue = Catalogue {
        facts: Vec::new(),
        claims: vec![claim("tcp.a.b", Kind::Course, "x", Verdict::Accurate)],
    };
    let mut index = TestIndex::default();
    for name in ["tcp::first", "tcp::second"] {
        index.tests.insert(name.into(), vec!["tcp.a.b".into()]);
    }
    let status = |records: &[Record]| {
        let report = build(
            &catalogue,
            &index,
            records,
            None,
            Privileges::current(),
            String::new(),
        );
        (report.claims[0].status, report.claims[0].reason.clone())
    };
    let pass = record("tcp.a.b", "tcp::first", Outcome::Pass, &[]);
    let (st, why) = status(std::slice::from_ref(&pass));
    assert_eq!(st, Status::NotRun, "one of two tests left no evidence");
    let why = why.expect("a reason");
    assert!(
        why.contains("1 of 2 tests passed") && why.contains("tcp::second"),
        "{why}"
    );
    let skipped = record("tcp.a.b", "tcp::second", Outcome::Skipped, &[]);
    let (st, why) = status(&[pass.clone(), skipped]);
    assert_eq!(st, Status::Skipped, "one of two tests was skipped");
    assert!(why.expect("a reason").contains("needs CAP_NET_RAW"));
    let both = [pass, record("tcp.a.b", "tcp::second", Outcome::Pass, &[])];
    assert_eq!(status(&both).0, Status::Holds);
    // A report of claims none of which was checked says so (the runner exits 1).
    let none = build(
        &catalogue,
        &index,
        &[],
        None,
        Privileges::current(),
        String::new(),
    );
    let why = none.totals.nothing_checked().expect("nothing was checked");
    assert!(why.contains("of 1 claims none holds"), "{why}");
}

#[test]
fn claims_about_the_same_words_with_one_correction_are_one_item() {
    let text = "# 개요\n\n- 한 줄에 두 주장이 있습니다\n";
    let words = "한 줄에 두 주장이 있습니다";
    let wrong = claim("tcp.a.wrong", Kind::Course, words, Verdict::Inaccurate);
    let mut caveat = claim("tcp.b.caveat", Kind::Course, words, Verdict::NeedsCaveat);
    caveat.correction = wrong.correction.clone();
    let extra = claim(
        "tcp.c.supplement",
        Kind::Supplement,
        words,
        Verdict::NeedsCaveat,
    );
    let catalogue = Catalogue {
        facts: Vec::new(),
        claims: vec![wrong, caveat, extra],
    };
    let mut report = build(
        &catalogue,
        &TestIndex::default(),
        &[],
        None,
        Privileges::current(),
        String::new(),
    );
    let pairs: Vec<(&str, &str)> = catalogue
        .claims
        .iter()
        .map(|c| (c.id.as_str(), c.course.as_str()))
        .collect();
    report.locate(&course::check("ch.md", text, &pairs, &[]));
    let md = report.must_change(Lang::Ko);
    assert!(md.contains("## 고쳐야 할 문장 (1)"), "{md}");
    assert!(md.contains("## 보충이 필요한 문장 (1)"), "{md}");
    assert!(
        md.contains("바꿀 문장: tcp.c.supplement 고친 문장"),
        "a supplement's caveat on the overview's words is the author's: {md}"
    );
    assert_eq!(
        md.matches("바꿀 문장: tcp.a.wrong 고친 문장").count(),
        1,
        "{md}"
    );
    assert!(md.contains("주장: `tcp.a.wrong`, `tcp.b.caveat`"), "{md}");
}

#[test]
fn the_report_opens_with_the_to_do_list_located_and_says_what_was_observed() {
    let text = "# 개요\n\n- 첫째 문장은 정확합니다\n- 둘째 문장은 보충이 필요합니다\n\
                - 셋째 문장은 틀렸습니다\n\n## 주제 제목\n";
    let catalogue = Catalogue {
        facts: Vec::new(),
        claims: vec![
            claim(
                "tcp.a.right",
                Kind::Course,
                "첫째 문장은 정확합니다",
                Verdict::Accurate,
            ),
            claim(
                "tcp.b.caveat",
                Kind::Course,
                "둘째 문장은 보충이 필요합니다",
                Verdict::NeedsCaveat,
            ),
            claim(
                "tcp.c.wrong",
                Kind::Course,
                "셋째 문장은 틀렸습니다",
                Verdict::Inaccurate,
            ),
            claim(
                "tcp.d.topic",
                Kind::Topic,
                "주제 제목",
                Verdict::NeedsCaveat,
            ),
        ],
    };
    let mut index = TestIndex::default();
    for (test, id) in [
        ("tcp::b", "tcp.b.caveat"),
        ("tcp::c", "tcp.c.wrong"),
        ("tcp::d", "tcp.d.topic"),
    ] {
        index.tests.insert(test.into(), vec![id.into()]);
    }
    let long = "COMMAND PID\nnc 42 TCP 127.0.0.1:8080 (LISTEN)";
    let records = [
        record("tcp.b.caveat", "tcp::b::family_1_V4", Outcome::Skipped, &[]),
        record(
            "tcp.c.wrong",
            "tcp::c::family_2_V6",
            Outcome::Pass,
            &[("lsof", long), ("errno", "Err(EADDRINUSE)")],
        ),
        record("tcp.d.topic", "tcp::d", Outcome::Pass, &[]),
    ];
    let privileges = Privileges::current();
    let mut report = build(
        &catalogue,
        &index,
        &records,
        None,
        privileges,
        String::new(),
    );
    let acked = Vec::new();
    let pairs: Vec<(&str, &str)> = catalogue
        .claims
        .iter()
        .map(|c| (c.id.as_str(), c.course.as_str()))
        .collect();
    report.locate(&course::check("ch.md", text, &pairs, &acked));

    let md = report.markdown(Lang::Ko);
    let at = |needle: &str| {
        md.find(needle)
            .unwrap_or_else(|| panic!("no {needle:?} in\n{md}"))
    };
    assert!(at("## 고쳐야 할 문장 (1)") < at("**ch.md:5** — “셋째 문장은 틀렸습니다”"));
    assert!(at("셋째") < at("## 보충이 필요한 문장 (1)"));
    assert!(at("## 보충이 필요한 문장") < at("**ch.md:4**"));
    assert!(at("**ch.md:4**") < at("## 섹션 문서에 대한 참고 (1)"));
    assert!(at("## 섹션 문서에 대한 참고") < at("## 부록"));
    assert!(md.contains("바꿀 문장: tcp.c.wrong 고친 문장"));
    assert!(md.contains(
        "근거: Linux 6.12.0 — `errno=Err(EADDRINUSE)` (tcp::c [v6]) — 이번 실행에서 관찰함"
    ));
    assert!(md.contains("근거: 여기서는 확인 못 함 (tcp::b [v4]: needs CAP_NET_RAW)"));
    assert!(
        md.contains("`lsof` → report.json `/claims/2/tests/0/observed/lsof`"),
        "{md}"
    );
    assert!(
        !md.contains("COMMAND PID"),
        "a multi-line value stays whole in the JSON"
    );
    assert!(md.contains("| ch.md:3 | `tcp.a.right` |"));
    assert_eq!(report.totals.inaccurate, 1);
    assert_eq!(
        report.totals.needs_caveat, 1,
        "a topic is no verdict on the course"
    );

    let en = report.markdown(Lang::En);
    assert!(en.contains("## Sentences to change (1)"));
    assert!(en.contains("Replace with: tcp.c.wrong fixed sentence"));
    let json = serde_json::to_value(&report).expect("serialises");
    assert_eq!(
        json["claims"][2]["correction"]["ko"],
        "tcp.c.wrong 고친 문장"
    );
    assert_eq!(
        json["claims"][2]["says"]["en"],
        "course inaccurate, kernel confirms the correction"
    );
    assert_eq!(json["claims"][2]["status"], "holds");
    assert_eq!(json["claims"][1]["status"], "skipped");
    assert_eq!(json["claims"][0]["status"], "pending");
    assert_eq!(json["claims"][2]["tests"][0]["observed"]["lsof"], long);
}

#[test]
fn rstest_case_names_read_as_words() {
    let label = |t: &str| case_label(t).unwrap_or_default();
    assert_eq!(label("tcp::x::family_1_V4"), "v4");
    assert_eq!(
        label("tcp::x::family_2_V6::ty_1_Type__STREAM"),
        "v6, stream"
    );
    assert_eq!(
        label("f::x::kind_3_Kind__Unix_UnixKind__Stream_"),
        "unix stream"
    );
    assert_eq!(label("f::x::kind_2_Kind__Tcp_V6_"), "tcp v6");
    assert_eq!(label("f::x::kind_3_SeqPacket"), "seq-packet");
    assert_eq!(label("f::x::case_2_tcp_v6"), "tcp v6");
    assert_eq!(label("f::x::case_1"), "case 1");
    assert_eq!(label("f::x::v6only_1_false"), "v6only=false");
    assert_eq!(
        label("f::x::family_1_V4::old_server_set_it_2_false"),
        "v4, old_server_set_it=false"
    );
    assert_eq!(
        label("f::x::family_1_V4::how_1_Abort__CloseWithUnreadData"),
        "v4, close-with-unread-data"
    );
    assert_eq!(label("f::x::buffer_2_Buffer__Send"), "send");
    assert_eq!(case_label("tcp::plain_test"), None);
}
