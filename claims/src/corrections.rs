//! The catalogue's corrections against the course text, read as the author who pastes them
//! (the course's CORRECTIONS.md): one replacement per place (two claims on one sentence, or on
//! one cell of a table row, that give different corrections leave the author to choose), and a
//! table cell's correction fits a cell (a few words, at most ~20 characters, in the column's own
//! vocabulary). Only corrections the report offers as replacements of the course's words count:
//! those of `course` claims (the must-change list's).
//!
//! A claim's places are where its words' pieces matched: a sentence of a line (a line may hold
//! two sentences, each with its own correction), a cell of a table row when the words name the
//! column by the header's cell (`속도 ... | **TCP** | …`), or the whole line.

use std::collections::BTreeMap;
use std::fmt;

use harness::catalogue::{Claim, Correction, Kind};

use crate::course::{normalize, Text};

/// The most characters a table cell's correction may have.
pub const CELL_CHARS: usize = 20;

/// The words a column of the course's comparison table is written in, by its header.
pub const VOCABULARY: [(&str, &[&str]); 2] = [
    ("속도", &["낮음", "보통", "높음", "매우높음"]),
    ("신뢰성", &["낮음", "높음"]),
];

/// What part of a line a correction replaces.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Part {
    Line,
    /// The n-th sentence of the line (from 1).
    Sentence(usize),
    /// The cell of a table row under this header.
    Cell(String),
}

/// Where a correction goes.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Place {
    pub line: usize,
    pub part: Part,
}

impl Place {
    /// Whether two corrections here would replace the same words.
    fn meets(&self, other: &Place) -> bool {
        self.line == other.line
            && (self.part == Part::Line || other.part == Part::Line || self.part == other.part)
    }
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.part {
            Part::Line => write!(f, "line {}", self.line),
            Part::Sentence(n) => write!(f, "line {}, sentence {n}", self.line),
            Part::Cell(column) => write!(f, "line {}, column {column:?}", self.line),
        }
    }
}

/// Whether the report offers the claim's correction as a replacement of the course's words.
fn replaces_course_words(claim: &Claim) -> bool {
    claim.kind == Kind::Course && claim.correction.is_some()
}

/// The places `words` occupy in `text`; none when they are not in it (a stale claim, which
/// the course check reports).
pub fn places(text: &Text, words: &str) -> Vec<Place> {
    let mut places = Vec::new();
    for group in words.split(" / ") {
        let Some(spans) = text.locate(group) else {
            continue;
        };
        let pieces: Vec<String> = group
            .split(" ... ")
            .map(|p| normalize(p, false))
            .filter(|p| !p.is_empty())
            .collect();
        let column = spans[0]
            .lines
            .iter()
            .find(|&&line| text.is_table_header(line))
            .and_then(|&header| cell_named(text.raw(header), &pieces[0]));
        for &line in spans.iter().flat_map(|s| &s.lines) {
            match &column {
                Some(_) if text.is_table_header(line) => {}
                Some(column) if text.is_table_row(line) => places.push(Place {
                    line,
                    part: Part::Cell(column.clone()),
                }),
                _ => places.extend(
                    sentences(text.norm(line), &pieces)
                        .into_iter()
                        .map(|part| Place { line, part }),
                ),
            }
        }
    }
    places.sort();
    places.dedup();
    places
}

/// The sentences of `line` (normalised) that `pieces` fall in; the whole line when it has one
/// sentence or no piece lies wholly on it (a piece across lines).
fn sentences(line: &str, pieces: &[String]) -> Vec<Part> {
    let ends: Vec<usize> = line
        .match_indices(['.', '?', '!'])
        .map(|(at, _)| at + 1)
        .filter(|&end| line[end..].starts_with(' '))
        .collect();
    if ends.is_empty() {
        return vec![Part::Line];
    }
    let mut parts: Vec<Part> = pieces
        .iter()
        .filter_map(|piece| line.find(piece.as_str()))
        .map(|at| Part::Sentence(1 + ends.iter().filter(|&&end| end <= at).count()))
        .collect();
    if parts.is_empty() {
        parts.push(Part::Line);
    }
    parts
}

/// The header cell of `row` that `piece` (normalised) is.
fn cell_named(row: &str, piece: &str) -> Option<String> {
    row.split('|')
        .map(|cell| normalize(cell, false))
        .find(|cell| !cell.is_empty() && cell == piece)
}

/// Two claims whose corrections differ at one place.
#[derive(Debug, PartialEq, Eq)]
pub struct Conflict {
    pub place: Place,
    pub claims: [String; 2],
}

impl fmt::Display for Conflict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: claims {} and {} give different corrections for the same words (one \
             replacement per place: merge them into one)",
            self.place, self.claims[0], self.claims[1]
        )
    }
}

/// Every place where two claims' corrections of the course's words differ.
pub fn conflicts(text: &Text, claims: &[Claim]) -> Vec<Conflict> {
    let mut by_line: BTreeMap<usize, Vec<(Place, &str, &Correction)>> = BTreeMap::new();
    for claim in claims.iter().filter(|c| replaces_course_words(c)) {
        let correction = claim.correction.as_ref().expect("filtered on a correction");
        for place in places(text, &claim.course) {
            by_line
                .entry(place.line)
                .or_default()
                .push((place, &claim.id, correction));
        }
    }
    let mut found = Vec::new();
    for entries in by_line.values() {
        for (i, (place, a, a_fix)) in entries.iter().enumerate() {
            for (other, b, b_fix) in &entries[i + 1..] {
                if place.meets(other) && a_fix != b_fix && a != b {
                    found.push(Conflict {
                        place: place.clone().min(other.clone()),
                        claims: [a.to_string(), b.to_string()],
                    });
                }
            }
        }
    }
    found.sort_by(|x, y| (&x.place, &x.claims).cmp(&(&y.place, &y.claims)));
    found.dedup();
    found
}

/// A table cell's correction that is not a cell.
#[derive(Debug, PartialEq, Eq)]
pub struct Misfit {
    pub claim: String,
    pub place: Place,
    pub why: String,
}

impl fmt::Display for Misfit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: claim {}: {}", self.place, self.claim, self.why)
    }
}

/// Corrections of table cells that do not fit one: longer than [`CELL_CHARS`], or outside the
/// column's [`VOCABULARY`]. A claim whose words are a table row without naming a column
/// replaces the row: its correction is a row, each of whose cells must fit. The Korean
/// correction is the one pasted into the course; nuance that does not fit goes on a note line
/// under the table.
pub fn misfits(text: &Text, claims: &[Claim]) -> Vec<Misfit> {
    let mut found = Vec::new();
    for claim in claims.iter().filter(|c| replaces_course_words(c)) {
        // Lines of a correction are joined by ` / `: the first takes the words' place, the
        // others are notes (under the table).
        let ko = claim
            .correction
            .as_ref()
            .and_then(|c| c.ko.split(" / ").next())
            .map_or("", str::trim);
        for place in places(text, &claim.course) {
            if !text.is_table_row(place.line) {
                continue;
            }
            let column = match &place.part {
                Part::Cell(column) => Some(column.as_str()),
                _ => None,
            };
            let mut why = Vec::new();
            let cells: Vec<&str> = match column {
                Some(_) => vec![ko],
                None if ko.starts_with('|') => {
                    ko.trim_matches('|').split('|').map(str::trim).collect()
                }
                None => {
                    why.push(
                        "a table row's correction is a row (`| … |`), or the claim's words name \
                         the column by its header (`신뢰성 ... | **Raw Socket** | …`)"
                            .to_string(),
                    );
                    vec![ko]
                }
            };
            if let Some(long) = cells.iter().find(|c| c.chars().count() > CELL_CHARS) {
                why.push(format!(
                    "the cell {long:?} has {} characters, more than a cell's {CELL_CHARS} (put \
                     the nuance on a note line under the table)",
                    long.chars().count()
                ));
            }
            let vocabulary = VOCABULARY
                .iter()
                .find(|(header, _)| column == Some(*header));
            if let Some((header, words)) = vocabulary {
                if !words.contains(&ko) {
                    why.push(format!(
                        "{ko:?} is not in the {header} column's words ({})",
                        words.join("/")
                    ));
                }
            }
            if !why.is_empty() {
                found.push(Misfit {
                    claim: claim.id.clone(),
                    place,
                    why: why.join("; "),
                });
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    const COURSE: &str = "\
| 소켓 타입 | 신뢰성 | 속도 | 적합한 용도 |
|-----------|--------|------|-------------|
| **TCP** | 높음 | 보통 | 웹서버, API |
| **UDP** | 낮음 | 높음 | 게임, DNS |

- SO_REUSEADDR, TCP_NODELAY 등 성능 최적화 옵션

소켓은 파일입니다. 그래서 read가 됩니다.
";

    fn claim(id: &str, words: &str, ko: Option<&str>) -> Claim {
        let mut c = harness::catalogue::shared()
            .expect("the catalogue")
            .claims
            .first()
            .expect("a claim")
            .clone();
        c.id = id.into();
        c.kind = Kind::Course;
        c.course = words.into();
        c.correction = ko.map(|ko| Correction {
            ko: ko.into(),
            en: ko.into(),
        });
        c
    }

    /// The real course text beside the workspace, if there (else the test is skipped, visibly).
    fn real_course(test: &str) -> Option<Text> {
        let Some(file) = crate::course::default_file() else {
            eprintln!(
                "SKIPPED corrections::{test}: no course text at {} from the workspace",
                crate::course::DEFAULT_COURSE
            );
            return None;
        };
        let text = std::fs::read_to_string(&file).expect("read the course text");
        Some(Text::parse(&text))
    }

    fn real_claims() -> &'static [Claim] {
        &harness::catalogue::shared()
            .unwrap_or_else(|e| panic!("{e}"))
            .claims
    }

    #[test]
    fn the_real_course_gets_one_correction_per_place() {
        let Some(text) = real_course("the_real_course_gets_one_correction_per_place") else {
            return;
        };
        let found: Vec<String> = conflicts(&text, real_claims())
            .iter()
            .map(|c| c.to_string())
            .collect();
        assert!(found.is_empty(), "{}", found.join("\n"));
    }

    #[test]
    fn the_real_tables_cell_corrections_fit_their_cells() {
        let Some(text) = real_course("the_real_tables_cell_corrections_fit_their_cells") else {
            return;
        };
        let found: Vec<String> = misfits(&text, real_claims())
            .iter()
            .map(|m| m.to_string())
            .collect();
        assert!(found.is_empty(), "{}", found.join("\n"));
    }

    #[test]
    fn a_table_claim_is_placed_on_the_cell_its_header_piece_names() {
        let text = Text::parse(COURSE);
        let at = |line, column: Option<&str>| Place {
            line,
            part: column.map_or(Part::Line, |c| Part::Cell(c.to_string())),
        };
        assert_eq!(
            places(&text, "속도 ... | **UDP** | 낮음 | 높음 |"),
            [at(4, Some("속도"))]
        );
        assert_eq!(places(&text, "| **TCP** | 높음 | 보통 |"), [at(3, None)]);
        assert_eq!(
            places(&text, "TCP_NODELAY 등 / 게임, DNS"),
            [at(4, None), at(6, None)]
        );
        assert_eq!(
            places(&text, "소켓은 파일입니다. ... 그래서 read가 됩니다"),
            [
                Place {
                    line: 8,
                    part: Part::Sentence(1)
                },
                Place {
                    line: 8,
                    part: Part::Sentence(2)
                }
            ]
        );
        assert_eq!(
            places(&text, "그래서 read가 됩니다"),
            [Place {
                line: 8,
                part: Part::Sentence(2)
            }]
        );
    }

    #[test]
    fn two_corrections_of_one_line_or_cell_conflict_and_two_cells_of_a_row_do_not() {
        let text = Text::parse(COURSE);
        let nagle = claim(
            "options.nodelay",
            "TCP_NODELAY 등 성능 최적화 옵션",
            Some("A"),
        );
        let reuse = claim("options.reuseaddr", "SO_REUSEADDR, TCP_NODELAY", Some("B"));
        let same = claim("options.same", "성능 최적화 옵션", Some("A"));
        let found = conflicts(&text, &[nagle, reuse, same]);
        let shown: Vec<String> = found.iter().map(|c| c.to_string()).collect();
        assert_eq!(shown.len(), 2, "{shown:#?}");
        assert!(
            shown[0].starts_with("line 6: claims options.nodelay and options.reuseaddr"),
            "{shown:#?}"
        );
        assert!(
            shown[1].starts_with("line 6: claims options.reuseaddr and options.same"),
            "the same correction twice is one replacement: {shown:#?}"
        );

        let first = claim(
            "fd.file",
            "소켓은 파일입니다",
            Some("소켓은 파일 디스크립터입니다."),
        );
        let second = claim(
            "fd.read",
            "그래서 read가 됩니다",
            Some("그래서 read를 씁니다."),
        );
        assert_eq!(
            conflicts(&text, &[first, second]),
            [],
            "two sentences, two corrections"
        );
        let mut topic = claim("options.topic", "SO_REUSEADDR, TCP_NODELAY", Some("C"));
        topic.kind = Kind::Topic;
        let nagle = claim(
            "options.nodelay",
            "TCP_NODELAY 등 성능 최적화 옵션",
            Some("A"),
        );
        assert_eq!(
            conflicts(&text, &[nagle, topic]),
            [],
            "a topic claim's correction is not pasted over the line"
        );

        let speed = claim(
            "udp.speed",
            "속도 ... | **UDP** | 낮음 | 높음 |",
            Some("높음"),
        );
        let uses = claim(
            "udp.uses",
            "적합한 용도 ... | **UDP** |",
            Some("게임, 스트리밍, DNS"),
        );
        assert_eq!(conflicts(&text, &[speed.clone(), uses]), []);
        let speed_too = claim("udp.speed2", "속도 ... | **UDP** |", Some("보통"));
        let found = conflicts(&text, &[speed, speed_too]);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].to_string().starts_with("line 4, column \"속도\":"),
            "{}",
            found[0]
        );
    }

    #[test]
    fn a_cell_correction_is_short_and_in_its_columns_words() {
        let text = Text::parse(COURSE);
        let fits = claim("udp.speed", "속도 ... | **UDP** |", Some("높음"));
        let long = claim(
            "udp.uses",
            "적합한 용도 ... | **UDP** |",
            Some("게임, 실시간 스트리밍(음성·영상), DNS 조회와 같은 짧은 질의"),
        );
        let outside = claim("udp.reliability", "신뢰성 ... | **UDP** |", Some("없음"));
        let sentence = claim(
            "tcp.speed",
            "속도 ... | **TCP** |",
            Some("높음 (왕복 지연은 UDP보다 약간 길 뿐)"),
        );
        let row = claim(
            "tcp.row",
            "| **TCP** | 높음 | 보통 |",
            Some("| **TCP** | 높음 | 보통¹ | 웹 | / ¹ 속도는 루프백에서 1바이트 왕복 지연 기준이며, 방법에 따라 다릅니다."),
        );
        let unnamed = claim("udp.row", "| **UDP** | 낮음 | 높음 |", Some("낮음"));
        let found = misfits(&text, &[fits, long, outside, sentence, row, unnamed]);
        let shown: Vec<String> = found.iter().map(|m| m.to_string()).collect();
        assert_eq!(found.len(), 4, "{shown:#?}");
        assert!(
            shown[3].starts_with("line 4: claim udp.row: a table row's correction is a row"),
            "{shown:#?}"
        );
        assert!(
            shown[0].contains("claim udp.uses") && shown[0].contains("more than"),
            "{shown:#?}"
        );
        assert!(
            shown[1].contains("\"없음\" is not in the 신뢰성 column's words (낮음/높음)"),
            "{shown:#?}"
        );
        assert!(
            shown[2].contains("more than") && shown[2].contains("not in the 속도 column's"),
            "{shown:#?}"
        );
    }
}
