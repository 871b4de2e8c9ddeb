//! Which evidence a report may use: the newest run's records only, of tests the index knows,
//! recorded under this kernel. Anything else in the evidence directory (an older run, a renamed
//! test, another kernel's records) is left out with a warning naming it, so nothing from
//! elsewhere is ever called "observed on this run".

use std::collections::BTreeMap;

use harness::record::Record;
use serde::Serialize;

use crate::index::TestIndex;

/// The run a report is about.
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct RunInfo {
    /// Its id (`harness::run`); empty for records written before runs had ids.
    pub id: String,
    /// Its first and last record, ms since the Unix epoch.
    pub first_ms: u64,
    pub last_ms: u64,
    /// How many evidence records it left.
    pub records: usize,
}

impl RunInfo {
    /// "run ID, 2026-12-02 13:05:09–13:06:40 UTC (N records)".
    pub fn describe(&self) -> String {
        let id = if self.id.is_empty() {
            "without an id (older records)"
        } else {
            &self.id
        };
        let end = utc(self.last_ms);
        let (first, last) = (
            utc(self.first_ms),
            end.split_once(' ').map_or(end.as_str(), |t| t.1),
        );
        format!("run {id}, {first}–{last} UTC ({} records)", self.records)
    }
}

/// The newest run's records among `records` (the run whose last record is the newest), of
/// tests `index` knows and recorded under `kernel`; what was left out, as warnings.
pub fn newest(
    records: Vec<Record>,
    index: &TestIndex,
    kernel: &str,
) -> (Option<RunInfo>, Vec<Record>, Vec<String>) {
    let mut warnings = Vec::new();
    let mut runs: BTreeMap<String, Vec<Record>> = BTreeMap::new();
    for r in records {
        runs.entry(r.run.clone()).or_default().push(r);
    }
    let last = |rs: &Vec<Record>| rs.iter().map(|r| r.at_ms).max().unwrap_or(0);
    let Some(newest) = runs
        .iter()
        .max_by_key(|(_, rs)| last(rs))
        .map(|(id, _)| id.clone())
    else {
        return (None, Vec::new(), warnings);
    };
    let older: Vec<String> = runs.keys().filter(|id| **id != newest).cloned().collect();
    if !older.is_empty() {
        warnings.push(format!(
            "left out the records of {} older run(s): {}",
            older.len(),
            older.join(", ")
        ));
    }
    let mut kept = runs.remove(&newest).unwrap_or_default();
    let mut unknown: Vec<String> = kept
        .iter()
        .filter(|r| !index.knows(&r.test))
        .map(|r| r.test.clone())
        .collect();
    unknown.sort_unstable();
    unknown.dedup();
    if !unknown.is_empty() {
        warnings.push(format!(
            "left out the records of {} test(s) that tests/*.rs no longer has: {}",
            unknown.len(),
            unknown.join(", ")
        ));
    }
    let mut kernels: Vec<String> = kept
        .iter()
        .filter(|r| r.kernel != kernel)
        .map(|r| r.kernel.clone())
        .collect();
    kernels.sort_unstable();
    kernels.dedup();
    if !kernels.is_empty() {
        warnings.push(format!(
            "left out records made under another kernel ({}; this is {kernel})",
            kernels.join(", ")
        ));
    }
    kept.retain(|r| index.knows(&r.test) && r.kernel == kernel);
    let info = RunInfo {
        first_ms: kept.iter().map(|r| r.at_ms).min().unwrap_or(0),
        last_ms: kept.iter().map(|r| r.at_ms).max().unwrap_or(0),
        records: kept.len(),
        id: newest,
    };
    (Some(info), kept, warnings)
}

/// Why `bench` is not `run`'s (measured beside another run), or None when it is.
pub fn bench_of_another_run(bench: &crate::bench::BenchFile, run: &RunInfo) -> Option<String> {
    (bench.run != run.id).then(|| {
        let of = if bench.run.is_empty() {
            "no run id"
        } else {
            &bench.run
        };
        format!("of another run ({of}): the speed claims keep their short tests' status")
    })
}

/// `YYYY-MM-DD HH:MM:SS` (UTC) for ms since the Unix epoch.
pub fn utc(ms: u64) -> String {
    let secs = ms / 1000;
    let (days, rest) = ((secs / 86_400) as i64, secs % 86_400);
    // Days to a civil date (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}",
        rest / 3600,
        rest / 60 % 60,
        rest % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use harness::record::Outcome;

    fn record(test: &str, run: &str, kernel: &str, at_ms: u64) -> Record {
        Record {
            claim: "tcp.a.b".into(),
            test: test.into(),
            case: None,
            outcome: Outcome::Pass,
            reason: None,
            observed: Default::default(),
            kernel: kernel.into(),
            run: run.into(),
            uid: 0,
            caps: Vec::new(),
            netns: None,
            elapsed_ms: 1,
            at_ms,
        }
    }

    #[test]
    fn only_the_newest_runs_records_of_known_tests_on_this_kernel_are_kept() {
        let mut index = TestIndex::default();
        index
            .tests
            .insert("tcp::known".into(), vec!["tcp.a.b".into()]);
        let records = vec![
            record("tcp::known", "old", "6.12.0", 100),
            record("tcp::known::case_1_v4", "new", "6.12.0", 200),
            record("tcp::renamed", "new", "6.12.0", 210),
            record("tcp::known", "new", "4.19.0-ancient", 220),
        ];
        let (info, kept, warnings) = newest(records, &index, "6.12.0");
        let info = info.expect("a run");
        assert_eq!((info.id.as_str(), info.records), ("new", 1));
        assert_eq!(kept[0].test, "tcp::known::case_1_v4");
        let all = warnings.join("\n");
        for needle in ["1 older run(s): old", "tcp::renamed", "4.19.0-ancient"] {
            assert!(all.contains(needle), "{needle}: {all}");
        }
        assert_eq!(utc(1_796_218_523_078), "2026-12-02 13:35:23");
        let bench = crate::bench::BenchFile {
            format: crate::bench::FORMAT,
            kernel: "6.12.0".into(),
            run: "old".into(),
            not_measured: None,
            results: Vec::new(),
            ratios: Vec::new(),
        };
        let why = bench_of_another_run(&bench, &info).expect("another run's bench");
        assert!(why.contains("of another run (old)"), "{why}");
        assert!(info
            .describe()
            .starts_with("run new, 1970-01-01 00:00:00–00:00:00 UTC"));
    }
}
