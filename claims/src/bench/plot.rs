//! The bench's plots, as SVG files next to bench.md: the round trips for the course's author
//! (one panel per method, the course table's rows in its order, each bar how many times faster
//! than TCP with its 95% interval and the course's speed word), and throughput per transport and
//! message size, each point with its 95% interval as error bars.

use std::path::Path;

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::render::{self, COURSE_ROWS};
use super::verdicts::Metric;
use super::{BenchFile, ResultRow};
use harness::bench::measure::{Method, SIZES};

const COLOURS: [RGBColor; 3] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
];
const GREY: RGBColor = RGBColor(150, 150, 150);

/// Draws the plots into `dir`; the file names written, or why not.
pub fn draw(file: &BenchFile, dir: &Path) -> Result<Vec<String>, String> {
    let mut written = Vec::new();
    if file.results.iter().any(|r| r.metric == Metric::Rtt) {
        latency(file, &dir.join("latency.svg")).map_err(|e| format!("latency.svg: {e}"))?;
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

/// A bar: how many times faster than TCP, and its 95% interval.
type Bar = (f64, [f64; 2]);

/// One panel per method; in each, the course table's rows in its order, each bar how many
/// times faster than TCP its round trip was, with its 95% interval, the ratio and the course's
/// speed word on top, TCP's 1× drawn across. A bar is blue when its whole interval is above 1×
/// (faster than TCP, as the column's order says), orange when below, grey when undecided.
fn latency(file: &BenchFile, path: &Path) -> Drawn {
    let cells: Vec<(Method, Vec<Option<Bar>>)> = Method::ALL
        .into_iter()
        .map(|m| {
            let bars = COURSE_ROWS
                .iter()
                .map(|(_, _, a, tcp)| render::ratio_to_tcp(file, m, a, tcp))
                .collect();
            (m, bars)
        })
        .collect();
    let top = cells
        .iter()
        .flat_map(|(_, bars)| bars.iter().flatten().map(|(x, ci)| x.max(ci[1])))
        .fold(1.0, f64::max)
        * 1.3;
    let root = SVGBackend::new(path, (1140, 480)).into_drawing_area();
    root.fill(&WHITE)?;
    let (head, body) = root.split_vertically(70);
    let centred = |size| {
        ("sans-serif", size)
            .into_font()
            .color(&BLACK)
            .pos(Pos::new(HPos::Center, VPos::Top))
    };
    head.draw(&Text::new(
        "1-byte round trip on loopback: how many times faster than TCP, by method",
        (570, 8),
        centred(20),
    ))?;
    for (i, line) in [
        "above each bar: the ratio (median of per-round ratios; its 95% interval as the error bar) \
         and the course table's speed word",
        "dashed: TCP (1×) · blue: faster than TCP (the whole interval above 1×), orange: slower, \
         grey: undecided · the speed column orders the rows; how many times faster depends on the method",
    ]
    .into_iter()
    .enumerate()
    {
        head.draw(&Text::new(line, (570, 34 + 14 * i as i32), centred(12)))?;
    }
    let names: Vec<String> = COURSE_ROWS.iter().map(|r| r.0.to_string()).collect();
    for (panel, (method, bars)) in body.split_evenly((1, 3)).iter().zip(&cells) {
        // Between unpinned threads the spread is the point: TCP's p10–p90 beside its median.
        let tcp = render::rtt(file, "tcp-v4", *method)
            .map(|r| match (method, r.spread) {
                (Method::TwoCpus, Some([lo, hi])) => {
                    format!(" · TCP {:.1} µs ({lo:.1}–{hi:.1})", r.median)
                }
                _ => format!(" · TCP {:.1} µs", r.median),
            })
            .unwrap_or_default();
        let mut chart = ChartBuilder::on(panel)
            .caption(format!("{}{tcp}", method.words().0), ("sans-serif", 14))
            .margin(10)
            .x_label_area_size(28)
            .y_label_area_size(44)
            .build_cartesian_2d(-0.5f64..3.5, 0f64..top)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .light_line_style(TRANSPARENT)
            .x_labels(9)
            .x_label_formatter(&|x| label(&names, *x))
            .y_desc("times faster than TCP")
            .draw()?;
        chart.draw_series(DashedLineSeries::new(
            [(-0.5, 1.0), (3.5, 1.0)],
            4,
            3,
            GREY.stroke_width(1),
        ))?;
        for (i, ((_, word, a, tcp), bar)) in COURSE_ROWS.iter().zip(bars).enumerate() {
            let x = i as f64;
            let Some((ratio, [lo, hi])) = *bar else {
                chart.draw_series(std::iter::once(
                    EmptyElement::at((x, 0.0)) + Text::new("not measured", (0, -16), centred(11)),
                ))?;
                continue;
            };
            let colour = if *a == *tcp || (lo <= 1.0 && 1.0 <= hi) {
                GREY
            } else if lo > 1.0 {
                COLOURS[0]
            } else {
                COLOURS[1]
            };
            chart.draw_series(std::iter::once(Rectangle::new(
                [(x - 0.3, 0.0), (x + 0.3, ratio)],
                colour.mix(0.8).filled(),
            )))?;
            chart.draw_series(std::iter::once(ErrorBar::new_vertical(
                x,
                lo,
                ratio,
                hi,
                BLACK.stroke_width(1),
                8,
            )))?;
            let above = |dy, text: String, size| {
                EmptyElement::at((x, hi.max(ratio)))
                    + Text::new(
                        text,
                        (0, dy),
                        ("sans-serif", size)
                            .into_font()
                            .color(&BLACK)
                            .pos(Pos::new(HPos::Center, VPos::Bottom)),
                    )
            };
            chart.draw_series([
                above(-4, format!("{ratio:.2}×"), 13),
                above(-20, word.to_string(), 13),
            ])?;
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_latency_plot_has_a_panel_per_method_with_the_course_rows_in_its_order() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let drawn = draw(&crate::bench::tests::like_here(), dir.path()).expect("plots drawn");
        assert_eq!(drawn[0], "latency.svg");
        let svg = std::fs::read_to_string(dir.path().join("latency.svg")).expect("the SVG");
        let at = |text: &str, from: usize| {
            svg[from..]
                .find(&format!(">\n{text}\n<"))
                .map(|i| i + from)
                .unwrap_or_else(|| panic!("{text:?} after byte {from} of the plot"))
        };
        let mut from = 0;
        for method in Method::ALL {
            let caption = format!("{} · TCP", method.words().0);
            from = svg[from..]
                .find(&caption)
                .map(|i| i + from)
                .unwrap_or_else(|| panic!("the {caption:?} panel, in order"));
            // The axis first, then the bars: each in the course table's order.
            for text in [
                "TCP",
                "UDP",
                "Raw",
                "Unix",
                "보통",
                "높음",
                "높음",
                "매우높음",
            ] {
                from = at(text, from);
            }
        }
        at("2.00×", 0);
    }
}
