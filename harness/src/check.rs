//! The check: every conformance test runs its body through [`claim`], which checks the claim ids
//! against the catalogue, applies the gates (private namespace, capabilities, IPv6), bounds the
//! whole test in time, and records per claim what happened (pass / fail / skipped + reason) and
//! what the kernel did (errno names, sizes, addresses) as evidence ([`crate::record`]).

use std::any::Any;
use std::io::{self, Write};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use proptest::strategy::Strategy;
use proptest::test_runner::{Config, TestCaseError, TestError, TestRunner};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::kernel::Runtime;
use crate::peers::{Family, SocketKind};
use crate::privileges::{self, Cap};
use crate::record::{self, Outcome, Record, EMULATED_ENV, INJECTED_ENV};
use crate::sandbox::{self, Netns, Plan, Reexec};
use crate::skip::{skip, Skipped};
use crate::{catalogue, kernel, wait};

/// Starts a check of one claim of the catalogue.
pub fn claim(id: &'static str) -> Check {
    Check {
        ids: vec![id],
        case: Vec::new(),
        netns: false,
        caps: Vec::new(),
        ipv6: false,
        native_speed: false,
        alone: false,
        limit: DEFAULT_LIMIT,
    }
}

/// A test's overall bound unless it asks for another: a few seconds, so no test hangs the run.
pub const DEFAULT_LIMIT: Duration = Duration::from_secs(5);

/// The most any test may ask for: a call that blocks or an option the kernel ignores costs the
/// run at most this much per test.
pub const MAX_LIMIT: Duration = Duration::from_secs(10);

/// What a test needs and which claims it proves; [`Check::run`] runs it.
#[must_use = "a check does nothing until run"]
pub struct Check {
    ids: Vec<&'static str>,
    /// The parts of the case label, in the order the test gave them.
    case: Vec<String>,
    netns: bool,
    caps: Vec<Cap>,
    ipv6: bool,
    native_speed: bool,
    alone: bool,
    limit: Duration,
}

impl Check {
    /// The same test also proves this claim.
    pub fn and(mut self, id: &'static str) -> Self {
        self.ids.push(id);
        self
    }

    /// Run in a private network namespace (see [`crate::sandbox`]).
    pub fn in_netns(mut self) -> Self {
        self.netns = true;
        self
    }

    /// Skip (visibly) unless the test holds `cap` where it runs.
    pub fn needs(mut self, cap: Cap) -> Self {
        self.caps.push(cap);
        self
    }

    /// Skip (visibly) when IPv6 is disabled on this kernel.
    pub fn needs_ipv6(mut self, yes: bool) -> Self {
        self.ipv6 |= yes;
        self
    }

    /// This case runs over `family`: IPv6 is needed for [`Family::V6`], and the family names
    /// the case (`IPv4`, `IPv6`).
    pub fn family(self, family: Family) -> Self {
        self.needs_ipv6(family == Family::V6)
            .case(family.to_string())
    }

    /// This case runs on sockets of `kind`: IPv6 is needed for an IPv6 kind, and the kind's
    /// description names the case.
    pub fn kind(self, kind: SocketKind) -> Self {
        self.needs_ipv6(kind.family() == Some(Family::V6))
            .case(kind.description)
    }

    /// Names (a part of) this case in words for the report: what this case of a parametrised
    /// test varies, beyond its family or kind.
    pub fn case(mut self, label: impl Into<String>) -> Self {
        self.case.push(label.into());
        self
    }

    /// Skip (visibly) under CPU emulation or injected delays, where the relative speed of two
    /// kernel paths says nothing about the kernel (throughput comparisons).
    pub fn needs_native_speed(mut self) -> Self {
        self.native_speed = true;
        self
    }

    /// Run alone among the CPU-time-sensitive tests (speed comparisons) of every test process
    /// of this user's runs: holds [`crate::lock::timing`] for the whole test. A test that waits
    /// on a kernel timer does not need it: a timer does not care about load.
    pub fn alone(mut self) -> Self {
        self.alone = true;
        self
    }

    /// A different overall bound (property tests with many cases), at most [`MAX_LIMIT`].
    pub fn limit(mut self, limit: Duration) -> Self {
        assert!(
            limit <= MAX_LIMIT,
            "a test may run at most {MAX_LIMIT:?}; it asked for {limit:?}"
        );
        self.limit = limit;
        self
    }

    /// Runs `body` on its own thread under the watchdog and records the evidence. A failing
    /// body fails the test; a skip is recorded and printed, and the test returns.
    pub fn run<F>(self, body: F)
    where
        F: FnOnce(&Ctx) + Send + 'static,
    {
        let name = std::thread::current()
            .name()
            .filter(|n| *n != "main")
            .expect("claim checks run inside a libtest test thread")
            .to_string();
        let test = format!("{}::{name}", suite_name());
        if let Err(e) = catalogue::shared().and_then(|c| c.check_ids(&self.ids)) {
            panic!("{test}: {e}");
        }
        let plan = self.netns.then(sandbox::plan);
        // A re-executed test's parent holds the lock for it.
        let _alone = match (self.alone, plan) {
            (false, _) | (true, Some(Plan::Inherited)) => None,
            (true, _) => Some(crate::lock::timing().unwrap_or_else(|e| {
                self.finish(
                    &test,
                    Outcome::Fail,
                    Some(e),
                    Map::new(),
                    None,
                    Instant::now(),
                );
                unreachable!("a failed check panics")
            })),
        };
        let started = Instant::now();
        if plan == Some(Plan::Reexec) {
            return self.run_reexec(&name, &test, started);
        }

        let (outcome, reason, observed, netns) = self.supervise(&name, plan, body);
        self.finish(&test, outcome, reason, observed, netns, started);
    }

    /// Runs `body` on its own thread (in a namespace if `plan` says so) under the watchdog:
    /// the outcome, the reason for a failure or skip, and what the body observed.
    fn supervise<F>(
        &self,
        name: &str,
        plan: Option<Plan>,
        body: F,
    ) -> (Outcome, Option<String>, Map<String, Value>, Option<String>)
    where
        F: FnOnce(&Ctx) + Send + 'static,
    {
        let (tx, rx) = mpsc::channel();
        let step = Arc::new(Mutex::new(String::from("starting")));
        let seen = Arc::new(Seen::default());
        let (caps, ipv6, native_speed) = (self.caps.clone(), self.ipv6, self.native_speed);
        let (thread_step, thread_seen) = (step.clone(), seen.clone());
        let spawned = std::thread::Builder::new()
            .name(name.to_string())
            .spawn(move || {
                wait::track_steps(thread_step);
                let result = catch_unwind(AssertUnwindSafe(|| {
                    let netns = match plan {
                        None => None,
                        Some(Plan::UnshareThread) => Some(Netns::unshare_thread()),
                        Some(_) => Some(Netns::inherited()),
                    }
                    .transpose()
                    .unwrap_or_else(|e| skip(format!("no private network namespace ({e})")));
                    if let Some(ns) = &netns {
                        *lock(&thread_seen.netns) = Some(ns.how().to_string());
                    }
                    let ctx = Ctx {
                        seen: thread_seen,
                        netns,
                    };
                    gate(&caps, ipv6, native_speed);
                    body(&ctx);
                }));
                let _ = tx.send(result);
            })
            .expect("spawn the test body thread");
        let runtime = kernel::running().runtime;
        let limit = self.limit * watchdog_scale(runtime);
        let (outcome, reason) = match rx.recv_timeout(limit) {
            Ok(Ok(())) => (Outcome::Pass, None),
            Ok(Err(payload)) => match payload.downcast::<Skipped>() {
                Ok(skipped) => (Outcome::Skipped, Some(skipped.0)),
                Err(payload) => (Outcome::Fail, Some(panic_message(&*payload))),
            },
            Err(_) => {
                // The body still runs: it is left behind, never joined.
                let (outcome, reason) = timed_out(runtime, limit, &lock(&step));
                let observed = std::mem::take(&mut *lock(&seen.observed));
                return (outcome, Some(reason), observed, lock(&seen.netns).clone());
            }
        };
        if outcome != Outcome::Fail {
            let _ = spawned.join();
        }
        let observed = std::mem::take(&mut *lock(&seen.observed));
        let netns = lock(&seen.netns).clone();
        (outcome, reason, observed, netns)
    }

    fn run_reexec(self, name: &str, test: &str, started: Instant) {
        // The child has its own watchdog; this bound only catches a child that cannot stop.
        let limit = self.limit * watchdog_scale(kernel::running().runtime);
        match sandbox::reexec(name, limit + Duration::from_secs(5)) {
            Reexec::Finished { skipped_lines } => {
                for line in skipped_lines {
                    let _ = writeln!(io::stderr(), "{line}");
                }
            }
            Reexec::Failed(output) => panic!("{test} failed in its namespace:\n{output}"),
            Reexec::Unavailable(errno) => self.finish(
                test,
                Outcome::Skipped,
                Some(format!("no private network namespace ({errno})")),
                Map::new(),
                None,
                started,
            ),
            Reexec::TimedOut(output) => self.finish(
                test,
                Outcome::Fail,
                Some(format!("re-executed test did not finish:\n{output}")),
                Map::new(),
                None,
                started,
            ),
        }
    }

    /// Each fact's outcome and reason: the test's own, except where a failing property named
    /// the fact its counterexample is about ([`about`]): that fact fails, the others were not
    /// checked past the counterexample.
    fn outcomes(
        &self,
        outcome: Outcome,
        reason: Option<&str>,
        observed: &Map<String, Value>,
    ) -> Vec<(&'static str, Outcome, Option<String>)> {
        let about = observed
            .get(COUNTEREXAMPLE_ABOUT)
            .and_then(Value::as_str)
            .filter(|fact| outcome == Outcome::Fail && self.ids.contains(fact));
        self.ids
            .iter()
            .map(|&id| match about {
                Some(fact) if fact != id => (
                    id,
                    Outcome::Skipped,
                    Some(format!(
                        "not checked: the property stopped at a counterexample about {fact}"
                    )),
                ),
                _ => (id, outcome, reason.map(str::to_string)),
            })
            .collect()
    }

    fn finish(
        &self,
        test: &str,
        outcome: Outcome,
        reason: Option<String>,
        observed: Map<String, Value>,
        netns: Option<String>,
        started: Instant,
    ) {
        let kernel = kernel::release();
        let case = self.case_label(test);
        let uid = privileges::host_uid();
        let caps: Vec<String> = privileges::Privileges::current()
            .capabilities
            .iter()
            .map(|c| c.to_string())
            .collect();
        let elapsed_ms = started.elapsed().as_millis() as u64;
        let at_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let records: Vec<Record> = self
            .outcomes(outcome, reason.as_deref(), &observed)
            .into_iter()
            .map(|(id, outcome, reason)| Record {
                claim: id.to_string(),
                test: test.to_string(),
                case: case.clone(),
                outcome,
                reason,
                observed: observed.clone(),
                kernel: kernel.clone(),
                run: crate::run::id().to_string(),
                uid,
                caps: caps.clone(),
                netns: netns.clone(),
                elapsed_ms,
                at_ms,
            })
            .collect();
        record::append(&records);
        match outcome {
            Outcome::Pass => {}
            Outcome::Skipped => {
                // Straight to the terminal, past libtest's capture: a skip must be seen.
                let _ = writeln!(
                    io::stderr(),
                    "SKIPPED {test}: {}",
                    reason.unwrap_or_default()
                );
            }
            Outcome::Fail => panic!("{test}: {}", reason.unwrap_or_default()),
        }
    }
}

/// How many times its limit a test may take on `runtime`: gVisor's ptrace platform turns every
/// system call into round trips through its sentry, several times slower than Linux.
fn watchdog_scale(runtime: Runtime) -> u32 {
    match runtime {
        Runtime::Linux => 1,
        Runtime::Gvisor => 3,
    }
}

/// What a test that overran its (scaled) limit records: on Linux a failure naming its last
/// step; under gVisor "could not check in time", a skip, since slowness there says nothing
/// about the API it implements.
fn timed_out(runtime: Runtime, limit: Duration, step: &str) -> (Outcome, String) {
    match runtime {
        Runtime::Linux => (
            Outcome::Fail,
            format!("timed out after {limit:?} while: {step}"),
        ),
        Runtime::Gvisor => (
            Outcome::Skipped,
            format!(
                "could not check in time under gVisor: no answer within {limit:?} (3 times the \
                 Linux limit) while: {step}"
            ),
        ),
    }
}

impl Check {
    /// The case label: the parts the test gave, then an rstest `#[case::name]`'s name
    /// (`case_3_inet_rdm` is `inet rdm`), which only the generated test name carries.
    fn case_label(&self, test: &str) -> Option<String> {
        let described = test.split("::").filter_map(|segment| {
            let rest = segment.strip_prefix("case_")?;
            let (n, name) = rest.split_once('_')?;
            n.chars()
                .all(|c| c.is_ascii_digit())
                .then(|| name.replace('_', " "))
        });
        let parts: Vec<String> = self.case.iter().cloned().chain(described).collect();
        (!parts.is_empty()).then(|| parts.join(", "))
    }
}

fn gate(caps: &[Cap], ipv6: bool, native_speed: bool) {
    for cap in caps {
        if !privileges::has(*cap) {
            skip(format!(
                "needs {} (uid {} has it not here)",
                cap.name(),
                nix::unistd::getuid()
            ));
        }
    }
    if ipv6 && !ipv6_available() {
        skip("IPv6 is disabled on this kernel (cannot bind ::1)");
    }
    if let Some(how) = std::env::var_os(EMULATED_ENV).filter(|_| native_speed) {
        skip(format!(
            "a speed comparison means nothing under {} CPU emulation (use KVM)",
            how.to_string_lossy()
        ));
    }
    if native_speed && std::env::var_os(INJECTED_ENV).is_some() {
        skip("a speed comparison means nothing with delays injected into the socket calls");
    }
}

/// Whether this kernel (namespace) has IPv6 on loopback.
pub fn ipv6_available() -> bool {
    socket2::Socket::new(socket2::Domain::IPV6, socket2::Type::DGRAM, None)
        .and_then(|s| {
            s.bind(&std::net::SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, 0)).into())
        })
        .is_ok()
}

/// The integration-test binary's name (`fundamentals` for `fundamentals-0123abcd`).
fn suite_name() -> String {
    let exe = std::env::current_exe().unwrap_or_default();
    let stem = exe
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    match stem.rsplit_once('-') {
        Some((name, hash)) if hash.chars().all(|c| c.is_ascii_hexdigit()) => name.to_string(),
        _ => stem,
    }
}

fn panic_message(payload: &(dyn Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panicked with a non-text payload".into())
}

/// What a test body gets: a place to put its observations and, if it asked, its namespace.
pub struct Ctx {
    seen: Arc<Seen>,
    netns: Option<Netns>,
}

/// What a body observed, shared with the recorder so a failing or hanging test keeps it.
#[derive(Default)]
struct Seen {
    observed: Mutex<Map<String, Value>>,
    netns: Mutex<Option<String>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Ctx {
    /// Records what the kernel did, under `key`, for the report.
    pub fn observe(&self, key: &str, value: impl Serialize) {
        let value = serde_json::to_value(value).expect("observation serialises");
        lock(&self.seen.observed).insert(key.to_string(), value);
    }

    /// The test's private network namespace; the check must have asked for one.
    pub fn netns(&self) -> &Netns {
        self.netns
            .as_ref()
            .expect("the check did not ask for a namespace (.in_netns())")
    }

    /// Checks a universal claim as a proptest property over `strategy`, `cases` times. A
    /// failure shrinks to a minimal counterexample, which is recorded and fails the test.
    pub fn property<S>(
        &self,
        cases: u32,
        strategy: S,
        test: impl Fn(S::Value) -> Result<(), TestCaseError>,
    ) where
        S: Strategy,
        S::Value: std::fmt::Debug,
    {
        let config = Config {
            cases,
            // Counterexamples go to the evidence, not to a regression file under tests/.
            failure_persistence: None,
            max_shrink_time: 2_000,
            ..Config::default()
        };
        let mut runner = TestRunner::new(config);
        // Each case names itself for the watchdog; calls past `cases` are shrinking.
        let calls = std::sync::atomic::AtomicU32::new(0);
        let announced = |value: S::Value| {
            let call = calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
            if call <= cases {
                wait::step(&format!("property case {call} of {cases}"));
            } else {
                wait::step(&format!(
                    "property: shrinking a counterexample (case {call})"
                ));
            }
            test(value)
        };
        match runner.run(&strategy, announced) {
            Ok(()) => self.observe("property_cases", cases),
            Err(TestError::Fail(reason, value)) => {
                let value = format!("{value:?}");
                self.observe("counterexample", &value);
                if let Some(fact) = about_of(reason.message()) {
                    self.observe(COUNTEREXAMPLE_ABOUT, fact);
                }
                panic!("property fails; minimal counterexample {value}: {reason}");
            }
            Err(TestError::Abort(reason)) => panic!("property aborted: {reason}"),
        }
    }
}

/// Where a failing property said which of its check's facts the failing step is about.
const COUNTEREXAMPLE_ABOUT: &str = "counterexample_about";

/// A property's failure message that names the fact its failing step is about: the check then
/// records the failure against that fact alone, and its other facts as not checked (the
/// property stopped there), rather than failing every fact the test proves.
pub fn about(fact: &str, why: impl std::fmt::Display) -> String {
    format!("[about {fact}] {why}")
}

/// The fact an [`about`] message names.
fn about_of(message: &str) -> Option<&str> {
    message
        .strip_prefix("[about ")?
        .split_once(']')
        .map(|(fact, _)| fact)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_property_that_overruns_names_its_case() {
        let (outcome, reason, _, _) =
            check(Duration::from_millis(200)).supervise("slow property", None, |ctx| {
                ctx.property(2, 0u32..10, |_| {
                    std::thread::sleep(Duration::from_millis(400));
                    Ok(())
                });
            });
        assert_eq!(outcome, Outcome::Fail);
        let reason = reason.expect("a reason");
        assert!(reason.contains("property case 1 of 2"), "{reason}");
    }

    #[test]
    fn a_timeout_under_gvisor_could_not_be_checked_and_on_linux_fails() {
        let limit = Duration::from_secs(5);
        let (outcome, reason) = timed_out(Runtime::Gvisor, limit * 3, "accepting");
        assert_eq!(outcome, Outcome::Skipped);
        assert!(
            reason.starts_with("could not check in time under gVisor"),
            "{reason}"
        );
        let (outcome, reason) = timed_out(Runtime::Linux, limit, "accepting");
        assert_eq!(outcome, Outcome::Fail);
        assert!(reason.contains("while: accepting"), "{reason}");
        assert_eq!(watchdog_scale(Runtime::Gvisor), 3);
    }

    #[test]
    fn a_model_counterexample_fails_only_the_fact_its_step_is_about() {
        let check = claim("fundamentals.fd.socket-is-a-file-descriptor")
            .and("fundamentals.fd.close-releases");
        let (outcome, reason, observed, _) = check.supervise("model", None, |ctx| {
            ctx.property(8, 0u32..10, |n| {
                if n >= 3 {
                    return Err(TestCaseError::fail(about(
                        "fundamentals.fd.close-releases",
                        "close gave EBADF",
                    )));
                }
                Ok(())
            });
        });
        assert_eq!(outcome, Outcome::Fail);
        let per_fact = check.outcomes(outcome, reason.as_deref(), &observed);
        assert_eq!(per_fact[0].1, Outcome::Skipped, "{per_fact:?}");
        assert!(per_fact[0]
            .2
            .as_deref()
            .unwrap_or_default()
            .contains("not checked"));
        assert_eq!(per_fact[1].1, Outcome::Fail, "{per_fact:?}");
    }

    fn check(limit: Duration) -> Check {
        claim("fundamentals.fd.socket-is-a-file-descriptor").limit(limit)
    }

    #[test]
    fn a_body_that_hangs_fails_naming_its_step() {
        let (outcome, reason, _, _) =
            check(Duration::from_millis(100)).supervise("hang", None, |_| {
                wait::step("a recv that never returns");
                std::thread::sleep(Duration::from_secs(3600));
            });
        assert_eq!(outcome, Outcome::Fail);
        let reason = reason.expect("a reason");
        assert!(reason.contains("timed out after 100ms"), "{reason}");
        assert!(reason.contains("a recv that never returns"), "{reason}");
    }

    #[test]
    fn a_bulk_transfer_that_overruns_names_itself_and_its_progress() {
        let (outcome, reason, _, _) =
            check(Duration::from_millis(300)).supervise("bulk", None, |_| {
                // Past the 300 ms bound, then done: nothing keeps streaming after the test.
                let pair = crate::peers::SocketKind::TCP_V4.pair();
                let started = Instant::now();
                crate::peers::stream(pair.client, &pair.server, |_| {
                    started.elapsed() > Duration::from_secs(1)
                });
            });
        assert_eq!(outcome, Outcome::Fail);
        let reason = reason.expect("a reason");
        assert!(reason.contains("bulk transfer: reading after"), "{reason}");
    }

    #[test]
    fn a_skip_is_recorded_with_its_reason_and_observations_survive_a_failure() {
        let (outcome, reason, _, _) =
            check(DEFAULT_LIMIT).supervise("skip", None, |_| skip("needs CAP_NET_RAW"));
        assert_eq!(outcome, Outcome::Skipped);
        assert_eq!(reason.as_deref(), Some("needs CAP_NET_RAW"));
        let (outcome, reason, observed, _) = check(DEFAULT_LIMIT).supervise("fail", None, |ctx| {
            ctx.observe("errno", "EINVAL");
            panic!("expected EADDRINUSE");
        });
        assert_eq!(outcome, Outcome::Fail);
        assert_eq!(reason.as_deref(), Some("expected EADDRINUSE"));
        assert_eq!(observed["errno"], "EINVAL");
    }

    #[test]
    fn the_case_label_is_what_the_test_named_then_an_rstest_case_name() {
        let labelled = check(DEFAULT_LIMIT)
            .family(Family::V6)
            .case("SO_RCVTIMEO")
            .case_label("tcp::f::family_2_V6::receive_1_true");
        assert_eq!(labelled.as_deref(), Some("IPv6, SO_RCVTIMEO"));
        let kind = check(DEFAULT_LIMIT)
            .kind(SocketKind::UNIX_DGRAM)
            .case_label("unix::f::kind_2_SocketKind__UNIX_DGRAM");
        assert_eq!(kind.as_deref(), Some("Unix datagram socketpair"));
        let described = check(DEFAULT_LIMIT).case_label("f::x::case_02_unix_rdm");
        assert_eq!(described.as_deref(), Some("unix rdm"));
        assert_eq!(check(DEFAULT_LIMIT).case_label("tcp::plain_test"), None);
    }

    #[test]
    fn a_record_written_before_case_labels_still_parses() {
        let old = r#"{"claim":"a.b.c","test":"s::t","outcome":"pass","kernel":"6.1","uid":0,"elapsed_ms":1}"#;
        let record: Record = serde_json::from_str(old).expect("an old record parses");
        assert_eq!(record.case, None);
        let line = serde_json::to_string(&record).expect("serialises");
        assert!(!line.contains("case"), "no label, no field: {line}");
    }

    #[test]
    fn a_property_failure_shrinks_to_a_minimal_counterexample() {
        let (outcome, reason, observed, _) =
            check(DEFAULT_LIMIT).supervise("property", None, |ctx| {
                ctx.property(256, 0u32..10_000, |n| {
                    proptest::prop_assert!(n < 1000);
                    Ok(())
                });
            });
        assert_eq!(outcome, Outcome::Fail);
        assert_eq!(observed["counterexample"], "1000", "{reason:?}");
    }
}
