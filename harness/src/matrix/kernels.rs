//! `fixtures/kernels.toml`: the kernels the matrix runs the suite under, each from a declared
//! source, and fetching a kernel into the cache (a Debian package is downloaded and unpacked
//! once, never installed).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// Where a kernel comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// This machine's running kernel: the suite runs natively, no VM.
    Host,
    /// A Debian kernel image package (`linux-image-…`), fetched with `apt-get download`.
    Debian { package: String },
    /// A kernel image on disk, with optionally its `lib/modules/<release>` directory.
    Image {
        image: PathBuf,
        modules_dir: Option<PathBuf>,
    },
}

impl Source {
    /// How the report names the source.
    pub fn describe(&self) -> String {
        match self {
            Source::Host => "host (native run)".into(),
            Source::Debian { package } => format!("debian package {package}"),
            Source::Image { image, .. } => format!("image {}", image.display()),
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

/// Parses the text of a kernels file; every problem is reported at once, each naming the file
/// (`shown`), the entry and the field.
pub fn parse(text: &str, shown: &str, root: &Path) -> Result<KernelList, String> {
    let table: toml::Table =
        toml::from_str(text).map_err(|e| format!("{shown}: {}", e.to_string().trim_end()))?;
    let mut problems = Vec::new();
    let mut list = KernelList {
        kernels: Vec::new(),
        modules: Vec::new(),
    };
    for (key, value) in &table {
        match key.as_str() {
            "kernel" => {}
            "modules" => match string_list(value) {
                Some(modules) => list.modules = modules,
                None => problems.push(format!(
                    "{shown}: field `modules`: must be a list of module names"
                )),
            },
            other => problems.push(format!(
                "{shown}: field `{other}`: unknown (known: kernel, modules)"
            )),
        }
    }
    let entries = match table.get("kernel") {
        None => {
            problems.push(format!("{shown}: no [[kernel]] entries"));
            &Vec::new()
        }
        Some(toml::Value::Array(entries)) => entries,
        Some(_) => {
            problems.push(format!(
                "{shown}: field `kernel`: must be [[kernel]] tables"
            ));
            &Vec::new()
        }
    };
    for (n, entry) in entries.iter().enumerate() {
        let Some(entry) = entry.as_table() else {
            problems.push(format!("{shown}: kernel #{}: not a table", n + 1));
            continue;
        };
        let name = entry.get("name").and_then(|v| v.as_str());
        let at = match name {
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

const FIELDS: [&str; 6] = [
    "name",
    "source",
    "package",
    "image",
    "modules_dir",
    "timeout",
];

/// One entry, or the problems with its fields (`field `x`: …`).
fn entry_kernel(entry: &toml::Table, root: &Path) -> Result<Kernel, Vec<String>> {
    let mut problems = Vec::new();
    for key in entry.keys() {
        if !FIELDS.contains(&key.as_str()) {
            problems.push(format!(
                "field `{key}`: unknown (known: {})",
                FIELDS.join(", ")
            ));
        }
    }
    let mut text = |field: &str, required: bool| match entry.get(field) {
        None if required => {
            problems.push(format!("field `{field}`: missing"));
            None
        }
        None => None,
        Some(toml::Value::String(s)) if !s.trim().is_empty() => Some(s.clone()),
        Some(_) => {
            problems.push(format!("field `{field}`: must be a non-empty string"));
            None
        }
    };
    let name = text("name", true);
    let source = text("source", true);
    let package = text("package", false);
    let image = text("image", false);
    let modules_dir = text("modules_dir", false);
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
    let timeout = match entry.get("timeout") {
        None => None,
        Some(toml::Value::Integer(s)) if *s > 0 => Some(Duration::from_secs(*s as u64)),
        Some(_) => {
            problems.push("field `timeout`: must be a positive number of seconds".into());
            None
        }
    };
    let mut forbid = |field: &str, present: bool, kind: &str| {
        if present {
            problems.push(format!("field `{field}`: not used by source = {kind:?}"));
        }
    };
    let source = match source.as_deref() {
        None => None,
        Some("host") => {
            forbid("package", package.is_some(), "host");
            forbid("image", image.is_some(), "host");
            forbid("modules_dir", modules_dir.is_some(), "host");
            Some(Source::Host)
        }
        Some("debian") => {
            forbid("image", image.is_some(), "debian");
            forbid("modules_dir", modules_dir.is_some(), "debian");
            match package {
                Some(package) => Some(Source::Debian { package }),
                None => {
                    if !entry.contains_key("package") {
                        problems.push(
                            "field `package`: missing (the linux-image package to download)".into(),
                        );
                    }
                    None
                }
            }
        }
        Some("image") => {
            forbid("package", package.is_some(), "image");
            match image {
                Some(image) => Some(Source::Image {
                    image: root.join(image),
                    modules_dir: modules_dir.map(|d| root.join(d)),
                }),
                None => {
                    if !entry.contains_key("image") {
                        problems.push("field `image`: missing (the kernel image's path)".into());
                    }
                    None
                }
            }
        }
        Some(other) => {
            problems.push(format!(
                "field `source`: {other:?} is not host, debian or image"
            ));
            None
        }
    };
    match (name, source) {
        (Some(name), Some(source)) if problems.is_empty() => Ok(Kernel {
            name,
            source,
            timeout,
        }),
        _ => Err(problems),
    }
}

fn string_list(value: &toml::Value) -> Option<Vec<String>> {
    value
        .as_array()?
        .iter()
        .map(|v| v.as_str().map(str::to_string))
        .collect()
}

/// A kernel ready to boot.
#[derive(Clone, Debug)]
pub struct Image {
    pub vmlinuz: PathBuf,
    /// `lib/modules/<release>` of this kernel, if known.
    pub modules_dir: Option<PathBuf>,
}

/// Finds (or downloads into `cache`) the image of a VM kernel. Errors name the kernel's field.
pub fn fetch(source: &Source, cache: &Path) -> Result<Image, String> {
    match source {
        Source::Host => Err("the host kernel does not boot in a VM".into()),
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
            })
        }
        Source::Debian { package } => {
            let dir = cache.join(package);
            if !dir.join(UNPACKED).exists() {
                download(package, cache, &dir)
                    .map_err(|e| format!("field `package`: {package}: {e}"))?;
            }
            unpacked_image(&dir).map_err(|e| format!("field `package`: {package}: {e}"))
        }
    }
}

/// Marks a complete unpack, so an interrupted one is redone.
const UNPACKED: &str = ".unpacked";

/// `apt-get download` then `dpkg -x` into `dir` (the package is never installed).
fn download(package: &str, cache: &Path, dir: &Path) -> Result<(), String> {
    let work = cache.join(format!(".download-{package}"));
    let _ = fs::remove_dir_all(&work);
    let _ = fs::remove_dir_all(dir);
    fs::create_dir_all(&work).map_err(|e| format!("{}: {e}", work.display()))?;
    eprintln!("matrix: downloading {package} into {}", cache.display());
    run(Command::new("apt-get")
        .args(["download", "-q", package])
        .current_dir(&work))
    .map_err(|e| {
        format!(
            "apt-get download failed ({e}); run apt-get update, or see apt-cache policy {package}"
        )
    })?;
    let deb = fs::read_dir(&work)
        .map_err(|e| format!("{}: {e}", work.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|x| x == "deb"))
        .ok_or("apt-get download left no .deb")?;
    let partial = cache.join(format!(".unpack-{package}"));
    let _ = fs::remove_dir_all(&partial);
    run(Command::new("dpkg").arg("-x").arg(&deb).arg(&partial))
        .map_err(|e| format!("dpkg -x {}: {e}", deb.display()))?;
    fs::write(partial.join(UNPACKED), "")
        .and_then(|()| fs::rename(&partial, dir))
        .map_err(|e| format!("{}: {e}", dir.display()))?;
    let _ = fs::remove_dir_all(&work);
    Ok(())
}

/// The vmlinuz and modules of an unpacked linux-image package.
fn unpacked_image(dir: &Path) -> Result<Image, String> {
    let boot = dir.join("boot");
    let vmlinuz = fs::read_dir(&boot)
        .map_err(|e| format!("{}: {e}", boot.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("vmlinuz-"))
        })
        .ok_or_else(|| format!("no boot/vmlinuz-* in {}", dir.display()))?;
    let release = vmlinuz
        .file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .trim_start_matches("vmlinuz-")
        .to_string();
    let modules_dir = ["lib/modules", "usr/lib/modules"]
        .iter()
        .map(|m| dir.join(m).join(&release))
        .find(|d| d.is_dir());
    Ok(Image {
        vmlinuz,
        modules_dir,
    })
}

/// Runs a command to completion; its last stderr line on failure.
pub(crate) fn run(cmd: &mut Command) -> Result<(), String> {
    let program = cmd.get_program().to_string_lossy().into_owned();
    let out = cmd
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {program}: {e}"))?;
    if out.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let last = stderr
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("no error output");
    Err(format!("{program}: {}: {last}", out.status))
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
"#;

    #[test]
    fn a_kernel_list_parses_with_each_source() {
        let list = parse(GOOD, "kernels.toml", Path::new("/ws")).expect("parses");
        assert_eq!(list.modules, ["veth"]);
        let names: Vec<&str> = list.kernels.iter().map(|k| k.name.as_str()).collect();
        assert_eq!(names, ["host", "debian-6.1", "mine"]);
        assert_eq!(list.kernels[0].source, Source::Host);
        assert_eq!(
            list.kernels[1].source,
            Source::Debian {
                package: "linux-image-6.1.0-47-amd64".into()
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
        let root = crate::workspace_root();
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
"#;
        let err = parse(bad, "fixtures/kernels.toml", Path::new("/")).expect_err("malformed");
        for needle in [
            "fixtures/kernels.toml: field `colour`: unknown",
            "fixtures/kernels.toml: kernel #1 (name \"old\"): field `pakage`: unknown",
            "fixtures/kernels.toml: kernel #1 (name \"old\"): field `package`: missing",
            "fixtures/kernels.toml: kernel #2 (name \"weird\"): field `source`: \"floppy\"",
            "fixtures/kernels.toml: kernel #2 (name \"weird\"): field `timeout`",
            "fixtures/kernels.toml: kernel #3: field `name`: missing",
            "fixtures/kernels.toml: kernel #3: field `image`: missing",
            "fixtures/kernels.toml: kernel #4 (name \"old\"): field `package`: not used",
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
