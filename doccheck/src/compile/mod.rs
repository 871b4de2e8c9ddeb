//! Compiles a document's C listings with the system C compiler, as a reader would.
//!
//! Policy:
//! - A listing that defines `main` is a complete program, checked alone, and every error is a
//!   finding. It is linked (leniently, with libm and libpthread) only when it calls a function
//!   no header declares or declares one it does not define: a function nothing defines shows
//!   as the linker's undefined reference. A program abbreviated with `...` is not compiled.
//! - Any other listing is a fragment, checked with `-fsyntax-only`. A fragment whose top level
//!   holds statements (or declarations initialised by a call) is compiled with those items,
//!   in order, in the body of `void __listing_N(void)`; its `#` lines, type and function
//!   definitions stay at file scope. A fragment of declarations is compiled as it is.
//! - The fragments are also compiled together, in document order, as a reader assembles them.
//!   A fragment's diagnostic is a finding only when it appears alone *and* assembled (a later
//!   block may use an earlier one's definitions), and only of a kind that a surrounding
//!   program cannot explain: a header it needs (an API name undeclared; not when any listing
//!   of the document includes that header), a struct member glibc does not have, conflicting
//!   types, an incompatible pointer, an integer-pointer conversion, a wrong argument count.
//!   Names a fragment merely takes from its context (`fd`, `buf`) are never findings, and a
//!   fragment the C grammar rejects (an elision, an unbalanced brace) is not compiled.
//! - Flags: `-std=gnu11 -Wall` with GCC 14's errors (incompatible pointer types, implicit
//!   declarations, int-conversion) on every compiler; each run is bounded ([`CC_TIMEOUT`]),
//!   with at most twice as many at once as there are CPUs. `#line` directives make the
//!   compiler report the document's own lines.

use std::collections::{BTreeSet, HashSet};
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;

mod fixes;

pub use fixes::header_of;

use crate::code::tree::Parsed;
use crate::code::{is_c, Listing};
use crate::finding::{Finding, Origin, Severity, Text};

/// The longest one compiler run may take.
pub const CC_TIMEOUT: Duration = Duration::from_secs(10);

/// GCC 14's defaults on any GCC or Clang: these diagnostics are errors there.
const FLAGS: &[&str] = &[
    "-std=gnu11",
    "-Wall",
    "-Werror=incompatible-pointer-types",
    "-Werror=implicit-function-declaration",
    "-Werror=int-conversion",
    "-fdiagnostics-column-unit=byte",
    "-fno-diagnostics-show-caret",
    "-fno-diagnostics-color",
];

/// A lenient build, only for the linker's word on functions nothing defines: every compiler
/// diagnostic is a warning here, and hidden (the strict build reported them).
const LINK_FLAGS: &[&str] = &[
    "-std=gnu11",
    "-w",
    "-Wno-error=implicit-function-declaration",
    "-Wno-error=incompatible-pointer-types",
    "-Wno-error=int-conversion",
];

/// Libraries a socket tutorial's program may use beyond libc (math, threads on older glibc):
/// a call into them is defined.
const LIBRARIES: &[&str] = &["-lm", "-lpthread"];

/// Why no listing could be compiled.
#[derive(Debug)]
pub enum CompileError {
    /// No C compiler (`$CC`, else `cc`) on this machine: the check is skipped, visibly.
    NoCompiler(String),
    /// The compiler could not run (a temporary directory, a pipe).
    Io(std::io::Error),
}

impl std::fmt::Display for CompileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CompileError::NoCompiler(cc) => write!(
                f,
                "skipped: no C compiler ({cc}) found to compile the listings"
            ),
            CompileError::Io(e) => write!(f, "could not run the C compiler: {e}"),
        }
    }
}

impl std::error::Error for CompileError {}

/// The compiler: `$CC` if set, else `cc`.
pub fn compiler() -> String {
    std::env::var("CC")
        .ok()
        .filter(|c| !c.trim().is_empty())
        .unwrap_or_else(|| "cc".to_owned())
}

/// Compiles the document's C listings with [`compiler`]; `file` names the document in the
/// findings.
pub fn compile(file: &str, listings: &[Listing<'_>]) -> Result<Vec<Finding>, CompileError> {
    compile_with(&compiler(), file, listings)
}

/// Compiles the document's C listings with the compiler `cc`.
pub fn compile_with(
    cc: &str,
    file: &str,
    listings: &[Listing<'_>],
) -> Result<Vec<Finding>, CompileError> {
    let cc = cc.to_owned();
    match Command::new(&cc)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
    {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(CompileError::NoCompiler(cc))
        }
        Err(e) => return Err(CompileError::Io(e)),
        Ok(_) => {}
    }
    let c: Vec<&Listing<'_>> = listings.iter().filter(|l| is_c(l.lang)).collect();
    let units: Vec<Unit<'_>> = c.iter().enumerate().map(|(i, l)| Unit::new(i, l)).collect();
    let dir = tempfile::Builder::new()
        .prefix("doccheck-cc")
        .tempdir()
        .map_err(CompileError::Io)?;
    let dir = dir.path();

    // First round: each program built, the fragments assembled.
    let programs: Vec<&Unit<'_>> = units.iter().filter(|u| u.program && !u.elided).collect();
    let fragments: Vec<&Unit<'_>> = units.iter().filter(|u| !u.program && u.parses).collect();
    let mut first: Vec<Spec> = programs
        .iter()
        .map(|u| Spec {
            name: format!("build{}", u.index),
            source: u.program_source(),
            mode: Mode::Syntax,
        })
        .collect();
    if !fragments.is_empty() {
        let source: String = fragments.iter().map(|u| u.fragment_source()).collect();
        first.push(Spec {
            name: "assembled".into(),
            source,
            mode: Mode::Syntax,
        });
    }
    let mut outputs = run_all(&cc, dir, first)?;
    let assembled = if fragments.is_empty() {
        String::new()
    } else {
        outputs.pop().unwrap_or_default()
    };
    let builds = outputs;

    // Second round, where needed: a program calling an undeclared function that no header of
    // the table declares is linked leniently, for the linker's word on it; a conflict the
    // assembled text shows counts only if the fragment shows it alone (else it comes from
    // another listing: a definition shown twice).
    let mut second = Vec::new();
    let mut linked = Vec::new();
    for (u, build) in programs.iter().zip(&builds) {
        let unknown = u.declares_undefined
            || diagnostics(build, u.index)
                .iter()
                .any(|d| matches!(&d.kind, Kind::Needs(name) if header_of(name).is_none()));
        linked.push(unknown);
        if unknown {
            second.push(Spec {
                name: format!("link{}", u.index),
                source: u.program_source(),
                mode: Mode::Link,
            });
        }
    }
    let mut checked_alone = Vec::new();
    for u in &fragments {
        let conflict = diagnostics(&assembled, u.index)
            .iter()
            .any(|d| d.kind == Kind::Conflict);
        checked_alone.push(conflict);
        if conflict {
            second.push(Spec {
                name: format!("alone{}", u.index),
                source: u.fragment_source(),
                mode: Mode::Syntax,
            });
        }
    }
    let mut second = run_all(&cc, dir, second)?.into_iter();

    let mut out = Vec::new();
    for ((u, build), linked) in programs.iter().zip(&builds).zip(linked) {
        let link = if linked {
            second.next().unwrap_or_default()
        } else {
            String::new()
        };
        out.extend(u.program_findings(file, build, &link));
    }
    let included: HashSet<String> = units
        .iter()
        .flat_map(|u| u.includes.iter().cloned())
        .collect();
    for (u, alone) in fragments.iter().zip(checked_alone) {
        let own = alone.then(|| diagnostics(&second.next().unwrap_or_default(), u.index));
        out.extend(u.fragment_findings(file, diagnostics(&assembled, u.index), own, &included));
    }
    out.retain(|f| {
        let listing = units
            .iter()
            .map(|u| u.listing)
            .find(|l| l.first_line <= f.line && f.line < l.first_line + l.code.lines().count());
        !listing.is_some_and(|l| crate::code::shown_as_wrong(l.code, f.line - l.first_line))
    });
    out.sort_by_key(|f| (f.line, f.column));
    Ok(out)
}

/// A listing ready for the compiler.
struct Unit<'a> {
    index: usize,
    listing: &'a Listing<'a>,
    program: bool,
    /// Top-level items as (first row, last row, stays at file scope).
    items: Vec<(usize, usize, bool)>,
    /// Whether any item goes into the wrapper function.
    statements: bool,
    /// The headers it includes (`sys/socket.h`).
    includes: BTreeSet<String>,
    /// Whether the C grammar accepts it whole: a fragment with elisions (`...`) or an
    /// unbalanced brace is left out of compiling, where it would break the listings after it.
    parses: bool,
    /// Whether it declares a function (a prototype) it never defines, which only the linker
    /// can judge.
    declares_undefined: bool,
    /// Whether the grammar's errors are elisions (`...`, `…`): an abbreviated program is not
    /// built.
    elided: bool,
}

impl<'a> Unit<'a> {
    fn new(index: usize, listing: &'a Listing<'a>) -> Unit<'a> {
        let p = Parsed::plain(listing.code);
        let root = p.root();
        let mut items = Vec::new();
        let mut includes = BTreeSet::new();
        let mut program = false;
        let mut cursor = root.walk();
        for item in root.named_children(&mut cursor) {
            let kind = item.kind();
            if kind == "preproc_include" {
                if let Some(path) = item.child_by_field_name("path") {
                    includes.insert(
                        p.text(path)
                            .trim_matches(|c| c == '<' || c == '>' || c == '"')
                            .to_owned(),
                    );
                }
            }
            if kind == "function_definition" && function_name(&p, item) == Some("main") {
                program = true;
            }
            let file_scope = kind.starts_with("preproc_")
                || matches!(
                    kind,
                    "function_definition" | "type_definition" | "comment" | "linkage_specification"
                )
                || kind == "declaration"
                    && !has_call(item)
                    && item.child_by_field_name("declarator").is_some()
                || kind == "declaration" && item.child_by_field_name("declarator").is_none()
                || matches!(
                    kind,
                    "struct_specifier" | "union_specifier" | "enum_specifier"
                );
            let (start, mut end) = (item.start_position().row, item.end_position().row);
            if item.end_position().column == 0 && end > start {
                end -= 1;
            }
            items.push((start, end, file_scope));
        }
        let statements = !program && items.iter().any(|(_, _, file_scope)| !file_scope);
        let parses = !root.has_error();
        let declares_undefined = {
            let named = |n: tree_sitter::Node<'_>| function_name(&p, n).map(str::to_owned);
            let nodes = p.nodes();
            let defined: HashSet<String> = nodes
                .iter()
                .filter(|n| n.kind() == "function_definition")
                .filter_map(|n| named(*n))
                .collect();
            nodes
                .iter()
                .filter(|n| n.kind() == "declaration")
                .filter_map(|n| named(*n))
                .any(|f| !defined.contains(&f) && header_of(&f).is_none())
        };
        let elided = !parses
            && p.nodes().iter().any(|n| {
                (n.is_error() || n.is_missing())
                    && (p.text(*n).contains("...") || p.text(*n).contains('…'))
            });
        Unit {
            index,
            listing,
            program,
            items,
            statements,
            includes,
            parses,
            elided,
            declares_undefined,
        }
    }

    fn line(&self, row: usize) -> String {
        format!(
            "#line {} \"L{}\"\n",
            self.listing.first_line + row,
            self.index
        )
    }

    fn rows(&self, start: usize, end: usize) -> String {
        let mut s: String = self
            .listing
            .code
            .lines()
            .skip(start)
            .take(end + 1 - start)
            .collect::<Vec<_>>()
            .join("\n");
        s.push('\n');
        s
    }

    fn program_source(&self) -> String {
        format!("{}{}\n", self.line(0), self.listing.code)
    }

    fn fragment_source(&self) -> String {
        if !self.statements {
            return self.program_source();
        }
        let mut outside = String::new();
        let mut body = String::new();
        for &(start, end, file_scope) in &self.items {
            let target = if file_scope { &mut outside } else { &mut body };
            target.push_str(&self.line(start));
            target.push_str(&self.rows(start, end));
        }
        format!(
            "{outside}void __listing_{}(void) {{\n{body}}}\n",
            self.index
        )
    }

    /// A program's findings: every error of its build, a function nothing defines as the
    /// linker's undefined reference (from the build, or from the lenient link).
    fn program_findings(&self, file: &str, build: &str, link: &str) -> Vec<Finding> {
        let undefined: BTreeSet<String> = build
            .lines()
            .chain(link.lines())
            .filter_map(|l| {
                l.split("undefined reference to `")
                    .nth(1)?
                    .split('\'')
                    .next()
                    .map(str::to_owned)
            })
            .collect();
        let mut out: Vec<Finding> = Vec::new();
        let mut seen = HashSet::new();
        // A name the listing's own includes should have declared, or one the compiler takes
        // for a typo ("did you mean"), is no missing header: it keeps the compiler's words.
        for mut d in diagnostics(build, self.index) {
            let header = match &d.kind {
                Kind::Needs(name) if undefined.contains(name) => {
                    d.words = format!("undefined reference to `{name}'");
                    d.kind = Kind::Undefined(name.clone());
                    None
                }
                Kind::Needs(name) => header_of(name)
                    .filter(|h| !self.includes.contains(*h) && !d.words.contains("did you mean")),
                Kind::Incomplete => self.struct_header(d.line).map(|(name, h)| {
                    d.kind = Kind::Needs(name);
                    h
                }),
                _ => None,
            };
            if let Some(f) = self.finding(file, &d, header) {
                if seen.insert(
                    header.map_or_else(|| (f.line, f.message.en.clone()), |h| (0, h.to_owned())),
                ) {
                    out.push(f);
                }
            }
        }
        // A function declared (so no implicit declaration) but defined nowhere.
        for name in undefined {
            let Some((line, column)) = self.first_call(&name) else {
                continue;
            };
            let d = Diagnostic {
                line,
                column,
                words: format!("undefined reference to `{name}'"),
                kind: Kind::Undefined(name),
            };
            if let Some(f) = self.finding(file, &d, None) {
                if !out.iter().any(|o| o.message.en == f.message.en) {
                    out.push(f);
                }
            }
        }
        out
    }

    /// A fragment's findings from the assembled text (and, for conflicts, its own check):
    /// only the kinds no surrounding program can explain.
    fn fragment_findings(
        &self,
        file: &str,
        assembled: Vec<Diagnostic>,
        alone: Option<Vec<Diagnostic>>,
        included: &HashSet<String>,
    ) -> Vec<Finding> {
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        for mut d in assembled {
            let header = match &d.kind {
                Kind::Needs(name) => match header_of(name) {
                    Some(h) if !included.contains(h) && !d.words.contains("did you mean") => {
                        Some(h)
                    }
                    _ => continue,
                },
                Kind::Incomplete => match self.struct_header(d.line) {
                    Some((name, h)) if !included.contains(h) => {
                        d.kind = Kind::Needs(name);
                        Some(h)
                    }
                    _ => continue,
                },
                Kind::Conflict => {
                    let own = alone
                        .iter()
                        .flatten()
                        .any(|a| a.line == d.line && a.kind == Kind::Conflict);
                    if !own {
                        continue;
                    }
                    None
                }
                Kind::Member | Kind::Pointer | Kind::IntConversion | Kind::ArgCount => None,
                Kind::Other | Kind::Undefined(_) => continue,
            };
            if let Some(f) = self.finding(file, &d, header) {
                if seen.insert(
                    header.map_or_else(|| (f.line, f.message.en.clone()), |h| (0, h.to_owned())),
                ) {
                    out.push(f);
                }
            }
        }
        out
    }

    /// The document line and byte column of the first call to `name` in the listing.
    fn first_call(&self, name: &str) -> Option<(usize, usize)> {
        let p = Parsed::plain(self.listing.code);
        let nodes = p.nodes();
        let call = nodes
            .iter()
            .find(|n| crate::code::tree::call_name(&p, **n) == Some(name))?;
        let at = call.start_position();
        Some((self.listing.first_line + at.row, at.column + 1))
    }

    /// The header of a `struct sockaddr_in`-like type named on a line the compiler found
    /// incomplete (`storage size of 'addr' isn't known` names the variable, not the type).
    fn struct_header(&self, line: usize) -> Option<(String, &'static str)> {
        let text = self
            .listing
            .code
            .lines()
            .nth(line.checked_sub(self.listing.first_line)?)?;
        let mut words = text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'));
        while let Some(w) = words.next() {
            if w == "struct" {
                if let Some(name) = words.find(|w| !w.is_empty()) {
                    if let Some(h) = header_of(name) {
                        return Some((format!("struct {name}"), h));
                    }
                }
            }
        }
        None
    }

    /// The finding for one diagnostic at this listing's line, or none when its line is not
    /// the listing's.
    fn finding(&self, file: &str, d: &Diagnostic, header: Option<&str>) -> Option<Finding> {
        let row = d.line.checked_sub(self.listing.first_line)?;
        let text = self.listing.code.lines().nth(row)?;
        let column = text
            .get(..d.column.saturating_sub(1))
            .map_or(1, |p| p.chars().count() + 1);
        let (message, correction) = match (&d.kind, header) {
            (Kind::Needs(name), Some(h)) => (
                Text {
                    ko: format!("이 코드는 {name}을(를) 쓰지만 <{h}>를 include하지 않아 컴파일되지 않습니다 (cc: {})", d.words),
                    en: format!("The listing uses {name} but never includes <{h}>, so it does not compile (cc: {})", d.words),
                },
                Some(Text { ko: format!("#include <{h}>"), en: format!("#include <{h}>") }),
            ),
            (Kind::Undefined(name), _) => (
                Text {
                    ko: format!(
                        "{name}()를 호출하지만 어디에도 정의되어 있지 않아 링크되지 않습니다 (ld: {}). 정의를 코드에 넣거나, 정의가 있는 코드를 가리킵니다",
                        d.words
                    ),
                    en: format!(
                        "The program calls {name}() but nothing defines it, so it does not link (ld: {}). Add its definition, or point to the listing that has it",
                        d.words
                    ),
                },
                None,
            ),
            // What glibc has, or the call's prototype, explains the error; the replacement
            // line is the author's to write.
            (Kind::Member, _) => (
                with_reference(
                    Text {
                        ko: format!("glibc의 구조체에 없는 멤버를 씁니다 (cc: {})", d.words),
                        en: format!("The listing uses a struct member glibc does not have (cc: {})", d.words),
                    },
                    fixes::members(&d.words),
                ),
                None,
            ),
            (Kind::ArgCount, _) => (
                with_reference(
                    Text {
                        ko: format!("인자 수가 맞지 않아 컴파일되지 않습니다 (cc: {})", d.words),
                        en: format!(
                            "The call has the wrong number of arguments, so it does not compile (cc: {})",
                            d.words
                        ),
                    },
                    fixes::prototype(&d.words),
                ),
                None,
            ),
            (Kind::Pointer, _) => (
                Text {
                    ko: format!("호환되지 않는 포인터 형식이라 GCC 14부터는 컴파일되지 않습니다 (cc: {})", d.words),
                    en: format!("Incompatible pointer types: an error since GCC 14 (cc: {})", d.words),
                },
                fixes::cast(&d.words),
            ),
            _ => (
                Text {
                    ko: format!("이 코드는 컴파일되지 않습니다 (cc: {})", d.words),
                    en: format!("The listing does not compile (cc: {})", d.words),
                },
                None,
            ),
        };
        Some(Finding {
            file: file.to_owned(),
            line: d.line,
            column,
            end_line: d.line,
            end_column: text.chars().count() + 1,
            origin: Origin::Compile,
            rule: "c-compile".to_owned(),
            fact: None,
            severity: Severity::Error,
            message,
            correction,
            excerpt: text.trim().to_owned(),
        })
    }
}

/// The name a function definition or prototype declares (through pointer declarators).
fn function_name<'p>(p: &'p Parsed, node: tree_sitter::Node<'_>) -> Option<&'p str> {
    let mut d = node.child_by_field_name("declarator");
    let mut through_function = false;
    while let Some(n) = d {
        match n.kind() {
            "identifier" => return through_function.then(|| &p.src[n.byte_range()]),
            "function_declarator" => through_function = true,
            _ => {}
        }
        d = n.child_by_field_name("declarator");
    }
    None
}

/// A message followed by its reference (`struct sockaddr_in has: …`), when there is one.
fn with_reference(message: Text, reference: Option<Text>) -> Text {
    match reference {
        Some(r) => Text {
            ko: format!("{}. {}", message.ko, r.ko),
            en: format!("{}. {}", message.en, r.en),
        },
        None => message,
    }
}

fn has_call(node: tree_sitter::Node<'_>) -> bool {
    if node.kind() == "call_expression" {
        return true;
    }
    let mut cursor = node.walk();
    let found = node.named_children(&mut cursor).any(has_call);
    found
}

/// One compiler run to make.
struct Spec {
    name: String,
    source: String,
    mode: Mode,
}

/// Runs the compiler on every spec, a few at a time (twice the CPUs: a document of hundreds of
/// listings must not start hundreds of compilers), and returns their diagnostics in order.
fn run_all(cc: &str, dir: &Path, specs: Vec<Spec>) -> Result<Vec<String>, CompileError> {
    let limit = std::thread::available_parallelism().map_or(2, |n| n.get() * 2);
    let mut out = Vec::with_capacity(specs.len());
    let mut running = std::collections::VecDeque::new();
    for spec in specs {
        if running.len() >= limit {
            let job: Job = running.pop_front().expect("a running job");
            out.push(job.finish()?);
        }
        running.push_back(Job::new(cc, dir, &spec.name, &spec.source, spec.mode)?);
    }
    for job in running {
        out.push(job.finish()?);
    }
    Ok(out)
}

/// What a compiler run does.
#[derive(Clone, Copy)]
enum Mode {
    /// `-fsyntax-only` with the strict flags.
    Syntax,
    /// Compile and link with every diagnostic a hidden warning: undefined references only.
    Link,
}

/// A running compiler.
struct Job {
    child: Child,
    started: Instant,
    args: String,
}

impl Job {
    fn new(
        cc: &str,
        dir: &Path,
        name: &str,
        source: &str,
        mode: Mode,
    ) -> Result<Job, CompileError> {
        let src = dir.join(format!("{name}.c"));
        std::fs::write(&src, source).map_err(CompileError::Io)?;
        let mut cmd = Command::new(cc);
        cmd.env("LC_ALL", "C")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        match mode {
            Mode::Syntax => cmd.args(FLAGS).arg("-fsyntax-only").arg(&src),
            // The libraries after the source, as the linker resolves left to right.
            Mode::Link => cmd
                .args(LINK_FLAGS)
                .arg("-o")
                .arg(dir.join(name))
                .arg(&src)
                .args(LIBRARIES),
        };
        // Its own process group, so that a run past its time is killed with the compiler
        // proper (cc1) and the assembler it started.
        cmd.process_group(0);
        let child = cmd.spawn().map_err(CompileError::Io)?;
        Ok(Job {
            child,
            started: Instant::now(),
            args: format!("{cc} {}", src.display()),
        })
    }

    /// Waits (bounded by [`CC_TIMEOUT`]) and returns what the compiler wrote to stderr.
    fn finish(mut self) -> Result<String, CompileError> {
        let mut stderr = self.child.stderr.take().expect("stderr is piped");
        let reader = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            text
        });
        loop {
            if self.child.try_wait().map_err(CompileError::Io)?.is_some() {
                break;
            }
            if self.started.elapsed() > CC_TIMEOUT {
                self.stop();
                return Err(CompileError::Io(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!("{} took longer than {CC_TIMEOUT:?}", self.args),
                )));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        Ok(reader.join().unwrap_or_default())
    }

    /// Kills the run's process group and reaps the compiler.
    fn stop(&mut self) {
        let group = Pid::from_raw(i32::try_from(self.child.id()).unwrap_or(i32::MAX));
        let _ = killpg(group, Signal::SIGKILL);
        let _ = self.child.wait();
    }
}

/// A run abandoned (another run failed first) is stopped, not left behind.
impl Drop for Job {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            self.stop();
        }
    }
}

/// What kind of trouble a diagnostic reports.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Kind {
    /// A name declared by a header the listing lacks (function, type, macro, struct).
    Needs(String),
    /// A variable of a struct type no header declared (the words name the variable).
    Incomplete,
    /// A function nothing defines (the linker's undefined reference).
    Undefined(String),
    Member,
    Conflict,
    Pointer,
    IntConversion,
    ArgCount,
    Other,
}

#[derive(Debug)]
struct Diagnostic {
    line: usize,
    column: usize,
    kind: Kind,
    /// The compiler's own words.
    words: String,
}

/// The errors of one compiler run that sit on listing `index`'s lines.
fn diagnostics(stderr: &str, index: usize) -> Vec<Diagnostic> {
    let prefix = format!("L{index}:");
    let mut out = Vec::new();
    for line in stderr.lines() {
        let Some(rest) = line.strip_prefix(&prefix) else {
            continue;
        };
        let mut parts = rest.splitn(3, ':');
        let (Some(l), Some(c), Some(msg)) = (parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        let (Ok(l), Ok(c)) = (l.parse::<usize>(), c.parse::<usize>()) else {
            continue;
        };
        let Some(words) = msg.trim().strip_prefix("error: ") else {
            continue;
        };
        let words = words.trim().to_owned();
        out.push(Diagnostic {
            line: l,
            column: c,
            kind: classify(&words),
            words,
        });
    }
    out
}

/// The first quoted name in a diagnostic (`'htons'`).
fn quoted(words: &str) -> Option<&str> {
    words.split('\'').nth(1)
}

fn classify(words: &str) -> Kind {
    let name = quoted(words).unwrap_or_default();
    if words.starts_with("implicit declaration of function")
        || words.starts_with("unknown type name")
        || words.contains("undeclared")
        || words.starts_with("invalid application of 'sizeof' to incomplete type")
    {
        Kind::Needs(name.trim_start_matches("struct ").to_owned())
    } else if words.starts_with("storage size of")
        || words.contains("has initializer but incomplete type")
    {
        Kind::Incomplete
    } else if words.contains("has no member named") {
        Kind::Member
    } else if words.starts_with("conflicting types for") {
        Kind::Conflict
    } else if words.contains("incompatible pointer type") {
        Kind::Pointer
    } else if words.contains("without a cast") || words.contains("-Werror=int-conversion") {
        Kind::IntConversion
    } else if words.starts_with("too many arguments") || words.starts_with("too few arguments") {
        Kind::ArgCount
    } else {
        Kind::Other
    }
}
