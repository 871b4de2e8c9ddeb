//! A VM guest under qemu: its initramfs (busybox, the test binaries and their shared libraries,
//! the catalogue, modules, an /init that runs the suite), the bounded boot, and the evidence it
//! sends back on its second serial port.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use harness::record::RESULTS_ENV;

use super::wire::{BENCH, END, KERNEL, KVM_OK, MARK, NOTE, RUNNING, SUITE};

/// The qemu this matrix drives (x86-64 hosts and kernels).
pub const QEMU: &str = "qemu-system-x86_64";

/// A test binary of the suite: its target name and where cargo built it.
#[derive(Clone, Debug)]
pub struct Suite {
    pub name: String,
    pub path: PathBuf,
}

/// How qemu runs the guest's CPU.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Accel {
    Kvm,
    Tcg,
}

impl Accel {
    pub fn name(self) -> &'static str {
        match self {
            Accel::Kvm => "kvm",
            Accel::Tcg => "tcg",
        }
    }

    fn args(self) -> [&'static str; 4] {
        match self {
            Accel::Kvm => ["-accel", "kvm", "-cpu", "host"],
            Accel::Tcg => ["-accel", "tcg", "-cpu", "max"],
        }
    }
}

/// A file of the initramfs: copied from the host or made here.
enum Data {
    Dir,
    Host(PathBuf, u32),
    Bytes(Vec<u8>, u32),
}

/// An initramfs being put together: guest path (no leading '/') to content.
#[derive(Default)]
pub struct Initramfs {
    entries: BTreeMap<String, Data>,
}

impl Initramfs {
    fn dirs_for(&mut self, path: &str) {
        let mut at = 0;
        while let Some(i) = path[at..].find('/') {
            self.entries.insert(path[..at + i].to_string(), Data::Dir);
            at += i + 1;
        }
    }

    /// A host file at guest path `to` (contents followed through symlinks).
    pub fn copy(&mut self, from: &Path, to: &str, mode: u32) {
        let to = to.trim_start_matches('/');
        self.dirs_for(to);
        self.entries
            .insert(to.to_string(), Data::Host(from.to_path_buf(), mode));
    }

    pub fn add(&mut self, to: &str, bytes: Vec<u8>, mode: u32) {
        let to = to.trim_start_matches('/');
        self.dirs_for(to);
        self.entries
            .insert(to.to_string(), Data::Bytes(bytes, mode));
    }

    pub fn dir(&mut self, to: &str) {
        let to = to.trim_start_matches('/');
        self.dirs_for(to);
        self.entries.insert(to.to_string(), Data::Dir);
    }

    /// An executable and the shared libraries `ldd` says it loads, at the paths it names.
    pub fn executable(&mut self, from: &Path, to: &str) -> Result<(), String> {
        self.copy(from, to, 0o755);
        for lib in shared_libraries(from)? {
            let to = lib.to_string_lossy().into_owned();
            self.copy(&lib, &to, 0o755);
        }
        Ok(())
    }

    /// Writes it as an uncompressed cpio (newc) archive, which the kernel unpacks as is.
    pub fn write(&self, to: &Path) -> Result<(), String> {
        let failed = |e: io::Error| format!("writing {}: {e}", to.display());
        let mut out = BufWriter::new(File::create(to).map_err(failed)?);
        for (ino, (name, data)) in self.entries.iter().enumerate() {
            let ino = ino as u32 + 1;
            match data {
                Data::Dir => cpio_entry(&mut out, ino, name, 0o040_755, io::empty(), 0),
                Data::Bytes(bytes, mode) => cpio_entry(
                    &mut out,
                    ino,
                    name,
                    0o100_000 | mode,
                    bytes.as_slice(),
                    bytes.len() as u64,
                ),
                Data::Host(from, mode) => {
                    let file = File::open(from).map_err(|e| format!("{}: {e}", from.display()))?;
                    let size = file
                        .metadata()
                        .map_err(|e| format!("{}: {e}", from.display()))?
                        .len();
                    cpio_entry(&mut out, ino, name, 0o100_000 | mode, file, size)
                }
            }
            .map_err(failed)?;
        }
        cpio_entry(&mut out, 0, "TRAILER!!!", 0, io::empty(), 0).map_err(failed)?;
        out.flush().map_err(failed)
    }
}

/// One newc record: the 110-byte header, the name, the data, each padded to 4 bytes.
fn cpio_entry(
    out: &mut impl Write,
    ino: u32,
    name: &str,
    mode: u32,
    data: impl io::Read,
    size: u64,
) -> io::Result<()> {
    let size32 =
        u32::try_from(size).map_err(|_| io::Error::other(format!("{name}: too large for cpio")))?;
    let nlink = if mode & 0o040_000 != 0 { 2 } else { 1 };
    let fields = [
        ino,
        mode,
        0,
        0,
        nlink,
        0,
        size32,
        0,
        0,
        0,
        0,
        name.len() as u32 + 1,
        0,
    ];
    let mut header = String::from("070701");
    for f in fields {
        header.push_str(&format!("{f:08x}"));
    }
    out.write_all(header.as_bytes())?;
    out.write_all(name.as_bytes())?;
    out.write_all(&[0])?;
    out.write_all(&[0; 3][..pad4(110 + name.len() + 1)])?;
    let copied = io::copy(&mut data.take(size), out)?;
    if copied != size {
        return Err(io::Error::other(format!("{name}: changed while copying")));
    }
    out.write_all(&[0; 3][..pad4(size as usize)])
}

fn pad4(n: usize) -> usize {
    (4 - n % 4) % 4
}

/// The shared libraries (and loader) `ldd` lists for `exe`; none for a static one.
fn shared_libraries(exe: &Path) -> Result<Vec<PathBuf>, String> {
    let out = Command::new("ldd")
        .arg(exe)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run ldd: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        // ldd fails on a static executable ("not a dynamic executable").
        return Ok(Vec::new());
    }
    Ok(parse_ldd(&text))
}

/// The absolute paths of `ldd` output: `name => /path (addr)` and `/loader (addr)` lines.
fn parse_ldd(text: &str) -> Vec<PathBuf> {
    text.lines()
        .filter_map(|l| {
            let l = l.trim();
            let path = l.split_once("=>").map_or(l, |(_, p)| p.trim());
            let path = path.split(" (").next().unwrap_or_default();
            path.starts_with('/').then(|| PathBuf::from(path))
        })
        .collect()
}

/// Finds busybox (Debian's busybox-static) on this machine.
pub fn busybox() -> Result<PathBuf, String> {
    ["/bin/busybox", "/usr/bin/busybox", "/sbin/busybox"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
        .ok_or_else(|| "busybox not found (apt-get install busybox-static)".into())
}

/// A module's name and its (decompressed) bytes.
pub type Module = (String, Vec<u8>);

/// The modules to load for `wanted`, dependencies first, as (name, decompressed bytes), plus
/// notes for the modules this kernel has not (built-in ones need nothing). Dependencies come
/// from each module's own `depends=` (a package ships no modules.dep: depmod makes it at
/// install time).
pub fn modules_to_load(
    modules_dir: &Path,
    wanted: &[String],
) -> Result<(Vec<Module>, Vec<String>), String> {
    let mut files = BTreeMap::new();
    index_modules(&modules_dir.join("kernel"), &mut files);
    let builtin: BTreeSet<String> = fs::read_to_string(modules_dir.join("modules.builtin"))
        .unwrap_or_default()
        .lines()
        .map(module_name)
        .collect();
    let (mut order, mut notes, mut seen) = (Vec::new(), Vec::new(), BTreeSet::new());
    fn visit(
        name: &str,
        files: &BTreeMap<String, PathBuf>,
        seen: &mut BTreeSet<String>,
        order: &mut Vec<Module>,
    ) -> Result<(), String> {
        let Some(path) = files.get(name).filter(|_| seen.insert(name.to_string())) else {
            return Ok(());
        };
        let bytes = module_bytes(path)?;
        for need in module_depends(&bytes) {
            visit(&need, files, seen, order)?;
        }
        order.push((name.to_string(), bytes));
        Ok(())
    }
    for want in wanted {
        let name = module_name(want);
        if files.contains_key(&name) {
            visit(&name, &files, &mut seen, &mut order)?;
        } else if !builtin.contains(&name) {
            notes.push(format!("module {want}: not in this kernel"));
        }
    }
    Ok((order, notes))
}

/// Every `*.ko*` under `dir`, by module name.
fn index_modules(dir: &Path, into: &mut BTreeMap<String, PathBuf>) {
    for path in fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok().map(|e| e.path()))
    {
        if path.is_dir() {
            index_modules(&path, into);
        } else if path.to_string_lossy().contains(".ko") {
            into.insert(module_name(&path.to_string_lossy()), path);
        }
    }
}

/// The `depends=` list of a module's .modinfo.
fn module_depends(bytes: &[u8]) -> Vec<String> {
    bytes
        .split(|b| *b == 0)
        .find_map(|field| field.strip_prefix(b"depends="))
        .map(|list| {
            String::from_utf8_lossy(list)
                .split(',')
                .filter(|d| !d.is_empty())
                .map(module_name)
                .collect()
        })
        .unwrap_or_default()
}

/// `kernel/net/sched/sch_netem.ko.xz` → `sch_netem` (modprobe treats '-' and '_' alike).
fn module_name(path: &str) -> String {
    let file = path.rsplit('/').next().unwrap_or(path);
    file.split(".ko").next().unwrap_or(file).replace('-', "_")
}

/// A module's bytes, decompressed on the host so no guest needs xz or zstd.
fn module_bytes(path: &Path) -> Result<Vec<u8>, String> {
    let tool = match path.extension().and_then(|x| x.to_str()) {
        Some("ko") => return fs::read(path).map_err(|e| format!("{}: {e}", path.display())),
        Some("xz") => "xz",
        Some("zst") => "zstd",
        Some("gz") => "gzip",
        _ => return Err(format!("{}: unknown module compression", path.display())),
    };
    let out = Command::new(tool)
        .arg("-dc")
        .arg(path)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {tool} for {}: {e}", path.display()))?;
    if !out.status.success() {
        return Err(format!("{tool} -dc {}: {}", path.display(), out.status));
    }
    Ok(out.stdout)
}

/// The guest's /init: mounts, loads modules, runs each suite as root with its own evidence
/// directory, and sends each suite's exit code and evidence to the data port; then, with
/// `bench`, `claims bench` (at /bin/claims) and its bench.json on one line; closing the port
/// (which drains the UART) before powering off.
pub fn init_script(suites: &[Suite], modules: &[String], accel: Accel, bench: bool) -> String {
    let mut s = String::from(
        "#!/bin/busybox sh\n\
         # socket-claims matrix guest: written by cargo claims matrix.\n\
         /bin/busybox --install -s /bin\n\
         export PATH=/bin HOME=/tmp SOCKET_CLAIMS_CATALOGUE=/catalogue\n\
         mount -t proc proc /proc\n\
         mount -t sysfs sysfs /sys\n\
         mount -t devtmpfs devtmpfs /dev\n\
         mount -t tmpfs tmpfs /tmp\n\
         ip link set lo up\n\
         data() { echo \"$*\" >/dev/ttyS1; }\n",
    );
    s.push_str(&format!(
        "data \"{MARK} {KERNEL} $(uname -r) booted=$(cut -d' ' -f1 /proc/uptime)\"\n"
    ));
    if accel == Accel::Tcg {
        s.push_str(&format!("export {}=tcg\n", harness::record::EMULATED_ENV));
    }
    for m in modules {
        s.push_str(&format!(
            "insmod /modules/{m}.ko || data \"{MARK} {NOTE} insmod {m} failed\"\n"
        ));
    }
    for suite in suites {
        let file = suite.path.file_name().unwrap_or_default().to_string_lossy();
        let name = &suite.name;
        s.push_str(&format!(
            "echo \"{MARK} {RUNNING} {name}\"\n\
             mkdir -p /tmp/evidence/{name}\n\
             {RESULTS_ENV}=/tmp/evidence/{name} /suite/{file} </dev/null\n\
             data \"{MARK} {SUITE} {name} exit=$? at=$(cut -d' ' -f1 /proc/uptime)\"\n\
             for f in /tmp/evidence/{name}/*.jsonl; do [ -f \"$f\" ] && {{ cat \"$f\"; echo; }}; done >/dev/ttyS1\n"
        ));
    }
    if bench {
        // The bench bounds itself to 60 s (and measures nothing under emulation); the timeout
        // is a backstop against a hang.
        s.push_str(&format!(
            "echo \"{MARK} {RUNNING} bench\"\n\
             CARGO_TARGET_DIR=/tmp/bench timeout 90 /bin/claims bench </dev/null >/dev/null 2>&1\n\
             if [ -s /tmp/bench/claims/bench.json ]; then\n\
             data \"{MARK} {BENCH} $(tr -d '\\n' </tmp/bench/claims/bench.json)\"\n\
             else data \"{MARK} {NOTE} claims bench wrote no bench.json\"; fi\n"
        ));
    }
    s.push_str(&format!("data \"{MARK} {END}\"\nsync\npoweroff -f\n"));
    s
}

/// How a qemu run ended.
pub struct Boot {
    pub timed_out: bool,
    pub exit: Option<std::process::ExitStatus>,
    pub console: String,
    pub data: String,
    pub qemu_log: String,
    pub elapsed: Duration,
}

/// Boots `vmlinuz` with `initrd` under `accel`, killing qemu after `limit`. The console, the
/// data port and qemu's own messages go to files in `dir`.
pub fn boot(
    vmlinuz: &Path,
    initrd: &Path,
    accel: Accel,
    limit: Duration,
    dir: &Path,
) -> Result<Boot, String> {
    let (console, data, log) = (
        dir.join("console.log"),
        dir.join("data.txt"),
        dir.join("qemu.log"),
    );
    for f in [&console, &data] {
        let _ = fs::remove_file(f);
    }
    let log_file = File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
    let log_err = log_file
        .try_clone()
        .map_err(|e| format!("{}: {e}", log.display()))?;
    let started = Instant::now();
    let mut child = crate::children::spawn(
        Command::new(QEMU)
            .args(accel.args())
            .args(["-m", "1024", "-smp", "2", "-nodefaults", "-no-user-config"])
            .args(["-display", "none", "-monitor", "none", "-no-reboot"])
            .arg("-serial")
            .arg(format!("file:{}", console.display()))
            .arg("-serial")
            .arg(format!("file:{}", data.display()))
            .arg("-kernel")
            .arg(vmlinuz)
            .arg("-initrd")
            .arg(initrd)
            .args(["-append", "console=ttyS0 quiet panic=-1 rdinit=/init"])
            .stdin(Stdio::null())
            .stdout(log_file)
            .stderr(log_err),
    )
    .map_err(|e| format!("cannot run {QEMU}: {e} (apt-get install qemu-system-x86)"))?;
    let exit = child.wait_until(started, limit);
    let timed_out = exit.is_none();
    let read = |p: &Path| {
        fs::read(p)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    };
    Ok(Boot {
        timed_out,
        exit,
        console: read(&console),
        data: read(&data),
        qemu_log: read(&log),
        elapsed: started.elapsed(),
    })
}

/// Whether KVM runs a guest here: boots `vmlinuz` with a busybox-only /init that prints a
/// marker, bounded, since a broken nested KVM can hang a guest rather than fail.
pub fn kvm_works(vmlinuz: &Path, busybox: &Path, dir: &Path) -> Result<(), String> {
    let usable = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/kvm");
    if let Err(e) = usable {
        return Err(format!("/dev/kvm: {e}"));
    }
    let mut initramfs = Initramfs::default();
    initramfs.executable(busybox, "bin/busybox")?;
    initramfs.add(
        "init",
        format!("#!/bin/busybox sh\n/bin/busybox echo {MARK} {KVM_OK}\n/bin/busybox poweroff -f\n")
            .into_bytes(),
        0o755,
    );
    let initrd = dir.join("kvm-probe.cpio");
    initramfs.write(&initrd)?;
    let boot = boot(vmlinuz, &initrd, Accel::Kvm, KVM_PROBE_LIMIT, dir)?;
    if boot.console.contains(&format!("{MARK} {KVM_OK}")) {
        Ok(())
    } else if boot.timed_out {
        Err(format!(
            "a KVM guest did not boot within {KVM_PROBE_LIMIT:?}"
        ))
    } else {
        let why = boot.qemu_log.lines().find(|l| !l.trim().is_empty());
        Err(format!(
            "a KVM guest failed: {}",
            why.unwrap_or("no output from qemu")
        ))
    }
}

/// A KVM guest with busybox alone boots in about a second; this leaves room for a slow host.
const KVM_PROBE_LIMIT: Duration = Duration::from_secs(15);

/// The last non-empty console line that is not our own marker, for a report's detail.
pub fn last_console_line(console: &str) -> Option<String> {
    console
        .lines()
        .map(|l| l.trim())
        .rfind(|l| !l.is_empty())
        .map(|l| l.chars().take(200).collect())
}

/// The suite the guest was running when it stopped, from the console's progress markers.
pub fn running_when_stopped(console: &str) -> Option<String> {
    console
        .lines()
        .rev()
        .find_map(|l| l.trim().strip_prefix(&format!("{MARK} {RUNNING} ")))
        .map(|s| s.trim().to_string())
}

/// The kernel's panic line, if it panicked.
pub fn panic_line(console: &str) -> Option<String> {
    console
        .lines()
        .find(|l| l.contains("Kernel panic"))
        .map(|l| l.trim().chars().take(200).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ldd_output_gives_library_and_loader_paths() {
        let text = "\tlinux-vdso.so.1 (0x00007ffd)\n\
                    \tlibgcc_s.so.1 => /lib/x86_64-linux-gnu/libgcc_s.so.1 (0x00007f27)\n\
                    \t/lib64/ld-linux-x86-64.so.2 (0x00007f27)\n";
        assert_eq!(
            parse_ldd(text),
            [
                PathBuf::from("/lib/x86_64-linux-gnu/libgcc_s.so.1"),
                PathBuf::from("/lib64/ld-linux-x86-64.so.2")
            ]
        );
    }

    #[test]
    fn modules_come_with_their_dependencies_first() {
        let dir = tempfile::tempdir().expect("tempdir");
        let sched = dir.path().join("kernel/net/sched");
        fs::create_dir_all(&sched).expect("mkdir");
        let module = |name: &str, depends: &str| {
            format!("\0license=GPL\0depends={depends}\0name={name}\0").into_bytes()
        };
        fs::write(sched.join("sch_netem.ko"), module("sch_netem", "a")).expect("write a module");
        fs::write(sched.join("a.ko"), module("a", "")).expect("write a module");
        fs::write(dir.path().join("kernel/veth.ko"), module("veth", "")).expect("write");
        fs::write(
            dir.path().join("modules.builtin"),
            "kernel/net/unix/unix.ko\n",
        )
        .expect("write modules.builtin");
        let wanted = ["sch-netem", "unix", "veth", "nope"].map(String::from);
        let (order, notes) = modules_to_load(dir.path(), &wanted).expect("modules");
        let names: Vec<&str> = order.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["a", "sch_netem", "veth"]);
        assert_eq!(notes, ["module nope: not in this kernel"]);
    }

    #[test]
    fn the_initramfs_is_newc_with_parents_first() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut initramfs = Initramfs::default();
        initramfs.add("suite/x/init", b"hello".to_vec(), 0o755);
        let path = dir.path().join("i.cpio");
        initramfs.write(&path).expect("write");
        let bytes = fs::read(&path).expect("read");
        assert_eq!(bytes.len() % 4, 0);
        let text = String::from_utf8_lossy(&bytes);
        let names: Vec<usize> = [
            "suite\0",
            "suite/x\0",
            "suite/x/init\0",
            "hello",
            "TRAILER!!!",
        ]
        .iter()
        .map(|n| text.find(n).unwrap_or_else(|| panic!("{n:?} missing")))
        .collect();
        assert!(names.windows(2).all(|w| w[0] < w[1]), "{names:?}");
        assert!(text.starts_with("070701"));
    }
}
