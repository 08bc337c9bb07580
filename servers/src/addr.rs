//! `sixgate addr …`: the core's address arithmetic and address text, for
//! shell scripts and Perl panels.
//!
//! Every subcommand checks all of its inputs before it prints anything, so a
//! caller never mistakes a partial result for a whole one: either every input
//! gives a result (exit 0), or nothing is printed on stdout and one line on
//! stderr names the bad value (exit 2).
//!
//! With `--stdin` the inputs come one per line from standard input instead
//! of the command line (for panels that send thousands at once). The reader
//! is bounded: a line of at most [`MAX_LINE`] bytes, at most
//! [`MAX_INPUTS`] lines and [`MAX_STDIN_BYTES`] bytes in all; an error on
//! such an input names its line number as well as its value. The output a
//! run builds before printing is bounded too ([`MAX_OUTPUT`]).

use std::fmt::Display;
use std::io::{self, BufRead, Read};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use clap::{Args, Subcommand};
use serde_json::{json, Value};
use sixgate::rfc6052::{self, Nat64Prefix, NonGlobal};
use sixgate::text::{self, Style};

/// The longest `--stdin` line, in bytes, not counting its line ending.
pub(crate) const MAX_LINE: usize = 4096;
/// The most inputs `--stdin` takes in one run.
pub(crate) const MAX_INPUTS: usize = 1_000_000;
/// The most bytes `--stdin` reads in one run (64 MiB).
pub(crate) const MAX_STDIN_BYTES: usize = 64 << 20;
/// The most output one run builds (256 MiB): `reverse-zones` can print up
/// to 128 zones per input, so the input bounds alone do not bound it.
pub(crate) const MAX_OUTPUT: usize = 256 << 20;

/// The subcommands of `sixgate addr`.
#[derive(Debug, Subcommand)]
pub(crate) enum AddrCommand {
    /// Embed IPv4 addresses in a NAT64 prefix (RFC 6052 §2.2), as a DNS64
    /// does. Under the well-known prefix 64:ff9b::/96, non-global IPv4
    /// (RFC 1918, documentation, loopback…) is refused unless
    /// --allow-non-global is given (RFC 6052 §3.1).
    Synth {
        /// The NAT64 prefix: one of /32 /40 /48 /56 /64 /96.
        #[arg(long, short, default_value = "64:ff9b::/96", value_name = "PREFIX")]
        prefix: String,
        /// Allow non-global IPv4 under the well-known prefix (labs, tests).
        #[arg(long)]
        allow_non_global: bool,
        #[command(flatten)]
        common: Common,
        /// IPv4 addresses.
        #[arg(
            required_unless_present = "stdin",
            conflicts_with = "stdin",
            value_name = "IPV4"
        )]
        addrs: Vec<String>,
    },
    /// Extract the IPv4 address embedded in IPv6 addresses (RFC 6052 §2.2).
    Extract {
        /// The NAT64 prefix the addresses are under.
        #[arg(long, short, default_value = "64:ff9b::/96", value_name = "PREFIX")]
        prefix: String,
        #[command(flatten)]
        common: Common,
        /// IPv6 addresses.
        #[arg(
            required_unless_present = "stdin",
            conflicts_with = "stdin",
            value_name = "IPV6"
        )]
        addrs: Vec<String>,
    },
    /// Fold addresses to the form that identifies the host: IPv4-mapped
    /// (::ffff:a.b.c.d) always becomes IPv4, an address under a given NAT64
    /// prefix becomes its embedded IPv4, anything else is printed in
    /// canonical RFC 5952 text.
    Normalize {
        /// A NAT64 prefix whose addresses fold to IPv4 (repeatable).
        #[arg(long = "nat64-prefix", value_name = "PREFIX")]
        nat64_prefixes: Vec<String>,
        #[command(flatten)]
        common: Common,
        /// IPv4 or IPv6 addresses.
        #[arg(
            required_unless_present = "stdin",
            conflicts_with = "stdin",
            value_name = "ADDR"
        )]
        addrs: Vec<String>,
    },
    /// Print addresses in canonical text: RFC 5952 for IPv6 (lowercase,
    /// longest zero run compressed, ::ffff:a.b.c.d kept as such), dotted
    /// decimal for IPv4. Nothing is folded (see normalize for that).
    Canonical {
        #[command(flatten)]
        common: Common,
        /// IPv4 or IPv6 addresses.
        #[arg(
            required_unless_present = "stdin",
            conflicts_with = "stdin",
            value_name = "ADDR"
        )]
        addrs: Vec<String>,
    },
    /// The PTR name (in-addr.arpa / ip6.arpa) of each address.
    Ptr {
        #[command(flatten)]
        common: Common,
        /// IPv4 or IPv6 addresses.
        #[arg(
            required_unless_present = "stdin",
            conflicts_with = "stdin",
            value_name = "ADDR"
        )]
        addrs: Vec<String>,
    },
    /// The reverse zones that exactly cover each prefix: IPv6 on nibble
    /// boundaries, IPv4 on octet boundaries; a prefix between boundaries is
    /// expanded into the zones it needs.
    ReverseZones {
        #[command(flatten)]
        common: Common,
        /// IPv4 or IPv6 prefixes (address/length).
        #[arg(
            required_unless_present = "stdin",
            conflicts_with = "stdin",
            value_name = "PREFIX"
        )]
        prefixes: Vec<String>,
    },
    /// Write addresses exactly as a program's config wants them.
    #[command(after_long_help = style_help())]
    Fmt {
        /// The program to write for (see the list below).
        #[arg(long, short, value_name = "STYLE")]
        style: String,
        /// A port to write with the address.
        #[arg(long)]
        port: Option<u16>,
        #[command(flatten)]
        common: Common,
        /// Addresses (a zone such as fe80::1%eth0 where the style allows one;
        /// a prefix for munin-cidr).
        #[arg(
            required_unless_present = "stdin",
            conflicts_with = "stdin",
            value_name = "ADDR"
        )]
        addrs: Vec<String>,
    },
    /// Find the NAT64 prefix(es) from the AAAA answers for ipv4only.arpa
    /// (RFC 7050), e.g. `sixgate addr discover $(dig +short AAAA ipv4only.arpa)`
    /// or `dig +short AAAA ipv4only.arpa | sixgate addr discover --stdin`.
    Discover {
        #[command(flatten)]
        common: Common,
        /// The IPv6 addresses of the AAAA answers.
        #[arg(
            required_unless_present = "stdin",
            conflicts_with = "stdin",
            value_name = "IPV6"
        )]
        addrs: Vec<String>,
    },
}

/// Options every subcommand takes.
#[derive(Debug, Args)]
pub(crate) struct Common {
    /// Print a JSON array of objects, one per input, instead of plain lines.
    #[arg(long)]
    json: bool,
    /// Read the inputs from standard input, one per line, instead of the
    /// command line. Surrounding whitespace and a trailing CR are ignored;
    /// an empty line is an error (so results stay in step with the input
    /// lines). At most 1,000,000 lines of at most 4096 bytes, 64 MiB in all.
    #[arg(long)]
    stdin: bool,
}

/// A finished result, built in the one form the caller asked for: plain
/// lines, or a JSON array with one object per input and a final newline.
#[derive(Debug)]
pub(crate) struct Output {
    json: bool,
    text: String,
    rows: usize,
}

impl AddrCommand {
    /// Whether the caller asked for JSON.
    pub(crate) fn json(&self) -> bool {
        self.common().json
    }

    fn common(&self) -> &Common {
        match self {
            Self::Synth { common, .. }
            | Self::Extract { common, .. }
            | Self::Normalize { common, .. }
            | Self::Canonical { common, .. }
            | Self::Ptr { common, .. }
            | Self::ReverseZones { common, .. }
            | Self::Fmt { common, .. }
            | Self::Discover { common, .. } => common,
        }
    }
}

impl Output {
    /// The plain lines, one per result (the output of a run without --json).
    pub(crate) fn to_plain(&self) -> &str {
        debug_assert!(!self.json, "built as JSON");
        &self.text
    }

    /// The JSON array with one object per input, and a final newline (the
    /// output of a run with --json).
    pub(crate) fn to_json(&self) -> &str {
        debug_assert!(self.json, "built as plain lines");
        &self.text
    }

    fn new(json: bool) -> Self {
        Self {
            json,
            text: String::from(if json { "[" } else { "" }),
            rows: 0,
        }
    }

    /// Adds one row: its plain lines, or its JSON object (made only when
    /// JSON was asked for). Refuses to grow past [`MAX_OUTPUT`].
    fn push<L: AsRef<str>>(
        &mut self,
        lines: &[L],
        json: impl FnOnce() -> Value,
    ) -> Result<(), String> {
        if self.json {
            if self.rows > 0 {
                self.text.push(',');
            }
            self.text.push_str(&json().to_string());
        } else {
            for line in lines {
                self.text.push_str(line.as_ref());
                self.text.push('\n');
            }
        }
        self.rows += 1;
        if self.text.len() > MAX_OUTPUT {
            return Err(format!(
                "the output would be longer than {} MiB (split the input into several runs)",
                MAX_OUTPUT >> 20
            ));
        }
        Ok(())
    }

    fn finish(mut self) -> Self {
        if self.json {
            self.text.push_str("]\n");
        }
        self
    }
}

/// One input: its text, and its line number when it came from --stdin.
#[derive(Debug, PartialEq, Eq)]
struct Input {
    text: String,
    line: Option<usize>,
}

impl Input {
    /// An error about this input. From --stdin the message starts with the
    /// line number, and quotes the value as given unless it already does.
    fn err(&self, msg: impl Display) -> String {
        let msg = msg.to_string();
        match self.line {
            None => msg,
            Some(n) if quotes(&msg, &self.text) => format!("stdin line {n}: {msg}"),
            Some(n) => format!("stdin line {n}: {:?}: {msg}", self.text),
        }
    }
}

/// Runs a subcommand to completion without printing: either every input
/// gives a row, or the first bad input gives the error. With --stdin the
/// inputs are read from standard input first.
pub(crate) fn run(cmd: AddrCommand) -> Result<Output, String> {
    let inputs = if cmd.common().stdin {
        read_lines(io::stdin().lock())?
    } else {
        Vec::new()
    };
    run_with(cmd, inputs)
}

/// [`run`] with the --stdin inputs already read (the command line's
/// inputs are used when `--stdin` was not given).
fn run_with(cmd: AddrCommand, stdin: Vec<Input>) -> Result<Output, String> {
    let args = |v: Vec<String>, common: &Common| -> Vec<Input> {
        if common.stdin {
            stdin
        } else {
            v.into_iter()
                .map(|text| Input { text, line: None })
                .collect()
        }
    };
    let mut out = Output::new(cmd.json());
    match cmd {
        AddrCommand::Synth {
            prefix,
            allow_non_global,
            addrs,
            common,
        } => {
            let prefix = parse_prefix(&prefix)?;
            let policy = if allow_non_global {
                NonGlobal::Allow
            } else {
                NonGlobal::Refuse
            };
            for a in &args(addrs, &common) {
                let v4 = parse_v4(&a.text).map_err(|e| a.err(e))?;
                let v6 = prefix.synthesize(v4, policy).map_err(|e| a.err(e))?;
                out.push(&[v6.to_string()], || {
                    json!({"ipv4": v4.to_string(), "ipv6": v6.to_string(), "prefix": prefix.to_string()})
                })?;
            }
        }
        AddrCommand::Extract {
            prefix,
            addrs,
            common,
        } => {
            let prefix = parse_prefix(&prefix)?;
            for a in &args(addrs, &common) {
                let v6 = parse_v6(&a.text).map_err(|e| a.err(e))?;
                let v4 = prefix.extract(v6).map_err(|e| a.err(e))?;
                out.push(&[v4.to_string()], || {
                    json!({"ipv6": v6.to_string(), "ipv4": v4.to_string(), "prefix": prefix.to_string()})
                })?;
            }
        }
        AddrCommand::Normalize {
            nat64_prefixes,
            addrs,
            common,
        } => {
            let prefixes = nat64_prefixes
                .iter()
                .map(|p| parse_prefix(p))
                .collect::<Result<Vec<_>, _>>()?;
            for a in &args(addrs, &common) {
                let addr = text::parse_addr(&a.text).map_err(|e| a.err(e))?;
                let norm = text::normalize(addr, &prefixes);
                let folded = match (addr, norm) {
                    (IpAddr::V6(v6), IpAddr::V4(_)) if v6.to_ipv4_mapped().is_some() => {
                        Value::from("ipv4-mapped")
                    }
                    (IpAddr::V6(_), IpAddr::V4(_)) => Value::from("nat64"),
                    _ => Value::Null,
                };
                let canon = text::canonical(norm);
                out.push(&[&canon], || {
                    json!({"input": a.text, "address": canon, "family": family(norm), "folded": folded})
                })?;
            }
        }
        AddrCommand::Canonical { addrs, common } => {
            for a in &args(addrs, &common) {
                let addr = text::parse_addr(&a.text).map_err(|e| a.err(e))?;
                let canon = text::canonical(addr);
                out.push(
                    &[&canon],
                    || json!({"input": a.text, "address": canon, "family": family(addr)}),
                )?;
            }
        }
        AddrCommand::Ptr { addrs, common } => {
            for a in &args(addrs, &common) {
                let addr = text::parse_addr(&a.text).map_err(|e| a.err(e))?;
                let name = text::ptr_name(addr);
                out.push(
                    &[&name],
                    || json!({"address": text::canonical(addr), "ptr": name}),
                )?;
            }
        }
        AddrCommand::ReverseZones { prefixes, common } => {
            for p in &args(prefixes, &common) {
                let net = text::parse_net(&p.text).map_err(|e| p.err(e))?;
                let zones = text::reverse_zones(net);
                out.push(
                    &zones,
                    || json!({"prefix": net.to_string(), "zones": zones}),
                )?;
            }
        }
        AddrCommand::Fmt {
            style,
            port,
            addrs,
            common,
        } => {
            let style: Style = style.parse().map_err(|e: text::Error| e.to_string())?;
            for a in &args(addrs, &common) {
                let line = text::format(style, &a.text, port).map_err(|e| a.err(e))?;
                out.push(
                    &[&line],
                    || json!({"input": a.text, "style": style.name(), "port": port, "text": line}),
                )?;
            }
        }
        AddrCommand::Discover { addrs, common } => {
            let answers = args(addrs, &common)
                .iter()
                .map(|a| parse_v6(&a.text).map_err(|e| a.err(e)))
                .collect::<Result<Vec<_>, _>>()?;
            for p in rfc6052::discover(&answers).map_err(|e| e.to_string())? {
                out.push(&[p.to_string()], || {
                    json!({"prefix": p.to_string(), "prefix_len": p.prefix_len(), "well_known": p.is_well_known()})
                })?;
            }
        }
    }
    Ok(out.finish())
}

/// Reads --stdin inputs: one per line (LF or CRLF, the last line's ending
/// optional), surrounding whitespace trimmed. Refuses, naming the line, an
/// empty line, a line longer than [`MAX_LINE`] bytes or not UTF-8; refuses
/// more than [`MAX_INPUTS`] lines or [`MAX_STDIN_BYTES`] bytes, and an
/// input with no lines at all. Never holds more than those bounds allow.
fn read_lines(mut r: impl BufRead) -> Result<Vec<Input>, String> {
    let mut inputs = Vec::new();
    let mut total = 0usize;
    let mut buf = Vec::with_capacity(64);
    loop {
        buf.clear();
        // The line, its CR and LF: anything longer is refused unread.
        let limit = u64::try_from(MAX_LINE + 2).unwrap_or(u64::MAX);
        let got = (&mut r)
            .take(limit)
            .read_until(b'\n', &mut buf)
            .map_err(|e| format!("reading standard input: {e}"))?;
        if got == 0 {
            break;
        }
        let n = inputs.len() + 1;
        total = total.saturating_add(got);
        if n > MAX_INPUTS {
            return Err(format!(
                "standard input has more than {MAX_INPUTS} lines (split it into several runs)"
            ));
        }
        if total > MAX_STDIN_BYTES {
            return Err(format!(
                "standard input is longer than {} MiB (split it into several runs)",
                MAX_STDIN_BYTES >> 20
            ));
        }
        if buf.last() == Some(&b'\n') {
            buf.pop();
            if buf.last() == Some(&b'\r') {
                buf.pop();
            }
        }
        // Without its line ending, a line that reached the read limit is
        // longer than MAX_LINE too.
        if buf.len() > MAX_LINE {
            return Err(format!("stdin line {n} is longer than {MAX_LINE} bytes"));
        }
        let line = std::str::from_utf8(&buf)
            .map_err(|_| format!("stdin line {n} is not UTF-8 text"))?
            .trim();
        if line.is_empty() {
            return Err(format!(
                "stdin line {n} is empty (give one input on each line)"
            ));
        }
        inputs.push(Input {
            text: line.to_owned(),
            line: Some(n),
        });
    }
    if inputs.is_empty() {
        return Err("no input on standard input (--stdin reads one per line)".into());
    }
    Ok(inputs)
}

/// Whether an error message already names `value` as given: quoted, or as
/// the subject it starts with ("10.1.2.3 is in 10.0.0.0/8 …").
fn quotes(msg: &str, value: &str) -> bool {
    msg.contains(&format!("{value:?}"))
        || msg
            .strip_prefix(value)
            .is_some_and(|rest| rest.starts_with(' '))
}

fn parse_prefix(s: &str) -> Result<Nat64Prefix, String> {
    s.parse::<Nat64Prefix>()
        .map_err(|e| format!("NAT64 prefix: {e}"))
}

fn parse_v4(s: &str) -> Result<Ipv4Addr, String> {
    s.parse()
        .map_err(|_| format!("{s:?} is not an IPv4 address"))
}

fn parse_v6(s: &str) -> Result<Ipv6Addr, String> {
    s.parse()
        .map_err(|_| format!("{s:?} is not an IPv6 address"))
}

fn family(a: IpAddr) -> &'static str {
    match a {
        IpAddr::V4(_) => "ipv4",
        IpAddr::V6(_) => "ipv6",
    }
}

/// The style list with each program's pitfall, for `sixgate addr fmt --help`.
fn style_help() -> String {
    let mut s = String::from("Styles:\n");
    for style in Style::ALL {
        s.push_str(&format!("  {:<12} {}\n", style.name(), style.pitfall()));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(input: &[u8]) -> Result<Vec<(String, usize)>, String> {
        read_lines(input).map(|v| {
            v.into_iter()
                .map(|i| (i.text, i.line.unwrap_or(0)))
                .collect()
        })
    }

    #[test]
    fn stdin_lines_are_trimmed_and_numbered() {
        let got = lines(b"192.0.2.1\r\n  2001:DB8::1\t\n198.51.100.7").unwrap();
        assert_eq!(
            got,
            [
                ("192.0.2.1".to_owned(), 1),
                ("2001:DB8::1".to_owned(), 2),
                ("198.51.100.7".to_owned(), 3)
            ]
        );
    }

    #[test]
    fn stdin_refuses_empty_long_and_binary_lines() {
        assert_eq!(
            lines(b"192.0.2.1\n\n192.0.2.2\n").unwrap_err(),
            "stdin line 2 is empty (give one input on each line)"
        );
        assert!(lines(b"1\n \r\n").unwrap_err().contains("line 2 is empty"));
        assert!(lines(b"").unwrap_err().contains("no input"));
        assert!(lines(b"\xff\xfe\n")
            .unwrap_err()
            .contains("line 1 is not UTF-8"));
        // Exactly MAX_LINE bytes is fine, with LF or CRLF; one more is not.
        let mut long = vec![b'a'; MAX_LINE];
        long.extend_from_slice(b"\r\n");
        assert_eq!(lines(&long).unwrap()[0].0.len(), MAX_LINE);
        let mut longer = b"x\n".to_vec();
        longer.extend(vec![b'a'; MAX_LINE + 1]);
        assert_eq!(
            lines(&longer).unwrap_err(),
            format!("stdin line 2 is longer than {MAX_LINE} bytes")
        );
        // A huge line is refused after reading no more than the limit.
        let huge = vec![b'a'; 10 * MAX_LINE];
        let mut r = &huge[..];
        assert!(read_lines(&mut r).is_err());
        assert_eq!(r.len(), huge.len() - MAX_LINE - 2);
    }

    #[test]
    fn stdin_input_count_is_capped() {
        let ok = b"1\n".repeat(MAX_INPUTS);
        assert_eq!(read_lines(&ok[..]).unwrap().len(), MAX_INPUTS);
        let over = b"1\n".repeat(MAX_INPUTS + 1);
        assert!(read_lines(&over[..])
            .unwrap_err()
            .contains("more than 1000000 lines"));
    }

    #[test]
    fn stdin_size_is_capped() {
        let line = [vec![b'a'; MAX_LINE - 1], b"\n".to_vec()].concat();
        let big = line.repeat(MAX_STDIN_BYTES / MAX_LINE + 1);
        assert!(read_lines(&big[..])
            .unwrap_err()
            .contains("longer than 64 MiB"));
    }

    #[test]
    fn output_size_is_capped() {
        let mib = "x".repeat((1 << 20) - 1);
        for json in [false, true] {
            let mut out = Output::new(json);
            let mut rows = 0;
            let err = loop {
                match out.push(&[&mib], || json!(mib)) {
                    Ok(()) => rows += 1,
                    Err(e) => break e,
                }
            };
            assert!(err.contains("longer than 256 MiB"), "{err}");
            // 256 rows of 1 MiB fit as plain lines; as JSON, quotes and
            // commas leave room for 255.
            let want = if json { 255 } else { 256 };
            assert_eq!(rows, want, "json: {json}");
        }
    }

    #[test]
    fn errors_name_the_line_and_the_value_once() {
        let at = |text: &str| Input {
            text: text.to_owned(),
            line: Some(7),
        };
        assert_eq!(
            at("nope").err("\"nope\" is not an IP address"),
            "stdin line 7: \"nope\" is not an IP address"
        );
        assert_eq!(
            at("10.0.0.1").err("10.0.0.1 is in 10.0.0.0/8"),
            "stdin line 7: 10.0.0.1 is in 10.0.0.0/8"
        );
        // The message names the canonical form: the input is quoted too.
        assert_eq!(
            at("2001:DB8::1").err("2001:db8::1 is not inside"),
            "stdin line 7: \"2001:DB8::1\": 2001:db8::1 is not inside"
        );
        // "1" is in the message, but not as its subject.
        assert_eq!(
            at("1").err("bad length 1"),
            "stdin line 7: \"1\": bad length 1"
        );
        let arg = Input {
            text: "x".into(),
            line: None,
        };
        assert_eq!(arg.err("\"x\" is bad"), "\"x\" is bad");
    }
}
