//! The speed claims in `cargo claims`' report. With a `bench.json` from this kernel, each speed
//! claim takes its status (holds / fails / inconclusive, or skipped under CPU emulation) from
//! its ratios and shows them with their intervals; without one, the claims keep the status of
//! their short tests and the report says how to get the figures.

use std::fmt::Write as _;
use std::path::Path;

use crate::bench::{ratio_line, verdicts, BenchFile, RatioRow};
use crate::report::{self, Lang, Report};
use harness::bench::stats::Status;

/// Reads `dir/bench.json`: `Ok(None)` when there is none.
pub fn load(dir: &Path) -> Result<Option<BenchFile>, String> {
    let path = dir.join("bench.json");
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let bench: BenchFile =
                serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
            if bench.format != crate::bench::FORMAT {
                eprintln!(
                    "note: {} is from another version of `cargo claims bench` (format {}, not \
                     {}): the speed claims ignore it; run `cargo claims bench` again",
                    path.display(),
                    bench.format,
                    crate::bench::FORMAT
                );
                return Ok(None);
            }
            Ok(Some(bench))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

/// Gives the speed claims of `report` their status from `bench` (when it is from this kernel);
/// the Markdown section to put after the report.
pub fn apply(report: &mut Report, bench: Option<&BenchFile>, lang: Lang) -> String {
    let specs = verdicts::specs();
    let bench = bench.filter(|b| b.kernel == report.kernel);
    let mut md = format!(
        "\n## {} (`cargo claims bench`)\n\n",
        lang.pick("속도 주장의 측정", "Speed claims, measured")
    );
    let Some(bench) = bench else {
        md.push_str(lang.pick(
            "이 커널의 벤치 결과가 없어 속도 주장은 짧은 테스트의 결과를 보여 줍니다. 측정된 비율과 \
             그래프는 `cargo claims bench`(약 1분)로 얻습니다.\n",
            "No bench for this kernel: the speed claims show the status of their short tests. \
             Run `cargo claims bench` (about a minute) for the measured ratios and plots.\n",
        ));
        for c in &mut report.claims {
            if specs.iter().any(|s| s.claim == c.id) && c.reason.is_none() {
                c.reason =
                    Some("from the short test; run `cargo claims bench` for the ratios".into());
            }
        }
        return md;
    };
    md.push_str(lang.pick(
        "[bench.md](bench.md)에서: 루프백에서 번갈아 잰 라운드, 비율(a가 b보다 몇 배 빠른가)마다 \
         라운드에 대한 95% 부트스트랩 신뢰구간. 구간 전체가 기준값 위면 holds, 전체가 아래면 \
         fails, 걸치면 inconclusive이며, 주장은 각 비율이 사실(fact)이 말하는 쪽에 있을 때 \
         holds입니다. 왕복 지연은 세 가지 방법으로 잽니다: 한 스레드 안에서(커널의 소켓 경로만), \
         한 CPU의 두 스레드 사이에서(메시지마다 깨우기와 문맥 교환), 고정하지 않은 두 스레드 \
         사이에서(보통 두 CPU, 편차가 큼). 각 칸은 왕복 지연의 중앙값과 TCP보다 몇 배 빠른가입니다.\n\n",
        "From [bench.md](bench.md): interleaved rounds on loopback, each ratio (how many times \
         faster a is than b) with its 95% bootstrap interval; a ratio holds when the whole \
         interval is above the threshold, fails when wholly below, and is inconclusive \
         otherwise. The claim holds when each ratio lands on the side its fact states. A round \
         trip is measured three ways: in one thread (the kernel's socket path alone), between \
         two threads on one CPU (each message a wake-up and a context switch), between two \
         unpinned threads (usually two CPUs; wide spread). Each cell: the median round trip and \
         how many times faster than TCP's.\n\n",
    ));
    md.push_str(&crate::bench::methods_table(bench, lang == Lang::Ko));
    md.push_str(lang.pick(
        "\n![왕복 지연](latency.svg)\n\n![처리량](throughput.svg)\n",
        "\n![round trips](latency.svg)\n\n![throughput](throughput.svg)\n",
    ));
    for spec in &specs {
        let Some(claim) = report.claims.iter_mut().find(|c| c.id == spec.claim) else {
            continue;
        };
        let rows: Vec<&RatioRow> = spec
            .rows
            .iter()
            .filter_map(|row| bench.ratio(spec.claim, row))
            .collect();
        let status = bench.claim_status(spec);
        let _ = writeln!(md, "\n### `{}`: {}\n", spec.claim, status.as_str());
        for (row, r) in spec
            .rows
            .iter()
            .filter_map(|row| Some((row, bench.ratio(spec.claim, row)?)))
        {
            let fact = match row.expect {
                verdicts::Expect::Either => String::new(),
                e => format!(" (the fact says {})", e.as_str()),
            };
            let _ = writeln!(
                md,
                "- {}: **{}**{fact}",
                ratio_line(r),
                row.expect.reading(r.status)
            );
        }
        let summary = rows
            .iter()
            .map(|r| ratio_line(r))
            .collect::<Vec<_>>()
            .join("; ");
        (claim.status, claim.reason) = match status {
            Status::Holds => (report::Status::Holds, Some(format!("bench: {summary}"))),
            Status::Fails => (report::Status::Fails, Some(format!("bench: {summary}"))),
            Status::Inconclusive => (
                report::Status::Inconclusive,
                Some(format!("bench: {summary}")),
            ),
            Status::NotMeasured => (
                report::Status::Skipped,
                Some("not measured under CPU emulation".into()),
            ),
        };
        claim.ratios = rows.into_iter().cloned().collect();
    }
    report.recount();
    md
}
