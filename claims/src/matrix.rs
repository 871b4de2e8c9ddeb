//! `cargo claims matrix`: the whole suite under each kernel of `fixtures/kernels.toml` — the
//! host's natively, the others booted in qemu with the test binaries in an initramfs — and one
//! report, `target/claims/matrix.{md,json}`, listing first the claims whose outcome differs.

mod guest;
mod kernels;
mod table;
mod wire;

use std::fs;
use std::io::{self, BufRead};
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use clap::{Args, ValueEnum};

use crate::exit::{bad_input, Exit};
use crate::index::TestIndex;
use crate::junit;
pub use guest::Accel;
use guest::{Initramfs, Suite};
use harness::catalogue::{self, Catalogue};
use harness::kernel::{Running, Runtime, Version};
use harness::record::{self, Record};
use kernels::{Kernel, Source};
#[cfg(test)]
pub use table::Matrix;
use table::{KernelRun, RunStatus, SuiteExit};

/// The debugging tools the course names, copied with their libraries from this machine when it
/// has them, so their claims are checked in a guest too (a missing one shows there as skipped).
const GUEST_TOOLS: [&str; 6] = ["ss", "lsof", "tcpdump", "tc", "nc", "telnet"];

/// `cargo claims matrix`'s options.
#[derive(Debug, Args)]
pub struct MatrixOptions {
    /// Only this kernel (repeatable)
    #[arg(long = "kernel", value_name = "NAME")]
    pub kernels: Vec<String>,
    /// Only the kernels that boot in a VM
    #[arg(long)]
    pub no_host: bool,
    /// auto: KVM if a bounded probe boot works, else TCG
    #[arg(
        long,
        value_name = "MODE",
        env = "SOCKET_CLAIMS_ACCEL",
        default_value = "auto"
    )]
    pub accel: AccelMode,
    /// Bound on each kernel's whole run unless its entry sets `timeout`
    #[arg(long = "timeout", value_name = "SECS", default_value = "300",
          value_parser = clap::value_parser!(u64).range(1..))]
    pub timeout_secs: u64,
    /// Cargo profile of the test binaries (under TCG a debug build is slow enough to trip the
    /// tests' watchdogs)
    #[arg(long, value_name = "NAME", default_value = "release")]
    pub profile: String,
    /// Kernels run at once: the VMs are prepared first, one by one, the host runs alone, then
    /// N kernels run side by side
    #[arg(long, value_name = "N", default_value = "2")]
    pub jobs: NonZeroUsize,
    /// The kernel list [default: fixtures/kernels.toml]
    #[arg(long, value_name = "PATH")]
    pub file: Option<PathBuf>,
}

/// `--accel`: how qemu runs the guests' CPUs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum AccelMode {
    Auto,
    Kvm,
    Tcg,
}

impl MatrixOptions {
    /// The accelerator asked for; `None` lets a probe boot decide.
    pub fn accel(&self) -> Option<Accel> {
        match self.accel {
            AccelMode::Auto => None,
            AccelMode::Kvm => Some(Accel::Kvm),
            AccelMode::Tcg => Some(Accel::Tcg),
        }
    }

    pub fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout_secs)
    }
}

/// `cargo claims matrix`.
pub fn main(opts: &MatrixOptions) -> ExitCode {
    // qemu, runsc and the test binaries go with the matrix, whatever ends it.
    crate::children::kill_all_on_termination();
    match run(opts) {
        Ok(all_ran) => Exit::finding_if(!all_ran),
        Err(e) => bad_input(e),
    }
}

/// The whole matrix; Ok(false) when some kernel did not run its suite.
fn run(opts: &MatrixOptions) -> Result<bool, String> {
    let root = harness::workspace_root();
    let catalogue = Catalogue::load(&catalogue::default_dir())
        .map_err(|e| format!("the claim catalogue is malformed:\n{e}"))?;
    let index = TestIndex::scan(&root.join("tests"))
        .map_err(|e| format!("reading the test sources: {e}"))?;
    let file = opts
        .file
        .clone()
        .unwrap_or_else(|| root.join("fixtures").join("kernels.toml"));
    let list = kernels::load(&file, &root)?;
    let selected = select(&list.kernels, opts)?;
    let gvisor = std::cell::LazyCell::new(runsc);
    // Nothing to build when every kernel is skipped (gVisor alone, for a user who cannot run it).
    let runs_binaries = selected
        .iter()
        .any(|k| k.source != Source::Gvisor || gvisor.is_ok());
    let suites = if runs_binaries {
        build_suites(&root, &opts.profile)?
    } else {
        Vec::new()
    };
    let needs_vm = selected
        .iter()
        .any(|k| !matches!(k.source, Source::Host | Source::Gvisor));
    let claims_bin = if needs_vm {
        Some(build_claims(&root, &opts.profile)?)
    } else {
        None
    };
    let out = record::claims_dir();
    let cache = out.join("kernels");
    let mut vm = Vm {
        accel: opts.accel(),
        cache: cache.clone(),
        modules: list.modules.clone(),
        suites: suites.clone(),
        claims: claims_bin,
        busybox: None,
    };
    // Fetching and packing run one kernel at a time (they share apt's state and the
    // accelerator probe); the runs themselves may overlap.
    let mut jobs = Vec::new();
    for kernel in selected {
        let dir = out.join("matrix").join(&kernel.name);
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let started = Instant::now();
        let prepared = match &kernel.source {
            Source::Host => Ok(Ready::Host),
            Source::Gvisor => Ok(match &*gvisor {
                Ok(runsc) => Ready::Gvisor(runsc.clone()),
                Err(why) => Ready::Skip(why.clone()),
            }),
            _ => {
                eprintln!(
                    "matrix: preparing {} ({})",
                    kernel.name,
                    kernel.source.describe()
                );
                vm.prepare(kernel, &dir).map(Ready::Vm)
            }
        };
        jobs.push(Job {
            kernel,
            dir,
            prepared,
            prepare_seconds: started.elapsed().as_secs_f64(),
        });
    }
    let runs = run_jobs(&jobs, &suites, opts);
    let matrix = table::build(&catalogue, &index, runs);
    print!("{}", matrix.terminal());
    let json = serde_json::to_string_pretty(&matrix).map_err(|e| e.to_string())?;
    fs::create_dir_all(&out)
        .and_then(|()| fs::write(out.join("matrix.md"), matrix.markdown()))
        .and_then(|()| fs::write(out.join("matrix.json"), json))
        .and_then(|()| fs::write(out.join("matrix-junit.xml"), junit::render(&matrix.junit)))
        .map_err(|e| format!("writing the matrix to {}: {e}", out.display()))?;
    let shown = out.strip_prefix(&root).unwrap_or(&out).join("matrix.md");
    println!(
        "matrix: {} (also matrix.json, matrix-junit.xml)",
        shown.display()
    );
    Ok(matrix.all_ran_or_skipped())
}

/// Runs the prepared kernels; the results come in file order. The host's run is where speed
/// comparisons count (guests under TCG skip them): it runs alone, first; the other kernels then
/// share the machine, `--jobs` at a time.
fn run_jobs(jobs: &[Job], suites: &[Suite], opts: &MatrixOptions) -> Vec<(KernelRun, Vec<Record>)> {
    let (alone, shared): (Vec<usize>, Vec<usize>) =
        (0..jobs.len()).partition(|&i| jobs[i].kernel.source == Source::Host);
    let done = std::sync::Mutex::new(Vec::new());
    let finish = |i: usize| {
        let run = jobs[i].run(suites, opts.timeout());
        done.lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((i, run));
    };
    alone.into_iter().for_each(finish);
    let next = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..opts.jobs.get().min(shared.len()) {
            scope.spawn(|| {
                while let Some(&i) =
                    shared.get(next.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
                {
                    finish(i);
                }
            });
        }
    });
    let mut done = done.into_inner().unwrap_or_else(|p| p.into_inner());
    done.sort_by_key(|(i, _)| *i);
    done.into_iter().map(|(_, run)| run).collect()
}

/// The kernels `--kernel` / `--no-host` select, in file order.
fn select<'a>(all: &'a [Kernel], opts: &MatrixOptions) -> Result<Vec<&'a Kernel>, String> {
    for name in &opts.kernels {
        if !all.iter().any(|k| &k.name == name) {
            let known: Vec<&str> = all.iter().map(|k| k.name.as_str()).collect();
            return Err(format!(
                "--kernel: no kernel named {name:?} (known: {})",
                known.join(", ")
            ));
        }
    }
    let chosen: Vec<&Kernel> = all
        .iter()
        .filter(|k| opts.kernels.is_empty() || opts.kernels.contains(&k.name))
        .filter(|k| !(opts.no_host && k.source == Source::Host))
        .collect();
    if chosen.is_empty() {
        return Err("no kernel selected".into());
    }
    Ok(chosen)
}

/// Builds the root package's test binaries and lists them (not the catalogue self-test).
fn build_suites(root: &Path, profile: &str) -> Result<Vec<Suite>, String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    eprintln!("matrix: building the test binaries (cargo test --no-run --profile {profile})");
    let mut build = crate::children::spawn(
        Command::new(cargo)
            .current_dir(root)
            .args([
                "test",
                "--no-run",
                "--message-format=json",
                "--profile",
                profile,
            ])
            .args(["--package", "socket-claims"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped()),
    )
    .map_err(|e| format!("cannot run cargo: {e}"))?;
    let child = &mut build.child;
    let mut suites = Vec::new();
    let stdout = child.stdout.take().expect("stdout is piped");
    for line in std::io::BufReader::new(stdout).lines() {
        let line = line.map_err(|e| format!("reading cargo's output: {e}"))?;
        let Ok(msg) = serde_json::from_str::<serde_json::Value>(&line) else {
            continue;
        };
        let is_test = msg["reason"] == "compiler-artifact"
            && msg["profile"]["test"] == true
            && msg["target"]["kind"]
                .as_array()
                .is_some_and(|k| k.iter().any(|k| k == "test"));
        let (Some(name), Some(exe)) = (msg["target"]["name"].as_str(), msg["executable"].as_str())
        else {
            continue;
        };
        if is_test {
            suites.push(Suite {
                name: name.to_string(),
                path: exe.into(),
            });
        }
    }
    let status = child.wait().map_err(|e| format!("cargo: {e}"))?;
    if !status.success() {
        return Err(format!("building the test binaries failed ({status})"));
    }
    if suites.is_empty() {
        return Err("cargo built no test binaries".into());
    }
    suites.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(suites)
}

/// Builds the `claims` binary in `profile`, for the guests' `claims bench`; its path.
fn build_claims(root: &Path, profile: &str) -> Result<PathBuf, String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    eprintln!("matrix: building the claims binary for the guests' bench (--profile {profile})");
    let out = Command::new(cargo)
        .current_dir(root)
        .args(["build", "--message-format=json", "--profile", profile])
        .args(["--package", "claims", "--bin", "claims"])
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "building the claims binary failed ({})",
            out.status
        ));
    }
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find_map(|msg| {
            (msg["reason"] == "compiler-artifact" && msg["target"]["name"] == "claims")
                .then(|| msg["executable"].as_str().map(PathBuf::from))
                .flatten()
        })
        .ok_or_else(|| "cargo built no claims binary".into())
}

/// One kernel's turn: what was prepared for it and where its files go.
struct Job<'a> {
    kernel: &'a Kernel,
    dir: PathBuf,
    prepared: Result<Ready, String>,
    prepare_seconds: f64,
}

/// How a kernel will run, decided before any kernel runs.
enum Ready {
    Host,
    Gvisor(Runsc),
    Vm(Prepared),
    /// Not on this machine, and why (a missing privilege or tool): a visible skip, not an error.
    Skip(String),
}

impl Job<'_> {
    /// Runs the suite under this kernel and keeps its evidence in its directory.
    fn run(&self, suites: &[Suite], default_limit: Duration) -> (KernelRun, Vec<Record>) {
        let kernel = self.kernel;
        let limit = kernel.timeout.unwrap_or(default_limit);
        let source = kernel.source.describe();
        eprintln!("matrix: kernel {} ({source})", kernel.name);
        let failed = |e: String| {
            let run = KernelRun::failed(&kernel.name, source.clone(), RunStatus::Error, e);
            (run, Vec::new())
        };
        let (mut result, records) = match &self.prepared {
            Err(e) => failed(e.clone()),
            Ok(Ready::Host) => run_native(Native::Host, suites, limit, &self.dir),
            Ok(Ready::Gvisor(runsc)) => run_native(Native::Gvisor(runsc), suites, limit, &self.dir),
            Ok(Ready::Vm(prepared)) => boot_guest(kernel, prepared, limit, &self.dir),
            Ok(Ready::Skip(why)) => (
                KernelRun::failed(
                    &kernel.name,
                    source.clone(),
                    RunStatus::Skipped,
                    why.clone(),
                ),
                Vec::new(),
            ),
        };
        result.prepare_seconds = self.prepare_seconds;
        result.running = match &kernel.source {
            Source::Host => Some(harness::kernel::running()),
            Source::Gvisor => records.first().map(|r| Running {
                version: Version::parse(&r.kernel),
                runtime: Runtime::Gvisor,
            }),
            _ => result
                .package_version
                .as_deref()
                .or(result.release.as_deref())
                .map(|v| Running {
                    version: Version::parse(v),
                    runtime: Runtime::Linux,
                }),
        };
        result.version = result
            .running
            .as_ref()
            .and_then(|r| r.version.as_ref())
            .map(Version::to_string);
        let evidence: String = records
            .iter()
            .filter_map(|r| serde_json::to_string(r).ok())
            .map(|l| l + "\n")
            .collect();
        let _ = fs::write(self.dir.join("evidence.jsonl"), evidence);
        eprintln!(
            "matrix: kernel {}: {}",
            kernel.name,
            match (&result.detail, result.status) {
                (Some(d), s) if s != RunStatus::Ran => format!("{}: {d}", s.label()),
                _ => format!(
                    "ran on {} in {:.1} s",
                    result.release.as_deref().unwrap_or("?"),
                    result.seconds
                ),
            }
        );
        (result, records)
    }
}

/// A run without a VM: on this machine's kernel, or in gVisor's sandbox on top of it.
enum Native<'a> {
    Host,
    Gvisor(&'a Runsc),
}

/// The gVisor sandbox a test binary runs in: no network but its own loopback, the ptrace
/// platform (which needs no KVM and works nested), the host's filesystem read-only under a
/// writable overlay, so the evidence comes back on stdout.
const RUNSC_ARGS: [&str; 5] = ["--network=none", "--platform=ptrace", "do", "-quiet", "--"];

/// Inside the sandbox: runs the test binary (`$0`) with its output on stderr, then prints its
/// exit code and its evidence on stdout.
fn gvisor_script() -> String {
    format!(
        "mkdir -p /tmp/evidence && \
         {}=/tmp/evidence {}=gvisor \"$0\" </dev/null >&2; \
         echo \"{} {} $1 exit=$?\"; \
         for f in /tmp/evidence/*.jsonl; do [ -f \"$f\" ] && {{ cat \"$f\"; echo; }}; done; true",
        record::RESULTS_ENV,
        harness::kernel::RUNTIME_ENV,
        wire::MARK,
        wire::SUITE
    )
}

/// `runsc` on $PATH and how this user runs it.
#[derive(Clone, Debug)]
struct Runsc {
    path: PathBuf,
    /// Not root: `--rootless`, where gVisor maps the sandbox's root to this user (it needs
    /// unprivileged user namespaces).
    rootless: bool,
}

impl Runsc {
    /// `runsc [--rootless] --network=none --platform=ptrace do -quiet --`, for a command.
    fn command(&self) -> Command {
        let mut cmd = Command::new(&self.path);
        if self.rootless {
            cmd.arg("--rootless");
        }
        cmd.args(RUNSC_ARGS).stdin(Stdio::null());
        cmd
    }
}

/// A sandbox running `sh -c 'exit 0'` starts in well under a second.
const RUNSC_PROBE_LIMIT: Duration = Duration::from_secs(20);

/// How runsc runs here, or why gVisor is skipped on this machine: runsc is not installed, or
/// this user is not root and a bounded probe of `runsc --rootless do` fails.
fn runsc() -> Result<Runsc, String> {
    let path = which("runsc").ok_or("runsc is not installed: apt-get install runsc")?;
    if nix::unistd::geteuid().is_root() {
        return Ok(Runsc {
            path,
            rootless: false,
        });
    }
    let runsc = Runsc {
        path,
        rootless: true,
    };
    let probe = crate::children::spawn(
        runsc
            .command()
            .args(["/bin/sh", "-c", "exit 0"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped()),
    )
    .map_err(|e| e.to_string())
    .and_then(|mut probe| {
        let Some(status) = probe.wait_until(Instant::now(), RUNSC_PROBE_LIMIT) else {
            return Err(format!("no answer within {RUNSC_PROBE_LIMIT:?}"));
        };
        let mut said = String::new();
        if let Some(mut err) = probe.child.stderr.take() {
            let _ = std::io::Read::read_to_string(&mut err, &mut said);
        }
        match said.lines().rev().find(|l| !l.trim().is_empty()) {
            _ if status.success() => Ok(()),
            Some(line) => Err(format!("{status}: {line}")),
            None => Err(status.to_string()),
        }
    });
    match probe {
        Ok(()) => Ok(runsc),
        Err(why) => Err(format!(
            "gVisor's runsc needs root here (uid {}: runsc --rootless do failed: {why})",
            nix::unistd::geteuid()
        )),
    }
}

/// `runsc --version`'s version (`release-20240513.0`), bounded; what went wrong otherwise.
fn runsc_version(runsc: &Path) -> String {
    let out = Command::new(runsc)
        .arg("--version")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .and_then(|mut child| {
            let exited = harness::wait::child(&mut child, RUNSC_PROBE_LIMIT, || {})?;
            let mut text = String::new();
            if let Some(mut out) = child.stdout.take() {
                std::io::Read::read_to_string(&mut out, &mut text)?;
            }
            Ok(exited.map(|_| text))
        });
    match out {
        Ok(Some(text)) => text
            .lines()
            .find_map(|l| l.strip_prefix("runsc version "))
            .map(|v| v.trim().to_string())
            .unwrap_or_else(|| format!("unknown (runsc --version said {:?})", text.trim())),
        Ok(None) => format!("unknown (runsc --version gave no answer in {RUNSC_PROBE_LIMIT:?})"),
        Err(e) => format!("unknown (runsc --version: {e})"),
    }
}

/// The Debian package that installed `path`, and its version (dpkg-query), if one did.
fn installed_package(path: &Path) -> Option<(String, String)> {
    let owner = kernels::output(Command::new("dpkg-query").arg("-S").arg(path)).ok()?;
    let package = owner.split(':').next()?.trim().to_string();
    let version = kernels::output(
        Command::new("dpkg-query")
            .args(["-W", "-f=${Version}"])
            .arg(&package),
    )
    .ok()?;
    Some((package, version.trim().to_string()))
}

/// The suite natively: each test binary as `cargo claims` would run it (directly, or under
/// `runsc do`), bounded.
fn run_native(
    how: Native,
    suites: &[Suite],
    limit: Duration,
    dir: &Path,
) -> (KernelRun, Vec<Record>) {
    let started = Instant::now();
    let mut result = how.kernel_run();
    let mut records = Vec::new();
    for suite in suites {
        let results = dir.join("evidence").join(&suite.name);
        let data_path = dir.join(format!("data-{}.txt", suite.name));
        let spawned = fs::create_dir_all(&results)
            .and_then(|()| how.spawn(suite, &results, &data_path, &dir.join("console.log")));
        let mut child = match spawned {
            Ok(child) => child,
            Err(e) => {
                result.status = RunStatus::Error;
                result.detail = Some(format!("cannot run {}: {e}", suite.path.display()));
                break;
            }
        };
        // At the limit the binary's whole group goes: its tcpdump, its re-executed tests.
        let exit = child.wait_until(started, limit);
        let mut code = exit.map(|status| status.code().unwrap_or(-1));
        match how.evidence(&results, &data_path, &mut code) {
            Ok(found) => records.extend(found),
            Err(e) => {
                result.status = RunStatus::Error;
                result.detail = Some(format!("unreadable evidence: {e}"));
            }
        }
        match code {
            Some(exit) => result.suites.push(SuiteExit {
                name: suite.name.clone(),
                exit,
            }),
            None => {
                result.status = RunStatus::Hung;
                result.detail = Some(format!(
                    "hung after {} s while running {}",
                    limit.as_secs(),
                    suite.name
                ));
                break;
            }
        }
    }
    if let Some(record) = records.first() {
        if !matches!(how, Native::Host) {
            result
                .notes
                .push(format!("uname -r in the sandbox: {}", record.kernel));
        }
    }
    result.seconds = started.elapsed().as_secs_f64();
    (result, records)
}

impl Native<'_> {
    /// The run's entry before any suite ran: the kernel's name, source, release and how it runs.
    fn kernel_run(&self) -> KernelRun {
        let (name, source, release, accel) = match self {
            Native::Host => (
                "host",
                Source::Host.describe(),
                harness::kernel::release(),
                "native",
            ),
            Native::Gvisor(runsc) => {
                let version = runsc_version(&runsc.path);
                let platform = if runsc.rootless {
                    "ptrace, rootless"
                } else {
                    "ptrace"
                };
                ("gvisor", Source::Gvisor.describe(), version, platform)
            }
        };
        // gVisor's exact build: `runsc --version` and, when a package installed it, that package.
        let (package, package_version) = match self {
            Native::Gvisor(runsc) => installed_package(&runsc.path).unzip(),
            Native::Host => (None, None),
        };
        let mut result = KernelRun {
            release: Some(release),
            package,
            package_version,
            accel: accel.into(),
            ..KernelRun::failed(name, source, RunStatus::Ran, String::new())
        };
        result.detail = None;
        result
    }

    /// Starts one test binary, contained, its output appended to `log`: directly with its
    /// evidence in `results`, or in a gVisor sandbox that prints exit code and evidence into
    /// `data`.
    fn spawn(
        &self,
        suite: &Suite,
        results: &Path,
        data: &Path,
        log: &Path,
    ) -> io::Result<crate::children::Contained> {
        let log = fs::OpenOptions::new().create(true).append(true).open(log)?;
        let err = log.try_clone()?;
        let mut cmd = match self {
            Native::Host => {
                let mut cmd = Command::new(&suite.path);
                cmd.env(record::RESULTS_ENV, results).stdout(log);
                cmd
            }
            Native::Gvisor(runsc) => {
                let mut cmd = runsc.command();
                cmd.args(["/bin/sh", "-c", &gvisor_script()])
                    .arg(&suite.path)
                    .arg(&suite.name)
                    .stdout(fs::File::create(data)?);
                cmd
            }
        };
        crate::children::spawn(cmd.stdin(Stdio::null()).stderr(err))
    }

    /// The evidence one test binary left; under gVisor also its real exit code, into `code`
    /// (the sandbox's own says only that the script ended).
    fn evidence(
        &self,
        results: &Path,
        data: &Path,
        code: &mut Option<i32>,
    ) -> Result<Vec<Record>, String> {
        match self {
            Native::Host => record::read_all(results),
            Native::Gvisor(_) => fs::read_to_string(data)
                .map_err(|e| format!("{}: {e}", data.display()))
                .and_then(|text| wire::parse_stream(&text))
                .map(|stream| {
                    if let Some((_, exit)) = stream.suites.first() {
                        *code = code.map(|_| *exit);
                    } else if *code == Some(0) {
                        *code = Some(-1);
                    }
                    stream.records
                }),
        }
    }
}

/// What every VM guest shares, and the accelerator once decided.
struct Vm {
    accel: Option<Accel>,
    cache: PathBuf,
    modules: Vec<String>,
    suites: Vec<Suite>,
    /// The `claims` binary the guests run `claims bench` with.
    claims: Option<PathBuf>,
    busybox: Option<PathBuf>,
}

/// A VM kernel ready to boot.
struct Prepared {
    vmlinuz: PathBuf,
    initrd: PathBuf,
    accel: Accel,
    notes: Vec<String>,
    /// The Debian package and its version.
    package: Option<(String, String)>,
}

/// Boots a prepared kernel and collects what its guest sent back.
fn boot_guest(
    kernel: &Kernel,
    prepared: &Prepared,
    limit: Duration,
    dir: &Path,
) -> (KernelRun, Vec<Record>) {
    let source = kernel.source.describe();
    let started = Instant::now();
    let Prepared {
        vmlinuz,
        initrd,
        accel,
        notes,
        package,
    } = prepared;
    let accel = *accel;
    eprintln!(
        "matrix: booting {} under {} (bound {} s)",
        kernel.name,
        accel.name(),
        limit.as_secs()
    );
    let boot = match guest::boot(vmlinuz, initrd, accel, limit, dir) {
        Ok(boot) => boot,
        Err(e) => {
            return (
                KernelRun::failed(&kernel.name, source, RunStatus::Error, e),
                Vec::new(),
            )
        }
    };
    let mut result = KernelRun {
        accel: accel.name().into(),
        notes: notes.clone(),
        package: package.as_ref().map(|(p, _)| p.clone()),
        package_version: package.as_ref().map(|(_, v)| v.clone()),
        ..KernelRun::failed(&kernel.name, source, RunStatus::Ran, String::new())
    };
    result.detail = None;
    let stream = match wire::parse_stream(&boot.data) {
        Ok(stream) => stream,
        Err(e) => {
            result.status = RunStatus::Error;
            result.detail = Some(format!("evidence from the guest is damaged: {e}"));
            wire::Stream::default()
        }
    };
    result.release = stream.release.clone();
    result.boot_seconds = stream.booted;
    result.notes.extend(stream.notes.iter().cloned());
    if let Some(bench) = &stream.bench {
        let path = dir.join("bench.json");
        let json = serde_json::to_string_pretty(bench).expect("bench.json serialises");
        if let Err(e) = fs::write(&path, json) {
            result.notes.push(format!("{}: {e}", path.display()));
        }
    }
    result.bench = stream.bench.clone();
    result.suites = stream
        .suites
        .iter()
        .map(|(name, exit)| SuiteExit {
            name: name.clone(),
            exit: *exit,
        })
        .collect();
    result.seconds = started.elapsed().as_secs_f64();
    if result.status == RunStatus::Ran && !stream.ended {
        let (status, detail) = stopped_early(&boot, &stream);
        (result.status, result.detail) = (status, Some(detail));
    }
    (result, stream.records)
}

/// Why a guest did not finish its suite: a panic, the time bound, or qemu stopping; with the
/// last console line.
fn stopped_early(boot: &guest::Boot, stream: &wire::Stream) -> (RunStatus, String) {
    let last = guest::last_console_line(&boot.console)
        .map(|l| format!("; last console line: {l}"))
        .unwrap_or_default();
    if let Some(panic) = guest::panic_line(&boot.console) {
        (RunStatus::Panicked, panic)
    } else if boot.timed_out {
        let doing = match guest::running_when_stopped(&boot.console) {
            Some(suite) => format!("while running {suite}"),
            None if stream.release.is_some() => "before the first suite".into(),
            None => "before /init started (no boot)".into(),
        };
        let hung = format!("hung after {} s {doing}{last}", boot.elapsed.as_secs());
        (RunStatus::Hung, hung)
    } else {
        let qemu = boot
            .qemu_log
            .lines()
            .find(|l| !l.trim().is_empty())
            .map(|l| format!("; qemu: {l}"))
            .unwrap_or_default();
        let exit = boot
            .exit
            .map(|s| s.to_string())
            .unwrap_or_else(|| "no exit status".into());
        (
            RunStatus::Error,
            format!("the guest stopped before finishing its suite (qemu {exit}){qemu}{last}"),
        )
    }
}

impl Vm {
    /// Whether KVM works, from a probe boot, or from the last probe's answer when it was made
    /// under the same host kernel: a broken nested KVM costs the probe's whole time bound.
    fn kvm_probe(&self, vmlinuz: &Path, busybox: &Path, dir: &Path) -> Result<(), String> {
        if let Err(e) = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/kvm")
        {
            return Err(format!("/dev/kvm: {e}"));
        }
        let memo = self.cache.join("kvm-probe");
        let host = harness::kernel::release();
        let remembered = fs::read_to_string(&memo).ok().and_then(|text| {
            let (release, answer) = text.split_once('\n')?;
            (release == host).then(|| answer.trim().to_string())
        });
        let answer = match remembered {
            Some(answer) if answer == "ok" => return Ok(()),
            Some(why) => {
                return Err(format!(
                    "{why}, remembered in {} (delete it or pass --accel kvm to try again)",
                    memo.display()
                ))
            }
            None => guest::kvm_works(vmlinuz, busybox, dir),
        };
        let text = match &answer {
            Ok(()) => "ok".to_string(),
            Err(why) => why.clone(),
        };
        let _ = fs::create_dir_all(&self.cache)
            .and_then(|()| fs::write(&memo, format!("{host}\n{text}\n")));
        answer
    }

    /// Fetches the kernel, decides the accelerator, writes the initramfs: the image, the
    /// initramfs, the accelerator and notes on modules.
    fn prepare(&mut self, kernel: &Kernel, dir: &Path) -> Result<Prepared, String> {
        if which(guest::QEMU).is_none() {
            return Err(format!(
                "{} not found (apt-get install qemu-system-x86)",
                guest::QEMU
            ));
        }
        let image = kernels::fetch(&kernel.source, &self.cache)?;
        let busybox = match &self.busybox {
            Some(b) => b.clone(),
            None => {
                let b = guest::busybox()?;
                self.busybox = Some(b.clone());
                b
            }
        };
        let accel = match self.accel {
            Some(accel) => accel,
            None => {
                let accel = match self.kvm_probe(&image.vmlinuz, &busybox, dir) {
                    Ok(()) => Accel::Kvm,
                    Err(why) => {
                        eprintln!("matrix: using TCG (no KVM: {why})");
                        Accel::Tcg
                    }
                };
                self.accel = Some(accel);
                accel
            }
        };
        let mut initramfs = Initramfs::default();
        initramfs.executable(&busybox, "bin/busybox")?;
        for d in ["proc", "sys", "dev", "tmp"] {
            initramfs.dir(d);
        }
        for suite in &self.suites {
            let file = suite.path.file_name().unwrap_or_default().to_string_lossy();
            initramfs.executable(&suite.path, &format!("suite/{file}"))?;
        }
        if let Some(claims) = &self.claims {
            initramfs.executable(claims, "bin/claims")?;
        }
        for tool in GUEST_TOOLS {
            if let Some(path) = which(tool) {
                initramfs.executable(&path, &format!("bin/{tool}"))?;
            }
        }
        // tcpdump -Z root and the unprivileged children look users up by name.
        initramfs.add(
            "etc/passwd",
            b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
                .to_vec(),
            0o644,
        );
        initramfs.add(
            "etc/group",
            b"root:x:0:\nnogroup:x:65534:\n".to_vec(),
            0o644,
        );
        // nc and telnet resolve "localhost" as the course writes it, through /etc/hosts (as a
        // Debian install has it).
        initramfs.add(
            "etc/hosts",
            b"127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n".to_vec(),
            0o644,
        );
        // With Debian's `multi on`, glibc returns every /etc/hosts line for a name (without it,
        // only the first), so a client can fall back from ::1 to 127.0.0.1 as on the host.
        initramfs.add("etc/host.conf", b"multi on\n".to_vec(), 0o644);
        let catalogue = catalogue::default_dir();
        for part in ["facts", "claims"] {
            let dir = catalogue.join(part);
            let tomls = fs::read_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            for toml in tomls.filter_map(|e| e.ok().map(|e| e.path())) {
                if toml.extension().is_some_and(|x| x == "toml") {
                    let name = toml.file_name().unwrap_or_default().to_string_lossy();
                    initramfs.copy(&toml, &format!("catalogue/{part}/{name}"), 0o644);
                }
            }
        }
        let mut notes = Vec::new();
        let mut loaded = Vec::new();
        match &image.modules_dir {
            Some(modules_dir) => {
                let (modules, missing) = guest::modules_to_load(modules_dir, &self.modules)?;
                notes.extend(missing);
                for (name, bytes) in modules {
                    initramfs.add(&format!("modules/{name}.ko"), bytes, 0o644);
                    loaded.push(name);
                }
            }
            None if !self.modules.is_empty() => {
                notes.push("no modules directory: modules not loaded".into())
            }
            None => {}
        }
        initramfs.add(
            "init",
            guest::init_script(&self.suites, &loaded, accel, self.claims.is_some()).into_bytes(),
            0o755,
        );
        let initrd = dir.join("initrd.cpio");
        initramfs.write(&initrd)?;
        Ok(Prepared {
            vmlinuz: image.vmlinuz,
            initrd,
            accel,
            notes,
            package: image.package,
        })
    }
}

/// The path of `program` on $PATH.
fn which(program: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn the_runsc_version_is_the_exact_release_it_names() {
        let dir = tempfile::tempdir().expect("tempdir");
        let fake = |name: &str, says: &str| {
            let path = dir.path().join(name);
            fs::write(&path, format!("#!/bin/sh\nprintf '{says}'\n")).expect("write");
            fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).expect("chmod");
            path
        };
        let runsc = fake(
            "runsc",
            "runsc version release-20240513.0\\nspec: 1.1.0-rc.1\\n",
        );
        assert_eq!(runsc_version(&runsc), "release-20240513.0");
        let odd = fake("odd", "something else\\n");
        assert!(runsc_version(&odd).starts_with("unknown (runsc --version said"));
        assert!(runsc_version(&dir.path().join("absent")).starts_with("unknown (runsc --version:"));
    }
}
