//! The thresholds a speed claim is judged by: one number per claim, shared by the short tests
//! (`bench::require`) and `cargo claims bench`.

/// The course's speed column has three levels (보통 → 높음 → 매우높음). A step is read as
/// 1.5×: a smaller gain is not what a reader of "높음" expects, and an application's own work
/// hides it. Two steps (매우높음 over 보통) as 2× (1.5² ≈ 2.25, rounded down).
pub const ONE_STEP: f64 = 1.5;
pub const TWO_STEPS: f64 = 2.0;

/// Plainly faster at all: the line the short tests hold a faster path to.
pub const FASTER: f64 = 1.0;

/// Nagle's stall is a delayed ACK (tens of milliseconds) against a round trip of microseconds;
/// "disables Nagle" is taken to mean the exchange gets at least ten times faster.
pub const NAGLE: f64 = 10.0;

/// The 5 ms scenario: the loopback kernel path's round trip is taken to be negligible when
/// at least ten of them fit in 5 ms (the kernel's share under a tenth of the budget).
pub const BUDGET_5MS: f64 = 10.0;

/// The name of the 5 ms budget as the `b` side of a ratio.
pub const FIVE_MS: &str = "5ms";
pub const FIVE_MS_US: f64 = 5_000.0;
