//! The speed primitives: interleaved measuring loops over loopback transports ([`measure`]),
//! medians and bootstrap intervals ([`stats`]), the thresholds ([`verdicts`]), and [`require`],
//! the short tests' verdict on a ratio. `cargo claims bench` runs the same loops longer.

pub mod measure;
pub mod stats;
pub mod verdicts;

use stats::{Ratio, Status};

/// The short tests' verdict on a ratio, recorded as an observation: passes when its interval
/// is wholly above `threshold`, fails when wholly below (the kernel did otherwise), and skips,
/// visibly, when it straddles it: too noisy here to tell, which `cargo claims bench` settles.
pub fn require(ctx: &crate::check::Ctx, what: &str, ratio: Ratio, threshold: f64) {
    let shown = shown(&ratio, &format!("threshold {threshold:.2}"));
    ctx.observe(what, &shown);
    match ratio.against(threshold) {
        Status::Holds => {}
        Status::Fails => panic!("{what}: {shown}: the whole 95% interval is below {threshold}"),
        _ => crate::skip::skip(format!(
            "inconclusive here: {what} {shown}; `cargo claims bench` measures longer"
        )),
    }
}

/// [`require`] for a ratio a fact bounds on both sides: passes when its interval lies wholly
/// between `low` and `high`, fails when it lies wholly below `low` or wholly above `high`, and
/// skips, visibly, when it straddles either bound.
pub fn require_between(ctx: &crate::check::Ctx, what: &str, ratio: Ratio, low: f64, high: f64) {
    let shown = shown(&ratio, &format!("between {low:.2} and {high:.2}"));
    ctx.observe(what, &shown);
    match (ratio.against(low), ratio.against(high)) {
        (Status::Holds, Status::Fails) => {}
        (Status::Fails, _) => panic!("{what}: {shown}: the whole 95% interval is below {low}"),
        (_, Status::Holds) => panic!("{what}: {shown}: the whole 95% interval is above {high}"),
        _ => crate::skip::skip(format!(
            "inconclusive here: {what} {shown}; `cargo claims bench` measures longer"
        )),
    }
}

/// A ratio as the short tests record it.
fn shown(ratio: &Ratio, bound: &str) -> String {
    format!(
        "{:.2}× [{:.2}, {:.2}] over {} interleaved rounds ({bound})",
        ratio.ratio, ratio.ci95[0], ratio.ci95[1], ratio.rounds
    )
}
