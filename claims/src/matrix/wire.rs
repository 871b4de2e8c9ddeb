//! What a guest (qemu's second serial port) or a gVisor sandbox (its stdout) sends back: one
//! line per marker, `@@claims <word> …`, and the evidence records as they are, one per line.
//! The scripts that write the lines and [`parse_stream`], which reads them, share these words.

use harness::record::Record;

/// Starts the lines of the data port (and the progress lines of the console).
pub const MARK: &str = "@@claims";

/// `kernel <uname -r> booted=<uptime>`: the guest's /init started.
pub const KERNEL: &str = "kernel";
/// `note <text>`: something the report should mention.
pub const NOTE: &str = "note";
/// `running <suite>` (console only): progress, to name the suite a guest hung in.
pub const RUNNING: &str = "running";
/// `suite <name> exit=<code> [at=<uptime>]`: a test binary ended.
pub const SUITE: &str = "suite";
/// `bench <bench.json on one line>`.
pub const BENCH: &str = "bench";
/// `end`: the guest's /init got to its end.
pub const END: &str = "end";
/// `kvm-ok` (console only): the KVM probe guest booted.
pub const KVM_OK: &str = "kvm-ok";

/// What the guest sent on its data port.
#[derive(Debug, Default)]
pub struct Stream {
    pub release: Option<String>,
    /// Seconds from kernel start to /init, from the guest's uptime.
    pub booted: Option<f64>,
    /// Each suite's name and exit code.
    pub suites: Vec<(String, i32)>,
    pub notes: Vec<String>,
    pub records: Vec<Record>,
    /// What `claims bench` wrote in the guest.
    pub bench: Option<crate::bench::BenchFile>,
    /// The guest got to the end of its /init.
    pub ended: bool,
}

/// Parses the data port's text. Every line is a marker or an evidence record; anything else
/// means the stream was damaged, an error naming the line.
pub fn parse_stream(text: &str) -> Result<Stream, String> {
    let mut stream = Stream::default();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim_end_matches('\r');
        let at = || format!("data port line {}", n + 1);
        if line.trim().is_empty() {
            continue;
        }
        if line.starts_with('{') {
            match serde_json::from_str::<Record>(line) {
                Ok(record) => stream.records.push(record),
                // A test killed while writing its last record: that record is lost, not the
                // kernel's others (each file is sent with a newline after it).
                Err(e) if e.is_eof() => stream.notes.push(format!(
                    "{}: a record cut short (a test killed while writing it), left out",
                    at()
                )),
                Err(e) => return Err(format!("{}: {e}", at())),
            }
            continue;
        }
        let Some(rest) = line.strip_prefix(MARK).map(str::trim) else {
            return Err(format!("{}: not evidence: {line:?}", at()));
        };
        let mut words = rest.split_whitespace();
        match words.next() {
            Some(KERNEL) => {
                stream.release = words.next().map(str::to_string);
                stream.booted = words
                    .find_map(|w| w.strip_prefix("booted="))
                    .and_then(|v| v.parse().ok());
            }
            Some(SUITE) => {
                let name = words
                    .next()
                    .ok_or_else(|| format!("{}: suite without name", at()))?;
                let exit = words
                    .find_map(|w| w.strip_prefix("exit="))
                    .and_then(|v| v.parse().ok())
                    .ok_or_else(|| format!("{}: suite {name} without exit=", at()))?;
                stream.suites.push((name.to_string(), exit));
            }
            Some(NOTE) => stream.notes.push(words.collect::<Vec<_>>().join(" ")),
            Some(BENCH) => {
                let json = rest[BENCH.len()..].trim();
                stream.bench = Some(
                    serde_json::from_str(json).map_err(|e| format!("{}: bench.json: {e}", at()))?,
                );
            }
            Some(END) => stream.ended = true,
            _ => return Err(format!("{}: unknown marker {line:?}", at())),
        }
    }
    Ok(stream)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_data_port_stream_parses_markers_and_records() {
        let record = r#"{"claim":"tcp.accept.new-fd","test":"tcp::accept_returns_a_new_fd","outcome":"pass","observed":{},"kernel":"6.1.0-47-amd64","uid":0,"elapsed_ms":3,"at_ms":1}"#;
        let text = format!(
            "@@claims kernel 6.1.0-47-amd64 booted=4.27\r\n\
             @@claims note insmod veth failed\r\n\
             @@claims suite tcp exit=101 at=9.1\r\n\
             {record}\r\n\r\n\
             @@claims end\r\n"
        );
        let stream = parse_stream(&text).expect("parses");
        assert_eq!(stream.release.as_deref(), Some("6.1.0-47-amd64"));
        assert_eq!(stream.booted, Some(4.27));
        assert_eq!(stream.suites, [("tcp".to_string(), 101)]);
        assert_eq!(stream.notes, ["insmod veth failed"]);
        assert_eq!(stream.records.len(), 1);
        assert_eq!(stream.records[0].claim, "tcp.accept.new-fd");
        assert!(stream.ended);

        let cut = parse_stream("@@claims kernel 6.12.1\n@@claims suite tcp exit=0\n")
            .expect("a truncated stream still parses");
        assert!(!cut.ended);

        let bench = parse_stream(
            "@@claims bench {  \"kernel\": \"6.12.1\",  \"not_measured\": \"not measured under \
             CPU emulation (tcg)\",  \"results\": [],  \"ratios\": []}\n",
        )
        .expect("bench.json on one line parses");
        let bench = bench.bench.expect("the bench is kept");
        assert_eq!(bench.kernel, "6.12.1");
        assert!(bench.not_measured.is_some());
        let err = parse_stream("@@claims bench {\n").expect_err("a cut bench.json");
        assert!(err.contains("line 1: bench.json"), "{err}");

        let cut = &record[..record.len() / 2];
        let stream = parse_stream(&format!("{cut}\n{record}\n@@claims end\n"))
            .expect("a record cut short is left out, not the stream");
        assert_eq!(stream.records.len(), 1);
        assert!(
            stream.notes[0].starts_with("data port line 1: a record cut short"),
            "{:?}",
            stream.notes
        );
        let err = parse_stream("@@claims kernel x\n{\"claim\": 3}\n").expect_err("bad record");
        assert!(err.starts_with("data port line 2: "), "{err}");
        let err = parse_stream("garbage\n").expect_err("not a marker");
        assert!(err.contains("line 1: not evidence"), "{err}");
    }
}
