//! JUnit XML (`target/claims/junit.xml`, and `matrix-junit.xml` for the kernel matrix): one
//! testsuite per kernel, one testcase per claim, so that GitHub, GitLab and Jenkins list the
//! claims natively. A claim that fails is a `failure`; one that could not be checked because its
//! kernel's run broke (hung, panicked, did not boot) is an `error`; one not checked on that
//! kernel otherwise (skipped, not run, untestable, pending) or inconclusive is `skipped` with the
//! reason. Both build one [`Suite`] per kernel with [`crate::report::Report::junit_suite`].

use std::fmt::Write as _;

use crate::report::Status;

/// One claim on one kernel.
#[derive(Clone, Debug)]
pub struct Case {
    /// `socket-claims.<section>`.
    pub classname: String,
    /// The claim id.
    pub name: String,
    pub status: Status,
    /// The failure's, error's or skip's reason.
    pub message: Option<String>,
    /// Not checked because the kernel's run broke: an `error`, which CI shows as broken rather
    /// than skipped.
    pub error: bool,
    /// The verdict in words and what the kernel did.
    pub output: String,
    pub seconds: f64,
}

/// The claims on one kernel.
#[derive(Clone, Debug)]
pub struct Suite {
    pub name: String,
    pub cases: Vec<Case>,
}

impl Suite {
    fn failures(&self) -> usize {
        self.cases
            .iter()
            .filter(|c| !c.error && c.status.failed())
            .count()
    }

    fn errors(&self) -> usize {
        self.cases.iter().filter(|c| c.error).count()
    }

    fn skipped(&self) -> usize {
        self.cases
            .iter()
            .filter(|c| !c.error && !c.status.passed() && !c.status.failed())
            .count()
    }

    fn seconds(&self) -> f64 {
        self.cases.iter().map(|c| c.seconds).sum()
    }
}

/// The JUnit XML document for `suites`.
pub fn render(suites: &[Suite]) -> String {
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let total = |f: fn(&Suite) -> usize| suites.iter().map(f).sum::<usize>();
    let _ = writeln!(
        xml,
        "<testsuites name=\"socket-claims\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{:.3}\">",
        total(|s| s.cases.len()),
        total(Suite::failures),
        total(Suite::errors),
        total(Suite::skipped),
        suites.iter().map(Suite::seconds).sum::<f64>()
    );
    for suite in suites {
        let _ = writeln!(
            xml,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{:.3}\">",
            escape(&suite.name),
            suite.cases.len(),
            suite.failures(),
            suite.errors(),
            suite.skipped(),
            suite.seconds()
        );
        for case in &suite.cases {
            let _ = writeln!(
                xml,
                "    <testcase classname=\"{}\" name=\"{}\" time=\"{:.3}\">",
                escape(&case.classname),
                escape(&case.name),
                case.seconds
            );
            let message = escape(case.message.as_deref().unwrap_or(case.status.label()));
            if case.error {
                let _ = writeln!(
                    xml,
                    "      <error message=\"{message}\" type=\"kernel\">{message}</error>"
                );
            } else if case.status.failed() {
                let _ = writeln!(
                    xml,
                    "      <failure message=\"{message}\" type=\"{}\">{message}</failure>",
                    case.status.label()
                );
            } else if !case.status.passed() {
                let _ = writeln!(xml, "      <skipped message=\"{message}\"/>");
            }
            let _ = writeln!(
                xml,
                "      <system-out>{}</system-out>\n    </testcase>",
                escape(&case.output)
            );
        }
        xml.push_str("  </testsuite>\n");
    }
    xml.push_str("</testsuites>\n");
    xml
}

/// Text for an XML attribute or element; control characters XML 1.0 forbids are dropped.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\n' => out.push_str("&#10;"),
            '\t' | '\r' => out.push(c),
            c if (c as u32) < 0x20 => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn case(name: &str, status: Status, message: Option<&str>) -> Case {
        Case {
            classname: "socket-claims.tcp".into(),
            name: name.into(),
            status,
            message: message.map(str::to_string),
            error: false,
            output: "observed: errno=<EINVAL> & more".into(),
            seconds: 0.25,
        }
    }

    #[test]
    fn failures_and_skips_are_junit_elements_and_text_is_escaped() {
        let xml = render(&[Suite {
            name: "Linux 6.12".into(),
            cases: vec![
                case("tcp.a.holds", Status::Holds, None),
                case("tcp.b.fails", Status::Fails, Some("expected \"EINVAL\"")),
                case("tcp.c.skipped", Status::Skipped, Some("needs CAP_NET_RAW")),
                case("tcp.d.pending", Status::Pending, None),
                Case {
                    error: true,
                    ..case(
                        "tcp.e.hung",
                        Status::NotRun,
                        Some("kernel hung after 300 s"),
                    )
                },
            ],
        }]);
        assert!(xml.contains(
            "<testsuite name=\"Linux 6.12\" tests=\"5\" failures=\"1\" errors=\"1\" skipped=\"2\" time=\"1.250\">"
        ));
        assert!(xml.contains("<error message=\"kernel hung after 300 s\" type=\"kernel\">"));
        assert!(xml.contains("<failure message=\"expected &quot;EINVAL&quot;\""));
        assert!(xml.contains("<skipped message=\"needs CAP_NET_RAW\"/>"));
        assert!(xml.contains("<skipped message=\"pending\"/>"));
        assert!(xml.contains("errno=&lt;EINVAL&gt; &amp; more"));
        let holds = xml.find("tcp.a.holds").expect("case");
        let next = xml[holds..].find("</testcase>").expect("end") + holds;
        assert!(!xml[holds..next].contains("<skipped") && !xml[holds..next].contains("<failure"));
    }
}
