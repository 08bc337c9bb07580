//! `sixgate addr …`: the core's address arithmetic and address text, for
//! shell scripts and Perl panels.
//!
//! Every subcommand checks all of its inputs before it prints anything, so a
//! caller never mistakes a partial result for a whole one: either every input
//! gives a result (exit 0), or nothing is printed on stdout and one line on
//! stderr names the bad value (exit 2).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use clap::{Args, Subcommand};
use serde_json::{json, Value};
use sixgate::rfc6052::{self, Nat64Prefix, NonGlobal};
use sixgate::text::{self, Style};

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
        #[arg(required = true, value_name = "IPV4")]
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
        #[arg(required = true, value_name = "IPV6")]
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
        #[arg(required = true, value_name = "ADDR")]
        addrs: Vec<String>,
    },
    /// The PTR name (in-addr.arpa / ip6.arpa) of each address.
    Ptr {
        #[command(flatten)]
        common: Common,
        /// IPv4 or IPv6 addresses.
        #[arg(required = true, value_name = "ADDR")]
        addrs: Vec<String>,
    },
    /// The reverse zones that exactly cover each prefix: IPv6 on nibble
    /// boundaries, IPv4 on octet boundaries; a prefix between boundaries is
    /// expanded into the zones it needs.
    ReverseZones {
        #[command(flatten)]
        common: Common,
        /// IPv4 or IPv6 prefixes (address/length).
        #[arg(required = true, value_name = "PREFIX")]
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
        #[arg(required = true, value_name = "ADDR")]
        addrs: Vec<String>,
    },
    /// Find the NAT64 prefix(es) from the AAAA answers for ipv4only.arpa
    /// (RFC 7050), e.g. `sixgate addr discover $(dig +short AAAA ipv4only.arpa)`.
    Discover {
        #[command(flatten)]
        common: Common,
        /// The IPv6 addresses of the AAAA answers.
        #[arg(required = true, value_name = "IPV6")]
        addrs: Vec<String>,
    },
}

/// Options every subcommand takes.
#[derive(Debug, Args)]
pub(crate) struct Common {
    /// Print a JSON array of objects, one per input, instead of plain lines.
    #[arg(long)]
    json: bool,
}

/// A finished result: one row per input.
#[derive(Debug, Default)]
pub(crate) struct Output {
    rows: Vec<Row>,
}

#[derive(Debug)]
struct Row {
    /// The plain-text lines of this row.
    lines: Vec<String>,
    /// The JSON object of this row.
    json: Value,
}

impl AddrCommand {
    /// Whether the caller asked for JSON.
    pub(crate) fn json(&self) -> bool {
        match self {
            Self::Synth { common, .. }
            | Self::Extract { common, .. }
            | Self::Normalize { common, .. }
            | Self::Ptr { common, .. }
            | Self::ReverseZones { common, .. }
            | Self::Fmt { common, .. }
            | Self::Discover { common, .. } => common.json,
        }
    }
}

impl Output {
    /// One line per result.
    pub(crate) fn to_plain(&self) -> String {
        let mut s = String::new();
        for line in self.rows.iter().flat_map(|r| &r.lines) {
            s.push_str(line);
            s.push('\n');
        }
        s
    }

    /// A JSON array with one object per input, and a final newline.
    pub(crate) fn to_json(&self) -> String {
        let rows: Vec<&Value> = self.rows.iter().map(|r| &r.json).collect();
        let mut s = serde_json::to_string(&rows).unwrap_or_else(|_| "[]".to_owned());
        s.push('\n');
        s
    }

    fn push(&mut self, line: String, json: Value) {
        self.rows.push(Row {
            lines: vec![line],
            json,
        });
    }
}

/// Runs a subcommand to completion without printing: either every input
/// gives a row, or the first bad input gives the error.
pub(crate) fn run(cmd: AddrCommand) -> Result<Output, String> {
    let mut out = Output::default();
    match cmd {
        AddrCommand::Synth {
            prefix,
            allow_non_global,
            addrs,
            ..
        } => {
            let prefix = parse_prefix(&prefix)?;
            let policy = if allow_non_global {
                NonGlobal::Allow
            } else {
                NonGlobal::Refuse
            };
            for a in &addrs {
                let v4 = parse_v4(a)?;
                let v6 = prefix.synthesize(v4, policy).map_err(|e| e.to_string())?;
                out.push(
                    v6.to_string(),
                    json!({"ipv4": v4.to_string(), "ipv6": v6.to_string(), "prefix": prefix.to_string()}),
                );
            }
        }
        AddrCommand::Extract { prefix, addrs, .. } => {
            let prefix = parse_prefix(&prefix)?;
            for a in &addrs {
                let v6 = parse_v6(a)?;
                let v4 = prefix.extract(v6).map_err(|e| e.to_string())?;
                out.push(
                    v4.to_string(),
                    json!({"ipv6": v6.to_string(), "ipv4": v4.to_string(), "prefix": prefix.to_string()}),
                );
            }
        }
        AddrCommand::Normalize {
            nat64_prefixes,
            addrs,
            ..
        } => {
            let prefixes = nat64_prefixes
                .iter()
                .map(|p| parse_prefix(p))
                .collect::<Result<Vec<_>, _>>()?;
            for a in &addrs {
                let addr = text::parse_addr(a).map_err(|e| e.to_string())?;
                let norm = text::normalize(addr, &prefixes);
                let folded = match (addr, norm) {
                    (IpAddr::V6(v6), IpAddr::V4(_)) if v6.to_ipv4_mapped().is_some() => {
                        Value::from("ipv4-mapped")
                    }
                    (IpAddr::V6(_), IpAddr::V4(_)) => Value::from("nat64"),
                    _ => Value::Null,
                };
                out.push(
                    text::canonical(norm),
                    json!({"input": a, "address": text::canonical(norm), "family": family(norm), "folded": folded}),
                );
            }
        }
        AddrCommand::Ptr { addrs, .. } => {
            for a in &addrs {
                let addr = text::parse_addr(a).map_err(|e| e.to_string())?;
                let name = text::ptr_name(addr);
                out.push(
                    name.clone(),
                    json!({"address": text::canonical(addr), "ptr": name}),
                );
            }
        }
        AddrCommand::ReverseZones { prefixes, .. } => {
            for p in &prefixes {
                let net = text::parse_net(p).map_err(|e| e.to_string())?;
                let zones = text::reverse_zones(net);
                out.rows.push(Row {
                    json: json!({"prefix": net.to_string(), "zones": zones}),
                    lines: zones,
                });
            }
        }
        AddrCommand::Fmt {
            style, port, addrs, ..
        } => {
            let style: Style = style.parse().map_err(|e: text::Error| e.to_string())?;
            for a in &addrs {
                let line = text::format(style, a, port).map_err(|e| e.to_string())?;
                out.push(
                    line.clone(),
                    json!({"input": a, "style": style.name(), "port": port, "text": line}),
                );
            }
        }
        AddrCommand::Discover { addrs, .. } => {
            let answers = addrs
                .iter()
                .map(|a| parse_v6(a))
                .collect::<Result<Vec<_>, _>>()?;
            for p in rfc6052::discover(&answers).map_err(|e| e.to_string())? {
                out.push(
                    p.to_string(),
                    json!({"prefix": p.to_string(), "prefix_len": p.prefix_len(), "well_known": p.is_well_known()}),
                );
            }
        }
    }
    Ok(out)
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
