//! `fixtures/kernels.toml`: the kernels the matrix runs the suite under, each from a declared
//! source, and fetching a kernel into the cache (a Debian package is downloaded and unpacked
//! once, never installed).

use std::fs;
use std::num::NonZeroU64;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Deserialize;

/// Where a kernel comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// This machine's running kernel: the suite runs natively, no VM.
    Host,
    /// A Debian kernel, fetched with `apt-get download`: from the system's apt configuration, or
    /// with `suite`, from a private one under `target/claims/apt/<suite>/`.
    Debian { suite: Option<String>, pick: Pick },
    /// A kernel image on disk, with optionally its `lib/modules/<release>` directory.
    Image {
        image: PathBuf,
        modules_dir: Option<PathBuf>,
    },
    /// gVisor's user-space kernel (`runsc do`, ptrace platform, no network but its loopback).
    Gvisor,
}

/// Which Debian kernel package an entry means.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Pick {
    /// A pinned `linux-image-…` package.
    Package(String),
    /// The newest `linux-image-<series>.*-amd64` the suite has (`series = "6.1"`).
    Series(String),
    /// The newest `linux-image-*-amd64` of any series (`series = "newest"`).
    Newest,
}

impl Source {
    /// How the report names the source.
    pub fn describe(&self) -> String {
        match self {
            Source::Host => "host (native run)".into(),
            Source::Debian { suite, pick } => {
                let from = suite
                    .as_deref()
                    .map(|s| format!("debian {s}"))
                    .unwrap_or("debian".into());
                match pick {
                    Pick::Package(p) => format!("{from} package {p}"),
                    Pick::Series(s) => format!("{from}, newest {s}.y"),
                    Pick::Newest => format!("{from}, newest kernel"),
                }
            }
            Source::Image { image, .. } => format!("image {}", image.display()),
            Source::Gvisor => "gVisor (runsc do, ptrace platform)".into(),
        }
    }
}

/// One `[[kernel]]` entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Kernel {
    pub name: String,
    pub source: Source,
    /// The bound on the whole run under this kernel (boot, suite, power-off).
    pub timeout: Option<Duration>,
}

/// The whole file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KernelList {
    pub kernels: Vec<Kernel>,
    /// Modules every VM guest loads, when its kernel builds them as modules.
    pub modules: Vec<String>,
}

/// Reads and validates `path`; relative image paths are taken from `root`.
pub fn load(path: &Path, root: &Path) -> Result<KernelList, String> {
    let shown = path
        .strip_prefix(root)
        .unwrap_or(path)
        .display()
        .to_string();
    let text = fs::read_to_string(path).map_err(|e| format!("{shown}: {e}"))?;
    parse(&text, &shown, root)
}

/// The file as serde reads it; the entries stay tables, so that each is read on its own.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileFields {
    kernel: Option<Vec<toml::Table>>,
    modules: Option<Vec<String>>,
}

/// One `[[kernel]]` entry as serde reads it; what the fields mean is checked afterwards.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    name: Option<String>,
    source: Option<SourceKind>,
    package: Option<String>,
    suite: Option<String>,
    series: Option<String>,
    image: Option<String>,
    modules_dir: Option<String>,
    timeout: Option<NonZeroU64>,
}

/// The `source` of an entry.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
enum SourceKind {
    Host,
    Debian,
    Image,
    Gvisor,
}

impl SourceKind {
    fn name(self) -> &'static str {
        match self {
            SourceKind::Host => "host",
            SourceKind::Debian => "debian",
            SourceKind::Image => "image",
            SourceKind::Gvisor => "gvisor",
        }
    }
}

/// Parses the text of a kernels file; every problem is reported at once, each naming the file
/// (`shown`), the entry and the field.
pub fn parse(text: &str, shown: &str, root: &Path) -> Result<KernelList, String> {
    let table: toml::Table =
        toml::from_str(text).map_err(|e| format!("{shown}: {}", e.to_string().trim_end()))?;
    let mut problems = Vec::new();
    let (file, given) = read_fields::<FileFields>(table, &mut problems, |field, _| match field {
        "modules" => "must be a list of module names".into(),
        "kernel" => "must be [[kernel]] tables".into(),
        _ => "invalid".into(),
    });
    let mut problems: Vec<String> = problems.iter().map(|p| format!("{shown}: {p}")).collect();
    let modules = file
        .as_ref()
        .and_then(|f| f.modules.clone())
        .unwrap_or_default();
    for m in modules.iter().filter(|m| !is_module_name(m)) {
        problems.push(format!(
            "{shown}: field `modules`: {m:?} is not a module name (letters, digits, '_' and '-', \
             not first)"
        ));
    }
    if !given.iter().any(|g| g == "kernel") {
        problems.push(format!("{shown}: no [[kernel]] entries"));
    }
    let mut list = KernelList {
        kernels: Vec::new(),
        modules,
    };
    let entries = file.and_then(|f| f.kernel).unwrap_or_default();
    for (n, entry) in entries.into_iter().enumerate() {
        let at = match entry.get("name").and_then(|v| v.as_str()) {
            Some(name) => format!("{shown}: kernel #{} (name {name:?})", n + 1),
            None => format!("{shown}: kernel #{}", n + 1),
        };
        match entry_kernel(entry, root) {
            Ok(kernel) => {
                if list.kernels.iter().any(|k| k.name == kernel.name) {
                    problems.push(format!("{at}: field `name`: duplicate name"));
                }
                list.kernels.push(kernel);
            }
            Err(found) => problems.extend(found.into_iter().map(|p| format!("{at}: {p}"))),
        }
    }
    if problems.is_empty() {
        Ok(list)
    } else {
        Err(problems.join("\n"))
    }
}

/// Reads `table` as `T`, collecting a problem (`field `x`: …`) for every field serde refuses:
/// a refused field is dropped and the rest read again, so all of a table's problems come at
/// once. `wrong(field, value)` says what a field of the wrong type or value must be. Returns
/// the value (if it could be read at all) and the names of the fields given in the table.
fn read_fields<T: DeserializeOwned>(
    mut table: toml::Table,
    problems: &mut Vec<String>,
    wrong: impl Fn(&str, &toml::Value) -> String,
) -> (Option<T>, Vec<String>) {
    let given: Vec<String> = table.keys().cloned().collect();
    loop {
        let err = match T::deserialize(toml::Value::Table(table.clone())) {
            Ok(value) => return (Some(value), given),
            Err(err) => err,
        };
        let message = err.message();
        // serde names an unknown field in its message; toml names the field whose value was
        // refused in its display (`in `field``).
        let unknown = message
            .strip_prefix("unknown field `")
            .and_then(|rest| rest.split_once('`'));
        let shown = err.to_string();
        let refused = shown
            .lines()
            .find_map(|l| l.strip_prefix("in `")?.strip_suffix('`'))
            .and_then(|keys| keys.split('.').next())
            .map(str::to_string);
        let field = match (unknown, refused) {
            (Some((field, expected)), _) => {
                // ", expected `a` or `b`" / ", expected one of `a`, `b`, `c`" → "a, b, c"
                let known = expected
                    .trim_start_matches(", expected ")
                    .trim_start_matches("one of ")
                    .replace("` or `", ", ")
                    .replace('`', "");
                problems.push(format!("field `{field}`: unknown (known: {known})"));
                field.to_string()
            }
            (None, Some(field)) if table.contains_key(&field) => {
                problems.push(format!(
                    "field `{field}`: {}",
                    wrong(&field, &table[&field])
                ));
                field
            }
            _ => {
                problems.push(message.to_string());
                return (None, given);
            }
        };
        table.remove(&field);
    }
}

/// One entry, or the problems with its fields (`field `x`: …`).
fn entry_kernel(table: toml::Table, root: &Path) -> Result<Kernel, Vec<String>> {
    let mut problems = Vec::new();
    let (entry, given) = read_fields::<Entry>(table, &mut problems, |field, value| match field {
        "timeout" => "must be a positive number of seconds".into(),
        "source" => format!("{value} is not host, debian, image or gvisor"),
        _ => "must be a non-empty string".into(),
    });
    let Some(entry) = entry else {
        return Err(problems);
    };
    let given = |field: &str| given.iter().any(|g| g == field);
    let mut text = |field: &str, value: Option<String>| match value {
        Some(s) if s.trim().is_empty() => {
            problems.push(format!("field `{field}`: must be a non-empty string"));
            None
        }
        value => value,
    };
    let name = text("name", entry.name);
    let package = text("package", entry.package);
    let suite = text("suite", entry.suite);
    let series = text("series", entry.series);
    let image = text("image", entry.image);
    let modules_dir = text("modules_dir", entry.modules_dir);
    for field in ["name", "source"].into_iter().filter(|f| !given(f)) {
        problems.push(format!("field `{field}`: missing"));
    }
    if let Some(name) = &name {
        if !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            || name.starts_with('.')
        {
            problems.push(format!(
                "field `name`: {name:?} must be letters, digits, '-', '_' and '.' (it names a \
                 directory)"
            ));
        }
    }
    if let Some(suite) = &suite {
        if !suite.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            problems.push(format!(
                "field `suite`: {suite:?} is not a Debian suite name (bookworm, sid, …)"
            ));
        }
    }
    let pick = pick_of(package, series, &mut problems);
    let source = entry.source.and_then(|kind| {
        source_of(
            kind,
            &given,
            Fields {
                suite,
                pick,
                image,
                modules_dir,
            },
            root,
            &mut problems,
        )
    });
    match (name, source) {
        (Some(name), Some(source)) if problems.is_empty() => Ok(Kernel {
            name,
            source,
            timeout: entry.timeout.map(|s| Duration::from_secs(s.get())),
        }),
        _ => Err(problems),
    }
}

/// `package` or `series`: which Debian kernel to fetch.
fn pick_of(
    package: Option<String>,
    series: Option<String>,
    problems: &mut Vec<String>,
) -> Option<Pick> {
    match (package, series) {
        (Some(_), Some(_)) => {
            problems.push("field `series`: give either `package` or `series`, not both".into());
            None
        }
        (Some(package), None) if is_package_name(&package) => Some(Pick::Package(package)),
        (Some(package), None) => {
            problems.push(format!(
                "field `package`: {package:?} is not a Debian package name (lowercase letters, \
                 digits, '+', '-' and '.', a letter or digit first)"
            ));
            None
        }
        (None, Some(series)) if series == "newest" => Some(Pick::Newest),
        (None, Some(series)) if is_series(&series) => Some(Pick::Series(series)),
        (None, Some(series)) => {
            problems.push(format!(
                "field `series`: {series:?} is not a kernel series (\"6.1\") or \"newest\""
            ));
            None
        }
        (None, None) => None,
    }
}

/// The source-specific fields of an entry, as read.
struct Fields {
    suite: Option<String>,
    pick: Option<Pick>,
    image: Option<String>,
    modules_dir: Option<String>,
}

/// Where the kernel comes from (`source`), with the fields that source needs and none that
/// another one uses. `given` says whether the entry has a field (even one refused).
fn source_of(
    kind: SourceKind,
    given: &dyn Fn(&str) -> bool,
    f: Fields,
    root: &Path,
    problems: &mut Vec<String>,
) -> Option<Source> {
    let debian_only = ["package", "series", "suite"];
    let image_only = ["image", "modules_dir"];
    let mut forbid = |fields: &[&str]| {
        for field in fields.iter().filter(|field| given(field)) {
            problems.push(format!(
                "field `{field}`: not used by source = {:?}",
                kind.name()
            ));
        }
    };
    match kind {
        SourceKind::Host | SourceKind::Gvisor => {
            forbid(&debian_only);
            forbid(&image_only);
            Some(if kind == SourceKind::Host {
                Source::Host
            } else {
                Source::Gvisor
            })
        }
        SourceKind::Debian => {
            forbid(&image_only);
            match f.pick {
                Some(pick) => Some(Source::Debian {
                    suite: f.suite,
                    pick,
                }),
                None => {
                    if !given("package") && !given("series") {
                        problems.push(
                            "field `package`: missing (a linux-image package to download, or \
                             `series` for the newest of a series)"
                                .into(),
                        );
                    }
                    None
                }
            }
        }
        SourceKind::Image => {
            forbid(&debian_only);
            match f.image {
                Some(image) => Some(Source::Image {
                    image: root.join(image),
                    modules_dir: f.modules_dir.map(|d| root.join(d)),
                }),
                None => {
                    if !given("image") {
                        problems.push("field `image`: missing (the kernel image's path)".into());
                    }
                    None
                }
            }
        }
    }
}

/// A Debian package name (policy 5.6.1): what reaches apt-get as an argument, so never an
/// option (`-o…`).
fn is_package_name(s: &str) -> bool {
    s.len() >= 2
        && s.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '+' | '-' | '.'))
}

/// A Debian version (policy 5.6.12), as apt prints it: what goes into `pkg=version` and the
/// cache's directory name.
fn is_version(s: &str) -> bool {
    s.starts_with(|c: char| c.is_ascii_digit())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '+' | '~' | '-' | ':'))
}

/// A kernel module's name, as modprobe takes it (never an option).
fn is_module_name(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with('-')
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-'))
}

/// `6.1`, `6.12`: a major and a minor version.
fn is_series(s: &str) -> bool {
    let parts: Vec<&str> = s.split('.').collect();
    parts.len() == 2
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
}

/// A kernel ready to boot.
#[derive(Clone, Debug)]
pub struct Image {
    pub vmlinuz: PathBuf,
    /// `lib/modules/<release>` of this kernel, if known.
    pub modules_dir: Option<PathBuf>,
    /// The Debian package and its version, for a Debian kernel.
    pub package: Option<(String, String)>,
}

/// Finds (or downloads into `cache`) the image of a VM kernel. Errors name the kernel's field.
pub fn fetch(source: &Source, cache: &Path) -> Result<Image, String> {
    match source {
        Source::Host | Source::Gvisor => Err("this kernel does not boot in a VM".into()),
        Source::Image { image, modules_dir } => {
            if !image.is_file() {
                return Err(format!("field `image`: {} is not a file", image.display()));
            }
            if let Some(dir) = modules_dir.as_ref().filter(|d| !d.is_dir()) {
                return Err(format!(
                    "field `modules_dir`: {} is not a directory",
                    dir.display()
                ));
            }
            Ok(Image {
                vmlinuz: image.clone(),
                modules_dir: modules_dir.clone(),
                package: None,
            })
        }
        Source::Debian { suite, pick } => {
            let field = match pick {
                Pick::Package(_) => "package",
                _ => "series",
            };
            let apt =
                Apt::new(suite.as_deref(), cache).map_err(|e| format!("field `suite`: {e}"))?;
            let chosen = apt
                .resolve(pick)
                .map_err(|e| format!("field `{field}`: {e}"))?;
            // One directory per package and version: a newer candidate is a new download, and
            // the version reported is the one unpacked there.
            let dir = cache.join(format!(
                "{}_{}",
                chosen.package,
                chosen.version.replace(':', "%3a")
            ));
            if !dir.join(UNPACKED).exists() {
                download(&apt, &chosen, cache, &dir)
                    .map_err(|e| format!("field `{field}`: {}: {e}", chosen.package))?;
            }
            let mut image = unpacked_image(&dir)
                .map_err(|e| format!("field `{field}`: {}: {e}", chosen.package))?;
            image.package = Some(
                unpacked_package(&dir, &chosen.package)
                    .map_err(|e| format!("field `{field}`: {}: {e}", chosen.package))?,
            );
            Ok(image)
        }
    }
}

/// Marks a complete unpack, so an interrupted one is redone; it lists what was unpacked, one
/// `package version` line per .deb, as dpkg-deb read it from the files.
const UNPACKED: &str = ".unpacked";

/// The package and version `dir`'s unpack marker records for `package`.
fn unpacked_package(dir: &Path, package: &str) -> Result<(String, String), String> {
    let marker = dir.join(UNPACKED);
    let text = fs::read_to_string(&marker).map_err(|e| format!("{}: {e}", marker.display()))?;
    text.lines()
        .filter_map(|l| l.split_once(' '))
        .find(|(p, _)| *p == package)
        .map(|(p, v)| (p.to_string(), v.trim().to_string()))
        .ok_or_else(|| {
            format!(
                "{} does not record {package} (unpacked before versions were recorded? delete {})",
                marker.display(),
                dir.display()
            )
        })
}

/// The archive a private apt configuration reads, and the key it is signed with.
const MIRROR: &str = "http://deb.debian.org/debian";
const SECURITY: &str = "http://deb.debian.org/debian-security";
const KEYRING: &str = "/usr/share/keyrings/debian-archive-keyring.gpg";

/// Package lists older than this are fetched again.
const LISTS_FRESH: Duration = Duration::from_secs(24 * 3600);

/// apt-get / apt-cache with the system's configuration, or with a private one for one Debian
/// suite (its own source list, lists, cache and status under `<cache>/apt/<suite>/`), so the
/// system's apt sources are never changed.
struct Apt {
    private: Option<PathBuf>,
}

impl Apt {
    /// The configuration for `suite`, its package lists fetched when missing or older than a day.
    fn new(suite: Option<&str>, cache: &Path) -> Result<Apt, String> {
        let Some(suite) = suite else {
            return Ok(Apt { private: None });
        };
        let dir = cache.join("apt").join(suite);
        let apt = Apt {
            private: Some(dir.clone()),
        };
        let updated = dir.join(".updated");
        let fresh = fs::metadata(&updated)
            .and_then(|m| m.modified())
            .is_ok_and(|t| t.elapsed().is_ok_and(|age| age < LISTS_FRESH));
        if fresh {
            return Ok(apt);
        }
        if !Path::new(KEYRING).is_file() {
            return Err(format!(
                "{suite}: {KEYRING} is missing (apt-get install debian-archive-keyring)"
            ));
        }
        let mut sources = format!("deb [signed-by={KEYRING}] {MIRROR} {suite} main\n");
        if !matches!(suite, "sid" | "unstable" | "experimental") {
            sources.push_str(&format!(
                "deb [signed-by={KEYRING}] {SECURITY} {suite}-security main\n"
            ));
        }
        for d in [
            "lists/partial",
            "cache/archives/partial",
            "sources.list.d",
            "apt.conf.d",
            "preferences.d",
            "trusted.gpg.d",
            "auth.conf.d",
        ] {
            fs::create_dir_all(dir.join(d)).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        fs::write(dir.join("sources.list"), sources)
            .and_then(|()| fs::write(dir.join("status"), ""))
            .and_then(|()| write_private_config(&dir))
            .map_err(|e| format!("{}: {e}", dir.display()))?;
        eprintln!(
            "matrix: apt-get update for Debian {suite} (private lists in {})",
            dir.display()
        );
        run(apt.command("apt-get").args(["update", "-q"]))
            .map_err(|e| format!("{suite}: apt-get update failed: {e}"))?;
        fs::write(&updated, "").map_err(|e| format!("{}: {e}", updated.display()))?;
        Ok(apt)
    }

    fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new(program);
        if let Some(dir) = &self.private {
            cmd.env("APT_CONFIG", dir.join("apt.conf"));
        }
        cmd
    }

    /// The package an entry means, with its version and the packages to unpack with it.
    fn resolve(&self, pick: &Pick) -> Result<Chosen, String> {
        let names = match pick {
            Pick::Package(package) => vec![package.clone()],
            Pick::Series(_) | Pick::Newest => {
                let found = output(self.command("apt-cache").args([
                    "search",
                    "--names-only",
                    "^linux-image-[0-9].*-amd64$",
                ]))?;
                let series = match pick {
                    Pick::Series(s) => Some(s.as_str()),
                    _ => None,
                };
                let names: Vec<String> = found
                    .lines()
                    .filter_map(|l| l.split_whitespace().next())
                    .filter(|n| is_kernel_image(n, series))
                    .map(str::to_string)
                    .collect();
                if names.is_empty() {
                    return Err("no linux-image-<version>-amd64 package of that series".into());
                }
                names
            }
        };
        let shown = output(
            self.command("apt-cache")
                .args(["show", "--no-all-versions"])
                .args(&names),
        )
        .map_err(|e| format!("apt-cache show: {e}"))?;
        parse_packages(&shown)
            .into_iter()
            .max_by(|a, b| version_key(&a.version).cmp(&version_key(&b.version)))
            .ok_or_else(|| format!("apt-cache show {} found nothing", names.join(" ")))
    }
}

/// `<dir>/apt.conf`, the whole configuration of a private apt (read through `APT_CONFIG`): its
/// own sources, lists, cache and status, none of the system's apt.conf.d (hooks), preferences
/// (pinning), credentials or trusted keys (the sources name their keyring), and insecure
/// repositories refused.
fn write_private_config(dir: &Path) -> std::io::Result<()> {
    let d = |sub: &str| dir.join(sub).display().to_string();
    let mut conf = String::new();
    for (key, value) in [
        ("Dir::Etc::Main", d("main.conf")),
        ("Dir::Etc::Parts", d("apt.conf.d")),
        ("Dir::Etc::Preferences", d("preferences")),
        ("Dir::Etc::PreferencesParts", d("preferences.d")),
        ("Dir::Etc::Trusted", d("trusted.gpg")),
        ("Dir::Etc::TrustedParts", d("trusted.gpg.d")),
        ("Dir::Etc::netrc", d("auth.conf")),
        ("Dir::Etc::netrcparts", d("auth.conf.d")),
        ("Dir::Etc::SourceList", d("sources.list")),
        ("Dir::Etc::SourceParts", d("sources.list.d")),
        ("Dir::State::Lists", d("lists")),
        ("Dir::State::status", d("status")),
        ("Dir::Cache", d("cache")),
        ("Acquire::AllowInsecureRepositories", "false".into()),
        (
            "Acquire::AllowDowngradeToInsecureRepositories",
            "false".into(),
        ),
        ("APT::Get::AllowUnauthenticated", "false".into()),
        // The archive this machine reaches may be a snapshot whose Release files are past
        // their Valid-Until (sid's expire within days); signatures are still checked against
        // the sources' own keyring, and the version unpacked is the one recorded.
        ("Acquire::Check-Valid-Until", "false".into()),
    ] {
        conf.push_str(&format!("{key} \"{value}\";\n"));
    }
    fs::write(dir.join("main.conf"), "")?;
    fs::write(dir.join("preferences"), "")?;
    fs::write(dir.join("apt.conf"), conf)
}

/// A resolved Debian kernel.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Chosen {
    package: String,
    version: String,
    /// The package and the ones it splits the kernel into (sid's `linux-binary-*` holds the
    /// image and `linux-modules-*` the modules; older suites have one package).
    unpack: Vec<String>,
}

/// `apt-cache show` paragraphs: each package, its version, and the image and module packages
/// it depends on.
fn parse_packages(text: &str) -> Vec<Chosen> {
    text.split("\n\n")
        .filter_map(|para| {
            let field = |name: &str| {
                para.lines()
                    .find_map(|l| l.strip_prefix(name)?.strip_prefix(": "))
                    .map(str::trim)
            };
            let package = field("Package").filter(|p| is_package_name(p))?.to_string();
            let version = field("Version").filter(|v| is_version(v))?.to_string();
            let mut unpack = vec![package.clone()];
            for dep in field("Depends").unwrap_or_default().split([',', '|']) {
                let name = dep.split_whitespace().next().unwrap_or_default();
                if (name.starts_with("linux-binary-") || name.starts_with("linux-modules-"))
                    && is_package_name(name)
                {
                    unpack.push(name.to_string());
                }
            }
            Some(Chosen {
                package,
                version,
                unpack,
            })
        })
        .collect()
}

/// A kernel image package of the generic amd64 flavour (`linux-image-6.1.0-47-amd64`,
/// `linux-image-6.12.117+deb12-amd64`), not a meta package (`linux-image-6.1-amd64`), another
/// flavour (`-cloud-amd64`, `-rt-amd64`), a debug or unsigned build; of `series` if given.
fn is_kernel_image(name: &str, series: Option<&str>) -> bool {
    let Some(version) = name
        .strip_prefix("linux-image-")
        .and_then(|n| n.strip_suffix("-amd64"))
    else {
        return false;
    };
    let mut parts = version.split('-');
    let upstream = parts.next().unwrap_or_default();
    let numbers = upstream.split('+').next().unwrap_or_default();
    numbers.split('.').count() >= 3
        && numbers.split('.').all(|n| n.parse::<u32>().is_ok())
        && parts.all(|abi| {
            abi.replace("deb", "")
                .chars()
                .all(|c| c.is_ascii_digit() || c == '.')
        })
        && series.is_none_or(|s| numbers.starts_with(&format!("{s}.")))
}

/// A Debian version's numbers in order (`6.1.192-2` → 6, 1, 192, 2), enough to order one
/// series' kernels.
fn version_key(version: &str) -> Vec<u64> {
    version
        .split(|c: char| !c.is_ascii_digit())
        .filter(|n| !n.is_empty())
        .filter_map(|n| n.parse().ok())
        .collect()
}

/// `apt-get download` then `dpkg -x` into `dir` (the packages are never installed).
fn download(apt: &Apt, chosen: &Chosen, cache: &Path, dir: &Path) -> Result<(), String> {
    let package = &chosen.package;
    let work = cache.join(format!(".download-{package}"));
    let _ = fs::remove_dir_all(&work);
    let _ = fs::remove_dir_all(dir);
    fs::create_dir_all(&work).map_err(|e| format!("{}: {e}", work.display()))?;
    eprintln!(
        "matrix: downloading {} into {}",
        chosen.unpack.join(" "),
        cache.display()
    );
    // The chosen package at exactly the version resolved (apt's candidate could move meanwhile).
    let wanted: Vec<String> = chosen
        .unpack
        .iter()
        .map(|p| {
            if p == package {
                format!("{p}={}", chosen.version)
            } else {
                p.clone()
            }
        })
        .collect();
    run(apt
        .command("apt-get")
        .args(["download", "-q"])
        .args(&wanted)
        .current_dir(&work))
    .map_err(|e| {
        format!(
            "apt-get download failed ({e}); run apt-get update, or see apt-cache policy {package}"
        )
    })?;
    let debs: Vec<PathBuf> = fs::read_dir(&work)
        .map_err(|e| format!("{}: {e}", work.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "deb"))
        .collect();
    if debs.len() != chosen.unpack.len() {
        return Err(format!(
            "apt-get download left {} .deb files for {} packages",
            debs.len(),
            chosen.unpack.len()
        ));
    }
    let partial = cache.join(format!(".unpack-{package}"));
    let _ = fs::remove_dir_all(&partial);
    let mut unpacked = String::new();
    for deb in &debs {
        run(Command::new("dpkg").arg("-x").arg(deb).arg(&partial))
            .map_err(|e| format!("dpkg -x {}: {e}", deb.display()))?;
        let fields = output(
            Command::new("dpkg-deb")
                .args(["--showformat=${Package} ${Version}\n", "--show"])
                .arg(deb),
        )
        .map_err(|e| format!("dpkg-deb --show {}: {e}", deb.display()))?;
        unpacked.push_str(&fields);
    }
    eprintln!("matrix: unpacked {}", unpacked.trim().replace('\n', ", "));
    fs::write(partial.join(UNPACKED), unpacked)
        .and_then(|()| fs::rename(&partial, dir))
        .map_err(|e| format!("{}: {e}", dir.display()))?;
    let _ = fs::remove_dir_all(&work);
    Ok(())
}

/// The vmlinuz and modules of an unpacked kernel: `boot/vmlinuz-<release>` beside
/// `lib/modules/<release>/`, or (sid's packages) `usr/lib/modules/<release>/vmlinuz`.
fn unpacked_image(dir: &Path) -> Result<Image, String> {
    let entries = |d: &Path| {
        fs::read_dir(d)
            .into_iter()
            .flatten()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect::<Vec<PathBuf>>()
    };
    let in_boot = entries(&dir.join("boot")).into_iter().find_map(|p| {
        let name = p.file_name()?.to_string_lossy().into_owned();
        let release = name.strip_prefix("vmlinuz-")?.to_string();
        let modules_dir = ["lib/modules", "usr/lib/modules"]
            .iter()
            .map(|m| dir.join(m).join(&release))
            .find(|d| d.is_dir());
        Some((p, modules_dir))
    });
    let in_modules = || {
        ["lib/modules", "usr/lib/modules"]
            .iter()
            .flat_map(|m| entries(&dir.join(m)))
            .find(|d| d.join("vmlinuz").is_file())
            .map(|d| (d.join("vmlinuz"), Some(d)))
    };
    let (vmlinuz, modules_dir) = in_boot.or_else(in_modules).ok_or_else(|| {
        format!(
            "no boot/vmlinuz-* or usr/lib/modules/*/vmlinuz in {}",
            dir.display()
        )
    })?;
    Ok(Image {
        vmlinuz,
        modules_dir,
        package: None,
    })
}

/// A command's standard output, or its last stderr line on failure.
pub(crate) fn output(cmd: &mut Command) -> Result<String, String> {
    let program = cmd.get_program().to_string_lossy().into_owned();
    let out = cmd
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {program}: {e}"))?;
    if out.status.success() {
        return Ok(String::from_utf8_lossy(&out.stdout).into_owned());
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let last = stderr.lines().rev().find(|l| !l.trim().is_empty());
    Err(format!(
        "{program}: {}: {}",
        out.status,
        last.unwrap_or("no error output")
    ))
}

/// Runs a command to completion; its last stderr line on failure.
pub(crate) fn run(cmd: &mut Command) -> Result<(), String> {
    output(cmd).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
modules = ["veth"]

[[kernel]]
name = "host"
source = "host"

[[kernel]]
name = "debian-6.1"
source = "debian"
package = "linux-image-6.1.0-47-amd64"
timeout = 240

[[kernel]]
name = "mine"
source = "image"
image = "build/bzImage"

[[kernel]]
name = "old"
source = "debian"
suite = "bullseye"
series = "5.10"

[[kernel]]
name = "new"
source = "debian"
suite = "sid"
series = "newest"

[[kernel]]
name = "gvisor"
source = "gvisor"
"#;

    #[test]
    fn a_package_or_module_that_would_reach_apt_or_modprobe_as_an_option_is_refused() {
        let text = r#"
modules = ["veth", "-r"]

[[kernel]]
name = "evil"
source = "debian"
package = "-oAPT::Get::AllowUnauthenticated=true"
"#;
        let err = parse(text, "kernels.toml", Path::new("/")).expect_err("refused");
        assert!(
            err.contains("field `modules`: \"-r\" is not a module name"),
            "{err}"
        );
        assert!(
            err.contains("kernel #1 (name \"evil\"): field `package`: \"-oAPT"),
            "{err}"
        );
        // What apt-cache says is held to the same rules before it reaches apt-get.
        let shown = "Package: linux-image-6.1.0-47-amd64\nVersion: 6.1.192-2\n\
                     Depends: linux-modules--oEvil=1\n\n\
                     Package: -oBad\nVersion: 1\n";
        let chosen = parse_packages(shown);
        assert_eq!(chosen.len(), 1);
        assert_eq!(chosen[0].unpack, ["linux-image-6.1.0-47-amd64"]);
    }

    #[test]
    fn the_private_apt_configuration_reads_nothing_of_the_systems() {
        let dir = tempfile::tempdir().expect("tempdir");
        write_private_config(dir.path()).expect("written");
        let apt = Apt {
            private: Some(dir.path().to_path_buf()),
        };
        let dump = match apt.command("apt-config").arg("dump").output() {
            Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout).into_owned(),
            _ => {
                eprintln!("SKIPPED: no apt-config on this machine");
                return;
            }
        };
        // apt-config prints the last word of a key in lowercase.
        let parts = format!(
            "dir::etc::parts \"{}\";",
            dir.path().join("apt.conf.d").display()
        );
        assert!(
            dump.to_lowercase().contains(&parts.to_lowercase()),
            "{dump}"
        );
        assert!(
            dump.contains("Acquire::AllowInsecureRepositories \"false\";"),
            "{dump}"
        );
        // Hooks and pinning of the system's apt.conf.d and preferences stay out.
        for system in ["Post-Invoke", "Pre-Invoke", "/etc/apt/preferences"] {
            assert!(!dump.contains(system), "{system} leaked in:\n{dump}");
        }
    }

    #[test]
    fn a_kernel_list_parses_with_each_source() {
        let list = parse(GOOD, "kernels.toml", Path::new("/ws")).expect("parses");
        assert_eq!(list.modules, ["veth"]);
        let names: Vec<&str> = list.kernels.iter().map(|k| k.name.as_str()).collect();
        assert_eq!(
            names,
            ["host", "debian-6.1", "mine", "old", "new", "gvisor"]
        );
        assert_eq!(
            list.kernels[3].source,
            Source::Debian {
                suite: Some("bullseye".into()),
                pick: Pick::Series("5.10".into())
            }
        );
        assert_eq!(
            list.kernels[4].source,
            Source::Debian {
                suite: Some("sid".into()),
                pick: Pick::Newest
            }
        );
        assert_eq!(list.kernels[5].source, Source::Gvisor);
        assert_eq!(list.kernels[0].source, Source::Host);
        assert_eq!(
            list.kernels[1].source,
            Source::Debian {
                suite: None,
                pick: Pick::Package("linux-image-6.1.0-47-amd64".into())
            }
        );
        assert_eq!(list.kernels[1].timeout, Some(Duration::from_secs(240)));
        assert_eq!(
            list.kernels[2].source,
            Source::Image {
                image: "/ws/build/bzImage".into(),
                modules_dir: None
            }
        );
    }

    #[test]
    fn the_fixture_parses() {
        let root = harness::workspace_root();
        let list =
            load(&root.join("fixtures/kernels.toml"), &root).unwrap_or_else(|e| panic!("{e}"));
        assert!(list.kernels.iter().any(|k| k.source == Source::Host));
        assert!(
            list.kernels
                .iter()
                .filter(|k| k.source != Source::Host)
                .count()
                >= 2
        );
    }

    #[test]
    fn a_malformed_list_names_file_entry_and_field() {
        let bad = r#"
colour = "blue"

[[kernel]]
name = "old"
source = "debian"
pakage = "linux-image-6.1.0-47-amd64"

[[kernel]]
name = "weird"
source = "floppy"
timeout = -3

[[kernel]]
source = "image"

[[kernel]]
name = "old"
source = "host"
package = "x"

[[kernel]]
name = "both"
source = "debian"
package = "linux-image-6.1.0-47-amd64"
series = "6.1"

[[kernel]]
name = "vague"
source = "debian"
suite = "sid/main"
series = "six"

[[kernel]]
name = "sandbox"
source = "gvisor"
series = "6.1"
"#;
        let err = parse(bad, "fixtures/kernels.toml", Path::new("/")).expect_err("malformed");
        for needle in [
            "fixtures/kernels.toml: field `colour`: unknown (known: kernel, modules)",
            "fixtures/kernels.toml: kernel #1 (name \"old\"): field `pakage`: unknown",
            "fixtures/kernels.toml: kernel #1 (name \"old\"): field `package`: missing",
            "fixtures/kernels.toml: kernel #2 (name \"weird\"): field `source`: \"floppy\"",
            "fixtures/kernels.toml: kernel #2 (name \"weird\"): field `timeout`",
            "fixtures/kernels.toml: kernel #3: field `name`: missing",
            "fixtures/kernels.toml: kernel #3: field `image`: missing",
            "fixtures/kernels.toml: kernel #4 (name \"old\"): field `package`: not used",
            "kernel #5 (name \"both\"): field `series`: give either `package` or `series`",
            "kernel #6 (name \"vague\"): field `suite`: \"sid/main\" is not a Debian suite",
            "kernel #6 (name \"vague\"): field `series`: \"six\" is not a kernel series",
            "kernel #7 (name \"sandbox\"): field `series`: not used by source = \"gvisor\"",
        ] {
            assert!(err.contains(needle), "error lacks {needle:?}:\n{err}");
        }
        let err = parse("[[kernel]\nname =", "k.toml", Path::new("/")).expect_err("not TOML");
        assert!(err.starts_with("k.toml: "), "{err}");
        let err = parse(
            "[[kernel]]\nname = 3\nsource = \"host\"\n",
            "k.toml",
            Path::new("/"),
        )
        .expect_err("wrong type");
        assert!(
            err.contains("k.toml: kernel #1: field `name`: must be a non-empty string"),
            "{err}"
        );
    }

    #[test]
    fn an_unknown_field_is_an_error_naming_it_and_the_known_ones() {
        let text = "[[kernel]]\nname = \"h\"\nsource = \"host\"\ntimout = 60\n\n\
                    [[kernel]]\nname = \"z\"\nsource = \"gvisor\"\ntimeout = 0\n";
        let err = parse(text, "k.toml", Path::new("/")).expect_err("unknown field");
        assert!(
            err.contains(
                "k.toml: kernel #1 (name \"h\"): field `timout`: unknown (known: name, source,"
            ),
            "{err}"
        );
        assert!(err.contains("modules_dir, timeout)"), "{err}");
        assert!(
            err.contains("k.toml: kernel #2 (name \"z\"): field `timeout`: must be a positive"),
            "{err}"
        );
        assert_eq!(err.lines().count(), 2, "{err}");
    }

    #[test]
    fn a_series_means_the_newest_generic_image_of_that_series() {
        let found = [
            "linux-image-6.1.0-47-amd64",
            "linux-image-6.1.0-56-amd64",
            "linux-image-6.1.0-0.deb11.52-amd64",
            "linux-image-6.1-amd64",
            "linux-image-6.1.0-56-cloud-amd64",
            "linux-image-6.1.0-56-rt-amd64",
            "linux-image-6.1.0-56-amd64-unsigned",
            "linux-image-6.12.117+deb12-amd64",
            "linux-image-7.2.13+deb14-amd64",
            "linux-image-amd64",
        ];
        let of = |series| -> Vec<&str> {
            found
                .iter()
                .copied()
                .filter(|n| is_kernel_image(n, series))
                .collect()
        };
        assert_eq!(
            of(Some("6.1")),
            [
                "linux-image-6.1.0-47-amd64",
                "linux-image-6.1.0-56-amd64",
                "linux-image-6.1.0-0.deb11.52-amd64"
            ]
        );
        assert_eq!(of(Some("6.12")), ["linux-image-6.12.117+deb12-amd64"]);
        assert_eq!(of(None).len(), 5);
        assert!(version_key("6.1.192-2") > version_key("6.1.158-1~deb11u1"));
        assert!(version_key("6.12.117-1") > version_key("6.12.99-1"));

        let shown = "Package: linux-image-7.2.13+deb14-amd64\nVersion: 7.2.13-1\n\
                     Depends: dracut | initramfs-tools, linux-base-7.2.13+deb14-amd64 (= 7.2.13-1), \
                     linux-binary-7.2.13+deb14-amd64 (= 7.2.13-1), linux-modules-7.2.13+deb14-amd64 \
                     (= 7.2.13-1)\n\nPackage: linux-image-6.1.0-56-amd64\nVersion: 6.1.192-2\n\
                     Depends: kmod, linux-base (>= 4.3~)\n";
        let packages = parse_packages(shown);
        assert_eq!(
            packages[0].unpack,
            [
                "linux-image-7.2.13+deb14-amd64",
                "linux-binary-7.2.13+deb14-amd64",
                "linux-modules-7.2.13+deb14-amd64"
            ]
        );
        assert_eq!(packages[1].version, "6.1.192-2");
        assert_eq!(packages[1].unpack, ["linux-image-6.1.0-56-amd64"]);
    }

    #[test]
    fn a_missing_image_is_an_error_naming_the_field() {
        let err = fetch(
            &Source::Image {
                image: "/nonexistent/bzImage".into(),
                modules_dir: None,
            },
            Path::new("/tmp"),
        )
        .expect_err("no such image");
        assert!(
            err.starts_with("field `image`: /nonexistent/bzImage"),
            "{err}"
        );
    }
}
