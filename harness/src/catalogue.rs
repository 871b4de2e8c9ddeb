//! The catalogue, in two parts. A **fact** (`fixtures/facts/<section>.toml`) is kernel
//! knowledge, written once: its statement, man-page references, the kernels it is about, and the
//! rules that know how it is commonly misstated (read by the runner's document check). A
//! **claim** (`fixtures/claims/<document>.toml`) is a place in a course document: its words, the
//! facts it rests on, the verdict on the words and the correction. Loading validates both and
//! reports every problem at once, each naming the file, the entry and the field. Which tests
//! prove a fact is not written here: a test names its facts in its body (`claim("…")`,
//! `.and("…")`), and [`TestIndex`] reads them.

use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use crate::kernel::{Scope, Version};

/// The id prefixes, in the order the report shows them, with a title for each.
pub const SECTIONS: [(&str, &str); 6] = [
    ("fundamentals", "Socket fundamentals (07-02)"),
    ("tcp", "TCP programming (07-10)"),
    ("udp", "UDP and raw sockets (07-11)"),
    ("options", "Socket options and debugging (07-12)"),
    ("unix", "Unix domain sockets and fd passing (07-12)"),
    ("advanced", "Advanced topics (overview)"),
];

/// The course documents a claim's words can come from.
pub const DOCUMENTS: [&str; 5] = [
    "07-01-overview",
    "07-02-socket-fundamentals",
    "07-10-tcp-programming",
    "07-11-udp-raw-sockets",
    "07-12-socket-options-unix",
];

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    Accurate,
    NeedsCaveat,
    Inaccurate,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Accurate => "accurate",
            Verdict::NeedsCaveat => "needs-caveat",
            Verdict::Inaccurate => "inaccurate",
        }
    }
}

/// What the claim's `course` words are. Only `course` claims carry a verdict on the course;
/// the others are checks the report shows beside them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// A sentence the chapter's overview states.
    Course,
    /// A check under a roadmap heading (the section documents are not in the course text).
    Topic,
    /// A fact the suite adds to a sentence it supplements.
    Supplement,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Course => "course",
            Kind::Topic => "topic",
            Kind::Supplement => "supplement",
        }
    }
}

/// What to publish instead of the course's words, in the course's language and in English.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Correction {
    #[serde(default)]
    pub ko: String,
    #[serde(default)]
    pub en: String,
}

/// Kernel knowledge, written once; tests name it by its id.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fact {
    pub id: String,
    pub statement: String,
    #[serde(default)]
    pub refs: Vec<String>,
    /// Why no kernel test can check the fact; such a fact has no test.
    #[serde(default)]
    pub untestable: Option<String>,
    /// The kernels the fact is about, from these versions on: a mainline release (`6.13`)
    /// covers it and every later kernel, a stable update (`6.12.9`) the rest of its series.
    /// A string or a list; absent: every version.
    #[serde(default, deserialize_with = "one_or_many")]
    pub since: Vec<String>,
    /// The kernels the fact is about end before these versions (same form as `since`).
    #[serde(default, deserialize_with = "one_or_many")]
    pub until: Vec<String>,
    /// `linux`: the fact is about Linux itself, so another implementation of its API (gVisor)
    /// may differ without that being a finding.
    #[serde(default)]
    pub on: Option<String>,
    /// The upstream commit or changelog entry that moved the `since` / `until` boundary.
    #[serde(default)]
    pub kernel_ref: Option<String>,
    /// Detectors of the fact's common misstatements (`[[fact.rule]]`); the runner's document
    /// check reads and validates them, the kit does not.
    #[serde(default)]
    pub rule: Vec<toml::Value>,
}

impl Fact {
    /// The id's first part: `fundamentals`, `tcp`, …
    pub fn section_key(&self) -> &str {
        self.id.split('.').next().unwrap_or_default()
    }

    /// The kernels the fact is about (versions that do not parse were refused at loading).
    pub fn scope(&self) -> Scope {
        scope(&self.since, &self.until, self.on.as_deref())
    }
}

/// A `since` / `until` / `on` triple as a [`Scope`].
fn scope(since: &[String], until: &[String], on: Option<&str>) -> Scope {
    let versions = |list: &[String]| list.iter().filter_map(|v| Version::parse(v)).collect();
    Scope {
        since: versions(since),
        until: versions(until),
        linux_only: on == Some("linux"),
    }
}

/// A claim as written in `fixtures/claims/<document>.toml`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    id: String,
    section: String,
    kind: Kind,
    words: String,
    facts: Vec<String>,
    verdict: Verdict,
    #[serde(default)]
    correction: Option<Correction>,
}

/// One checkable place of a course document, joined with the facts it rests on: what the
/// report, the matrix and the course check read.
#[derive(Clone, Debug)]
pub struct Claim {
    pub id: String,
    /// The course document whose topic the words belong to.
    pub section: String,
    pub kind: Kind,
    /// The document's words.
    pub course: String,
    /// The ids of the facts the claim rests on.
    pub facts: Vec<String>,
    /// The facts' statements, joined.
    pub fact: String,
    pub refs: Vec<String>,
    pub verdict: Verdict,
    pub correction: Option<Correction>,
    /// Why no kernel test can check the claim: every fact it rests on is untestable.
    pub untestable: Option<String>,
    /// The facts' kernel scope, where they agree on one (see [`Fact`]).
    pub since: Vec<String>,
    pub until: Vec<String>,
    pub on: Option<String>,
    pub kernel_ref: Option<String>,
}

/// A TOML string or list of strings, as a list.
fn one_or_many<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    match OneOrMany::deserialize(d) {
        Ok(OneOrMany::One(s)) => Ok(vec![s]),
        Ok(OneOrMany::Many(v)) => Ok(v),
        Err(_) => Err(serde::de::Error::custom(
            "must be a kernel version (\"6.13\") or a list of them",
        )),
    }
}

impl Claim {
    /// The id's first part: `fundamentals`, `tcp`, …
    pub fn section_key(&self) -> &str {
        self.id.split('.').next().unwrap_or_default()
    }

    /// The kernels the claim's facts are about (versions that do not parse were refused at
    /// loading).
    pub fn scope(&self) -> Scope {
        scope(&self.since, &self.until, self.on.as_deref())
    }

    /// Joins a claim entry with its facts (all of which exist).
    fn join(entry: Entry, facts: &[&Fact]) -> Claim {
        let agreed = |f: fn(&Fact) -> &Vec<String>| {
            let first = facts.first().map(|x| f(x).clone()).unwrap_or_default();
            if facts.iter().all(|x| *f(x) == first) {
                first
            } else {
                Vec::new()
            }
        };
        let agreed_opt = |f: fn(&Fact) -> &Option<String>| {
            let first = facts.first().and_then(|x| f(x).clone());
            facts
                .iter()
                .all(|x| *f(x) == first)
                .then_some(first)
                .flatten()
        };
        let mut refs: Vec<String> = Vec::new();
        for r in facts.iter().flat_map(|f| &f.refs) {
            if !refs.contains(r) {
                refs.push(r.clone());
            }
        }
        let untestable = facts
            .iter()
            .map(|f| f.untestable.clone())
            .collect::<Option<Vec<String>>>()
            .map(|why| why.join(" "));
        Claim {
            id: entry.id,
            section: entry.section,
            kind: entry.kind,
            course: entry.words,
            facts: entry.facts,
            fact: facts
                .iter()
                .map(|f| f.statement.as_str())
                .collect::<Vec<_>>()
                .join(" "),
            refs,
            verdict: entry.verdict,
            correction: entry.correction,
            untestable,
            since: agreed(|f| &f.since),
            until: agreed(|f| &f.until),
            on: agreed_opt(|f| &f.on),
            kernel_ref: agreed_opt(|f| &f.kernel_ref),
        }
    }
}

/// The kernels fact `id` is stated for (its `since`, `until`, `on`), so that a test of a fact
/// that changed between kernels asserts what the catalogue says this kernel does.
///
/// Panics when the catalogue cannot be loaded or has no such fact; `claim(id).run(…)` has
/// already refused both before a body runs.
pub fn scope_of(id: &str) -> Scope {
    let catalogue = shared().unwrap_or_else(|e| panic!("{e}"));
    catalogue
        .fact(id)
        .unwrap_or_else(|| panic!("unknown fact id {id}"))
        .scope()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FactFile {
    #[serde(default)]
    fact: Vec<Fact>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClaimFile {
    #[serde(default)]
    claim: Vec<Entry>,
}

#[derive(Clone, Debug)]
pub struct Catalogue {
    pub facts: Vec<Fact>,
    pub claims: Vec<Claim>,
}

/// `$SOCKET_CLAIMS_CATALOGUE`, else `fixtures` of this workspace: the directory holding
/// `facts/` and `claims/` (a test binary run elsewhere, such as in a kernel-matrix VM, is told
/// where its copy is).
pub fn default_dir() -> PathBuf {
    std::env::var_os("SOCKET_CLAIMS_CATALOGUE")
        .map(PathBuf::from)
        .unwrap_or_else(|| crate::workspace::root().join("fixtures"))
}

/// The workspace catalogue, loaded once per process.
pub fn shared() -> Result<&'static Catalogue, String> {
    static CATALOGUE: OnceLock<Result<Catalogue, String>> = OnceLock::new();
    CATALOGUE
        .get_or_init(|| Catalogue::load(&default_dir()))
        .as_ref()
        .map_err(Clone::clone)
}

/// The `*.toml` files of `dir`, sorted, each with its text; unreadable ones are problems.
fn toml_files(dir: &Path, problems: &mut Vec<String>) -> Vec<(PathBuf, String)> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) => {
            problems.push(format!("{}: {e}", display_path(dir)));
            return Vec::new();
        }
    };
    let mut files: Vec<PathBuf> = Vec::new();
    for path in entries.filter_map(|e| e.ok().map(|e| e.path())) {
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        if path.extension().is_some_and(|x| x == "toml") {
            files.push(path);
        } else if name.to_ascii_lowercase().contains(".toml") {
            // `udp.TOML`, `tcp.toml.bak`: meant as a catalogue file, and its entries would be
            // dropped without a word.
            problems.push(format!(
                "{}: file name: not read (the catalogue reads <name>.toml files only)",
                display_path(&path)
            ));
        }
    }
    files.sort();
    if files.is_empty() {
        problems.push(format!("{}: no *.toml files", display_path(dir)));
    }
    files
        .into_iter()
        .filter_map(|path| match fs::read_to_string(&path) {
            Ok(text) => Some((path, text)),
            Err(e) => {
                problems.push(format!("{}: {e}", display_path(&path)));
                None
            }
        })
        .collect()
}

impl Catalogue {
    /// Loads and validates `dir/facts/*.toml` and `dir/claims/*.toml`. The error lists every
    /// problem found.
    pub fn load(dir: &Path) -> Result<Catalogue, String> {
        let mut problems = Vec::new();
        let mut facts: Vec<Fact> = Vec::new();
        let mut seen = HashSet::new();
        for (path, text) in toml_files(&dir.join("facts"), &mut problems) {
            let shown = display_path(&path);
            let file: FactFile = match toml::from_str(&text) {
                Ok(file) => file,
                Err(e) => {
                    problems.push(format!("{shown}: {}", e.to_string().trim_end()));
                    continue;
                }
            };
            let stem = path.file_stem().unwrap_or_default().to_string_lossy();
            if file.fact.is_empty() {
                problems.push(format!("{shown}: holds no [[fact]] (emptied?)"));
            }
            for (n, fact) in file.fact.into_iter().enumerate() {
                let at = format!("{shown}: fact #{} (id {:?})", n + 1, fact.id);
                problems.extend(
                    validate_fact(&fact, &stem)
                        .into_iter()
                        .map(|p| format!("{at}: {p}")),
                );
                if !seen.insert(fact.id.clone()) {
                    problems.push(format!("{at}: field `id`: duplicate id"));
                }
                facts.push(fact);
            }
        }
        let mut claims = Vec::new();
        let mut seen = HashSet::new();
        for (path, text) in toml_files(&dir.join("claims"), &mut problems) {
            let shown = display_path(&path);
            let file: ClaimFile = match toml::from_str(&text) {
                Ok(file) => file,
                Err(e) => {
                    problems.push(format!("{shown}: {}", e.to_string().trim_end()));
                    continue;
                }
            };
            let stem = path.file_stem().unwrap_or_default().to_string_lossy();
            if !DOCUMENTS.contains(&stem.as_ref()) {
                problems.push(format!(
                    "{shown}: file name: {stem}.toml is not a course document ({})",
                    DOCUMENTS.join(", ")
                ));
            }
            if file.claim.is_empty() {
                problems.push(format!("{shown}: holds no [[claim]] (emptied?)"));
            }
            for (n, entry) in file.claim.into_iter().enumerate() {
                let at = format!("{shown}: claim #{} (id {:?})", n + 1, entry.id);
                let found: Vec<&Fact> = entry
                    .facts
                    .iter()
                    .filter_map(|id| facts.iter().find(|f| f.id == *id))
                    .collect();
                let mut wrong = validate_claim(&entry);
                for id in &entry.facts {
                    if !found.iter().any(|f| f.id == *id) {
                        wrong.push(format!(
                            "field `facts`: {id:?} is not a fact in fixtures/facts/*.toml"
                        ));
                    }
                }
                if !seen.insert(entry.id.clone()) {
                    wrong.push("field `id`: duplicate id".into());
                }
                problems.extend(wrong.into_iter().map(|p| format!("{at}: {p}")));
                claims.push(Claim::join(entry, &found));
            }
        }
        if problems.is_empty() {
            let order = |c: &Claim| SECTIONS.iter().position(|(s, _)| *s == c.section_key());
            claims.sort_by_key(|c| order(c));
            Ok(Catalogue { facts, claims })
        } else {
            Err(problems.join("\n"))
        }
    }

    pub fn get(&self, id: &str) -> Option<&Claim> {
        self.claims.iter().find(|c| c.id == id)
    }

    pub fn fact(&self, id: &str) -> Option<&Fact> {
        self.facts.iter().find(|f| f.id == id)
    }

    /// An error naming every id that is not a fact of the catalogue.
    pub fn check_ids(&self, ids: &[&str]) -> Result<(), String> {
        let unknown: Vec<&str> = ids
            .iter()
            .copied()
            .filter(|id| self.fact(id).is_none())
            .collect();
        if unknown.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "unknown fact id {} (not in fixtures/facts/*.toml)",
                unknown.join(", ")
            ))
        }
    }
}

fn validate_fact(fact: &Fact, stem: &str) -> Vec<String> {
    let mut problems = Vec::new();
    if !well_formed_id(&fact.id) {
        problems.push(
            "field `id`: must be <section>.<topic>.<slug> in lowercase letters, digits and '-'"
                .to_string(),
        );
    } else if fact.section_key() != stem {
        problems.push(format!(
            "field `id`: starts with {:?} but the file is {stem}.toml",
            fact.section_key()
        ));
    }
    if !SECTIONS.iter().any(|(s, _)| *s == stem) {
        problems.push(format!(
            "file name: {stem}.toml is not a section ({})",
            SECTIONS.map(|(s, _)| s).join(", ")
        ));
    }
    if fact.statement.trim().is_empty() {
        problems.push("field `statement`: empty".into());
    }
    if fact
        .untestable
        .as_deref()
        .is_some_and(|w| w.trim().is_empty())
    {
        problems.push("field `untestable`: say why no kernel test can check it".into());
    }
    if fact.untestable.is_none() && fact.refs.is_empty() {
        problems.push("field `refs`: name at least one man page".into());
    }
    for (field, list) in [("since", &fact.since), ("until", &fact.until)] {
        for v in list {
            let parts: Vec<&str> = v.split('.').collect();
            let numeric = parts
                .iter()
                .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
            if !(numeric && (2..=3).contains(&parts.len())) {
                problems.push(format!(
                    "field `{field}`: {v:?} is not a kernel version (\"6.13\" for a release, \
                     \"6.12.9\" for a stable update)"
                ));
            }
        }
    }
    if let Some(on) = fact.on.as_deref().filter(|on| *on != "linux") {
        problems.push(format!("field `on`: {on:?} is not \"linux\""));
    }
    let bounded = !fact.since.is_empty() || !fact.until.is_empty();
    match (&fact.kernel_ref, bounded) {
        (None, true) => problems.push(
            "field `kernel_ref`: required with since / until: the commit or changelog that \
             moved the boundary"
                .into(),
        ),
        (Some(_), false) => problems.push("field `kernel_ref`: only with since or until".into()),
        (Some(r), true) if r.trim().is_empty() => problems.push("field `kernel_ref`: empty".into()),
        _ => {}
    }
    problems
}

fn validate_claim(entry: &Entry) -> Vec<String> {
    let mut problems = Vec::new();
    if !well_formed_id(&entry.id) {
        problems.push(
            "field `id`: must be <section>.<topic>.<slug> in lowercase letters, digits and '-'"
                .to_string(),
        );
    } else if !SECTIONS
        .iter()
        .any(|(s, _)| entry.id.starts_with(&format!("{s}.")))
    {
        problems.push(format!(
            "field `id`: must start with a section ({})",
            SECTIONS.map(|(s, _)| s).join(", ")
        ));
    }
    if !DOCUMENTS.contains(&entry.section.as_str()) {
        problems.push(format!(
            "field `section`: {:?} is not a course document ({})",
            entry.section,
            DOCUMENTS.join(", ")
        ));
    }
    if entry.words.trim().is_empty() {
        problems.push("field `words`: empty".into());
    }
    if entry.facts.is_empty() {
        problems.push("field `facts`: name at least one fact".into());
    }
    let needs_correction = matches!(entry.verdict, Verdict::NeedsCaveat | Verdict::Inaccurate);
    match (&entry.correction, needs_correction) {
        (None, true) => problems.push(format!(
            "field `correction`: required when verdict is {}",
            entry.verdict.as_str()
        )),
        (Some(_), false) => problems.push(format!(
            "field `correction`: only for needs-caveat or inaccurate, verdict is {}",
            entry.verdict.as_str()
        )),
        (Some(c), true) => {
            for (field, value) in [("ko", &c.ko), ("en", &c.en)] {
                if value.trim().is_empty() {
                    problems.push(format!("field `correction.{field}`: required, not empty"));
                }
            }
        }
        (None, false) => {}
    }
    problems
}

fn well_formed_id(id: &str) -> bool {
    let parts: Vec<&str> = id.split('.').collect();
    parts.len() == 3
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        })
}

fn display_path(path: &Path) -> String {
    path.strip_prefix(crate::workspace::root())
        .unwrap_or(path)
        .display()
        .to_string()
}
