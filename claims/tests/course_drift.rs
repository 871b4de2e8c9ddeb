//! `cargo claims course` on the real course text, and on copies an author has edited: one
//! claimed sentence reworded and one new sentence with a number; a row inserted inside the
//! claimed table and a line inside the claimed snippet. The command must fail and name each. Both use the course file beside the workspace (`../shared/course/…`, as in CI); where
//! it is absent they are skipped, visibly.

use std::path::Path;
use std::process::{Command, Output};

fn course(file: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_claims"))
        .arg("course")
        .arg(file)
        .output()
        .expect("run cargo claims course")
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The runner's default course file (`course::DEFAULT_COURSE`, private to the binary).
const DEFAULT_COURSE: &str = "../shared/course/000_586990a613066f87.txt";

fn real_course(test: &str) -> Option<std::path::PathBuf> {
    let found = harness::workspace_root()
        .join(DEFAULT_COURSE)
        .canonicalize()
        .ok()
        .filter(|p| p.is_file());
    if found.is_none() {
        eprintln!(
            "SKIPPED course_drift::{test}: no course text at {DEFAULT_COURSE} from the workspace"
        );
    }
    found
}

#[test]
fn the_real_course_has_no_stale_claim_and_no_unchecked_line() {
    let Some(file) = real_course("the_real_course_has_no_stale_claim_and_no_unchecked_line") else {
        return;
    };
    let out = course(&file);
    let shown = text(&out);
    assert!(shown.contains(" 0 stale, 0 unchecked lines"), "{shown}");
    assert!(out.status.success(), "{shown}");
}

#[test]
fn an_edited_sentence_and_a_new_numeric_one_fail_the_check_naming_both() {
    let Some(file) =
        real_course("an_edited_sentence_and_a_new_numeric_one_fail_the_check_naming_both")
    else {
        return;
    };
    let original = std::fs::read_to_string(file).expect("read the course");
    let claimed = "UDP로 실시간 위치 업데이트 (지연 5ms)";
    assert!(
        original.contains(claimed),
        "the course no longer says {claimed:?}"
    );
    let added = "- TCP 서버 하나는 동시에 65535개의 연결만 받을 수 있습니다";
    let edited = original
        .replace(claimed, "UDP로 실시간 위치 업데이트 (지연 1ms)")
        .replace(
            "- TCP로 중요한 게임 상태 동기화",
            &format!("- TCP로 중요한 게임 상태 동기화\n{added}"),
        );
    let dir = tempfile::tempdir().expect("temporary directory");
    let copy = dir.path().join("chapter.md");
    std::fs::write(&copy, edited).expect("write the edited copy");

    let out = course(&copy);
    let shown = text(&out);
    assert_eq!(out.status.code(), Some(1), "{shown}");
    let stale = shown.find("STALE").expect("a STALE list");
    let unchecked = shown.find("UNCHECKED").expect("an UNCHECKED list");
    assert!(
        shown[stale..unchecked].contains("udp.realtime.position-updates-5ms"),
        "{shown}"
    );
    assert!(
        shown[unchecked..].contains("line   90 [list item]: - TCP 서버 하나는 동시에 65535개"),
        "{shown}"
    );
}

#[test]
fn a_row_inside_the_claimed_table_and_a_line_inside_the_claimed_snippet_are_unchecked() {
    let Some(file) = real_course(
        "a_row_inside_the_claimed_table_and_a_line_inside_the_claimed_snippet_are_unchecked",
    ) else {
        return;
    };
    let original = std::fs::read_to_string(file).expect("read the course");
    let (udp_row, snippet_read) = (
        "| **UDP** | SOCK_DGRAM | 낮음 | 높음 | 게임, 스트리밍, DNS |",
        "read(sock, buffer, 1024);",
    );
    for line in [udp_row, snippet_read] {
        assert_eq!(
            original.matches(line).count(),
            1,
            "the course no longer has {line:?} once"
        );
    }
    let row = "| **QUIC** | SOCK_DGRAM | 높음 | 높음 | HTTP/3 |";
    let write = "write(sock, \"GET /\\r\\n\", 7);";
    let edited = original
        .replace(udp_row, &format!("{row}\n{udp_row}"))
        .replace(snippet_read, &format!("{write}\n{snippet_read}"));
    let dir = tempfile::tempdir().expect("temporary directory");
    let copy = dir.path().join("chapter.md");
    std::fs::write(&copy, edited).expect("write the edited copy");

    let out = course(&copy);
    let shown = text(&out);
    assert_eq!(out.status.code(), Some(1), "{shown}");
    let unchecked = &shown[shown.find("UNCHECKED").expect("an UNCHECKED list")..];
    assert!(
        unchecked.contains("line   75 [table row]: | **QUIC**"),
        "{shown}"
    );
    assert!(
        unchecked.contains("line   33 [socket code]: write(sock,"),
        "{shown}"
    );
    assert!(!shown.contains("STALE"), "{shown}");
    assert!(shown.contains(" 0 stale, 2 unchecked lines"), "{shown}");
}
