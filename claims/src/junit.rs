//! JUnit XML (`target/claims/junit.xml`, and `matrix-junit.xml` for the kernel matrix): one
//! testsuite per kernel, one testcase per claim, so that GitHub, GitLab and Jenkins list the
//! claims natively. A claim that fails is a `failure`; one that could not be checked because its
//! kernel's run broke (hung, panicked, did not boot) is an `error`; one not checked on that
//! kernel otherwise (skipped, not run, untestable, pending) or inconclusive is `skipped` with the
//! reason.

use std::fmt::Write as _;

/// How one claim ended on one kernel, as JUnit knows it.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    Passed,
    /// The claim fails; `kind` is the `type` attribute (the report's status label).
    Failure {
        kind: &'static str,
        message: String,
    },
    /// Not checked because the kernel's run broke: CI shows it as broken, not skipped.
    Error {
        message: String,
    },
    /// Not checked for another reason (skipped, not run, untestable, pending) or inconclusive.
    Skipped {
        message: String,
    },
}

/// One claim on one kernel.
#[derive(Clone, Debug)]
pub struct Case {
    /// `socket-claims.<section>`.
    pub classname: String,
    /// The claim id.
    pub name: String,
    pub outcome: Outcome,
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
    fn count(&self, of: fn(&Outcome) -> bool) -> usize {
        self.cases.iter().filter(|c| of(&c.outcome)).count()
    }

    fn failures(&self) -> usize {
        self.count(|o| matches!(o, Outcome::Failure { .. }))
    }

    fn errors(&self) -> usize {
        self.count(|o| matches!(o, Outcome::Error { .. }))
    }

    fn skipped(&self) -> usize {
        self.count(|o| matches!(o, Outcome::Skipped { .. }))
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
            match &case.outcome {
                Outcome::Passed => {}
                Outcome::Error { message } => {
                    let message = escape(message);
                    let _ = writeln!(
                        xml,
                        "      <error message=\"{message}\" type=\"kernel\">{message}</error>"
                    );
                }
                Outcome::Failure { kind, message } => {
                    let message = escape(message);
                    let _ = writeln!(
                        xml,
                        "      <failure message=\"{message}\" type=\"{kind}\">{message}</failure>"
                    );
                }
                Outcome::Skipped { message } => {
                    let _ = writeln!(xml, "      <skipped message=\"{}\"/>", escape(message));
                }
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

    fn case(name: &str, outcome: Outcome) -> Case {
        Case {
            classname: "socket-claims.tcp".into(),
            name: name.into(),
            outcome,
            output: "observed: errno=<EINVAL> & more".into(),
            seconds: 0.25,
        }
    }

    fn skipped(message: &str) -> Outcome {
        Outcome::Skipped {
            message: message.into(),
        }
    }

    #[test]
    fn failures_and_skips_are_junit_elements_and_text_is_escaped() {
        let xml = render(&[Suite {
            name: "Linux 6.12".into(),
            cases: vec![
                case("tcp.a.holds", Outcome::Passed),
                case(
                    "tcp.b.fails",
                    Outcome::Failure {
                        kind: "fails",
                        message: "expected \"EINVAL\"".into(),
                    },
                ),
                case("tcp.c.skipped", skipped("needs CAP_NET_RAW")),
                case("tcp.d.pending", skipped("pending")),
                case(
                    "tcp.e.hung",
                    Outcome::Error {
                        message: "kernel hung after 300 s".into(),
                    },
                ),
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
