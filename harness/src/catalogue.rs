//! The claim catalogue, `fixtures/claims/<section>.toml`: one entry per checkable sentence of the
//! course (or topic check, or supplementary fact), with the Linux fact and the verdict on the
//! course's words. Loading validates every entry and reports all problems at once, each naming
//! the file, the entry and the field. Which tests prove a claim is not written here: a test
//! names its claims in its body (`claim("…")`, `.and("…")`), and [`TestIndex`] reads them.

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
#[serde(deny_unknown_fields)]
pub struct Correction {
    #[serde(default)]
    pub ko: String,
    #[serde(default)]
    pub en: String,
}

/// One checkable sentence of the course.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Claim {
    pub id: String,
    pub section: String,
    pub kind: Kind,
    pub course: String,
    pub fact: String,
    pub refs: Vec<String>,
    pub verdict: Verdict,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correction: Option<Correction>,
    /// Why no kernel test can check the claim; such a claim has no test.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub untestable: Option<String>,
    /// The kernels the fact is about, from these versions on: a mainline release (`6.13`)
    /// covers it and every later kernel, a stable update (`6.12.9`) the rest of its series.
    /// A string or a list; absent: every version.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "one_or_many"
    )]
    pub since: Vec<String>,
    /// The kernels the fact is about end before these versions (same form as `since`).
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "one_or_many"
    )]
    pub until: Vec<String>,
    /// `linux`: the fact is about Linux itself, so another implementation of its API (gVisor)
    /// may differ without that being a finding.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on: Option<String>,
    /// The upstream commit or changelog entry that moved the `since` / `until` boundary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
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

    /// The kernels the fact is about (versions that do not parse were refused at loading).
    pub fn scope(&self) -> Scope {
        let versions = |list: &[String]| list.iter().filter_map(|v| Version::parse(v)).collect();
        Scope {
            since: versions(&self.since),
            until: versions(&self.until),
            linux_only: self.on.as_deref() == Some("linux"),
        }
    }
}

/// The kernels claim `id`'s fact is stated for (its `since`, `until`, `on`), so that a test of
/// a fact that changed between kernels asserts what the catalogue says this kernel does.
///
/// Panics when the catalogue cannot be loaded or has no such claim; `claim(id).run(…)` has
/// already refused both before a body runs.
pub fn scope_of(id: &str) -> Scope {
    let catalogue = shared().unwrap_or_else(|e| panic!("{e}"));
    catalogue
        .get(id)
        .unwrap_or_else(|| panic!("unknown claim id {id}"))
        .scope()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    claim: Vec<Claim>,
}

#[derive(Clone, Debug)]
pub struct Catalogue {
    pub claims: Vec<Claim>,
}

/// `$SOCKET_CLAIMS_CATALOGUE`, else `fixtures/claims` of this workspace (a test binary run
/// elsewhere, such as in a kernel-matrix VM, is told where its copy is).
pub fn default_dir() -> PathBuf {
    std::env::var_os("SOCKET_CLAIMS_CATALOGUE")
        .map(PathBuf::from)
        .unwrap_or_else(|| crate::workspace_root().join("fixtures").join("claims"))
}

/// The workspace catalogue, loaded once per process.
pub fn shared() -> Result<&'static Catalogue, String> {
    static CATALOGUE: OnceLock<Result<Catalogue, String>> = OnceLock::new();
    CATALOGUE
        .get_or_init(|| Catalogue::load(&default_dir()))
        .as_ref()
        .map_err(Clone::clone)
}

impl Catalogue {
    /// Loads and validates every `*.toml` of `dir`. The error lists every problem found.
    pub fn load(dir: &Path) -> Result<Catalogue, String> {
        let entries =
            fs::read_dir(dir).map_err(|e| format!("claim catalogue {}: {e}", dir.display()))?;
        let mut files: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect();
        files.sort();
        if files.is_empty() {
            return Err(format!(
                "claim catalogue {}: no *.toml files",
                dir.display()
            ));
        }
        let mut problems = Vec::new();
        let mut claims = Vec::new();
        let mut seen = HashSet::new();
        for path in &files {
            let shown = display_path(path);
            let text = match fs::read_to_string(path) {
                Ok(text) => text,
                Err(e) => {
                    problems.push(format!("{shown}: {e}"));
                    continue;
                }
            };
            let file: File = match toml::from_str(&text) {
                Ok(file) => file,
                Err(e) => {
                    problems.push(format!("{shown}: {}", e.to_string().trim_end()));
                    continue;
                }
            };
            let stem = path.file_stem().unwrap_or_default().to_string_lossy();
            for (n, claim) in file.claim.into_iter().enumerate() {
                let at = format!("{shown}: claim #{} (id {:?})", n + 1, claim.id);
                problems.extend(
                    validate(&claim, &stem)
                        .into_iter()
                        .map(|p| format!("{at}: {p}")),
                );
                if !seen.insert(claim.id.clone()) {
                    problems.push(format!("{at}: field `id`: duplicate id"));
                }
                claims.push(claim);
            }
        }
        if problems.is_empty() {
            let order = |c: &Claim| SECTIONS.iter().position(|(s, _)| *s == c.section_key());
            claims.sort_by_key(|c| order(c));
            Ok(Catalogue { claims })
        } else {
            Err(problems.join("\n"))
        }
    }

    pub fn get(&self, id: &str) -> Option<&Claim> {
        self.claims.iter().find(|c| c.id == id)
    }

    /// An error naming every id that is not in the catalogue.
    pub fn check_ids(&self, ids: &[&str]) -> Result<(), String> {
        let unknown: Vec<&str> = ids
            .iter()
            .copied()
            .filter(|id| self.get(id).is_none())
            .collect();
        if unknown.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "unknown claim id {} (not in fixtures/claims/*.toml)",
                unknown.join(", ")
            ))
        }
    }
}

fn validate(claim: &Claim, stem: &str) -> Vec<String> {
    let mut problems = Vec::new();
    if !well_formed_id(&claim.id) {
        problems.push(
            "field `id`: must be <section>.<topic>.<slug> in lowercase letters, digits and '-'"
                .to_string(),
        );
    } else if claim.section_key() != stem {
        problems.push(format!(
            "field `id`: starts with {:?} but the file is {stem}.toml",
            claim.section_key()
        ));
    }
    if !SECTIONS.iter().any(|(s, _)| *s == stem) {
        problems.push(format!(
            "file name: {stem}.toml is not a section ({})",
            SECTIONS.map(|(s, _)| s).join(", ")
        ));
    }
    if !DOCUMENTS.contains(&claim.section.as_str()) {
        problems.push(format!(
            "field `section`: {:?} is not a course document ({})",
            claim.section,
            DOCUMENTS.join(", ")
        ));
    }
    for (field, value) in [("course", &claim.course), ("fact", &claim.fact)] {
        if value.trim().is_empty() {
            problems.push(format!("field `{field}`: empty"));
        }
    }
    let needs_correction = matches!(claim.verdict, Verdict::NeedsCaveat | Verdict::Inaccurate);
    match (&claim.correction, needs_correction) {
        (None, true) => problems.push(format!(
            "field `correction`: required when verdict is {}",
            claim.verdict.as_str()
        )),
        (Some(_), false) => problems.push(format!(
            "field `correction`: only for needs-caveat or inaccurate, verdict is {}",
            claim.verdict.as_str()
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
    if claim
        .untestable
        .as_deref()
        .is_some_and(|w| w.trim().is_empty())
    {
        problems.push("field `untestable`: say why no kernel test can check it".into());
    }
    if claim.untestable.is_none() && claim.refs.is_empty() {
        problems.push("field `refs`: name at least one man page".into());
    }
    for (field, list) in [("since", &claim.since), ("until", &claim.until)] {
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
    if let Some(on) = claim.on.as_deref().filter(|on| *on != "linux") {
        problems.push(format!("field `on`: {on:?} is not \"linux\""));
    }
    let bounded = !claim.since.is_empty() || !claim.until.is_empty();
    match (&claim.kernel_ref, bounded) {
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
    path.strip_prefix(crate::workspace_root())
        .unwrap_or(path)
        .display()
        .to_string()
}
