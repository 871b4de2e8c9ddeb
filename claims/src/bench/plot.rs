//! The bench's plots, as SVG files next to bench.md: round-trip time per transport, and
//! throughput per transport and message size, each point with its 95% interval as error bars.

use std::path::Path;

use plotters::prelude::*;

use super::verdicts::Metric;
use super::{BenchFile, ResultRow};
use harness::bench::measure::SIZES;

const COLOURS: [RGBColor; 3] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
];

/// Draws the plots into `dir`; the file names written, or why not.
pub fn draw(file: &BenchFile, dir: &Path) -> Result<Vec<String>, String> {
    let mut written = Vec::new();
    let rtt: Vec<&ResultRow> = file
        .results
        .iter()
        .filter(|r| r.metric == Metric::Rtt)
        .collect();
    if !rtt.is_empty() {
        latency(&rtt, &dir.join("latency.svg")).map_err(|e| format!("latency.svg: {e}"))?;
        written.push("latency.svg".to_string());
    }
    let tput: Vec<&ResultRow> = file
        .results
        .iter()
        .filter(|r| r.metric == Metric::Throughput)
        .collect();
    if !tput.is_empty() {
        throughput(&tput, &dir.join("throughput.svg"))
            .map_err(|e| format!("throughput.svg: {e}"))?;
        written.push("throughput.svg".to_string());
    }
    Ok(written)
}

type Drawn = Result<(), Box<dyn std::error::Error>>;

/// The transports in the order they first appear, for the x axis.
fn transports(rows: &[&ResultRow]) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for r in rows {
        if !names.contains(&r.transport) {
            names.push(r.transport.clone());
        }
    }
    names
}

fn label(names: &[String], x: f64) -> String {
    let i = x.round();
    if (x - i).abs() > 0.01 || i < 0.0 {
        return String::new();
    }
    names.get(i as usize).cloned().unwrap_or_default()
}

fn latency(rows: &[&ResultRow], path: &Path) -> Drawn {
    let names = transports(rows);
    let top = rows
        .iter()
        .map(|r| r.ci95[1].max(r.median))
        .fold(0.0, f64::max)
        * 1.2;
    let root = SVGBackend::new(path, (760, 400)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "1-byte round trip on loopback: median, 95% CI over rounds",
            ("sans-serif", 18),
        )
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(56)
        .build_cartesian_2d(-0.5f64..(names.len() as f64 - 0.5), 0f64..top)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(names.len() * 2 + 1)
        .x_label_formatter(&|x| label(&names, *x))
        .y_desc("round trip, µs")
        .draw()?;
    let at = |r: &ResultRow| names.iter().position(|n| *n == r.transport).unwrap_or(0) as f64;
    chart.draw_series(rows.iter().map(|r| {
        ErrorBar::new_vertical(
            at(r),
            r.ci95[0],
            r.median,
            r.ci95[1],
            COLOURS[0].filled(),
            12,
        )
    }))?;
    chart.draw_series(
        rows.iter()
            .map(|r| Circle::new((at(r), r.median), 4, COLOURS[0].filled())),
    )?;
    root.present()?;
    Ok(())
}

fn throughput(rows: &[&ResultRow], path: &Path) -> Drawn {
    let names = transports(rows);
    let (lo, hi) = rows.iter().fold((f64::MAX, 0.0f64), |(lo, hi), r| {
        (
            lo.min(r.ci95[0].min(r.median)),
            hi.max(r.ci95[1].max(r.median)),
        )
    });
    let root = SVGBackend::new(path, (760, 420)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "Receiver-side throughput on loopback: median, 95% CI over rounds",
            ("sans-serif", 18),
        )
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(64)
        .build_cartesian_2d(
            -0.5f64..(names.len() as f64 - 0.5),
            (lo.max(0.01) / 1.5..hi * 1.5).log_scale(),
        )?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(names.len() * 2 + 1)
        .x_label_formatter(&|x| label(&names, *x))
        .y_desc("MB/s (log scale)")
        .draw()?;
    for (k, size) in SIZES.iter().enumerate() {
        let colour = COLOURS[k % COLOURS.len()];
        let offset = (k as f64 - 1.0) * 0.2;
        let mine: Vec<&&ResultRow> = rows.iter().filter(|r| r.message_bytes == *size).collect();
        let at = |r: &ResultRow| {
            names.iter().position(|n| *n == r.transport).unwrap_or(0) as f64 + offset
        };
        chart.draw_series(mine.iter().map(|r| {
            ErrorBar::new_vertical(at(r), r.ci95[0], r.median, r.ci95[1], colour.filled(), 8)
        }))?;
        chart
            .draw_series(
                mine.iter()
                    .map(|r| Circle::new((at(r), r.median), 4, colour.filled())),
            )?
            .label(format!("{size} B messages"))
            .legend(move |(x, y)| Circle::new((x, y), 4, colour.filled()));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .position(SeriesLabelPosition::UpperRight)
        .draw()?;
    root.present()?;
    Ok(())
}
