//! Statistics for interleaved rounds: medians and percentiles, a paired ratio with a 95%
//! bootstrap confidence interval over the rounds, and the verdict of an interval against a
//! threshold (holds / fails / inconclusive).

use serde::{Deserialize, Serialize};

/// Bootstrap resamples per interval: enough that the 2.5% and 97.5% points move by well under
/// the rounds' own spread, few enough to cost microseconds.
const RESAMPLES: usize = 4000;

/// SplitMix64: a tiny deterministic generator, so the same rounds give the same interval.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// An index below `n` (the modulo bias is below 2^-50 for the few rounds used here).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// The median of `values` (the mean of the middle two for an even count); NaN when empty.
pub fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// The `p`-th percentile (0..=100) of `values`, nearest rank; NaN when empty.
pub fn percentile(values: &[f64], p: f64) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * v.len() as f64).ceil() as usize;
    v[rank.clamp(1, v.len()) - 1]
}

/// The 95% percentile-bootstrap interval of `stat` over `values` (resampled with replacement).
pub fn bootstrap(values: &[f64], stat: impl Fn(&[f64]) -> f64) -> [f64; 2] {
    if values.len() < 2 {
        let v = values.first().copied().unwrap_or(f64::NAN);
        return [v, v];
    }
    let mut rng = SplitMix(0x5EED_CAFE_F00D_0001);
    let mut sample = vec![0.0; values.len()];
    let mut stats: Vec<f64> = (0..RESAMPLES)
        .map(|_| {
            for slot in sample.iter_mut() {
                *slot = values[rng.below(values.len())];
            }
            stat(&sample)
        })
        .collect();
    stats.sort_by(f64::total_cmp);
    [
        stats[RESAMPLES * 25 / 1000],
        stats[RESAMPLES * 975 / 1000 - 1],
    ]
}

/// How many times faster `a` was than `b`, from rounds in which both ran back to back.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Ratio {
    /// The median of the per-round ratios.
    pub ratio: f64,
    pub ci95: [f64; 2],
    pub rounds: usize,
}

impl Ratio {
    /// From per-round pairs `(a, b)` of a quantity where bigger is faster (throughput); pass
    /// `(b, a)` for one where smaller is faster (a round-trip time). Pairing by round cancels
    /// load that hit both alike; the median keeps a round that load hit on one side only (a
    /// burst, a migration) from moving the estimate.
    pub fn paired(a: &[f64], b: &[f64]) -> Ratio {
        let ratios: Vec<f64> = a
            .iter()
            .zip(b)
            .filter(|(a, b)| a.is_finite() && b.is_finite() && **a > 0.0 && **b > 0.0)
            .map(|(a, b)| a / b)
            .collect();
        if ratios.is_empty() {
            return Ratio {
                ratio: f64::NAN,
                ci95: [f64::NAN, f64::NAN],
                rounds: 0,
            };
        }
        Ratio {
            ratio: median(&ratios),
            ci95: bootstrap(&ratios, median),
            rounds: ratios.len(),
        }
    }

    /// Holds when the whole interval is above `threshold`, fails when it is wholly below,
    /// inconclusive otherwise (and with fewer than [`MIN_ROUNDS`] rounds).
    pub fn against(&self, threshold: f64) -> Status {
        if self.rounds < MIN_ROUNDS || !self.ci95.iter().all(|v| v.is_finite()) {
            Status::Inconclusive
        } else if self.ci95[0] > threshold {
            Status::Holds
        } else if self.ci95[1] < threshold {
            Status::Fails
        } else {
            Status::Inconclusive
        }
    }
}

/// Fewer rounds than this give no verdict: a bootstrap over four values is mostly noise.
pub const MIN_ROUNDS: usize = 5;

/// The verdict of a ratio's interval against its threshold.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    Holds,
    Fails,
    Inconclusive,
    /// Measured under CPU emulation, where speed says nothing about the kernel.
    NotMeasured,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Holds => "holds",
            Status::Fails => "fails",
            Status::Inconclusive => "inconclusive",
            Status::NotMeasured => "not-measured",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_and_percentile_follow_their_definitions() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        let hundred: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&hundred, 99.0), 99.0);
        assert_eq!(percentile(&hundred, 50.0), 50.0);
    }

    #[test]
    fn a_clear_ratio_holds_a_noisy_one_is_inconclusive_and_few_rounds_decide_nothing() {
        let a = [2.0, 2.1, 1.9, 2.0, 2.05, 1.95];
        let b = [1.0; 6];
        let clear = Ratio::paired(&a, &b);
        assert!((clear.ratio - 2.0).abs() < 0.05, "{clear:?}");
        assert_eq!(clear.against(1.5), Status::Holds);
        assert_eq!(clear.against(3.0), Status::Fails);
        let noisy = Ratio::paired(&[0.5, 3.0, 0.6, 2.5, 1.0, 1.6], &b);
        assert_eq!(noisy.against(1.0), Status::Inconclusive, "{noisy:?}");
        assert_eq!(
            Ratio::paired(&a[..4], &b[..4]).against(1.5),
            Status::Inconclusive
        );
    }

    #[test]
    fn the_interval_is_deterministic_and_brackets_the_estimate() {
        let a = [1.2, 1.5, 1.1, 1.4, 1.3, 1.6, 1.25];
        let b = [1.0; 7];
        let (x, y) = (Ratio::paired(&a, &b), Ratio::paired(&a, &b));
        assert_eq!(x, y);
        assert!(x.ci95[0] <= x.ratio && x.ratio <= x.ci95[1], "{x:?}");
    }
}
