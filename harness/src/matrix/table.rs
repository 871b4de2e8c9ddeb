//! The matrix report: for each kernel how its run went, for each claim its status under each
//! kernel (statuses from [`crate::report::build`], the same as `cargo claims`), listing first
//! the claims whose outcome differs between kernels.

use std::fmt::Write as _;

use serde::Serialize;

use crate::catalogue::{Catalogue, TestIndex, Verdict};
use crate::evidence::Record;
use crate::report::{self, Status};

/// How the run under one kernel went.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
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
}

impl RunStatus {
    pub fn label(self) -> &'static str {
        match self {
            RunStatus::Ran => "ran",
            RunStatus::Hung => "HUNG",
            RunStatus::Panicked => "KERNEL PANIC",
            RunStatus::Error => "ERROR",
        }
    }
}

/// A test binary's exit code under a kernel.
#[derive(Clone, Debug, Serialize)]
pub struct SuiteExit {
    pub name: String,
    pub exit: i32,
}

/// Claim counts under one kernel.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Counts {
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
pub struct KernelRun {
    pub name: String,
    pub source: String,
    /// `uname -r` where the suite ran (from the guest, for a VM).
    pub release: Option<String>,
    pub status: RunStatus,
    /// Why it did not run, or what went wrong.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// `native`, `kvm` or `tcg`.
    pub accel: String,
    /// Wall time of fetching nothing, booting, running and powering off.
    pub seconds: f64,
    /// Seconds from the guest kernel's start to its /init.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub boot_seconds: Option<f64>,
    pub suites: Vec<SuiteExit>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    pub counts: Counts,
}

impl KernelRun {
    /// A kernel that could not run at all.
    pub fn failed(name: &str, source: String, status: RunStatus, detail: String) -> KernelRun {
        KernelRun {
            name: name.to_string(),
            source,
            release: None,
            status,
            detail: Some(detail),
            accel: String::new(),
            seconds: 0.0,
            boot_seconds: None,
            suites: Vec::new(),
            notes: Vec::new(),
            counts: Counts::default(),
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct KernelStatus {
    pub kernel: String,
    pub status: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct ClaimRow {
    pub id: String,
    pub verdict: Verdict,
    /// The kernels that ran disagree on this claim.
    pub differs: bool,
    /// One per kernel, in the order of `kernels`.
    pub statuses: Vec<KernelStatus>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Matrix {
    pub kernels: Vec<KernelRun>,
    /// How many claims (the first ones of `claims`) differ between kernels.
    pub differing: usize,
    pub claims: Vec<ClaimRow>,
}

/// Judges each kernel's evidence against the catalogue and lines the kernels up claim by claim.
pub fn build(
    catalogue: &Catalogue,
    index: &TestIndex,
    runs: Vec<(KernelRun, Vec<Record>)>,
) -> Matrix {
    let mut kernels = Vec::new();
    let mut columns = Vec::new();
    for (mut run, records) in runs {
        let report = report::build(
            catalogue,
            index,
            &records,
            None,
            crate::privileges::Privileges::current(),
            String::new(),
        );
        let column: Vec<(Status, Option<String>)> = report
            .claims
            .iter()
            .map(|c| {
                let reason = c.reason.clone().filter(|_| c.status != Status::NotRun);
                (c.status, reason)
            })
            .collect();
        run.counts = Counts::default();
        for (status, _) in &column {
            *match status {
                Status::Holds => &mut run.counts.holds,
                Status::Fails => &mut run.counts.fails,
                Status::Inconclusive => &mut run.counts.inconclusive,
                Status::Skipped => &mut run.counts.skipped,
                Status::Untestable => &mut run.counts.untestable,
                Status::Pending => &mut run.counts.pending,
                Status::NotRun => &mut run.counts.not_run,
            } += 1;
        }
        columns.push(column);
        kernels.push(run);
    }
    let mut claims: Vec<ClaimRow> = catalogue
        .claims
        .iter()
        .enumerate()
        .map(|(i, claim)| {
            let statuses: Vec<KernelStatus> = kernels
                .iter()
                .zip(&columns)
                .map(|(k, column)| KernelStatus {
                    kernel: k.name.clone(),
                    status: column[i].0,
                    reason: column[i].1.clone(),
                })
                .collect();
            let mut ran = kernels
                .iter()
                .zip(&statuses)
                .filter(|(k, _)| k.status == RunStatus::Ran)
                .map(|(_, s)| s.status);
            let first = ran.next();
            let differs = ran.any(|s| Some(s) != first);
            ClaimRow {
                id: claim.id.clone(),
                verdict: claim.verdict,
                differs,
                statuses,
            }
        })
        .collect();
    // A stable sort keeps catalogue order within each group.
    claims.sort_by_key(|c| !c.differs);
    let differing = claims.iter().filter(|c| c.differs).count();
    Matrix {
        kernels,
        differing,
        claims,
    }
}

impl Matrix {
    /// Whether every kernel ran its suite to the end.
    pub fn all_ran(&self) -> bool {
        self.kernels.iter().all(|k| k.status == RunStatus::Ran)
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
            "\n{} of {} claims differ between kernels{}",
            self.differing,
            self.claims.len(),
            if self.differing > 0 { ":" } else { "" }
        );
        for c in self.claims.iter().filter(|c| c.differs) {
            let cells: Vec<String> = c
                .statuses
                .iter()
                .map(|s| format!("{}={}", s.kernel, s.status.label()))
                .collect();
            let _ = writeln!(out, "  {}  {}", c.id, cells.join(" "));
        }
        out
    }

    /// The Markdown report.
    pub fn markdown(&self) -> String {
        let mut md = String::from("# socket-claims: kernel matrix\n\n");
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
                format!("{:.1} s ({}{boot})", k.seconds, k.accel)
            } else {
                String::new()
            };
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} | {} |",
                k.name,
                cell(&k.source),
                k.release.as_deref().unwrap_or("—"),
                run,
                time,
                Self::counts_line(&k.counts)
            );
        }
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
        md.push_str(
            "\nStatus per claim as in `cargo claims`: **holds**, **FAILS**, **inconclusive**, \
             **skipped** (reason given), **untestable**, **pending** (no test yet); **not run**: \
             that kernel produced no evidence for the claim.\n",
        );
        let (differ, same): (Vec<&ClaimRow>, Vec<&ClaimRow>) =
            self.claims.iter().partition(|c| c.differs);
        let _ = writeln!(
            md,
            "\n## Claims whose outcome differs between kernels ({})\n",
            differ.len()
        );
        if differ.is_empty() {
            md.push_str("None: every kernel that ran agrees on every claim.\n");
        } else {
            self.table(&mut md, &differ);
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
        self.table(&mut md, &same);
        md
    }

    fn table(&self, md: &mut String, rows: &[&ClaimRow]) {
        let names: Vec<&str> = self.kernels.iter().map(|k| k.name.as_str()).collect();
        let _ = writeln!(md, "| Claim | Verdict | {} |", names.join(" | "));
        let _ = writeln!(md, "|---|---|{}", "---|".repeat(names.len()));
        for c in rows {
            let cells: Vec<&str> = c.statuses.iter().map(|s| s.status.label()).collect();
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
    use crate::catalogue::{Claim, Kind};
    use crate::evidence::Outcome;

    fn claim(id: &str) -> Claim {
        Claim {
            id: id.into(),
            section: "07-10-tcp-programming".into(),
            kind: Kind::Course,
            course: "c".into(),
            fact: "f".into(),
            refs: vec!["tcp(7)".into()],
            verdict: Verdict::Accurate,
            correction: None,
            untestable: None,
        }
    }

    fn record(claim: &str, test: &str, outcome: Outcome) -> Record {
        Record {
            claim: claim.into(),
            test: test.into(),
            outcome,
            reason: (outcome != Outcome::Pass).then(|| "the kernel said EINVAL".into()),
            observed: Default::default(),
            kernel: "k".into(),
            uid: 0,
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
        assert!(!matrix.all_ran());

        let json = serde_json::to_value(&matrix).expect("serialises");
        assert_eq!(json["kernels"][2]["status"], "hung");
        assert_eq!(json["claims"][0]["statuses"][1]["status"], "fails");
        assert_eq!(json["claims"][0]["statuses"][2]["status"], "not-run");
        let md = matrix.markdown();
        let differ = md
            .find("differs between kernels (1)")
            .expect("differ heading");
        let same = md.find("same outcome").expect("same heading");
        let row = md.find("| `tcp.b.differs` | accurate | holds | FAILS | not run |");
        assert!(row.is_some_and(|r| differ < r && r < same), "{md}");
        assert!(md.contains("`tcp.b.differs` on old: FAILS — tcp::differs: the kernel said EINVAL"));
    }
}
