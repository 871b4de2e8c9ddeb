//! The course text against the catalogue (`cargo claims course FILE`): where each claim's words
//! are (the line numbers the report cites), which claims' words are gone from the text
//! (**stale**: the author edited the sentence, the claim must be revisited), and which lines make
//! a checkable statement that no claim covers (**unchecked**: nothing checks it yet).
//!
//! Matching ignores spacing and markdown: bold (`**`), backticks, table pipes, list markers,
//! heading and quote marks, and link targets (`[text](url)` is `text`). A claim's words may be
//! pieces of the text joined by ` ... ` (in this order, as close together as possible, across
//! lines) or by ` / ` (each anywhere); the whole string is tried verbatim first.
//!
//! A line is a checkable statement when it is (outside the front matter and headings):
//! - a table row (not the header, not the `|---|` rule);
//! - a bullet or numbered list item;
//! - a code line calling a socket function (`socket(`, `bind(`, `read(`, …) or running a socket
//!   tool (`ss`, `lsof`, `tcpdump`, `nc`, `telnet`, `netstat`, `apt-get install`);
//! - any other line with a digit, an errno name (`EAGAIN`) or a socket constant (`SO_…`,
//!   `TCP_…`, `IP_…`, `IPV6_…`, `MSG_…`, `SCM_…`, `SOCK_…`, `AF_…`).
//!
//! It is unchecked unless a located claim's words are on it (a piece of the words matched part of
//! that line: a line inside a claim's span that no piece matched, such as a row inserted between
//! two claimed rows, is not covered), or it is listed in
//! `fixtures/course-acknowledged.toml` (by its text, not its number): lines that look checkable
//! but say nothing about sockets (metadata, navigation, study advice). A new line therefore shows
//! up as unchecked until a claim covers it or the file acknowledges it.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The course file CI and `cargo claims` use when none is given: the overview beside this
/// workspace (`../shared/course/…`).
pub const DEFAULT_COURSE: &str = "../shared/course/000_586990a613066f87.txt";

/// `DEFAULT_COURSE` from the workspace root, if it exists.
pub fn default_file() -> Option<PathBuf> {
    harness::workspace_root()
        .join(DEFAULT_COURSE)
        .canonicalize()
        .ok()
        .filter(|p| p.is_file())
}

/// The largest course file read: a chapter is a few hundred kilobytes; anything far beyond is
/// not a course text (a wrong path, /dev/zero, a binary).
pub const MAX_COURSE_BYTES: u64 = 8 << 20;

/// A course file's text: a regular file (opened without blocking, so a FIFO is refused rather
/// than waited on), at most [`MAX_COURSE_BYTES`], UTF-8 without NUL bytes, not empty. Each refusal names the file
/// and why (the byte offset of invalid UTF-8).
pub fn read_course(file: &Path) -> Result<String, String> {
    use std::io::Read as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let shown = file.display();
    let mut f = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(file)
        .map_err(|e| format!("course file {shown}: {e}"))?;
    let meta = f
        .metadata()
        .map_err(|e| format!("course file {shown}: {e}"))?;
    if !meta.is_file() {
        return Err(format!(
            "course file {shown}: not a regular file ({:?})",
            meta.file_type()
        ));
    }
    if meta.len() > MAX_COURSE_BYTES {
        return Err(format!(
            "course file {shown}: {} bytes, more than the {} a course text may have",
            meta.len(),
            MAX_COURSE_BYTES
        ));
    }
    let mut bytes = Vec::new();
    f.by_ref()
        .take(MAX_COURSE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("course file {shown}: {e}"))?;
    if bytes.len() as u64 > MAX_COURSE_BYTES {
        return Err(format!(
            "course file {shown}: grew past {MAX_COURSE_BYTES} bytes while read"
        ));
    }
    let text = String::from_utf8(bytes).map_err(|e| {
        format!(
            "course file {shown}: not UTF-8 text (invalid byte at offset {})",
            e.utf8_error().valid_up_to()
        )
    })?;
    if let Some(at) = text.find('\0') {
        return Err(format!(
            "course file {shown}: a binary file (a NUL byte at offset {at}), not a text"
        ));
    }
    if text.trim().is_empty() {
        return Err(format!("course file {shown}: empty"));
    }
    Ok(text)
}

/// The lines, 1-based, a claim's words occupy: from the first to the last, and the lines the
/// words' pieces matched (a piece's text on them), which are the ones the claim covers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct Span {
    /// First line (1-based).
    pub first: usize,
    /// Last line.
    pub last: usize,
    /// The lines a piece of the words matched.
    pub lines: Vec<usize>,
}

impl Span {
    /// Whether the claim's words are on `line` (not merely between its first and last).
    pub fn covers(&self, line: usize) -> bool {
        self.lines.contains(&line)
    }
}

/// Why the heuristic calls a line checkable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "kebab-case")]
pub enum Checkable {
    TableRow,
    ListItem,
    SocketCode,
    Number,
    Errno,
    SocketConstant,
}

impl Checkable {
    pub fn label(self) -> &'static str {
        match self {
            Checkable::TableRow => "table row",
            Checkable::ListItem => "list item",
            Checkable::SocketCode => "socket code",
            Checkable::Number => "number",
            Checkable::Errno => "errno",
            Checkable::SocketConstant => "socket constant",
        }
    }
}

/// A checkable line no claim covers.
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct Unchecked {
    pub line: usize,
    pub text: String,
    pub why: Checkable,
}

/// A claim whose words are not in the text.
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct Stale {
    pub id: String,
    pub course: String,
}

/// The course text checked against the claims' words.
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct Drift {
    pub file: String,
    pub lines: usize,
    /// Each located claim's spans, the first line first.
    pub located: BTreeMap<String, Vec<Span>>,
    pub stale: Vec<Stale>,
    pub unchecked: Vec<Unchecked>,
    /// Checkable-looking lines that `fixtures/course-acknowledged.toml` lists.
    pub acknowledged: usize,
}

impl Drift {
    /// Reads `file` and checks it against the workspace catalogue and acknowledged lines.
    pub fn load(file: &Path) -> Result<Drift, String> {
        let text = read_course(file)?;
        let catalogue = harness::catalogue::Catalogue::load(&harness::catalogue::default_dir())
            .map_err(|e| format!("the claim catalogue is malformed:\n{e}"))?;
        let claims: Vec<(&str, &str)> = catalogue
            .claims
            .iter()
            .map(|c| (c.id.as_str(), c.course.as_str()))
            .collect();
        let acknowledged = acknowledged(&acknowledged_file())?;
        Ok(check(
            &file.display().to_string(),
            &text,
            &claims,
            &acknowledged,
        ))
    }

    /// Whether the text and the catalogue agree: nothing stale, nothing unchecked.
    pub fn clean(&self) -> bool {
        self.stale.is_empty() && self.unchecked.is_empty()
    }

    /// What `cargo claims course` prints.
    pub fn terminal(&self) -> String {
        let mut out = format!(
            "course text: {} ({} lines)\n{} claims located, {} stale, {} unchecked lines \
             ({} acknowledged in fixtures/course-acknowledged.toml)\n",
            self.file,
            self.lines,
            self.located.len(),
            self.stale.len(),
            self.unchecked.len(),
            self.acknowledged
        );
        let mut by_line: BTreeMap<usize, Vec<&str>> = BTreeMap::new();
        for (id, spans) in &self.located {
            by_line.entry(spans[0].first).or_default().push(id);
        }
        out.push_str("\nlocated (line: claims):\n");
        for (line, ids) in by_line {
            let _ = writeln!(out, "  {line:>4}: {}", ids.join(", "));
        }
        out.push_str(&self.problems());
        out
    }
}

/// The most lines of problems the job summary gets; the job log has them all.
pub const SUMMARY_LINES: usize = 200;

impl Drift {
    /// The Markdown for `$GITHUB_STEP_SUMMARY`: the problems, at most [`SUMMARY_LINES`] lines,
    /// in a code fence longer than any run of backticks they hold (a course line with ``` in it
    /// cannot close the fence early).
    pub fn step_summary(&self) -> String {
        let problems = self.problems();
        let total = problems.lines().count();
        let mut shown: String = problems
            .lines()
            .take(SUMMARY_LINES)
            .map(|l| format!("{l}\n"))
            .collect();
        if total > SUMMARY_LINES {
            let _ = writeln!(
                shown,
                "… and {} more lines (see the job log)",
                total - SUMMARY_LINES
            );
        }
        let longest = shown.split(|c| c != '`').map(str::len).max().unwrap_or(0);
        let fence = "`".repeat(longest.max(2) + 1);
        format!(
            "## socket-claims: course text drift ({})\n\n{fence}text\n{shown}{fence}\n",
            self.file.replace('`', "'")
        )
    }

    /// The stale claims and the unchecked lines (what `$GITHUB_STEP_SUMMARY` gets).
    pub fn problems(&self) -> String {
        let mut out = String::new();
        if !self.stale.is_empty() {
            out.push_str(
                "\nSTALE: these claims' words are no longer in the text (revisit each claim):\n",
            );
            for s in &self.stale {
                let _ = writeln!(out, "  {}  \"{}\"", s.id, s.course);
            }
        }
        if !self.unchecked.is_empty() {
            out.push_str(
                "\nUNCHECKED: these lines make a checkable statement no claim covers (add a \
                 claim, or acknowledge the line in fixtures/course-acknowledged.toml):\n",
            );
            for u in &self.unchecked {
                let _ = writeln!(out, "  line {:>4} [{}]: {}", u.line, u.why.label(), u.text);
            }
        }
        out
    }
}

/// One line of the text, normalised for matching.
struct Line {
    raw: String,
    norm: String,
    code: bool,
    front_matter: bool,
    fence: bool,
}

/// The course text, normalised, with a map from positions back to lines.
pub struct Text {
    lines: Vec<Line>,
    /// Every line's normalised text joined by single spaces.
    joined: String,
    /// (byte offset in `joined` where a line starts, its 1-based number).
    starts: Vec<(usize, usize)>,
}

impl Text {
    pub fn parse(text: &str) -> Text {
        let raw: Vec<&str> = text.lines().collect();
        let front_end = (raw.first().map(|l| l.trim()) == Some("---"))
            .then(|| raw.iter().skip(1).position(|l| l.trim() == "---"))
            .flatten()
            .map_or(0, |end| end + 2);
        let mut lines = Vec::new();
        let mut in_code = false;
        for (i, l) in raw.iter().enumerate() {
            let fence = l.trim_start().starts_with("```");
            let front_matter = i < front_end;
            let norm = if fence || front_matter {
                String::new()
            } else {
                normalize(l, in_code)
            };
            lines.push(Line {
                raw: l.to_string(),
                norm,
                code: in_code && !fence,
                front_matter,
                fence,
            });
            if fence {
                in_code = !in_code;
            }
        }
        let mut joined = String::new();
        let mut starts = Vec::new();
        for (i, line) in lines.iter().enumerate() {
            if line.norm.is_empty() {
                continue;
            }
            if !joined.is_empty() {
                joined.push(' ');
            }
            starts.push((joined.len(), i + 1));
            joined.push_str(&line.norm);
        }
        Text {
            lines,
            joined,
            starts,
        }
    }

    fn line_at(&self, offset: usize) -> usize {
        let i = self.starts.partition_point(|(start, _)| *start <= offset);
        self.starts[i.saturating_sub(1)].1
    }

    /// Where `words` (a claim's `course`) are in the text, if they are: one span for each
    /// ` / `-separated group, the first line first.
    pub fn locate(&self, words: &str) -> Option<Vec<Span>> {
        let whole = normalize(words, false);
        if whole.is_empty() {
            return None;
        }
        if let Some(at) = self.joined.find(&whole) {
            return Some(vec![self.span(&[(at, at + whole.len())])]);
        }
        let mut spans = Vec::new();
        for group in words.split(" / ") {
            let pieces: Vec<String> = group
                .split(" ... ")
                .flat_map(|p| p.split('…'))
                .map(|p| normalize(p, false))
                .filter(|p| !p.is_empty())
                .collect();
            spans.push(self.ordered(&pieces)?);
        }
        spans.sort_by_key(|s| s.first);
        Some(spans)
    }

    /// The shortest stretch of text holding `pieces` in order. Linear in the text: each piece's
    /// occurrences are listed once, and each start takes the next occurrence of every following
    /// piece by binary search; once a start finds no complete chain, no later start can.
    fn ordered(&self, pieces: &[String]) -> Option<Span> {
        let occurrences: Vec<Vec<usize>> = pieces.iter().map(|p| self.occurrences(p)).collect();
        let (first, rest) = pieces.split_first()?;
        let mut best: Option<Vec<(usize, usize)>> = None;
        'starts: for &start in &occurrences[0] {
            let mut matched = vec![(start, start + first.len())];
            for (piece, at) in rest.iter().zip(&occurrences[1..]) {
                let end = matched[matched.len() - 1].1;
                match at.get(at.partition_point(|&a| a < end)) {
                    Some(&a) => matched.push((a, a + piece.len())),
                    None => break 'starts,
                }
            }
            let length = |m: &[(usize, usize)]| m[m.len() - 1].1 - m[0].0;
            if best.as_deref().is_none_or(|b| length(&matched) < length(b)) {
                best = Some(matched);
            }
        }
        best.map(|matched| self.span(&matched))
    }

    /// Where `piece` starts in the joined text, overlapping occurrences included.
    fn occurrences(&self, piece: &str) -> Vec<usize> {
        let mut found = Vec::new();
        let mut from = 0;
        while let Some(at) = self.joined[from..].find(piece) {
            let at = from + at;
            found.push(at);
            // The next character boundary after `at`.
            from = at + self.joined[at..].chars().next().map_or(1, char::len_utf8);
        }
        found
    }

    /// The span of the matched byte ranges of `joined`, each `(start, end)`.
    fn span(&self, matched: &[(usize, usize)]) -> Span {
        let mut lines: Vec<usize> = matched
            .iter()
            .flat_map(|&(start, end)| {
                self.line_at(start)..=self.line_at(end.saturating_sub(1).max(start))
            })
            .filter(|&line| !self.norm(line).is_empty())
            .collect();
        lines.dedup();
        Span {
            first: lines[0],
            last: lines[lines.len() - 1],
            lines,
        }
    }

    /// The line's number and why it is checkable, for each checkable line.
    pub fn checkable(&self) -> Vec<(usize, Checkable)> {
        let mut found = Vec::new();
        for (i, line) in self.lines.iter().enumerate() {
            if line.front_matter || line.fence || line.norm.is_empty() {
                continue;
            }
            let raw = line.raw.trim();
            let why = if line.code {
                socket_code(raw).then_some(Checkable::SocketCode)
            } else if raw.starts_with('#') || raw.chars().all(|c| "-*_ ".contains(c)) {
                None
            } else if raw.starts_with('|') {
                self.is_table_row(i + 1).then_some(Checkable::TableRow)
            } else if list_item(raw) {
                Some(Checkable::ListItem)
            } else {
                prose(&line.norm)
            };
            if let Some(why) = why {
                found.push((i + 1, why));
            }
        }
        found
    }

    /// Whether `line` (1-based) is a table's header: a row outside code followed by the rule.
    pub fn is_table_header(&self, line: usize) -> bool {
        let row = |l: &Line| !l.code && l.raw.trim().starts_with('|');
        self.lines
            .get(line - 1)
            .is_some_and(|l| row(l) && !is_rule(l))
            && self.lines.get(line).is_some_and(|l| row(l) && is_rule(l))
    }

    /// Whether `line` (1-based) is a table row: neither the header nor the `|---|` rule.
    pub fn is_table_row(&self, line: usize) -> bool {
        self.lines
            .get(line - 1)
            .is_some_and(|l| !l.code && l.raw.trim().starts_with('|') && !is_rule(l))
            && !self.is_table_header(line)
    }

    pub fn line_count(&self) -> usize {
        self.lines.len()
    }

    /// The line as written, trimmed.
    pub fn raw(&self, line: usize) -> &str {
        self.lines[line - 1].raw.trim()
    }

    /// The line normalised for matching ([`normalize`]).
    pub fn norm(&self, line: usize) -> &str {
        &self.lines[line - 1].norm
    }
}

/// A table's `|---|---|` rule.
fn is_rule(line: &Line) -> bool {
    let t = line.raw.trim();
    t.starts_with('|') && t.chars().all(|c| "|-: ".contains(c))
}

/// A line with markdown and spacing taken out.
pub fn normalize(line: &str, code: bool) -> String {
    let mut s = line.trim();
    if !code {
        s = s.trim_start_matches('#').trim_start();
        s = s.trim_start_matches('>').trim_start();
        if let Some(rest) = list_marker(s) {
            s = rest;
        }
    }
    let s = unlink(s)
        .replace("**", "")
        .replace('`', "")
        .replace('|', " ");
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The text after a list marker (`- `, `* `, `+ `, `12. `), if the line starts with one.
fn list_marker(s: &str) -> Option<&str> {
    for bullet in ["- ", "* ", "+ "] {
        if let Some(rest) = s.strip_prefix(bullet) {
            return Some(rest);
        }
    }
    let digits = s.chars().take_while(char::is_ascii_digit).count();
    (digits > 0)
        .then(|| s[digits..].strip_prefix(". "))
        .flatten()
}

fn list_item(raw: &str) -> bool {
    list_marker(raw).is_some_and(|rest| !rest.trim().is_empty())
}

/// `[text](target)` and `![text](target)` become `text`.
fn unlink(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(open) = rest.find('[') {
        let after = &rest[open + 1..];
        let link = after.find("](").and_then(|close| {
            after[close + 2..]
                .find(')')
                .map(|end| (close, close + 2 + end + 1))
        });
        match link {
            Some((close, end)) => {
                out.push_str(rest[..open].trim_end_matches('!'));
                out.push_str(&after[..close]);
                rest = &after[end..];
            }
            None => {
                out.push_str(&rest[..=open]);
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Socket calls and the socket tools a code line may use.
const SOCKET_CALLS: [&str; 21] = [
    "socket",
    "bind",
    "listen",
    "accept",
    "accept4",
    "connect",
    "send",
    "sendto",
    "sendmsg",
    "recv",
    "recvfrom",
    "recvmsg",
    "read",
    "write",
    "close",
    "shutdown",
    "setsockopt",
    "getsockopt",
    "select",
    "poll",
    "socketpair",
];
const SOCKET_TOOLS: [&str; 7] = [
    "ss", "lsof", "tcpdump", "nc", "telnet", "netstat", "apt-get",
];

fn words(s: &str) -> impl Iterator<Item = &str> {
    s.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
        .filter(|w| !w.is_empty())
}

fn socket_code(raw: &str) -> bool {
    if raw.starts_with("//") || raw.starts_with('#') || raw.is_empty() {
        return false;
    }
    let calls = SOCKET_CALLS.iter().any(|call| {
        raw.match_indices(&format!("{call}(")).any(|(at, _)| {
            raw[..at]
                .chars()
                .last()
                .is_none_or(|c| !(c.is_ascii_alphanumeric() || c == '_'))
        }) || raw.contains("epoll_")
    });
    let command = raw.split_whitespace().find(|w| *w != "sudo");
    calls || command.is_some_and(|c| SOCKET_TOOLS.contains(&c))
}

fn prose(norm: &str) -> Option<Checkable> {
    const CONSTANTS: [&str; 8] = [
        "SO_", "TCP_", "IP_", "IPV6_", "MSG_", "SCM_", "SOCK_", "AF_",
    ];
    let mut why = None;
    for w in words(norm) {
        if CONSTANTS
            .iter()
            .any(|p| w.starts_with(p) && w.len() > p.len())
        {
            return Some(Checkable::SocketConstant);
        }
        let errno = w.len() >= 4
            && w.starts_with('E')
            && w.chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit());
        if errno {
            why = Some(Checkable::Errno);
        }
    }
    why.or_else(|| {
        norm.chars()
            .any(|c| c.is_ascii_digit())
            .then_some(Checkable::Number)
    })
}

/// `fixtures/course-acknowledged.toml`: checkable-looking lines that make no claim.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Acknowledged {
    #[serde(default)]
    acknowledged: Vec<Group>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Group {
    why: String,
    lines: Vec<String>,
}

/// The acknowledged lines, normalised, from `path` (absent: none).
pub fn acknowledged(path: &Path) -> Result<Vec<String>, String> {
    let text = match fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    let file: Acknowledged = toml::from_str(&text)
        .map_err(|e| format!("{}: {}", path.display(), e.to_string().trim_end()))?;
    let mut lines = Vec::new();
    for (n, group) in file.acknowledged.iter().enumerate() {
        if group.why.trim().is_empty() {
            return Err(format!(
                "{}: acknowledged #{}: field `why`: empty",
                path.display(),
                n + 1
            ));
        }
        lines.extend(group.lines.iter().map(|l| normalize(l, false)));
    }
    Ok(lines)
}

/// `fixtures/course-acknowledged.toml` of this workspace.
pub fn acknowledged_file() -> PathBuf {
    harness::workspace_root()
        .join("fixtures")
        .join("course-acknowledged.toml")
}

/// Checks `text` against `claims` (id, the course's words) and the acknowledged lines.
pub fn check(file: &str, text: &str, claims: &[(&str, &str)], acknowledged: &[String]) -> Drift {
    let text = Text::parse(text);
    let mut located = BTreeMap::new();
    let mut stale = Vec::new();
    for (id, words) in claims {
        match text.locate(words) {
            Some(spans) => {
                located.insert(id.to_string(), spans);
            }
            None => stale.push(Stale {
                id: id.to_string(),
                course: words.to_string(),
            }),
        }
    }
    let covered = |line: usize| located.values().flatten().any(|s: &Span| s.covers(line));
    let mut unchecked = Vec::new();
    let mut acked = 0;
    for (line, why) in text.checkable() {
        if covered(line) {
            continue;
        }
        let norm = text.norm(line);
        if acknowledged.iter().any(|a| a == norm) {
            acked += 1;
            continue;
        }
        unchecked.push(Unchecked {
            line,
            text: text.raw(line).to_string(),
            why,
        });
    }
    Drift {
        file: file.to_string(),
        lines: text.line_count(),
        located,
        stale,
        unchecked,
        acknowledged: acked,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const COURSE: &str = "\
---
tags:
  - tcp
learning_time: \"2-3시간\"
---

# Chapter 7-1: 소켓

## 비교표

| 소켓 타입 | 프로토콜 | 속도 |
|-----------|----------|------|
| **TCP** | SOCK_STREAM | 보통 |

### 1️⃣ [TCP 소켓 프로그래밍](chapter/07-10-tcp-programming.md)

- `SO_REUSEADDR`로   무중단 배포 지원
- 학습 순서를 지키세요

```c
// 네트워크 통신
int sock = socket(AF_INET, SOCK_STREAM, 0);
read(sock, buffer, 1024);
```

10년간 배운 교훈: 1024바이트 버퍼.
";

    #[test]
    fn the_step_summary_is_capped_and_a_fence_in_a_line_cannot_close_it() {
        let mut text = String::new();
        for n in 0..500 {
            let _ = writeln!(text, "- 항목 {n}: SO_REUSEADDR ``` 안의 펜스");
        }
        let drift = check("ch.md", &text, &[], &[]);
        let md = drift.step_summary();
        assert!(md.contains("more lines (see the job log)"), "{md}");
        assert!(md.lines().count() < SUMMARY_LINES + 10);
        // The fence is longer than the ``` inside.
        let fence = md
            .lines()
            .find(|l| l.ends_with("text"))
            .expect("an opening fence");
        assert_eq!(fence, "````text");
        assert!(md.trim_end().ends_with("````"));
    }

    #[test]
    fn matching_is_linear_in_the_text() {
        // 200 KB of one word, and claims whose first pieces match everywhere.
        let claims = [
            ("a.b.c", "소켓 ... 없는말"),
            ("a.b.d", "소켓 ... 소켓 ... 없는말"),
        ];
        let text = "소켓 ".repeat(28_000);
        let started = std::time::Instant::now();
        let drift = check("x", &text, &claims, &[]);
        assert_eq!(drift.stale.len(), 2);
        assert!(
            started.elapsed() < std::time::Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
        let text = Text::parse("소켓 가 소켓 나 소켓 다 끝");
        let span = text.locate("소켓 ... 끝").expect("found");
        assert_eq!((span[0].first, span[0].last), (1, 1));
    }

    #[test]
    fn a_course_file_must_be_a_regular_utf8_file_with_text_within_the_cap() {
        let dir = tempfile::tempdir().expect("tempdir");
        let empty = dir.path().join("empty.md");
        fs::write(&empty, "\n  \n").expect("write");
        let err = read_course(&empty).expect_err("empty");
        assert!(err.contains("empty.md: empty"), "{err}");
        let binary = dir.path().join("binary.md");
        fs::write(&binary, b"# ok\n\xff\xfe").expect("write");
        let err = read_course(&binary).expect_err("not UTF-8");
        assert!(err.contains("invalid byte at offset 5"), "{err}");
        let fifo = dir.path().join("fifo");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).expect("mkfifo");
        let err = read_course(&fifo).expect_err("a FIFO, refused at once");
        assert!(err.contains("not a regular file"), "{err}");
        let err = read_course(Path::new("/dev/zero")).expect_err("a device");
        assert!(err.contains("/dev/zero: not a regular file"), "{err}");
        let big = dir.path().join("big.md");
        let file = fs::File::create(&big).expect("create");
        file.set_len(MAX_COURSE_BYTES + 1).expect("set_len");
        let err = read_course(&big).expect_err("too big");
        assert!(err.contains("more than the"), "{err}");
    }

    #[test]
    fn words_are_found_whatever_the_markdown_and_spacing() {
        let text = Text::parse(COURSE);
        let at = |w: &str| {
            text.locate(w)
                .map(|s| s.iter().map(|s| (s.first, s.last)).collect::<Vec<_>>())
        };
        assert_eq!(at("TCP | SOCK_STREAM | 보통"), Some(vec![(13, 13)]));
        assert_eq!(at("SO_REUSEADDR로 무중단 배포 지원"), Some(vec![(17, 17)]));
        assert_eq!(at("TCP 소켓 프로그래밍"), Some(vec![(15, 15)]));
        assert_eq!(
            at("// 네트워크 통신 ... read(sock, buffer, 1024);"),
            Some(vec![(21, 23)])
        );
        assert_eq!(at("TCP ... 보통"), Some(vec![(13, 13)]));
        assert_eq!(
            at("무중단 배포 지원 / 10년간 배운 교훈"),
            Some(vec![(17, 17), (26, 26)])
        );
        assert_eq!(at("2-3시간"), None, "the front matter is not course text");
        assert_eq!(at("UDP ... 보통"), None);
    }

    #[test]
    fn checkable_lines_are_table_rows_items_socket_code_and_numbers() {
        let lines: Vec<(usize, Checkable)> = Text::parse(COURSE).checkable();
        assert_eq!(
            lines,
            [
                (13, Checkable::TableRow),
                (17, Checkable::ListItem),
                (18, Checkable::ListItem),
                (22, Checkable::SocketCode),
                (23, Checkable::SocketCode),
                (26, Checkable::Number),
            ]
        );
    }

    #[test]
    fn an_edited_claim_is_stale_and_a_new_line_unchecked_unless_acknowledged() {
        let claims = [
            ("tcp.table.row", "TCP | SOCK_STREAM | 보통"),
            (
                "options.reuseaddr.deploy",
                "SO_REUSEADDR로 무중단 배포 지원",
            ),
            (
                "fundamentals.fd.snippet",
                "// 네트워크 통신 ... socket(AF_INET, SOCK_STREAM, 0); ... read(sock, buffer, 1024);",
            ),
        ];
        let acked = vec![normalize("- 학습 순서를 지키세요", false)];
        let drift = check("c.md", COURSE, &claims, &acked);
        assert_eq!(drift.stale.len(), 0);
        let lines: Vec<usize> = drift.unchecked.iter().map(|u| u.line).collect();
        assert_eq!(lines, [26]);
        assert_eq!(drift.acknowledged, 1);

        let edited = COURSE.replace("무중단 배포 지원", "무중단 배포 보장");
        let drift = check("c.md", &edited, &claims, &acked);
        assert!(!drift.clean());
        assert_eq!(drift.stale[0].id, "options.reuseaddr.deploy");
        let out = drift.terminal();
        assert!(
            out.contains("STALE") && out.contains("options.reuseaddr.deploy"),
            "{out}"
        );
        assert!(out.contains("line   17 [list item]"), "{out}");
    }

    #[test]
    fn a_line_inside_a_claims_span_that_its_words_do_not_name_is_unchecked() {
        let claims = [
            ("tcp.table.row", "프로토콜 ... TCP | SOCK_STREAM | 보통"),
            (
                "fundamentals.fd.snippet",
                "// 네트워크 통신 ... read(sock, buffer, 1024);",
            ),
        ];
        let text = Text::parse(COURSE);
        let span = &text.locate(claims[1].1).expect("the snippet is located")[0];
        assert_eq!(
            (span.first, span.last, &span.lines[..]),
            (21, 23, &[21, 23][..])
        );
        let table = &text.locate(claims[0].1).expect("the row is located")[0];
        assert_eq!(
            table.lines,
            [11, 13],
            "the header's piece and the row's, not the rule"
        );

        let acked = vec![normalize("- 학습 순서를 지키세요", false)];
        let drift = check("c.md", COURSE, &claims, &acked);
        let lines: Vec<usize> = drift.unchecked.iter().map(|u| u.line).collect();
        assert_eq!(
            lines,
            [17, 22, 26],
            "the socket() line between the snippet's two pieces"
        );
    }

    /// On the overview, the prose rules alone (the claim entries ignored) find every sentence
    /// whose course claim is `inaccurate`, and nothing on a line whose course claims are all
    /// `accurate` or on a line no course claim covers. Verdicts come from the catalogue at test
    /// time; lines with mixed verdicts (a table row) may have findings.
    #[test]
    fn on_the_overview_the_prose_rules_find_every_inaccurate_sentence_and_nothing_else() {
        use harness::catalogue::{Kind, Verdict};
        let Some(file) = default_file() else {
            eprintln!(
                "SKIPPED course::tests::on_the_overview_the_prose_rules_find_every_inaccurate_\
                 sentence_and_nothing_else: no course text at {DEFAULT_COURSE} from the workspace"
            );
            return;
        };
        let source = fs::read_to_string(&file).expect("read the course");
        let catalogue = harness::catalogue::shared().expect("the catalogue loads");
        let rules = doccheck::load::load_dir(&harness::catalogue::default_dir().join("facts"))
            .expect("the rules load");
        let doc = doccheck::Document::parse("overview", &source);
        let findings = doccheck::prose::check(&doc, &rules.prose);
        let text = Text::parse(&source);
        let mut verdicts: BTreeMap<usize, Vec<Verdict>> = BTreeMap::new();
        let mut inaccurate = Vec::new();
        for claim in catalogue.claims.iter().filter(|c| c.kind == Kind::Course) {
            let spans = text
                .locate(&claim.course)
                .unwrap_or_else(|| panic!("{} is not in the overview", claim.id));
            for s in &spans {
                for line in s.first..=s.last {
                    verdicts.entry(line).or_default().push(claim.verdict);
                }
            }
            if claim.verdict == Verdict::Inaccurate {
                inaccurate.push((claim.id.as_str(), spans));
            }
        }
        assert!(!inaccurate.is_empty());
        for (id, spans) in &inaccurate {
            assert!(
                findings
                    .iter()
                    .any(|f| spans.iter().any(|s| s.first <= f.line && f.line <= s.last)),
                "no rule fires on {id} ({spans:?}); findings: {findings:#?}"
            );
        }
        for f in &findings {
            let on_line = verdicts.get(&f.line).map(Vec::as_slice).unwrap_or_default();
            assert!(
                on_line.iter().any(|v| *v != Verdict::Accurate),
                "{} fires on line {} whose course claims are {on_line:?}: {:?}",
                f.rule,
                f.line,
                f.excerpt
            );
        }
    }
}
