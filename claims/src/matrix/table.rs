//! The matrix report: for each kernel how its run went, for each claim its status under each
//! kernel (statuses from [`crate::report::build`], the same as `cargo claims`), listing first
//! the claims whose outcome differs between kernels.

use std::fmt::Write as _;

use serde::Serialize;

use crate::index::TestIndex;
use crate::junit;
use crate::report::{self, Status};
use harness::catalogue::{Catalogue, Claim, Verdict};
use harness::kernel::Running;
use harness::record::Record;

/// How the run under one kernel went.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "kebab-case")]
pub enum RunStatus {
    /// The suite ran to its end (tests may have failed: those are findings).
    Ran,
    /// Killed after its time bound.
    Hung,
    /// The kernel panicked.
    Panicked,
    /// The kernel could not be fetched or booted, or its evidence was unreadable.
    Error,
    /// Not run on this machine for a missing privilege or tool (gVisor without runsc, or
    /// without root where rootless runsc fails): visible, with the reason, and not an error.
    Skipped,
}

impl RunStatus {
    pub fn label(self) -> &'static str {
        match self {
            RunStatus::Ran => "ran",
            RunStatus::Hung => "HUNG",
            RunStatus::Panicked => "KERNEL PANIC",
            RunStatus::Error => "ERROR",
            RunStatus::Skipped => "skipped",
        }
    }
}

/// A test binary's exit code under a kernel.
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct SuiteExit {
    /// The test binary (`tests/<name>.rs`).
    pub name: String,
    /// Its exit code (101: a test failed; -1: killed or no code).
    pub exit: i32,
}

/// Claim counts under one kernel.
#[derive(Clone, Debug, Default, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct Counts {
    /// The kernel's claims by status.
    pub holds: usize,
    pub fails: usize,
    pub inconclusive: usize,
    pub skipped: usize,
    pub untestable: usize,
    pub pending: usize,
    pub not_run: usize,
}

/// One kernel of the matrix.
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct KernelRun {
    /// The kernel's `name` in fixtures/kernels.toml.
    pub name: String,
    /// Where it came from, in words (host, a Debian package, an image, gVisor).
    pub source: String,
    /// `uname -r` where the suite ran (from the guest, for a VM; `runsc --version` for gVisor).
    pub release: Option<String>,
    /// The Debian package the kernel came from, and its version (the upstream version, which
    /// `uname -r` of a Debian 6.1 kernel does not show).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub package: Option<String>,
    /// The Debian package's version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub package_version: Option<String>,
    /// The kernel as the catalogue's `since` / `until` / `on` judge it; unknown: every fact
    /// is taken to apply.
    #[serde(skip)]
    pub running: Option<Running>,
    /// Its version, as judged (Debian's upstream version where the release hides it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    pub status: RunStatus,
    /// Why it did not run, or what went wrong.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// `native`, `kvm`, `tcg`, or gVisor's platform (`ptrace`; `ptrace, rootless` for a user
    /// who is not root).
    pub accel: String,
    /// Wall time of booting, running and powering off (or of the native run).
    pub seconds: f64,
    /// Wall time of fetching the kernel (when not cached) and packing its initramfs.
    pub prepare_seconds: f64,
    /// Seconds from the guest kernel's start to its /init.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub boot_seconds: Option<f64>,
    /// Each test binary's exit code.
    pub suites: Vec<SuiteExit>,
    /// What the report should mention (a module that did not load, the bench missing).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// The kernel's claims by status.
    pub counts: Counts,
    /// What the guest's `claims bench` wrote (also `matrix/<kernel>/bench.json`).
    #[serde(skip)]
    pub bench: Option<crate::bench::BenchFile>,
}

impl KernelRun {
    /// A kernel that could not run at all.
    pub fn failed(name: &str, source: String, status: RunStatus, detail: String) -> KernelRun {
        KernelRun {
            name: name.to_string(),
            source,
            release: None,
            package: None,
            package_version: None,
            running: None,
            version: None,
            status,
            detail: Some(detail),
            accel: String::new(),
            seconds: 0.0,
            prepare_seconds: 0.0,
            boot_seconds: None,
            suites: Vec::new(),
            notes: Vec::new(),
            counts: Counts::default(),
            bench: None,
        }
    }
}

#[derive(Clone, Debug, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct KernelStatus {
    /// The kernel's `name`.
    pub kernel: String,
    pub status: Status,
    /// Why it fails or was not checked there.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The claim's fact is stated for this kernel (its `since` / `until` / `on` include it).
    pub in_scope: bool,
}

#[derive(Clone, Debug, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct ClaimRow {
    /// The claim id.
    pub id: String,
    /// The verdict on the course's words.
    pub verdict: Verdict,
    /// The kernels that ran disagree on this claim.
    pub differs: bool,
    /// The kernels the fact is stated for disagree, one holding and another failing: an
    /// unexpected difference, shown first.
    pub finding: bool,
    /// The only differences are between the kernels the fact is stated for and the others,
    /// as the catalogue's `since` / `until` / `on` say.
    pub documented: bool,
    /// The claim's kernel scope and its upstream reference, when it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// One per kernel, in the order of `kernels`.
    pub statuses: Vec<KernelStatus>,
}

#[derive(Clone, Debug, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct Matrix {
    /// Every kernel of the list, in its order, with how its run went.
    pub kernels: Vec<KernelRun>,
    /// How many claims (the first ones of `claims`) differ between kernels.
    pub differing: usize,
    /// How many of them are findings (first) and how many differ as documented (next).
    pub findings: usize,
    /// How many differ as documented (after the findings).
    pub documented: usize,
    /// Every claim: those that differ first (findings, then as documented), then the rest.
    pub claims: Vec<ClaimRow>,
    /// One JUnit testsuite per kernel (`target/claims/matrix-junit.xml`).
    #[serde(skip)]
    pub junit: Vec<junit::Suite>,
}

/// Judges each kernel's evidence against the catalogue and lines the kernels up claim by claim.
pub fn build(
    catalogue: &Catalogue,
    index: &TestIndex,
    runs: Vec<(KernelRun, Vec<Record>)>,
) -> Matrix {
    let mut kernels = Vec::new();
    let mut columns = Vec::new();
    let mut suites = Vec::new();
    for (mut run, records) in runs {
        let mut report = report::build(
            catalogue,
            index,
            &records,
            None,
            harness::privileges::Privileges::current(),
            String::new(),
        );
        // The speed claims take the guest's bench status, as the host report takes the host's.
        if let (Some(bench), Some(release)) = (&run.bench, &run.release) {
            report.kernel = release.clone();
            crate::speed::apply(&mut report, Some(bench), report::Lang::En);
        }
        let column = column(&report);
        run.counts = Counts::of(&column);
        suites.push(junit_suite(&run, &report));
        columns.push(column);
        kernels.push(run);
    }
    let mut claims: Vec<ClaimRow> = catalogue
        .claims
        .iter()
        .enumerate()
        .map(|(i, claim)| claim_row(claim, i, &kernels, &columns))
        .collect();
    // A stable sort keeps catalogue order within each group.
    claims.sort_by_key(|c| (!c.finding, !c.documented, !c.differs));
    let differing = claims.iter().filter(|c| c.differs).count();
    Matrix {
        kernels,
        differing,
        findings: claims.iter().filter(|c| c.finding).count(),
        documented: claims.iter().filter(|c| c.documented).count(),
        claims,
        junit: suites,
    }
}

/// Each claim's status and reason on one kernel, in catalogue order.
fn column(report: &report::Report) -> Vec<(Status, Option<String>)> {
    report
        .claims
        .iter()
        .map(|c| {
            let reason = c.reason.clone().filter(|_| c.status != Status::NotRun);
            (c.status, reason)
        })
        .collect()
}

impl Counts {
    fn of(column: &[(Status, Option<String>)]) -> Counts {
        let mut counts = Counts::default();
        for (status, _) in column {
            *match status {
                Status::Holds => &mut counts.holds,
                Status::Fails => &mut counts.fails,
                Status::Inconclusive => &mut counts.inconclusive,
                Status::Skipped => &mut counts.skipped,
                Status::Untestable => &mut counts.untestable,
                Status::Pending => &mut counts.pending,
                Status::NotRun => &mut counts.not_run,
            } += 1;
        }
        counts
    }
}

/// Claim `i` across the kernels: its status on each, and whether and how they differ.
fn claim_row(
    claim: &Claim,
    i: usize,
    kernels: &[KernelRun],
    columns: &[Vec<(Status, Option<String>)>],
) -> ClaimRow {
    let scope = claim.scope();
    let statuses: Vec<KernelStatus> = kernels
        .iter()
        .zip(columns)
        .map(|(k, column)| KernelStatus {
            kernel: k.name.clone(),
            status: column[i].0,
            reason: column[i].1.clone(),
            in_scope: k.running.as_ref().is_none_or(|r| scope.includes(r)),
        })
        .collect();
    let ran: Vec<&KernelStatus> = kernels
        .iter()
        .zip(&statuses)
        .filter(|(k, _)| k.status == RunStatus::Ran)
        .map(|(_, s)| s)
        .collect();
    let all_same = |cells: &[&KernelStatus]| cells.windows(2).all(|w| w[0].status == w[1].status);
    let in_scope: Vec<&KernelStatus> = ran.iter().copied().filter(|s| s.in_scope).collect();
    let differs = !all_same(&ran);
    let finding = in_scope.iter().any(|s| s.status == Status::Holds)
        && in_scope.iter().any(|s| s.status == Status::Fails);
    let documented = differs && all_same(&in_scope) && in_scope.len() < ran.len();
    let scope = (!scope.is_everywhere()).then(|| {
        let reference = claim
            .kernel_ref
            .as_deref()
            .map(|r| format!(" ({r})"))
            .unwrap_or_default();
        format!("{}{reference}", scope.describe())
    });
    ClaimRow {
        id: claim.id.clone(),
        verdict: claim.verdict,
        differs,
        finding,
        documented,
        scope,
        statuses,
    }
}

/// One kernel's JUnit testsuite, named after the kernel and its release. A claim with no
/// evidence from a kernel whose run broke is an error carrying the kernel's detail; from a
/// skipped kernel, a skip with its reason.
fn junit_suite(run: &KernelRun, report: &report::Report) -> junit::Suite {
    let name = match &run.release {
        Some(release) => format!("{} ({release})", run.name),
        None => run.name.clone(),
    };
    let mut suite = report.junit_suite(&name, &format!("socket-claims.{}", run.name));
    if run.status != RunStatus::Ran {
        let why = format!(
            "not run: kernel {} {}: {}",
            run.name,
            run.status.label(),
            run.detail.as_deref().unwrap_or("no detail")
        );
        let not_run = report.claims.iter().map(|c| c.status == Status::NotRun);
        for (case, _) in suite.cases.iter_mut().zip(not_run).filter(|(_, n)| *n) {
            let message = why.clone();
            case.outcome = if run.status == RunStatus::Skipped {
                junit::Outcome::Skipped { message }
            } else {
                junit::Outcome::Error { message }
            };
        }
    }
    suite
}

impl Matrix {
    /// Whether every kernel ran its suite to the end or was skipped, with the reason.
    pub fn all_ran_or_skipped(&self) -> bool {
        self.kernels
            .iter()
            .all(|k| matches!(k.status, RunStatus::Ran | RunStatus::Skipped))
    }

    fn kernel_line(k: &KernelRun) -> String {
        let mut line = format!(
            "{} — {} — {}",
            k.name,
            k.release.as_deref().unwrap_or("release unknown"),
            k.status.label()
        );
        if k.status == RunStatus::Ran || k.seconds > 0.0 {
            let _ = write!(line, " in {:.1} s", k.seconds);
            if !k.accel.is_empty() {
                let _ = write!(line, " ({})", k.accel);
            }
        }
        if let Some(detail) = &k.detail {
            let _ = write!(line, ": {detail}");
        }
        line
    }

    fn counts_line(c: &Counts) -> String {
        let mut line = format!(
            "{} hold, {} fail, {} skipped, {} untestable, {} pending",
            c.holds, c.fails, c.skipped, c.untestable, c.pending
        );
        if c.inconclusive > 0 {
            let _ = write!(line, ", {} inconclusive", c.inconclusive);
        }
        if c.not_run > 0 {
            let _ = write!(line, ", {} not run", c.not_run);
        }
        line
    }

    /// The terminal summary: each kernel, then the claims that differ.
    pub fn terminal(&self) -> String {
        let mut out = String::from("kernel matrix\n");
        for k in &self.kernels {
            let _ = writeln!(out, "  {}", Self::kernel_line(k));
            let _ = writeln!(out, "      {}", Self::counts_line(&k.counts));
        }
        let _ = writeln!(
            out,
            "\n{} of {} claims differ between kernels ({} findings, {} as documented){}",
            self.differing,
            self.claims.len(),
            self.findings,
            self.documented,
            if self.differing > 0 { ":" } else { "" }
        );
        for c in self.claims.iter().filter(|c| c.differs || c.finding) {
            let cells: Vec<String> = c
                .statuses
                .iter()
                .map(|s| format!("{}={}", s.kernel, s.status.label()))
                .collect();
            let tag = match (c.finding, c.documented) {
                (true, _) => "FINDING ",
                (_, true) => "as documented ",
                _ => "",
            };
            let _ = writeln!(out, "  {tag}{}  {}", c.id, cells.join(" "));
        }
        out
    }

    /// The Markdown report.
    pub fn markdown(&self) -> String {
        let mut md = String::from("# socket-claims: kernel matrix\n\n");
        self.kernels_table(&mut md);
        self.kernel_notes(&mut md);
        md.push_str(
            "\nStatus per claim as in `cargo claims`: **holds**, **FAILS**, **inconclusive**, \
             **skipped** (reason given), **untestable**, **pending** (no test yet); **not run**: \
             that kernel produced no evidence for the claim.\n",
        );
        self.findings_section(&mut md);
        self.documented_section(&mut md);
        self.differences_sections(&mut md);
        md
    }

    /// One row per kernel: where it came from, its release, how its run went.
    fn kernels_table(&self, md: &mut String) {
        md.push_str("| Kernel | Source | Release | Run | Time | Claims |\n");
        md.push_str("|---|---|---|---|---|---|\n");
        for k in &self.kernels {
            let run = match (&k.detail, k.status) {
                (Some(d), s) if s != RunStatus::Ran => format!("{} ({})", s.label(), cell(d)),
                (_, s) => s.label().to_string(),
            };
            let time = if k.seconds > 0.0 {
                let boot = k
                    .boot_seconds
                    .map(|b| format!(", boot {b:.1} s"))
                    .unwrap_or_default();
                let prepare = Some(k.prepare_seconds)
                    .filter(|p| *p >= 0.05)
                    .map(|p| format!(", prepared in {p:.1} s"))
                    .unwrap_or_default();
                format!("{:.1} s ({}{boot}{prepare})", k.seconds, k.accel)
            } else {
                String::new()
            };
            let release = match (&k.release, &k.package, &k.package_version) {
                (Some(r), Some(p), Some(v)) => format!("{r} ({p} {v})"),
                (Some(r), _, _) => r.clone(),
                _ => "—".into(),
            };
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} | {} |",
                k.name,
                cell(&k.source),
                cell(&release),
                run,
                time,
                Self::counts_line(&k.counts)
            );
        }
    }

    /// Test binaries that exited non-zero, the kernels' notes, and a finished run's detail.
    fn kernel_notes(&self, md: &mut String) {
        let notes: Vec<String> =
            self.kernels
                .iter()
                .flat_map(|k| {
                    let exits =
                        k.suites.iter().filter(|s| s.exit != 0).map(|s| {
                            format!("{}: test binary {} exited {}", k.name, s.name, s.exit)
                        });
                    let notes = k.notes.iter().map(|n| format!("{}: {n}", k.name));
                    let detail = k
                        .detail
                        .iter()
                        .filter(|_| k.status == RunStatus::Ran)
                        .map(|d| format!("{}: {d}", k.name));
                    exits.chain(notes).chain(detail).collect::<Vec<_>>()
                })
                .collect();
        if !notes.is_empty() {
            md.push('\n');
            for n in notes {
                let _ = writeln!(md, "- {}", cell(&n));
            }
        }
    }

    /// Claims that hold on one kernel and fail on another the fact is stated for.
    fn findings_section(&self, md: &mut String) {
        let findings: Vec<&ClaimRow> = self.claims.iter().filter(|c| c.finding).collect();
        let _ = writeln!(
            md,
            "\n## Findings: unexpected differences ({})\n",
            findings.len()
        );
        if findings.is_empty() {
            md.push_str(
                "None: wherever a claim's fact is stated for a kernel, no kernel fails what \
                 another holds.\n",
            );
            return;
        }
        md.push_str(
            "Claims that hold on some kernel and fail on another where the catalogue says \
             the fact applies to both (its `since`, `until`, `on`).\n\n",
        );
        self.table(md, &findings);
        md.push('\n');
        for c in &findings {
            for s in c.statuses.iter().filter(|s| s.status == Status::Fails) {
                let _ = writeln!(
                    md,
                    "- `{}` on {}: {}",
                    c.id,
                    s.kernel,
                    cell(&first_line(s.reason.as_deref().unwrap_or_default()))
                );
            }
        }
    }

    /// Claims whose outcome differs only on kernels their fact is not stated for.
    fn documented_section(&self, md: &mut String) {
        let documented: Vec<&ClaimRow> = self.claims.iter().filter(|c| c.documented).collect();
        if documented.is_empty() {
            return;
        }
        let _ = writeln!(
            md,
            "\n## Claims that differ as documented ({})\n",
            documented.len()
        );
        md.push_str(
            "The outcome differs only on kernels the fact is not stated for; *(out of \
             scope)* marks them.\n\n",
        );
        self.table(md, &documented);
        md.push('\n');
        for c in &documented {
            if let Some(scope) = &c.scope {
                let _ = writeln!(md, "- `{}`: {}", c.id, cell(scope));
            }
        }
    }

    /// The other claims: those whose outcome differs between kernels, then the rest.
    fn differences_sections(&self, md: &mut String) {
        let (differ, same): (Vec<&ClaimRow>, Vec<&ClaimRow>) = self
            .claims
            .iter()
            .filter(|c| !c.finding && !c.documented)
            .partition(|c| c.differs);
        let _ = writeln!(
            md,
            "\n## Other claims whose outcome differs between kernels ({})\n",
            differ.len()
        );
        if differ.is_empty() {
            md.push_str("None: every kernel that ran agrees on every claim.\n");
        } else {
            self.table(md, &differ);
            md.push('\n');
            for c in &differ {
                for s in c.statuses.iter().filter(|s| s.reason.is_some()) {
                    let _ = writeln!(
                        md,
                        "- `{}` on {}: {} — {}",
                        c.id,
                        s.kernel,
                        s.status.label(),
                        cell(&first_line(s.reason.as_deref().unwrap_or_default()))
                    );
                }
            }
        }
        let _ = writeln!(
            md,
            "\n## Claims with the same outcome on every kernel that ran ({})\n",
            same.len()
        );
        self.table(md, &same);
    }

    fn table(&self, md: &mut String, rows: &[&ClaimRow]) {
        let names: Vec<&str> = self.kernels.iter().map(|k| k.name.as_str()).collect();
        let _ = writeln!(md, "| Claim | Verdict | {} |", names.join(" | "));
        let _ = writeln!(md, "|---|---|{}", "---|".repeat(names.len()));
        for c in rows {
            let cells: Vec<String> = c
                .statuses
                .iter()
                .map(|s| {
                    if s.in_scope {
                        s.status.label().to_string()
                    } else {
                        format!("{} *(out of scope)*", s.status.label())
                    }
                })
                .collect();
            let _ = writeln!(
                md,
                "| `{}` | {} | {} |",
                c.id,
                c.verdict.as_str(),
                cells.join(" | ")
            );
        }
    }
}

fn first_line(s: &str) -> String {
    let line = s.lines().next().unwrap_or_default();
    if line.chars().count() > 200 {
        format!("{}…", line.chars().take(200).collect::<String>())
    } else {
        line.to_string()
    }
}

fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use harness::catalogue::{Claim, Kind};
    use harness::record::Outcome;

    fn claim(id: &str) -> Claim {
        Claim {
            id: id.into(),
            section: "07-10-tcp-programming".into(),
            kind: Kind::Course,
            course: "c".into(),
            facts: vec![id.into()],
            fact: "f".into(),
            refs: vec!["tcp(7)".into()],
            verdict: Verdict::Accurate,
            correction: None,
            untestable: None,
            since: Vec::new(),
            until: Vec::new(),
            on: None,
            kernel_ref: None,
        }
    }

    fn record(claim: &str, test: &str, outcome: Outcome) -> Record {
        Record {
            claim: claim.into(),
            test: test.into(),
            case: None,
            outcome,
            reason: (outcome != Outcome::Pass).then(|| "the kernel said EINVAL".into()),
            observed: Default::default(),
            kernel: "k".into(),
            run: "r".into(),
            uid: 0,
            caps: Vec::new(),
            netns: None,
            elapsed_ms: 1,
            at_ms: 1,
        }
    }

    fn run(name: &str, status: RunStatus) -> KernelRun {
        KernelRun {
            status,
            accel: "tcg".into(),
            ..KernelRun::failed(name, "test".into(), status, String::new())
        }
    }

    #[test]
    fn claims_that_differ_come_first_and_a_dead_kernel_is_not_run() {
        let catalogue = Catalogue {
            facts: Vec::new(),
            claims: vec![
                claim("tcp.a.same"),
                claim("tcp.b.differs"),
                claim("tcp.c.pending"),
            ],
        };
        let mut index = TestIndex::default();
        index
            .tests
            .insert("tcp::same".into(), vec!["tcp.a.same".into()]);
        index
            .tests
            .insert("tcp::differs".into(), vec!["tcp.b.differs".into()]);
        let evidence = |differs: Outcome| {
            vec![
                record("tcp.a.same", "tcp::same", Outcome::Pass),
                record("tcp.b.differs", "tcp::differs", differs),
            ]
        };
        let matrix = build(
            &catalogue,
            &index,
            vec![
                (run("host", RunStatus::Ran), evidence(Outcome::Pass)),
                (run("old", RunStatus::Ran), evidence(Outcome::Fail)),
                (run("dead", RunStatus::Hung), Vec::new()),
            ],
        );
        let ids: Vec<&str> = matrix.claims.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids, ["tcp.b.differs", "tcp.a.same", "tcp.c.pending"]);
        assert_eq!(matrix.differing, 1);
        let cells: Vec<Status> = matrix.claims[0].statuses.iter().map(|s| s.status).collect();
        assert_eq!(cells, [Status::Holds, Status::Fails, Status::NotRun]);
        assert!(matrix.claims[0].statuses[1]
            .reason
            .as_deref()
            .is_some_and(|r| r.contains("EINVAL")));
        assert_eq!(matrix.claims[2].statuses[2].status, Status::Pending);
        assert_eq!(matrix.kernels[1].counts.fails, 1);
        assert_eq!(matrix.kernels[2].counts.not_run, 2);
        assert!(!matrix.all_ran_or_skipped());

        let json = serde_json::to_value(&matrix).expect("serialises");
        assert_eq!(json["kernels"][2]["status"], "hung");
        assert_eq!(json["claims"][0]["statuses"][1]["status"], "fails");
        assert_eq!(json["claims"][0]["statuses"][2]["status"], "not-run");
        assert!(matrix.claims[0].finding && !matrix.claims[0].documented);
        assert_eq!(matrix.findings, 1);
        let md = matrix.markdown();
        let findings = md
            .find("## Findings: unexpected differences (1)")
            .expect("findings");
        let same = md.find("same outcome").expect("same heading");
        let row = md.find("| `tcp.b.differs` | accurate | holds | FAILS | not run |");
        assert!(row.is_some_and(|r| findings < r && r < same), "{md}");
        assert!(md.contains("`tcp.b.differs` on old: tcp::differs: the kernel said EINVAL"));
    }

    #[test]
    fn matrix_junit_has_a_suite_per_kernel_and_a_dead_kernels_claims_are_errors() {
        let catalogue = Catalogue {
            facts: Vec::new(),
            claims: vec![claim("tcp.a.checked"), claim("tcp.b.pending")],
        };
        let mut index = TestIndex::default();
        index
            .tests
            .insert("tcp::checked".into(), vec!["tcp.a.checked".into()]);
        let evidence = |o: Outcome| vec![record("tcp.a.checked", "tcp::checked", o)];
        let mut host = run("host", RunStatus::Ran);
        host.release = Some("6.18.4".into());
        let dead = KernelRun::failed(
            "debian-5.10",
            "test".into(),
            RunStatus::Hung,
            "hung after 300 s while running tcp".into(),
        );
        let gvisor = KernelRun::failed(
            "gvisor",
            "test".into(),
            RunStatus::Skipped,
            "runsc is not installed: apt-get install runsc".into(),
        );
        let matrix = build(
            &catalogue,
            &index,
            vec![
                (host, evidence(Outcome::Pass)),
                (run("old", RunStatus::Ran), evidence(Outcome::Fail)),
                (dead, Vec::new()),
                (gvisor, Vec::new()),
            ],
        );
        assert!(!matrix.all_ran_or_skipped(), "the hung kernel is an error");
        let xml = junit::render(&matrix.junit);
        let suite = |name: &str| {
            let start = xml
                .find(&format!("<testsuite name=\"{name}\""))
                .unwrap_or_else(|| panic!("suite {name}: {xml}"));
            let end = xml[start..].find("</testsuite>").expect("suite ends") + start;
            &xml[start..end]
        };
        assert!(suite("host (6.18.4)").contains("failures=\"0\" errors=\"0\" skipped=\"1\""));
        assert!(suite("host (6.18.4)").contains("classname=\"socket-claims.host.tcp\""));
        let old = suite("old");
        assert!(old.contains("<failure message=\"FAILS: tcp::checked: the kernel said EINVAL"));
        let dead = suite("debian-5.10");
        assert!(dead.contains("errors=\"1\" skipped=\"1\""), "{dead}");
        assert!(dead.contains(
            "<error message=\"not run: kernel debian-5.10 HUNG: hung after 300 s while running tcp\""
        ));
        let skipped = suite("gvisor");
        assert!(skipped.contains("errors=\"0\" skipped=\"2\""), "{skipped}");
        assert!(skipped.contains(
            "<skipped message=\"not run: kernel gvisor skipped: runsc is not installed: apt-get install runsc\"/>"
        ));
        assert!(
            skipped.contains("<skipped message=\"pending"),
            "a pending claim stays pending on a skipped kernel"
        );
    }

    #[test]
    fn a_skipped_kernel_is_not_an_error() {
        let matrix = build(
            &Catalogue {
                facts: Vec::new(),
                claims: Vec::new(),
            },
            &TestIndex::default(),
            vec![
                (run("host", RunStatus::Ran), Vec::new()),
                (
                    KernelRun::failed(
                        "gvisor",
                        "test".into(),
                        RunStatus::Skipped,
                        "gVisor's runsc needs root here".into(),
                    ),
                    Vec::new(),
                ),
            ],
        );
        assert!(matrix.all_ran_or_skipped());
        let md = matrix.markdown();
        assert!(
            md.contains("| gvisor | test | — | skipped (gVisor's runsc needs root here) |"),
            "{md}"
        );
        let json = serde_json::to_value(&matrix).expect("serialises");
        assert_eq!(json["kernels"][1]["status"], "skipped");
    }

    #[test]
    fn a_difference_outside_the_facts_kernels_is_documented_not_a_finding() {
        use harness::kernel::{Running, Runtime, Version};
        let mut bounded = claim("tcp.d.since");
        bounded.since = vec!["6.12.9".into(), "6.13".into()];
        bounded.kernel_ref = Some("commit 5b0af621c3f6".into());
        let mut linux_only = claim("tcp.e.linux");
        linux_only.on = Some("linux".into());
        let catalogue = Catalogue {
            facts: Vec::new(),
            claims: vec![bounded, linux_only, claim("tcp.f.everywhere")],
        };
        const TESTS: [(&str, &str); 3] = [
            ("tcp::d", "tcp.d.since"),
            ("tcp::e", "tcp.e.linux"),
            ("tcp::f", "tcp.f.everywhere"),
        ];
        let mut index = TestIndex::default();
        for (test, id) in TESTS {
            index.tests.insert(test.into(), vec![id.into()]);
        }
        let on = |name: &str, version: &str, runtime: Runtime, outcomes: [Outcome; 3]| {
            let mut k = run(name, RunStatus::Ran);
            k.running = Some(Running {
                version: Version::parse(version),
                runtime,
            });
            let records = TESTS
                .iter()
                .zip(outcomes)
                .map(|((test, id), o)| record(id, test, o))
                .collect();
            (k, records)
        };
        use Outcome::{Fail, Pass};
        let matrix = build(
            &catalogue,
            &index,
            vec![
                on("new", "6.18.4", Runtime::Linux, [Pass, Pass, Pass]),
                on("stable", "6.12.117", Runtime::Linux, [Pass, Pass, Pass]),
                on("old", "6.1.192", Runtime::Linux, [Fail, Pass, Pass]),
                on("gvisor", "4.4.0", Runtime::Gvisor, [Fail, Fail, Fail]),
            ],
        );
        let row = |id: &str| {
            matrix
                .claims
                .iter()
                .find(|c| c.id == id)
                .unwrap_or_else(|| panic!("{id}"))
        };
        let d = row("tcp.d.since");
        assert!(d.documented && !d.finding, "{d:?}");
        let in_scope: Vec<bool> = d.statuses.iter().map(|s| s.in_scope).collect();
        assert_eq!(in_scope, [true, true, false, false]);
        assert_eq!(
            d.scope.as_deref(),
            Some("since 6.12.9 (6.12.y), 6.13 (commit 5b0af621c3f6)")
        );
        assert!(row("tcp.e.linux").documented);
        assert!(row("tcp.f.everywhere").finding);
        let ids: Vec<&str> = matrix.claims.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids, ["tcp.f.everywhere", "tcp.d.since", "tcp.e.linux"]);
        let md = matrix.markdown();
        assert!(
            md.contains("## Claims that differ as documented (2)"),
            "{md}"
        );
        assert!(
            md.contains("| `tcp.d.since` | accurate | holds | holds | FAILS *(out of scope)* |")
        );
    }
}
