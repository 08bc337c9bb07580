//! DNS64 (RFC 6147) as a sans-IO state machine over hickory-proto messages:
//! when to ask for A, how to synthesise AAAA, their TTLs, exclusions, PTR
//! queries under a NAT64 prefix, the DNSSEC bits, and `ipv4only.arpa`
//! answered locally (RFC 8880).
//!
//! A [`Resolution`] is one client query in flight. The caller owns the
//! sockets and the clock: it feeds the client's query in, sends whatever
//! [`Resolution::poll`] asks it to send, and hands back the upstream's
//! answer ([`Resolution::handle_response`]) or the news that none came
//! ([`Resolution::handle_failure`]), until `poll` gives the final response.
//!
//! ```
//! use std::net::Ipv4Addr;
//! use hickory_proto::op::{Message, MessageType, Query, ResponseCode};
//! use hickory_proto::rr::{rdata::A, Name, RData, Record, RecordType};
//! use sixgate::dns64::{Action, Config, Resolution};
//!
//! let name = Name::from_ascii("v4only.example.")?;
//! let mut query = Message::new();
//! query.set_id(7).set_recursion_desired(true);
//! query.add_query(Query::query(name.clone(), RecordType::AAAA));
//!
//! let mut r = Resolution::new(&Config::default(), &query)?;
//! // 1. Ask the upstream for AAAA; it has none (NODATA).
//! let Action::Upstream(aaaa_q) = r.poll() else { panic!() };
//! let mut nodata = aaaa_q.clone();
//! nodata.set_message_type(MessageType::Response);
//! r.handle_response(&nodata);
//! // 2. Ask for A; it has one.
//! let Action::Upstream(a_q) = r.poll() else { panic!() };
//! assert_eq!(a_q.queries()[0].query_type(), RecordType::A);
//! let mut a = a_q.clone();
//! a.set_message_type(MessageType::Response);
//! a.add_answer(Record::from_rdata(name, 300, RData::A(A(Ipv4Addr::new(198, 252, 206, 16)))));
//! r.handle_response(&a);
//! // 3. The client gets the AAAA synthesised under 64:ff9b::/96.
//! let Action::Respond(answer) = r.poll() else { panic!() };
//! assert_eq!(answer.id(), 7);
//! assert_eq!(answer.response_code(), ResponseCode::NoError);
//! assert_eq!(answer.answers()[0].data().to_string(), "64:ff9b::c6fc:ce10");
//!
//! // A message with two questions deserves FORMERR.
//! query.add_query(Query::query(Name::from_ascii("b.example.")?, RecordType::AAAA));
//! let err = Resolution::new(&Config::default(), &query).unwrap_err();
//! assert_eq!(err.kind(), "question_count");
//! assert_eq!(err.response_code(), ResponseCode::FormErr);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # What happens to each query
//!
//! | query | what the resolution does |
//! |---|---|
//! | client without DNS64 ([`ClientPolicy`] maps it to `None`), class other than IN, a name under [`ConfigBuilder::exclude_names`], any type other than AAAA, A-for-`ipv4only.arpa` or PTR | [`Action::Forward`]: the caller relays the query and the answer unchanged |
//! | DO and CD both set (RFC 6147 §5.5 case 3), or CD set with [`ConfigBuilder::cd_disables_synthesis`] (Unbound's rule) | [`Action::Forward`]: no synthesis, the client validates |
//! | AAAA or A for `ipv4only.arpa` | answered locally (RFC 8880 §7.2), no upstream needed |
//! | AAAA for a name under [`ConfigBuilder::force_names`] | A asked at once, its answer synthesised; any real AAAA is never asked for |
//! | AAAA | AAAA asked; see below |
//! | PTR for an `ip6.arpa` name of an address under a configured prefix | CNAME to the embedded IPv4's `in-addr.arpa` name, then PTR asked for that name and its answer appended (RFC 6147 §5.3.1) |
//!
//! The AAAA answer, by RCODE (RFC 6147 §5.1.1 to §5.1.4):
//!
//! - **NOERROR with a usable AAAA**: returned, minus any AAAA inside
//!   [`ConfigBuilder::exclude_aaaa`] (default `::ffff:0:0/96`, §5.1.4). When
//!   some were dropped, their RRSIGs go too and AD is cleared: what is left no
//!   longer validates as an RRset.
//! - **NOERROR with none left** (NODATA, or every AAAA excluded): A is asked.
//! - **NXDOMAIN**: returned as is; A is not asked (§5.1.2).
//! - **any other RCODE** (SERVFAIL, REFUSED, NOTIMP, FORMERR, …), a truncated
//!   or mismatched answer, or a timeout: RFC 6147 §5.1.2 says an RCODE other
//!   than 0 or 3 is treated as though it were 0 with an empty answer (servers
//!   answer AAAA queries in too many broken ways, RFC 4074), so A is asked.
//!   [`ConfigBuilder::synthesize_on_error`] (default on, the RFC's rule)
//!   turns that off: the error is returned as is, and a timeout gives
//!   SERVFAIL.
//!
//! The A answer: every A record owned by the end of the CNAME chain (followed
//! from the query name, at most [`MAX_CHAIN`] steps) gives one AAAA per
//! configured prefix, prefix by prefix in configuration order, at most
//! [`MAX_SYNTHESIZED`] in all. Skipped: IPv4 inside
//! [`ConfigBuilder::never_map`], and non-global IPv4 under the well-known
//! prefix unless [`ConfigBuilder::allow_non_global`] (RFC 6052 §3.1). If no
//! AAAA comes out (no A, A failed, every A skipped), the client gets the
//! original AAAA answer (NODATA with its SOA, minus any excluded AAAA, or
//! the error), or SERVFAIL if
//! there was none (timeout; forced names get the A answer's own negative
//! answer).
//!
//! # Decisions where the RFCs leave room
//!
//! - **CNAME chains (§5.1.6).** A is asked for the *original* query name, not
//!   the chain's end: a recursive upstream returns the whole chain again in
//!   the A answer, so the chain the client sees is the one that leads to the
//!   A records that were synthesised. The CNAME and DNAME records of the A
//!   answer (and RRSIGs not owned by the chain's end) are kept in front of
//!   the AAAA records; A records, their RRSIGs and the authority and
//!   additional sections are dropped.
//! - **TTL (§5.1.7).** A synthesised AAAA has the A record's TTL, capped by
//!   the negative-caching TTL of the AAAA answer (RFC 2308 §5: the smaller of
//!   the SOA record's TTL and its MINIMUM field) when that answer carried an
//!   SOA in its authority section, and by 600 seconds otherwise (no SOA,
//!   timeout, error RCODE, forced name), as §5.1.7 advises.
//! - **DNSSEC (§5.5).** This crate does not validate; it trusts the
//!   upstream's AD bit, as Unbound's dns64 module does behind its validator.
//!   The upstream queries carry the client's DO, CD and AD bits. A
//!   synthesised answer has AD only when both the AAAA NODATA and the A
//!   answer had it (§5.5 case 2); never after an error, a timeout or a forced
//!   name. DO+CD: no synthesis (§5.5 case 3, a MUST). CD alone: synthesis,
//!   as §5.5 case 4 says (a client without DO cannot validate anyway), unless
//!   [`ConfigBuilder::cd_disables_synthesis`] asks for Unbound's stricter
//!   rule.
//! - **Message IDs.** Upstream queries carry the client's ID; a server should
//!   put a random ID on the wire and match the answer by it itself. The
//!   resolution checks the answer's question (name in any case, type, class)
//!   and QR; a mismatch, or TC set (retry over TCP first), counts as a
//!   failure, so a spoofed or confused answer cannot stall the query.
//! - **EDNS.** The upstream query always gets a fresh OPT advertising
//!   [`RESPONSE_PAYLOAD`] with the client's DO bit, whether or not the
//!   client sent EDNS (the caller cuts the answer to the client's size), and
//!   no options (cookies and client subnet belong to the transport). The client's response has an OPT only if its query had
//!   one: payload [`RESPONSE_PAYLOAD`], the client's DO, and the upstream's
//!   Extended DNS Errors (at most four, short ones) passed on. With
//!   [`ConfigBuilder::extended_error`] every locally synthesised answer also
//!   carries EDE 29 "Synthesized" (RFC 8914 registry).
//! - **PTR (§5.3.1).** The CNAME has a TTL of [`PTR_CNAME_TTL`]; if the PTR
//!   query for the `in-addr.arpa` name fails, the client gets the CNAME alone.
//!   Addresses the forward direction would never synthesise (never-mapped or
//!   non-global IPv4 under the well-known prefix) are forwarded unchanged.
//! - **`ipv4only.arpa`.** AAAA: one record per configured prefix and
//!   well-known IPv4 (192.0.0.170, .171); A: the two IPv4s; TTL
//!   [`IPV4ONLY_TTL`]. AA is set. Other types are forwarded.
//!
//! # Bounds
//!
//! Every call does work linear in the size of the message it is given times
//! the (bounded) configuration lists: at most [`MAX_PREFIXES`] prefixes and
//! [`MAX_LIST`] entries in each other list, at most [`MAX_CHAIN`] chain
//! records kept and [`MAX_SYNTHESIZED`] AAAA records made, so a synthesised
//! answer always fits a 64 KiB message.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::opt::EdnsOption;
use hickory_proto::rr::rdata::{A, AAAA, CNAME};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};
use ipnet::{IpNet, Ipv4Net, Ipv6Net};

use crate::rfc6052::{Nat64Prefix, NonGlobal, IPV4ONLY_ADDRS};

/// The hickory-proto crate this module's API speaks, re-exported so callers
/// use the same version.
pub use hickory_proto as proto;

/// The most NAT64 prefixes a [`Config`] may hold.
pub const MAX_PREFIXES: usize = 8;

/// The most entries in each of the other lists of a [`Config`] (exclusion
/// ranges, never-mapped ranges, forced and excluded names).
pub const MAX_LIST: usize = 1024;

/// The most CNAME/DNAME (and their RRSIG) records kept from an A answer, and
/// the most CNAME steps followed to find the chain's end.
pub const MAX_CHAIN: usize = 32;

/// The most AAAA records synthesised for one answer (A records × prefixes).
pub const MAX_SYNTHESIZED: usize = 256;

/// The TTL cap of a synthesised AAAA when the AAAA answer carried no SOA
/// (RFC 6147 §5.1.7).
pub const NO_SOA_TTL_CAP: u32 = 600;

/// The TTL of the locally made `ipv4only.arpa` records (RFC 8880 §7.2): a
/// day, as the records never change for a given configuration.
pub const IPV4ONLY_TTL: u32 = 86_400;

/// The TTL of the CNAME synthesised for a PTR query under a NAT64 prefix
/// (RFC 6147 §5.3.1).
pub const PTR_CNAME_TTL: u32 = 600;

/// The EDNS payload size advertised in responses to clients that sent EDNS
/// (the DNS flag day 2020 value).
pub const RESPONSE_PAYLOAD: u16 = 1232;

/// The EDNS option code of an Extended DNS Error (RFC 8914 §2).
pub const EDNS_EDE: u16 = 0x0f;

/// The Extended DNS Error info-code "Synthesized" (29 in the IANA Extended
/// DNS Error Codes registry), put on synthesised answers when
/// [`ConfigBuilder::extended_error`] is on.
pub const EDE_SYNTHESIZED: u16 = 29;

/// The record type number of DNAME (RFC 6672), which hickory-proto 0.25 has
/// no named constant for.
const DNAME: u16 = 39;

/// Errors from this module: a bad configuration, or a client message that
/// deserves an error reply instead of a resolution.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The message is a response (QR set), not a query.
    #[error("the message is a response (QR=1), not a query")]
    NotAQuery,
    /// The opcode is not QUERY (0).
    #[error("opcode {opcode} is not QUERY (0); only queries are resolved")]
    OpCode {
        /// The opcode given.
        opcode: u8,
    },
    /// The query does not hold exactly one question (RFC 9619).
    #[error("the query holds {count} questions; exactly one is allowed (RFC 9619)")]
    QuestionCount {
        /// How many it holds.
        count: usize,
    },
    /// The configuration lists no NAT64 prefix.
    #[error("no NAT64 prefix configured; DNS64 needs at least one (RFC 6147 §5.2)")]
    NoPrefix,
    /// A configuration list is longer than allowed.
    #[error("{count} {what} configured; at most {max} are allowed")]
    TooMany {
        /// Which list.
        what: &'static str,
        /// Its length.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// A configured name is not a valid domain name.
    #[error("{name:?} is not a valid domain name: {reason}")]
    Name {
        /// The name as given.
        name: String,
        /// What hickory-proto said about it.
        reason: String,
    },
}

impl Error {
    /// A stable snake_case name for the kind of error, for programs and
    /// bindings to match on; the message itself may be reworded.
    ///
    /// ```
    /// use sixgate::dns64::Config;
    ///
    /// let err = Config::builder().prefixes([]).build().unwrap_err();
    /// assert_eq!(err.kind(), "no_prefix");
    /// ```
    pub fn kind(&self) -> &'static str {
        match self {
            Self::NotAQuery => "not_a_query",
            Self::OpCode { .. } => "opcode",
            Self::QuestionCount { .. } => "question_count",
            Self::NoPrefix => "no_prefix",
            Self::TooMany { .. } => "too_many",
            Self::Name { .. } => "name",
        }
    }

    /// The RCODE to answer a client message that gave this error with:
    /// NOTIMP for an opcode other than QUERY (RFC 1035 §4.1.1), FORMERR
    /// otherwise.
    pub fn response_code(&self) -> ResponseCode {
        match self {
            Self::OpCode { .. } => ResponseCode::NotImp,
            _ => ResponseCode::FormErr,
        }
    }
}

/// A validated DNS64 configuration. Cheap to clone (shared), immutable once
/// built; build one with [`Config::builder`], or take [`Config::default`]:
/// the well-known prefix 64:ff9b::/96, `::ffff:0:0/96` excluded, RFC
/// defaults everywhere else.
///
/// ```
/// use sixgate::dns64::Config;
///
/// let config = Config::builder()
///     .prefixes(["64:ff9b::/96".parse()?, "2001:db8:64::/64".parse()?])
///     .force_names(["registry.npmjs.org"])
///     .extended_error(true)
///     .build()?;
/// assert_eq!(config.prefixes().len(), 2);
///
/// let err = Config::builder().exclude_names(["bad..name"]).build().unwrap_err();
/// assert_eq!(err.kind(), "name");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct Config {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    prefixes: Vec<Nat64Prefix>,
    non_global: NonGlobal,
    exclude_aaaa: Vec<Ipv6Net>,
    never_map: Vec<Ipv4Net>,
    force_names: Vec<Name>,
    exclude_names: Vec<Name>,
    synthesize_on_error: bool,
    extended_error: bool,
    cd_disables_synthesis: bool,
}

/// Builds a [`Config`]; every setter has the default named on it, and
/// [`build`](Self::build) checks everything once.
#[derive(Clone, Debug)]
pub struct ConfigBuilder {
    prefixes: Vec<Nat64Prefix>,
    allow_non_global: bool,
    exclude_aaaa: Vec<Ipv6Net>,
    never_map: Vec<Ipv4Net>,
    force_names: Vec<String>,
    exclude_names: Vec<String>,
    synthesize_on_error: bool,
    extended_error: bool,
    cd_disables_synthesis: bool,
}

/// `::ffff:0:0/96`, the IPv4-mapped range RFC 6147 §5.1.4 says to exclude.
const V4_MAPPED: Ipv6Net = Ipv6Net::new_assert(Ipv6Addr::new(0, 0, 0, 0, 0, 0xffff, 0, 0), 96);

impl Default for ConfigBuilder {
    fn default() -> Self {
        Self {
            prefixes: vec![Nat64Prefix::WELL_KNOWN],
            allow_non_global: false,
            exclude_aaaa: vec![V4_MAPPED],
            never_map: Vec::new(),
            force_names: Vec::new(),
            exclude_names: Vec::new(),
            synthesize_on_error: true,
            extended_error: false,
            cd_disables_synthesis: false,
        }
    }
}

impl ConfigBuilder {
    /// The NAT64 prefixes to synthesise with; every one applies, in this
    /// order (RFC 6147 §5.2 allows several). Default: `64:ff9b::/96`.
    /// Duplicates are dropped; none at all is an error at build time.
    pub fn prefixes(mut self, prefixes: impl IntoIterator<Item = Nat64Prefix>) -> Self {
        self.prefixes = prefixes.into_iter().collect();
        self
    }

    /// Whether the well-known prefix may carry non-global IPv4 (RFC 6052
    /// §3.1 says no). Default: false. Network-specific prefixes carry any.
    pub fn allow_non_global(mut self, allow: bool) -> Self {
        self.allow_non_global = allow;
        self
    }

    /// AAAA records inside these ranges are not usable (RFC 6147 §5.1.4):
    /// dropped from answers, and synthesis happens when none is left.
    /// Default: `::ffff:0:0/96`; an empty list excludes nothing.
    pub fn exclude_aaaa(mut self, nets: impl IntoIterator<Item = Ipv6Net>) -> Self {
        self.exclude_aaaa = nets.into_iter().map(|n| n.trunc()).collect();
        self
    }

    /// IPv4 ranges never mapped into a prefix (RFC 6147 §5.1.4, BIND's
    /// `mapped`/`exclude` inverse). Default: none; non-global ranges are
    /// already kept out of the well-known prefix.
    pub fn never_map(mut self, nets: impl IntoIterator<Item = Ipv4Net>) -> Self {
        self.never_map = nets.into_iter().map(|n| n.trunc()).collect();
        self
    }

    /// Names (and every name under them) whose real AAAA records are
    /// ignored: AAAA queries for them are always answered by synthesis (a
    /// site whose IPv6 is broken, a mirror that only works over IPv4).
    /// Default: none.
    pub fn force_names<S: Into<String>>(mut self, names: impl IntoIterator<Item = S>) -> Self {
        self.force_names = names.into_iter().map(Into::into).collect();
        self
    }

    /// Names (and every name under them) DNS64 leaves alone: their queries
    /// are forwarded unchanged. Default: none.
    pub fn exclude_names<S: Into<String>>(mut self, names: impl IntoIterator<Item = S>) -> Self {
        self.exclude_names = names.into_iter().map(Into::into).collect();
        self
    }

    /// Whether an AAAA answer with an RCODE other than NOERROR or NXDOMAIN,
    /// or no answer at all, still leads to an A query and synthesis (RFC
    /// 6147 §5.1.2). Default: true, the RFC's rule.
    pub fn synthesize_on_error(mut self, on: bool) -> Self {
        self.synthesize_on_error = on;
        self
    }

    /// Whether synthesised answers carry Extended DNS Error 29
    /// "Synthesized" (RFC 8914) when the client sent EDNS. Default: false.
    pub fn extended_error(mut self, on: bool) -> Self {
        self.extended_error = on;
        self
    }

    /// Whether a query with CD set (and DO clear) is forwarded without
    /// synthesis, as Unbound does. Default: false: RFC 6147 §5.5 case 4
    /// says to synthesise. DO and CD together never synthesise.
    pub fn cd_disables_synthesis(mut self, on: bool) -> Self {
        self.cd_disables_synthesis = on;
        self
    }

    /// Checks the settings and builds the configuration.
    ///
    /// ```
    /// use sixgate::dns64::Config;
    ///
    /// assert!(Config::builder().force_names(["example.com."]).build().is_ok());
    /// let err = Config::builder().prefixes([]).build().unwrap_err();
    /// assert_eq!(err.to_string(), "no NAT64 prefix configured; DNS64 needs at least one (RFC 6147 §5.2)");
    /// ```
    pub fn build(self) -> Result<Config, Error> {
        let mut prefixes: Vec<Nat64Prefix> = Vec::with_capacity(self.prefixes.len());
        for p in self.prefixes {
            if !prefixes.contains(&p) {
                prefixes.push(p);
            }
        }
        if prefixes.is_empty() {
            return Err(Error::NoPrefix);
        }
        check_len("prefixes", prefixes.len(), MAX_PREFIXES)?;
        check_len("AAAA exclusion ranges", self.exclude_aaaa.len(), MAX_LIST)?;
        check_len("never-mapped ranges", self.never_map.len(), MAX_LIST)?;
        check_len("forced names", self.force_names.len(), MAX_LIST)?;
        check_len("excluded names", self.exclude_names.len(), MAX_LIST)?;
        Ok(Config {
            inner: Arc::new(Inner {
                prefixes,
                non_global: if self.allow_non_global {
                    NonGlobal::Allow
                } else {
                    NonGlobal::Refuse
                },
                exclude_aaaa: self.exclude_aaaa,
                never_map: self.never_map,
                force_names: parse_names(&self.force_names)?,
                exclude_names: parse_names(&self.exclude_names)?,
                synthesize_on_error: self.synthesize_on_error,
                extended_error: self.extended_error,
                cd_disables_synthesis: self.cd_disables_synthesis,
            }),
        })
    }
}

impl Default for Config {
    fn default() -> Self {
        let b = ConfigBuilder::default();
        Config {
            inner: Arc::new(Inner {
                prefixes: b.prefixes,
                non_global: NonGlobal::Refuse,
                exclude_aaaa: b.exclude_aaaa,
                never_map: Vec::new(),
                force_names: Vec::new(),
                exclude_names: Vec::new(),
                synthesize_on_error: true,
                extended_error: false,
                cd_disables_synthesis: false,
            }),
        }
    }
}

impl Config {
    /// A builder with the defaults of [`Config::default`].
    pub fn builder() -> ConfigBuilder {
        ConfigBuilder::default()
    }

    /// The NAT64 prefixes, in synthesis order.
    pub fn prefixes(&self) -> &[Nat64Prefix] {
        &self.inner.prefixes
    }

    /// Whether the well-known prefix may carry non-global IPv4.
    pub fn allows_non_global(&self) -> bool {
        self.inner.non_global == NonGlobal::Allow
    }

    /// The AAAA exclusion ranges.
    pub fn exclude_aaaa(&self) -> &[Ipv6Net] {
        &self.inner.exclude_aaaa
    }

    /// The IPv4 ranges never mapped.
    pub fn never_map(&self) -> &[Ipv4Net] {
        &self.inner.never_map
    }

    /// The names whose AAAA is always synthesised (lower case, absolute).
    pub fn force_names(&self) -> &[Name] {
        &self.inner.force_names
    }

    /// The names DNS64 leaves alone (lower case, absolute).
    pub fn exclude_names(&self) -> &[Name] {
        &self.inner.exclude_names
    }

    /// Whether errors and timeouts on the AAAA query lead to synthesis.
    pub fn synthesize_on_error(&self) -> bool {
        self.inner.synthesize_on_error
    }

    /// Whether synthesised answers carry EDE 29.
    pub fn extended_error(&self) -> bool {
        self.inner.extended_error
    }

    /// Whether CD alone disables synthesis.
    pub fn cd_disables_synthesis(&self) -> bool {
        self.inner.cd_disables_synthesis
    }

    /// Whether `addr` is a usable AAAA (outside every exclusion range).
    fn usable(&self, addr: Ipv6Addr) -> bool {
        !self.inner.exclude_aaaa.iter().any(|n| n.contains(&addr))
    }

    /// The AAAA address for `v4` under `prefix`, if this configuration
    /// allows it.
    fn synthesize(&self, prefix: &Nat64Prefix, v4: Ipv4Addr) -> Option<Ipv6Addr> {
        if self.inner.never_map.iter().any(|n| n.contains(&v4)) {
            return None;
        }
        prefix.synthesize(v4, self.inner.non_global).ok()
    }
}

/// Which DNS64 configuration each client gets: a table from client address
/// prefixes to a [`Config`] or to `None` (no DNS64: plain forwarding),
/// longest prefix first, with a default for everyone else. IPv4-mapped
/// client addresses (`::ffff:192.0.2.1`, from a dual-stack socket) are
/// matched as the IPv4 address they carry.
///
/// Lookups are linear in the number of entries.
///
/// ```
/// use std::net::IpAddr;
/// use sixgate::dns64::{ClientPolicy, Config};
///
/// let mut policy = ClientPolicy::new(Some(Config::default()));
/// policy.insert("2001:db8:dead::/48".parse()?, None); // dual-stack lab: no DNS64
/// let lab: IpAddr = "2001:db8:dead::5".parse()?;
/// let vm: IpAddr = "2001:db8:beef::5".parse()?;
/// assert!(policy.config_for(lab).is_none());
/// assert!(policy.config_for(vm).is_some());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct ClientPolicy {
    default: Option<Config>,
    /// Longest prefix first.
    entries: Vec<(IpNet, Option<Config>)>,
}

impl ClientPolicy {
    /// A policy that gives every client `default`.
    pub fn new(default: Option<Config>) -> Self {
        Self {
            default,
            entries: Vec::new(),
        }
    }

    /// Gives the clients inside `net` the configuration `config` (`None`: no
    /// DNS64). Host bits of `net` are ignored; a net given twice keeps the
    /// later configuration.
    pub fn insert(&mut self, net: IpNet, config: Option<Config>) {
        let net = net.trunc();
        self.entries.retain(|(n, _)| *n != net);
        let at = self
            .entries
            .iter()
            .position(|(n, _)| n.prefix_len() < net.prefix_len())
            .unwrap_or(self.entries.len());
        self.entries.insert(at, (net, config));
    }

    /// The configuration for a client at `addr`: the longest matching
    /// prefix's, else the default. `None` means no DNS64.
    pub fn config_for(&self, addr: IpAddr) -> Option<&Config> {
        let addr = addr.to_canonical();
        self.entries
            .iter()
            .find(|(n, _)| n.contains(&addr))
            .map_or(self.default.as_ref(), |(_, c)| c.as_ref())
    }
}

/// What the caller should do next for a [`Resolution`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Send this query upstream, then call
    /// [`Resolution::handle_response`] with the answer or
    /// [`Resolution::handle_failure`] if none comes.
    Upstream(Message),
    /// Send this response to the client; the resolution is over.
    Respond(Message),
    /// No DNS64 for this query: relay the client's query upstream unchanged
    /// and its answer back unchanged; the resolution is over.
    Forward,
    /// Waiting for the answer to the last [`Action::Upstream`].
    Wait,
    /// The resolution is over; nothing more to do.
    Done,
}

/// One client query in flight through DNS64 (RFC 6147 §5). See the
/// [module docs](self) for the flow and the decisions it makes.
#[derive(Clone, Debug)]
pub struct Resolution {
    config: Config,
    client: Client,
    next: Option<Action>,
    state: State,
}

/// What the resolution remembers of the client's query.
#[derive(Clone, Debug)]
struct Client {
    id: u16,
    query: Query,
    rd: bool,
    cd: bool,
    ad: bool,
    dnssec_ok: bool,
    edns: Option<u16>,
}

#[derive(Clone, Debug)]
enum State {
    /// Waiting for the AAAA answer.
    Aaaa,
    /// Waiting for the A answer.
    A {
        why: Why,
        ttl_cap: u32,
        authentic: bool,
    },
    /// Waiting for the PTR answer for the in-addr.arpa name.
    Ptr { cname: Record, target: Name },
    /// Over.
    Finished,
}

/// Why A was asked.
#[derive(Clone, Debug)]
enum Why {
    /// The AAAA answer had nothing usable (NOERROR).
    NoData(Message),
    /// The AAAA answer was an error RCODE (or truncated, or mismatched).
    Error(Option<Message>),
    /// The name is forced: AAAA was never asked.
    Forced,
}

impl Resolution {
    /// Starts resolving `query` under `config`. Fails, with the RCODE to
    /// answer in [`Error::response_code`], for a message that is not a
    /// standard query with exactly one question.
    ///
    /// ```
    /// use hickory_proto::op::{Message, MessageType, Query};
    /// use hickory_proto::rr::{Name, RecordType};
    /// use sixgate::dns64::{Action, Config, Resolution};
    ///
    /// let mut q = Message::new();
    /// q.add_query(Query::query(Name::from_ascii("example.com.")?, RecordType::MX));
    /// let mut r = Resolution::new(&Config::default(), &q)?;
    /// assert_eq!(r.poll(), Action::Forward); // not DNS64's business
    ///
    /// q.set_message_type(MessageType::Response);
    /// assert_eq!(Resolution::new(&Config::default(), &q).unwrap_err().kind(), "not_a_query");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(config: &Config, query: &Message) -> Result<Self, Error> {
        let client = Client::read(query)?;
        let mut r = Self {
            config: config.clone(),
            client,
            next: None,
            state: State::Finished,
        };
        r.start();
        Ok(r)
    }

    /// Starts resolving `query` from a client at `client_addr`, under the
    /// configuration `policy` gives it; a client without DNS64 gets
    /// [`Action::Forward`].
    ///
    /// ```
    /// use hickory_proto::op::{Message, Query};
    /// use hickory_proto::rr::{Name, RecordType};
    /// use sixgate::dns64::{Action, ClientPolicy, Resolution};
    ///
    /// let policy = ClientPolicy::new(None);
    /// let mut q = Message::new();
    /// q.add_query(Query::query(Name::from_ascii("example.com.")?, RecordType::AAAA));
    /// let mut r = Resolution::with_policy(&policy, "2001:db8::1".parse()?, &q)?;
    /// assert_eq!(r.poll(), Action::Forward);
    /// assert!(Resolution::with_policy(&policy, "2001:db8::1".parse()?, &Message::new()).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_policy(
        policy: &ClientPolicy,
        client_addr: IpAddr,
        query: &Message,
    ) -> Result<Self, Error> {
        match policy.config_for(client_addr) {
            Some(config) => Self::new(config, query),
            None => {
                let client = Client::read(query)?;
                Ok(Self {
                    config: Config::default(),
                    client,
                    next: Some(Action::Forward),
                    state: State::Finished,
                })
            }
        }
    }

    /// What to do next. Each [`Action::Upstream`], [`Action::Respond`] and
    /// [`Action::Forward`] is given once; then [`Action::Wait`] until an
    /// answer or failure is handled, or [`Action::Done`] when it is over.
    #[must_use]
    pub fn poll(&mut self) -> Action {
        if let Some(action) = self.next.take() {
            return action;
        }
        match self.state {
            State::Finished => Action::Done,
            _ => Action::Wait,
        }
    }

    /// Handles the upstream's answer to the last [`Action::Upstream`]. An
    /// answer whose question differs from the one asked (name in any case,
    /// type, class), that is not a response, or that is truncated is
    /// handled as [`handle_failure`](Self::handle_failure). Ignored when no
    /// answer is awaited.
    pub fn handle_response(&mut self, response: &Message) {
        let Some(expected) = self.awaited() else {
            return;
        };
        if !answers(response, &expected) {
            self.handle_failure();
            return;
        }
        let state = std::mem::replace(&mut self.state, State::Finished);
        let action = match state {
            State::Aaaa => self.on_aaaa(response),
            State::A {
                why,
                ttl_cap,
                authentic,
            } => self.on_a(Some(response), why, ttl_cap, authentic),
            State::Ptr { cname, .. } => self.on_ptr(Some(response), cname),
            State::Finished => return,
        };
        self.next = Some(action);
    }

    /// Handles a timeout or network error on the last [`Action::Upstream`].
    /// Ignored when no answer is awaited.
    pub fn handle_failure(&mut self) {
        let state = std::mem::replace(&mut self.state, State::Finished);
        let action = match state {
            State::Aaaa => {
                if self.config.inner.synthesize_on_error {
                    self.ask_a(Why::Error(None), NO_SOA_TTL_CAP, false)
                } else {
                    Action::Respond(self.servfail())
                }
            }
            State::A {
                why,
                ttl_cap,
                authentic,
            } => self.on_a(None, why, ttl_cap, authentic),
            State::Ptr { cname, .. } => self.on_ptr(None, cname),
            State::Finished => return,
        };
        self.next = Some(action);
    }

    /// The client's question.
    pub fn query(&self) -> &Query {
        &self.client.query
    }

    /// Decides the first action from the query alone.
    fn start(&mut self) {
        let q = &self.client.query;
        let name = q.name();
        let cfg = &self.config.inner;
        let forward = q.query_class() != DNSClass::IN
            || cfg.exclude_names.iter().any(|s| under(name, s))
            || !matches!(
                q.query_type(),
                RecordType::AAAA | RecordType::A | RecordType::PTR
            );
        if forward {
            self.next = Some(Action::Forward);
            return;
        }
        if is_ipv4only(name) {
            self.next = Some(match q.query_type() {
                RecordType::AAAA | RecordType::A => Action::Respond(self.ipv4only()),
                _ => Action::Forward,
            });
            return;
        }
        let cd = self.client.cd && (self.client.dnssec_ok || cfg.cd_disables_synthesis);
        if cd || q.query_type() == RecordType::A {
            self.next = Some(Action::Forward);
            return;
        }
        if q.query_type() == RecordType::PTR {
            self.next = Some(match self.ptr_cname() {
                Some((cname, target)) => {
                    let up = self.upstream_query(target.clone(), RecordType::PTR);
                    self.state = State::Ptr { cname, target };
                    Action::Upstream(up)
                }
                None => Action::Forward,
            });
            return;
        }
        if cfg.force_names.iter().any(|s| under(name, s)) {
            self.next = Some(self.ask_a(Why::Forced, NO_SOA_TTL_CAP, false));
            return;
        }
        let up = self.upstream_query(name.clone(), RecordType::AAAA);
        self.state = State::Aaaa;
        self.next = Some(Action::Upstream(up));
    }

    /// The question the awaited answer must carry.
    fn awaited(&self) -> Option<Query> {
        let name = self.client.query.name().clone();
        match &self.state {
            State::Aaaa => Some(Query::query(name, RecordType::AAAA)),
            State::A { .. } => Some(Query::query(name, RecordType::A)),
            State::Ptr { target, .. } => Some(Query::query(target.clone(), RecordType::PTR)),
            State::Finished => None,
        }
    }

    fn on_aaaa(&mut self, response: &Message) -> Action {
        match response.response_code() {
            ResponseCode::NoError => {
                let has_usable = response.answers().iter().any(|r| match r.data() {
                    RData::AAAA(a) => self.config.usable(a.0),
                    _ => false,
                });
                if has_usable {
                    Action::Respond(self.filtered(response))
                } else {
                    let cap = negative_ttl(response).unwrap_or(NO_SOA_TTL_CAP);
                    let authentic = response.authentic_data();
                    self.ask_a(Why::NoData(response.clone()), cap, authentic)
                }
            }
            ResponseCode::NXDomain => Action::Respond(self.relay(response, false)),
            _ if self.config.inner.synthesize_on_error => {
                self.ask_a(Why::Error(Some(response.clone())), NO_SOA_TTL_CAP, false)
            }
            _ => Action::Respond(self.relay(response, false)),
        }
    }

    fn ask_a(&mut self, why: Why, ttl_cap: u32, authentic: bool) -> Action {
        let up = self.upstream_query(self.client.query.name().clone(), RecordType::A);
        self.state = State::A {
            why,
            ttl_cap,
            authentic,
        };
        Action::Upstream(up)
    }

    fn on_a(&self, response: Option<&Message>, why: Why, ttl_cap: u32, authentic: bool) -> Action {
        if let Some(a) = response.filter(|m| m.response_code() == ResponseCode::NoError) {
            if let Some(msg) = self.synthesized(a, ttl_cap, authentic) {
                return Action::Respond(msg);
            }
        }
        Action::Respond(match (why, response) {
            // All AAAA excluded counts as an empty answer (§5.1.4): the
            // excluded records never reach the client.
            (Why::NoData(m), _) => self.filtered(&m),
            (Why::Error(Some(m)), _) => self.relay(&m, false),
            (Why::Forced, Some(a)) => self.relay(a, true),
            (Why::Error(None), _) | (Why::Forced, None) => self.servfail(),
        })
    }

    fn on_ptr(&self, response: Option<&Message>, cname: Record) -> Action {
        let mut msg = self.reply(None, true);
        msg.add_answer(cname);
        if let Some(r) = response {
            let code = r.response_code();
            if matches!(code, ResponseCode::NoError | ResponseCode::NXDomain) {
                msg.set_response_code(code);
                msg.set_recursion_available(r.recursion_available());
                msg.add_answers(r.answers().iter().take(MAX_CHAIN).cloned());
                msg.add_name_servers(r.name_servers().iter().take(MAX_CHAIN).cloned());
            }
        }
        Action::Respond(self.fix_rcode(msg))
    }

    /// The AAAA answer minus excluded AAAA records (and, when any went, the
    /// RRSIGs over AAAA and the AD bit).
    fn filtered(&self, response: &Message) -> Message {
        let mut msg = self.relay(response, false);
        let before = msg.answers().len();
        msg.answers_mut().retain(|r| match r.data() {
            RData::AAAA(a) => self.config.usable(a.0),
            _ => true,
        });
        if msg.answers().len() != before {
            msg.answers_mut()
                .retain(|r| rrsig_covers(r) != Some(RecordType::AAAA));
            msg.set_authentic_data(false);
        }
        msg
    }

    /// The final answer from an A answer, if it yields any AAAA.
    fn synthesized(&self, a: &Message, ttl_cap: u32, authentic: bool) -> Option<Message> {
        let end = chain_end(self.client.query.name(), a.answers());
        let mut aaaa: Vec<Record> = Vec::new();
        'prefixes: for prefix in &self.config.inner.prefixes {
            for r in a.answers() {
                let RData::A(v4) = r.data() else { continue };
                if !r.name().eq_ignore_root(&end) {
                    continue;
                }
                if let Some(v6) = self.config.synthesize(prefix, v4.0) {
                    if aaaa.len() >= MAX_SYNTHESIZED {
                        break 'prefixes;
                    }
                    let ttl = r.ttl().min(ttl_cap);
                    aaaa.push(Record::from_rdata(
                        r.name().clone(),
                        ttl,
                        RData::AAAA(AAAA(v6)),
                    ));
                }
            }
        }
        if aaaa.is_empty() {
            return None;
        }
        let mut msg = self.reply(Some(a), self.config.inner.extended_error);
        msg.set_authentic_data(authentic && a.authentic_data());
        let chain = a
            .answers()
            .iter()
            .filter(|r| is_chain(r) || (is_rrsig(r) && !r.name().eq_ignore_root(&end)))
            .take(MAX_CHAIN)
            .cloned();
        msg.add_answers(chain);
        msg.add_answers(aaaa);
        Some(msg)
    }

    /// An upstream answer relayed to the client: the client's ID, question
    /// and flags, the upstream's RCODE, AA, RA, AD and sections. With
    /// `strip_a` (a forced name's A answer standing in for the AAAA one) A
    /// records and their RRSIGs are dropped from the answer section.
    fn relay(&self, upstream: &Message, strip_a: bool) -> Message {
        let mut msg = self.reply(Some(upstream), false);
        msg.set_response_code(upstream.response_code());
        msg.set_authoritative(upstream.authoritative());
        msg.set_authentic_data(upstream.authentic_data() && !strip_a);
        let answers = upstream.answers().iter().filter(|r| {
            !strip_a || (r.record_type() != RecordType::A && rrsig_covers(r) != Some(RecordType::A))
        });
        msg.add_answers(answers.cloned());
        msg.add_name_servers(upstream.name_servers().iter().cloned());
        msg.add_additionals(upstream.additionals().iter().cloned());
        self.fix_rcode(msg)
    }

    /// An empty response to the client: its ID, question and flags, RCODE
    /// NOERROR, RA from `upstream` (else set), an OPT if the client sent
    /// one (with the upstream's EDEs, and EDE 29 when `synthesized`).
    fn reply(&self, upstream: Option<&Message>, synthesized: bool) -> Message {
        let mut msg = Message::new();
        msg.set_id(self.client.id)
            .set_message_type(MessageType::Response)
            .set_op_code(OpCode::Query)
            .set_recursion_desired(self.client.rd)
            .set_recursion_available(upstream.is_none_or(Message::recursion_available))
            .set_checking_disabled(self.client.cd)
            .set_response_code(ResponseCode::NoError);
        msg.add_query(self.client.query.clone());
        if let Some(payload) = self.client.edns {
            let mut edns = Edns::new();
            edns.set_max_payload(payload.min(RESPONSE_PAYLOAD))
                .set_dnssec_ok(self.client.dnssec_ok);
            if let Some(up) = upstream.and_then(|m| m.extensions().as_ref()) {
                let passed = up
                    .options()
                    .as_ref()
                    .iter()
                    .filter(|(code, opt)| u16::from(*code) == EDNS_EDE && opt.len() <= 512)
                    .take(4);
                for (_, opt) in passed {
                    edns.options_mut().insert(opt.clone());
                }
            }
            if synthesized && self.config.inner.extended_error {
                let code = EDE_SYNTHESIZED.to_be_bytes();
                edns.options_mut()
                    .insert(EdnsOption::Unknown(EDNS_EDE, code.to_vec()));
            }
            msg.set_edns(edns);
        }
        msg
    }

    /// An extended RCODE cannot be told to a client that sent no OPT:
    /// SERVFAIL instead.
    fn fix_rcode(&self, mut msg: Message) -> Message {
        if msg.extensions().is_none() && msg.response_code().high() != 0 {
            msg.set_response_code(ResponseCode::ServFail);
        }
        msg
    }

    fn servfail(&self) -> Message {
        let mut msg = self.reply(None, false);
        msg.set_response_code(ResponseCode::ServFail);
        msg
    }

    /// The local answer for `ipv4only.arpa` (RFC 8880 §7.2).
    fn ipv4only(&self) -> Message {
        let mut msg = self.reply(None, self.client.query.query_type() == RecordType::AAAA);
        msg.set_authoritative(true);
        let name = self.client.query.name().clone();
        if self.client.query.query_type() == RecordType::AAAA {
            for p in &self.config.inner.prefixes {
                for v6 in p.ipv4only_answers() {
                    msg.add_answer(Record::from_rdata(
                        name.clone(),
                        IPV4ONLY_TTL,
                        RData::AAAA(AAAA(v6)),
                    ));
                }
            }
        } else {
            for v4 in IPV4ONLY_ADDRS {
                msg.add_answer(Record::from_rdata(
                    name.clone(),
                    IPV4ONLY_TTL,
                    RData::A(A(v4)),
                ));
            }
        }
        msg
    }

    /// For a PTR query of an ip6.arpa name under a configured prefix: the
    /// CNAME to the embedded IPv4's in-addr.arpa name, and that name.
    fn ptr_cname(&self) -> Option<(Record, Name)> {
        let name = self.client.query.name();
        let v6 = ip6_arpa(name)?;
        let v4 = self
            .config
            .inner
            .prefixes
            .iter()
            .filter(|p| p.contains(v6))
            .find_map(|p| {
                let v4 = p.extract(v6).ok()?;
                self.config.synthesize(p, v4).map(|_| v4)
            })?;
        let target = Name::from(v4);
        let cname = Record::from_rdata(
            name.clone(),
            PTR_CNAME_TTL,
            RData::CNAME(CNAME(target.clone())),
        );
        Some((cname, target))
    }

    /// A query to send upstream: the client's ID, RD, CD and AD, and always
    /// an OPT advertising [`RESPONSE_PAYLOAD`] (RFC 9715's 1232 bytes: no IP
    /// fragments) with the client's DO bit. The answer is cut to the
    /// client's own size on the way back, so a client without EDNS does not
    /// force the upstream exchange down to 512 bytes and over to TCP.
    fn upstream_query(&self, name: Name, rtype: RecordType) -> Message {
        let mut msg = Message::new();
        msg.set_id(self.client.id)
            .set_message_type(MessageType::Query)
            .set_op_code(OpCode::Query)
            .set_recursion_desired(self.client.rd)
            .set_checking_disabled(self.client.cd)
            .set_authentic_data(self.client.ad);
        let mut q = Query::query(name, rtype);
        q.set_query_class(self.client.query.query_class());
        msg.add_query(q);
        let mut edns = Edns::new();
        edns.set_max_payload(RESPONSE_PAYLOAD)
            .set_dnssec_ok(self.client.dnssec_ok);
        msg.set_edns(edns);
        msg
    }
}

impl Client {
    fn read(query: &Message) -> Result<Self, Error> {
        if query.message_type() != MessageType::Query {
            return Err(Error::NotAQuery);
        }
        if query.op_code() != OpCode::Query {
            return Err(Error::OpCode {
                opcode: u8::from(query.op_code()),
            });
        }
        let q = match query.queries() {
            [q] => q.clone(),
            qs => return Err(Error::QuestionCount { count: qs.len() }),
        };
        let edns = query.extensions().as_ref();
        Ok(Self {
            id: query.id(),
            query: q,
            rd: query.recursion_desired(),
            cd: query.checking_disabled(),
            ad: query.authentic_data(),
            dnssec_ok: edns.is_some_and(|e| e.flags().dnssec_ok),
            edns: edns.map(Edns::max_payload),
        })
    }
}

/// An error reply (FORMERR, NOTIMP, …) to a client message given as raw
/// bytes, when at least its ID can be read: the ID, the opcode, RD, and the
/// question when the message parses far enough to have exactly one. `None`
/// for fewer than three bytes (the ID, and the flags byte that says whether
/// it is a query) or a message that is itself a response (QR set: never
/// answer those, to avoid loops).
///
/// ```
/// use hickory_proto::op::{Message, ResponseCode};
/// use sixgate::dns64::error_reply;
///
/// let garbage = [0x12, 0x34, 0x01, 0x00, 0xff];
/// let reply = error_reply(&garbage, ResponseCode::FormErr).unwrap();
/// let reply = Message::from_vec(&reply)?;
/// assert_eq!(reply.id(), 0x1234);
/// assert_eq!(reply.response_code(), ResponseCode::FormErr);
/// assert!(reply.recursion_desired());
///
/// assert!(error_reply(&[0x12], ResponseCode::FormErr).is_none());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn error_reply(query_bytes: &[u8], rcode: ResponseCode) -> Option<Vec<u8>> {
    let (id, flags) = match query_bytes {
        [a, b, c, ..] => (u16::from_be_bytes([*a, *b]), *c),
        _ => return None,
    };
    if flags & 0x80 != 0 {
        return None;
    }
    let opcode = OpCode::from_u8((flags >> 3) & 0x0f);
    let mut msg = Message::error_msg(id, opcode, ResponseCode::from_low(rcode.low()));
    msg.set_recursion_desired(flags & 0x01 != 0);
    if let Ok(parsed) = Message::from_vec(query_bytes) {
        if let [q] = parsed.queries() {
            msg.add_query(q.clone());
        }
    }
    msg.to_vec().ok()
}

/// Whether `r` answers `q`: a response, not truncated, with exactly that
/// question (name in any case).
fn answers(r: &Message, q: &Query) -> bool {
    r.message_type() == MessageType::Response
        && !r.truncated()
        && matches!(r.queries(), [rq] if rq.name().eq_ignore_root(q.name())
            && rq.query_type() == q.query_type()
            && rq.query_class() == q.query_class())
}

/// Whether `name` is `suffix` or under it (any case).
fn under(name: &Name, suffix: &Name) -> bool {
    let n = usize::from(name.num_labels());
    let s = usize::from(suffix.num_labels());
    if s > n {
        return false;
    }
    name.iter()
        .rev()
        .zip(suffix.iter().rev())
        .all(|(a, b)| a.eq_ignore_ascii_case(b))
}

/// Whether `name` is [`IPV4ONLY_ARPA`](crate::rfc6052::IPV4ONLY_ARPA), in any case.
fn is_ipv4only(name: &Name) -> bool {
    let mut labels = name.iter();
    matches!(
        (labels.next(), labels.next(), labels.next()),
        (Some(a), Some(b), None)
            if a.eq_ignore_ascii_case(b"ipv4only") && b.eq_ignore_ascii_case(b"arpa")
    )
}

/// The address of a full 32-nibble ip6.arpa name.
fn ip6_arpa(name: &Name) -> Option<Ipv6Addr> {
    if name.num_labels() != 34 {
        return None;
    }
    let mut bits: u128 = 0;
    let mut labels = name.iter().rev();
    let arpa = labels.next()?;
    let ip6 = labels.next()?;
    if !arpa.eq_ignore_ascii_case(b"arpa") || !ip6.eq_ignore_ascii_case(b"ip6") {
        return None;
    }
    for label in labels {
        let [c] = label else { return None };
        let nibble = char::from(*c).to_digit(16)?;
        bits = (bits << 4) | u128::from(nibble);
    }
    Some(Ipv6Addr::from(bits))
}

/// The end of the CNAME chain from `name` through `records`.
fn chain_end(name: &Name, records: &[Record]) -> Name {
    let mut end = name.clone();
    for _ in 0..MAX_CHAIN {
        let next = records.iter().find_map(|r| match r.data() {
            RData::CNAME(c) if r.name().eq_ignore_root(&end) => Some(c.0.clone()),
            _ => None,
        });
        match next {
            Some(n) if !n.eq_ignore_root(&end) => end = n,
            _ => break,
        }
    }
    end
}

fn is_chain(r: &Record) -> bool {
    r.record_type() == RecordType::CNAME || u16::from(r.record_type()) == DNAME
}

fn is_rrsig(r: &Record) -> bool {
    r.record_type() == RecordType::RRSIG
}

/// The type an RRSIG covers (the first two bytes of its RDATA), if `r` is
/// one hickory left undecoded.
fn rrsig_covers(r: &Record) -> Option<RecordType> {
    if !is_rrsig(r) {
        return None;
    }
    match r.data() {
        RData::Unknown { rdata, .. } => match rdata.anything() {
            [a, b, ..] => Some(RecordType::from(u16::from_be_bytes([*a, *b]))),
            _ => None,
        },
        _ => None,
    }
}

/// The negative-caching TTL of an answer: the smaller of its authority
/// SOA's TTL and MINIMUM (RFC 2308 §5), if it has an SOA.
fn negative_ttl(response: &Message) -> Option<u32> {
    response.name_servers().iter().find_map(|r| match r.data() {
        RData::SOA(soa) => Some(r.ttl().min(soa.minimum())),
        _ => None,
    })
}

fn check_len(what: &'static str, count: usize, max: usize) -> Result<(), Error> {
    if count > max {
        return Err(Error::TooMany { what, count, max });
    }
    Ok(())
}

fn parse_names(names: &[String]) -> Result<Vec<Name>, Error> {
    names
        .iter()
        .map(|text| {
            let mut name = Name::from_ascii(text)
                .map_err(|e| Error::Name {
                    name: text.clone(),
                    reason: e.to_string(),
                })?
                .to_lowercase();
            if name.is_root() {
                return Err(Error::Name {
                    name: text.clone(),
                    reason: "the root would match every name".into(),
                });
            }
            name.set_fqdn(true);
            Ok(name)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(s: &str) -> Name {
        Name::from_ascii(s).unwrap()
    }

    #[test]
    fn ip6_arpa_names() {
        let addr: Ipv6Addr = "64:ff9b::c633:6407".parse().unwrap();
        assert_eq!(ip6_arpa(&Name::from(addr)), Some(addr));
        let upper = Name::from_ascii(Name::from(addr).to_ascii().to_uppercase()).unwrap();
        assert_eq!(ip6_arpa(&upper), Some(addr));
        assert_eq!(ip6_arpa(&name("1.0.ip6.arpa.")), None);
        assert_eq!(ip6_arpa(&Name::from(Ipv4Addr::new(1, 2, 3, 4))), None);
        let bad = Name::from(addr).to_ascii().replacen('7', "g", 1);
        assert_eq!(ip6_arpa(&name(&bad)), None);
    }

    #[test]
    fn suffixes() {
        assert!(under(&name("a.Example.COM."), &name("example.com.")));
        assert!(under(&name("example.com"), &name("example.com.")));
        assert!(!under(&name("badexample.com."), &name("example.com.")));
        assert!(!under(&name("com."), &name("example.com.")));
        assert!(is_ipv4only(&name("IPv4only.ARPA.")));
        assert!(!is_ipv4only(&name("x.ipv4only.arpa.")));
    }

    #[test]
    fn chain_end_stops_on_loops() {
        let a = name("a.test.");
        let b = name("b.test.");
        let loop_ = [
            Record::from_rdata(a.clone(), 1, RData::CNAME(CNAME(b.clone()))),
            Record::from_rdata(b.clone(), 1, RData::CNAME(CNAME(a.clone()))),
        ];
        let end = chain_end(&a, &loop_);
        assert!(end == a || end == b);
    }

    #[test]
    fn config_limits() {
        let many: Vec<Nat64Prefix> = (0..9u16)
            .map(|i| Nat64Prefix::new(Ipv6Addr::new(0x2001, 0xdb8, i, 0, 0, 0, 0, 0), 48).unwrap())
            .collect();
        let err = Config::builder().prefixes(many).build().unwrap_err();
        assert_eq!(err.kind(), "too_many");
        assert!(Config::builder().exclude_names(["."]).build().is_err());
        let dup = Config::builder()
            .prefixes([Nat64Prefix::WELL_KNOWN, Nat64Prefix::WELL_KNOWN])
            .build()
            .unwrap();
        assert_eq!(dup.prefixes().len(), 1);
    }
}
