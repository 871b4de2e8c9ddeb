//! A document as its reader sees it: the sentences of its paragraphs, list items and table rows,
//! and its fenced code blocks (listings), each mapped back to the file's own lines and columns.
//!
//! Markdown is parsed with pulldown-cmark (a plain `.txt` course file is read the same way: it is
//! Markdown in all but name). A YAML front matter block (`---` … `---` at the top) is metadata:
//! it yields no sentence but its lines count, so line numbers are the file's own. Headings are
//! kept (a finding may want their words) but marked, and prose rules skip them.

use std::ops::Range;

use pulldown_cmark::{CodeBlockKind, Event, Options, Parser, Tag, TagEnd};

/// Text assembled from pieces of the source, each byte knowing the source byte it came from.
/// Text the reader sees but the source does not spell out (a soft break's space, a table
/// column's header) maps to where it belongs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Mapped {
    pub text: String,
    /// For each byte of `text`, its byte offset in the source.
    source: Vec<usize>,
    /// Where each byte's source character ends (its offset plus its length there).
    source_end: Vec<usize>,
}

impl Mapped {
    /// Appends `s`, read at `range` of `source`: byte for byte where the source spells `s` out
    /// (as a whole or inside the range), else every byte at the range's start.
    fn push(&mut self, s: &str, range: Range<usize>, source: &str) {
        let slice = source.get(range.clone()).unwrap_or_default();
        match slice.find(s) {
            Some(at) if !s.is_empty() => {
                let base = range.start + at;
                for (i, c) in s.char_indices() {
                    for _ in 0..c.len_utf8() {
                        self.source.push(base + i);
                        self.source_end.push(base + i + c.len_utf8());
                    }
                }
                self.text.push_str(s);
            }
            _ => self.push_at(s, range.start),
        }
    }

    /// Appends `s` as if it all stood at source offset `at` (text the source implies).
    fn push_at(&mut self, s: &str, at: usize) {
        self.text.push_str(s);
        self.source.extend(std::iter::repeat_n(at, s.len()));
        self.source_end.extend(std::iter::repeat_n(at, s.len()));
    }

    /// The source range that `range` of the text came from.
    pub fn source_range(&self, range: Range<usize>) -> Range<usize> {
        if range.start >= range.end || range.end > self.text.len() {
            let at = self.source.get(range.start).copied().unwrap_or_default();
            return at..at;
        }
        let start = self.source[range.start];
        let end = self.source_end[range.end - 1].max(start);
        start..end
    }

    /// Appends another mapped text, keeping its mapping.
    fn append(&mut self, other: &Mapped) {
        self.text.push_str(&other.text);
        self.source.extend_from_slice(&other.source);
        self.source_end.extend_from_slice(&other.source_end);
    }

    /// The part of the text at `range`, still mapped.
    fn slice(&self, range: Range<usize>) -> Mapped {
        Mapped {
            text: self.text[range.clone()].to_string(),
            source: self.source[range.clone()].to_vec(),
            source_end: self.source_end[range].to_vec(),
        }
    }
}

/// Where a sentence stands in the document.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Block {
    Paragraph,
    ListItem,
    /// A table row, read with its column headers: `header: cell; header: cell` (a header's
    /// words map to the header row, so a finding on them starts there).
    TableRow,
    Heading,
    /// A line of a shell listing (`bash`, `sh`, `console`, …): a command a reader runs.
    ShellLine,
}

/// One sentence (a table row is one sentence).
#[derive(Clone, Debug)]
pub struct Sentence {
    pub block: Block,
    pub text: Mapped,
}

/// A fenced or indented code block.
#[derive(Clone, Debug)]
pub struct Listing {
    /// The info string's first word, lowercased (`c`, `bash`); empty when none is given.
    pub lang: String,
    pub code: Mapped,
    /// The file's 1-based line of the listing's first code line.
    pub line: usize,
}

/// A position in the file: 1-based line and character column.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Position {
    pub line: usize,
    pub column: usize,
}

/// A parsed document.
#[derive(Clone, Debug)]
pub struct Document {
    /// The path as given (findings carry it).
    pub path: String,
    pub source: String,
    pub sentences: Vec<Sentence>,
    pub listings: Vec<Listing>,
    /// The byte offset of each line's start.
    line_starts: Vec<usize>,
}

const SHELLS: [&str; 7] = [
    "bash",
    "sh",
    "shell",
    "console",
    "zsh",
    "shell-session",
    "terminal",
];

impl Document {
    pub fn parse(path: &str, source: &str) -> Document {
        let line_starts = std::iter::once(0)
            .chain(source.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        let mut reader = Reader {
            source,
            sentences: Vec::new(),
            listings: Vec::new(),
            unit: None,
            items: 0,
            table: Table::default(),
            code: None,
            skipping: 0,
        };
        let options = Options::ENABLE_TABLES
            | Options::ENABLE_YAML_STYLE_METADATA_BLOCKS
            | Options::ENABLE_STRIKETHROUGH
            | Options::ENABLE_TASKLISTS
            | Options::ENABLE_FOOTNOTES;
        for (event, range) in Parser::new_ext(source, options).into_offset_iter() {
            reader.event(event, range);
        }
        reader.flush();
        let mut doc = Document {
            path: path.to_string(),
            source: source.to_string(),
            sentences: reader.sentences,
            listings: Vec::new(),
            line_starts,
        };
        doc.listings = reader
            .listings
            .into_iter()
            .map(|(lang, code, fence)| {
                let first = if code.text.is_empty() {
                    doc.position(fence).line + 1
                } else {
                    doc.position(code.source_range(0..1).start).line
                };
                Listing {
                    lang,
                    code,
                    line: first,
                }
            })
            .collect();
        doc
    }

    /// The listings as the code checks and the compiler take them.
    pub fn code_listings(&self) -> Vec<crate::code::Listing<'_>> {
        self.listings
            .iter()
            .map(|l| crate::code::Listing {
                code: &l.code.text,
                first_line: l.line,
                lang: Some(l.lang.as_str()).filter(|l| !l.is_empty()),
            })
            .collect()
    }

    /// The line and character column of a source byte offset.
    pub fn position(&self, byte: usize) -> Position {
        let byte = byte.min(self.source.len());
        let line = self.line_starts.partition_point(|&s| s <= byte);
        let start = self.line_starts[line - 1];
        let column = self.source[start..byte].chars().count() + 1;
        Position { line, column }
    }

    /// The text of a 1-based line, without its line end.
    pub fn line(&self, line: usize) -> &str {
        let Some(&start) = self.line_starts.get(line.wrapping_sub(1)) else {
            return "";
        };
        let end = self
            .line_starts
            .get(line)
            .map_or(self.source.len(), |&e| e - 1);
        self.source[start..end].trim_end_matches('\r')
    }

    /// The file positions where `range` of a sentence or listing starts and ends (the end is
    /// the column after the last character).
    pub fn span(&self, text: &Mapped, range: Range<usize>) -> (Position, Position) {
        let source = text.source_range(range);
        (self.position(source.start), self.position(source.end))
    }
}

/// The table being read: its column headers, and where the current row is.
#[derive(Default)]
struct Table {
    headers: Vec<Mapped>,
    in_head: bool,
    cell: usize,
}

/// Inline text being gathered into one block (a paragraph, an item's text, a row, a heading).
struct Unit {
    block: Block,
    text: Mapped,
    /// Byte ranges of the text that are code spans: never split inside them.
    code: Vec<Range<usize>>,
}

struct Reader<'s> {
    source: &'s str,
    sentences: Vec<Sentence>,
    listings: Vec<(String, Mapped, usize)>,
    unit: Option<Unit>,
    /// How many list items enclose the current text.
    items: usize,
    table: Table,
    /// The code block being read: its language and text, and where its fence is.
    code: Option<(String, Mapped, usize)>,
    /// Inside front matter or an HTML block: nothing a reader reads as prose.
    skipping: usize,
}

impl Reader<'_> {
    fn start(&mut self, block: Block) {
        self.flush();
        self.unit = Some(Unit {
            block,
            text: Mapped::default(),
            code: Vec::new(),
        });
    }

    /// The unit inline text goes to, opened as the enclosing block's if none is.
    fn unit(&mut self) -> &mut Unit {
        let block = if self.items > 0 {
            Block::ListItem
        } else {
            Block::Paragraph
        };
        self.unit.get_or_insert_with(|| Unit {
            block,
            text: Mapped::default(),
            code: Vec::new(),
        })
    }

    fn flush(&mut self) {
        let Some(unit) = self.unit.take() else {
            return;
        };
        let ranges = match unit.block {
            Block::TableRow | Block::Heading => std::iter::once(0..unit.text.text.len()).collect(),
            _ => split_sentences(&unit.text.text, &unit.code),
        };
        for range in ranges {
            let range = trim(&unit.text.text, range);
            if !range.is_empty() {
                self.sentences.push(Sentence {
                    block: unit.block,
                    text: unit.text.slice(range),
                });
            }
        }
    }

    fn event(&mut self, event: Event, range: Range<usize>) {
        match event {
            Event::Start(tag) => self.open(tag, range),
            Event::End(tag) => self.close(tag),
            _ if self.skipping > 0 => {}
            Event::Text(s) => self.text(&s, range),
            Event::Code(s) if self.table.in_head => self.text(&s, range),
            Event::Code(s) => {
                let source = self.source;
                let unit = self.unit();
                let at = unit.text.text.len();
                unit.text.push(&s, range, source);
                let end = unit.text.text.len();
                unit.code.push(at..end);
            }
            Event::InlineMath(s) | Event::DisplayMath(s) => self.text(&s, range),
            Event::SoftBreak | Event::HardBreak => {
                if let Some((_, code, _)) = &mut self.code {
                    code.push_at("\n", range.start);
                } else {
                    self.unit().text.push_at(" ", range.start);
                }
            }
            Event::Html(_)
            | Event::InlineHtml(_)
            | Event::FootnoteReference(_)
            | Event::TaskListMarker(_)
            | Event::Rule => {}
        }
    }

    fn text(&mut self, s: &str, range: Range<usize>) {
        let source = self.source;
        if let Some((_, code, _)) = &mut self.code {
            code.push(s, range, source);
        } else if self.table.in_head {
            if let Some(h) = self.table.headers.last_mut() {
                h.push(s, range, source);
            }
        } else {
            self.unit().text.push(s, range, source);
        }
    }

    fn open(&mut self, tag: Tag, range: Range<usize>) {
        match tag {
            Tag::MetadataBlock(_) | Tag::HtmlBlock => {
                self.flush();
                self.skipping += 1;
            }
            Tag::Paragraph => {
                if self.items > 0 && self.unit.is_some() {
                    // A loose item's paragraph continues the item's own text.
                    self.flush();
                }
                self.start(if self.items > 0 {
                    Block::ListItem
                } else {
                    Block::Paragraph
                });
            }
            Tag::Heading { .. } => self.start(Block::Heading),
            Tag::Item => {
                self.items += 1;
                self.start(Block::ListItem);
            }
            Tag::List(_) | Tag::BlockQuote(_) | Tag::FootnoteDefinition(_) => self.flush(),
            Tag::Table(_) => {
                self.flush();
                self.table = Table::default();
            }
            Tag::TableHead => self.table.in_head = true,
            Tag::TableRow => {
                self.start(Block::TableRow);
                self.table.cell = 0;
            }
            Tag::TableCell => {
                if self.table.in_head {
                    self.table.headers.push(Mapped::default());
                } else {
                    let at = self.first_non_space(range);
                    let header = self.table.headers.get(self.table.cell).map(|h| {
                        let words = trim(&h.text, 0..h.text.len());
                        h.slice(words)
                    });
                    let first = self.table.cell == 0;
                    let text = &mut self.unit().text;
                    if !first {
                        text.push_at("; ", at);
                    }
                    if let Some(h) = header.filter(|h| !h.text.is_empty()) {
                        text.append(&h);
                        text.push_at(": ", at);
                    }
                }
            }
            Tag::CodeBlock(kind) => {
                self.flush();
                let lang = match kind {
                    CodeBlockKind::Fenced(info) => info
                        .split(|c: char| c.is_whitespace() || c == ',' || c == '{')
                        .next()
                        .unwrap_or_default()
                        .to_lowercase(),
                    CodeBlockKind::Indented => String::new(),
                };
                self.code = Some((lang, Mapped::default(), range.start));
            }
            _ => {}
        }
    }

    fn close(&mut self, tag: TagEnd) {
        match tag {
            TagEnd::MetadataBlock(_) | TagEnd::HtmlBlock => {
                self.skipping = self.skipping.saturating_sub(1)
            }
            TagEnd::Paragraph
            | TagEnd::Heading(_)
            | TagEnd::List(_)
            | TagEnd::BlockQuote(_)
            | TagEnd::TableRow
            | TagEnd::Table
            | TagEnd::FootnoteDefinition => self.flush(),
            TagEnd::Item => {
                self.flush();
                self.items = self.items.saturating_sub(1);
            }
            TagEnd::TableHead => self.table.in_head = false,
            TagEnd::TableCell => self.table.cell += 1,
            TagEnd::CodeBlock => {
                if let Some((lang, code, fence)) = self.code.take() {
                    if SHELLS.contains(&lang.as_str()) {
                        self.shell_lines(&code);
                    }
                    self.listings.push((lang, code, fence));
                }
            }
            _ => {}
        }
    }

    /// Each non-blank line of a shell listing is a sentence: a command, or a comment about one.
    fn shell_lines(&mut self, code: &Mapped) {
        let mut at = 0;
        for line in code.text.split_inclusive('\n') {
            let range = trim(&code.text, at..at + line.len());
            at += line.len();
            if !range.is_empty() {
                self.sentences.push(Sentence {
                    block: Block::ShellLine,
                    text: code.slice(range),
                });
            }
        }
    }

    /// Where a table cell's content starts (a cell's range includes its padding).
    fn first_non_space(&self, range: Range<usize>) -> usize {
        let cell = &self.source[range.clone()];
        let skipped = cell.len() - cell.trim_start_matches([' ', '\t', '|']).len();
        range.start + skipped
    }
}

/// `range` without the whitespace at either end.
fn trim(text: &str, range: Range<usize>) -> Range<usize> {
    let part = &text[range.clone()];
    let start = range.start + (part.len() - part.trim_start().len());
    let end = range.start + part.trim_end().len();
    start..end.max(start)
}

/// Words that end in a period without ending the sentence.
const ABBREVIATIONS: [&str; 14] = [
    "e.g", "i.e", "etc", "vs", "cf", "fig", "approx", "no", "dr", "mr", "mrs", "al", "eg", "ie",
];

/// Splits a block's text into sentences: after `.`, `?`, `!` (or `。`) followed by whitespace or
/// the end, except inside a code span and after an abbreviation (`e.g.`, `etc.`). Korean
/// sentences end the same way (`…입니다.`, `…해요.`); a number such as `1.5` has no space after
/// its period.
fn split_sentences(text: &str, code: &[Range<usize>]) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut spans = code.iter().peekable();
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        while spans.peek().is_some_and(|s| s.end <= i) {
            spans.next();
        }
        if spans.peek().is_some_and(|s| s.start <= i) {
            continue;
        }
        if !matches!(c, '.' | '?' | '!' | '。') {
            continue;
        }
        let next = chars.peek().map(|&(_, n)| n);
        if next.is_some_and(|n| !n.is_whitespace()) {
            continue;
        }
        if c == '.' && abbreviation(&text[start..i]) {
            continue;
        }
        let end = i + c.len_utf8();
        out.push(start..end);
        start = end;
    }
    if start < text.len() {
        out.push(start..text.len());
    }
    out
}

/// Whether the word just before a period is an abbreviation.
fn abbreviation(before: &str) -> bool {
    let word = before
        .rsplit(|c: char| c.is_whitespace() || c == '(')
        .next()
        .unwrap_or_default()
        .to_lowercase();
    ABBREVIATIONS.contains(&word.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sentences(doc: &Document) -> Vec<(&str, Block)> {
        doc.sentences
            .iter()
            .map(|s| (s.text.text.as_str(), s.block))
            .collect()
    }

    #[test]
    fn english_and_korean_sentences_split_at_their_ends_only() {
        let doc = Document::parse(
            "a.md",
            "Use `read()` e.g. in a loop. It may return 1.5 KiB! 짧게 읽힐 수 있습니다. 그래요.\n",
        );
        assert_eq!(
            sentences(&doc),
            vec![
                ("Use read() e.g. in a loop.", Block::Paragraph),
                ("It may return 1.5 KiB!", Block::Paragraph),
                ("짧게 읽힐 수 있습니다.", Block::Paragraph),
                ("그래요.", Block::Paragraph),
            ]
        );
    }

    #[test]
    fn a_code_span_is_never_split() {
        let doc = Document::parse("a.md", "Call `x. y` now. Done.");
        assert_eq!(
            sentences(&doc),
            vec![
                ("Call x. y now.", Block::Paragraph),
                ("Done.", Block::Paragraph)
            ]
        );
    }

    #[test]
    fn front_matter_is_skipped_but_counts_for_lines() {
        let doc = Document::parse("a.md", "---\ntags:\n  - x\n---\n\n# Title\n\nText here.\n");
        assert_eq!(
            sentences(&doc),
            vec![("Title", Block::Heading), ("Text here.", Block::Paragraph)]
        );
        let s = &doc.sentences[1];
        let (start, end) = doc.span(&s.text, 0..4);
        assert_eq!(start, Position { line: 8, column: 1 });
        assert_eq!(end, Position { line: 8, column: 5 });
    }

    #[test]
    fn list_items_nested_lists_and_loose_items_are_one_sentence_each() {
        let doc = Document::parse(
            "a.md",
            "- **첫째** 항목\n  - 안쪽 항목\n- 둘째\n\n1. loose\n\n   second paragraph\n",
        );
        assert_eq!(
            sentences(&doc),
            vec![
                ("첫째 항목", Block::ListItem),
                ("안쪽 항목", Block::ListItem),
                ("둘째", Block::ListItem),
                ("loose", Block::ListItem),
                ("second paragraph", Block::ListItem),
            ]
        );
        let (start, _) = doc.span(&doc.sentences[1].text, 0..1);
        assert_eq!(start, Position { line: 2, column: 5 });
    }

    #[test]
    fn a_table_row_reads_with_its_headers_and_maps_to_its_cells() {
        let doc = Document::parse(
            "a.md",
            "| 타입 | 속도 |\n|------|------|\n| **UDP** | 높음 |\n",
        );
        assert_eq!(
            sentences(&doc),
            vec![("타입: UDP; 속도: 높음", Block::TableRow)]
        );
        let s = &doc.sentences[0].text;
        let at = s.text.find("속도: 높음").unwrap();
        let (start, end) = doc.span(s, at..s.text.len());
        // The header's words map to the header row, the cell's to the cell.
        assert_eq!(start, Position { line: 1, column: 8 });
        assert_eq!(
            end,
            Position {
                line: 3,
                column: 15
            }
        );
        let cell = s.text.find("높음").unwrap();
        let (start, _) = doc.span(s, cell..s.text.len());
        assert_eq!(
            start,
            Position {
                line: 3,
                column: 13
            }
        );
    }

    #[test]
    fn listings_keep_language_and_first_line_and_shell_lines_are_sentences() {
        let doc = Document::parse(
            "a.md",
            "Intro.\n\n```c\nint x;\n```\n\n- item\n\n  ```bash\n  # tools\n  ss -tlnp\n  ```\n",
        );
        assert_eq!(doc.listings.len(), 2);
        assert_eq!(doc.listings[0].lang, "c");
        assert_eq!(doc.listings[0].line, 4);
        assert_eq!(doc.listings[0].code.text, "int x;\n");
        assert_eq!(doc.listings[1].lang, "bash");
        assert_eq!(doc.listings[1].line, 10);
        let shell: Vec<_> = sentences(&doc)
            .into_iter()
            .filter(|s| s.1 == Block::ShellLine)
            .map(|s| s.0)
            .collect();
        assert_eq!(shell, vec!["# tools", "ss -tlnp"]);
        let ss = doc
            .sentences
            .iter()
            .find(|s| s.text.text == "ss -tlnp")
            .unwrap();
        assert_eq!(
            doc.span(&ss.text, 0..2).0,
            Position {
                line: 11,
                column: 3
            }
        );
    }

    #[test]
    fn columns_count_characters_not_bytes() {
        let doc = Document::parse("a.md", "한글 word.\n");
        let s = &doc.sentences[0].text;
        let at = s.text.find("word").unwrap();
        let (start, end) = doc.span(s, at..at + 4);
        assert_eq!(start, Position { line: 1, column: 4 });
        assert_eq!(end, Position { line: 1, column: 8 });
    }
}
