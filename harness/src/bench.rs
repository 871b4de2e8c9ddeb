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
pub fn require(ctx: &crate::Ctx, what: &str, ratio: Ratio, threshold: f64) {
    let shown = format!(
        "{:.2}× [{:.2}, {:.2}] over {} interleaved rounds (threshold {threshold:.2})",
        ratio.ratio, ratio.ci95[0], ratio.ci95[1], ratio.rounds
    );
    ctx.observe(what, &shown);
    match ratio.against(threshold) {
        Status::Holds => {}
        Status::Fails => panic!("{what}: {shown}: the whole 95% interval is below {threshold}"),
        _ => crate::skip(format!(
            "inconclusive here: {what} {shown}; `cargo claims bench` measures longer"
        )),
    }
}
