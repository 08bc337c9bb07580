//! IPv4-embedded IPv6 addresses: NAT64 prefixes, embedding and extraction
//! (RFC 6052), the well-known and local-use prefixes (RFC 6052 §2.1, RFC 8215),
//! the rule that keeps non-global IPv4 out of the well-known prefix
//! (RFC 6052 §3.1), and NAT64 prefix discovery from `ipv4only.arpa`
//! (RFC 7050, RFC 8880).
//!
//! ```
//! use std::net::{Ipv4Addr, Ipv6Addr};
//! use sixgate::rfc6052::{Nat64Prefix, NonGlobal};
//!
//! let prefix: Nat64Prefix = "2001:db8:122:344::/64".parse()?;
//! let v6 = prefix.embed(Ipv4Addr::new(192, 0, 2, 33));
//! assert_eq!(v6, "2001:db8:122:344:c0:2:2100:0".parse::<Ipv6Addr>()?);
//! assert_eq!(prefix.extract(v6)?, Ipv4Addr::new(192, 0, 2, 33));
//!
//! // The well-known prefix refuses documentation (non-global) IPv4 unless asked.
//! let wkp = Nat64Prefix::WELL_KNOWN;
//! assert!(wkp.synthesize(Ipv4Addr::new(192, 0, 2, 33), NonGlobal::Refuse).is_err());
//! assert!(wkp.synthesize(Ipv4Addr::new(192, 0, 2, 33), NonGlobal::Allow).is_ok());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use ipnet::{Ipv4Net, Ipv6Net};

/// The prefix lengths RFC 6052 §2.2 allows for a NAT64 prefix.
pub const PREFIX_LENGTHS: [u8; 6] = [32, 40, 48, 56, 64, 96];

/// The name a node asks for AAAA records to discover the NAT64 prefix
/// (RFC 7050 §2, RFC 8880 §2).
pub const IPV4ONLY_ARPA: &str = "ipv4only.arpa.";

/// The two IPv4 addresses `ipv4only.arpa` has A records for (RFC 7050 §2.1,
/// RFC 8880 §2): 192.0.0.170 and 192.0.0.171.
pub const IPV4ONLY_ADDRS: [Ipv4Addr; 2] =
    [Ipv4Addr::new(192, 0, 0, 170), Ipv4Addr::new(192, 0, 0, 171)];

/// A NAT64 prefix as RFC 6052 §2.2 defines it: one of /32, /40, /48, /56, /64
/// or /96, no bits set beyond the length, and the u-octet (bits 64 to 71) zero.
///
/// Valid once built: every constructor checks, so [`embed`](Self::embed) and
/// [`extract`](Self::extract) never meet a malformed prefix.
///
/// ```
/// use sixgate::Nat64Prefix;
///
/// let p: Nat64Prefix = "64:ff9b::/96".parse()?;
/// assert!(p.is_well_known());
/// assert_eq!(p.to_string(), "64:ff9b::/96");
///
/// // Not one of the six lengths:
/// let err = "2001:db8::/44".parse::<Nat64Prefix>().unwrap_err();
/// assert_eq!(err.to_string(), "prefix length 44 is not one of 32, 40, 48, 56, 64, 96 (RFC 6052 §2.2)");
/// // Host bits set beyond the length:
/// assert!("2001:db8::1/32".parse::<Nat64Prefix>().is_err());
/// # Ok::<(), sixgate::rfc6052::Error>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Nat64Prefix {
    network: Ipv6Addr,
    len: u8,
}

/// Whether a synthesis or extraction under the well-known prefix may involve a
/// non-global IPv4 address (RFC 6052 §3.1).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum NonGlobal {
    /// Follow RFC 6052 §3.1: the well-known prefix never carries a non-global
    /// IPv4 address. The default.
    #[default]
    Refuse,
    /// Allow it anyway (labs, tests, documentation addresses).
    Allow,
}

/// An IPv4 special-purpose range that is not globally reachable
/// (IANA IPv4 Special-Purpose Address Registry, RFC 6890 and its updates).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SpecialRange {
    /// The range.
    pub net: Ipv4Net,
    /// Its registry name, e.g. "private-use".
    pub name: &'static str,
    /// The RFC that defines it, e.g. "RFC 1918".
    pub rfc: &'static str,
}

/// Errors from this module. Each message quotes the offending value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The text is not an IPv6 prefix in `address/length` form.
    #[error("{text:?} is not an IPv6 prefix (expected address/length, such as 64:ff9b::/96)")]
    Syntax {
        /// The text as given.
        text: String,
    },
    /// The length is not one of the six RFC 6052 §2.2 allows.
    #[error("prefix length {len} is not one of 32, 40, 48, 56, 64, 96 (RFC 6052 §2.2)")]
    Length {
        /// The length given.
        len: u8,
    },
    /// Bits are set beyond the prefix length.
    #[error("{addr}/{len} has bits set beyond the prefix length (did you mean {network}/{len}?)")]
    HostBits {
        /// The address given.
        addr: Ipv6Addr,
        /// The length given.
        len: u8,
        /// The address with the bits beyond the length cleared.
        network: Ipv6Addr,
    },
    /// A /96 prefix sets the u-octet (bits 64 to 71), which must be zero.
    #[error("{addr}/{len} sets bits 64-71 (the u-octet), which RFC 6052 §2.2 requires to be zero")]
    PrefixUOctet {
        /// The address given.
        addr: Ipv6Addr,
        /// The length given.
        len: u8,
    },
    /// The address does not lie inside the prefix it was to be extracted from.
    #[error("{addr} is not inside the NAT64 prefix {prefix}")]
    OutsidePrefix {
        /// The address given.
        addr: Ipv6Addr,
        /// The prefix it was checked against.
        prefix: Nat64Prefix,
    },
    /// The address lies inside the prefix but its u-octet is not zero.
    #[error(
        "{addr} has u-octet (bits 64-71) {value:#04x} under {prefix}; RFC 6052 §2.2 requires zero"
    )]
    AddrUOctet {
        /// The address given.
        addr: Ipv6Addr,
        /// The prefix it was checked against.
        prefix: Nat64Prefix,
        /// The value of the u-octet.
        value: u8,
    },
    /// A non-global IPv4 address under the well-known prefix.
    #[error(
        "{addr} is in {} ({}, {}), which is not global: RFC 6052 §3.1 forbids it under the \
         well-known prefix 64:ff9b::/96 (use a network-specific prefix, or allow non-global \
         addresses explicitly)",
        range.net, range.name, range.rfc
    )]
    NonGlobal {
        /// The IPv4 address given.
        addr: Ipv4Addr,
        /// The special-purpose range it falls in.
        range: SpecialRange,
    },
    /// None of the answers embeds 192.0.0.170 or 192.0.0.171.
    #[error(
        "none of the {count} AAAA answer(s) for ipv4only.arpa embeds 192.0.0.170 or 192.0.0.171 \
         at an RFC 6052 position (RFC 7050 §3)"
    )]
    NotDiscovered {
        /// How many answers were examined.
        count: usize,
    },
    /// An answer embeds a well-known IPv4 address at more than one position
    /// and the other answers do not tell which is meant (RFC 7050 §3).
    #[error("{addr} embeds 192.0.0.170/171 at several RFC 6052 positions ({candidates}); cannot tell the prefix length")]
    Ambiguous {
        /// The answer that could not be resolved.
        addr: Ipv6Addr,
        /// The candidate prefixes, comma separated.
        candidates: String,
    },
}

impl Error {
    /// A stable snake_case name for the kind of error, for programs and
    /// bindings to match on (`length`, `host_bits`, `u_octet`, …); the
    /// message itself may be reworded.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Syntax { .. } => "syntax",
            Self::Length { .. } => "length",
            Self::HostBits { .. } => "host_bits",
            Self::PrefixUOctet { .. } | Self::AddrUOctet { .. } => "u_octet",
            Self::OutsidePrefix { .. } => "outside_prefix",
            Self::NonGlobal { .. } => "non_global",
            Self::NotDiscovered { .. } => "not_discovered",
            Self::Ambiguous { .. } => "ambiguous",
        }
    }
}

impl Nat64Prefix {
    /// The well-known prefix 64:ff9b::/96 (RFC 6052 §2.1).
    pub const WELL_KNOWN: Self =
        Self::new_assert(Ipv6Addr::new(0x64, 0xff9b, 0, 0, 0, 0, 0, 0), 96);

    /// The local-use block 64:ff9b:1::/48 (RFC 8215), itself usable as a /48
    /// NAT64 prefix or carved into longer network-specific prefixes.
    pub const LOCAL_USE: Self = Self::new_assert(Ipv6Addr::new(0x64, 0xff9b, 1, 0, 0, 0, 0, 0), 48);

    /// Builds a prefix, checking every RFC 6052 §2.2 rule.
    ///
    /// ```
    /// use std::net::Ipv6Addr;
    /// use sixgate::Nat64Prefix;
    ///
    /// let net = Ipv6Addr::new(0x2001, 0xdb8, 0x64, 0, 0, 0, 0, 0);
    /// assert!(Nat64Prefix::new(net, 48).is_ok());
    /// assert!(Nat64Prefix::new(net, 47).is_err()); // not an RFC 6052 length
    /// assert!(Nat64Prefix::new(net, 32).is_err()); // bits set beyond /32
    /// ```
    pub fn new(addr: Ipv6Addr, len: u8) -> Result<Self, Error> {
        match check(u128::from(addr), len) {
            Check::Ok => Ok(Self { network: addr, len }),
            Check::Length => Err(Error::Length { len }),
            Check::HostBits => Err(Error::HostBits {
                addr,
                len,
                network: Ipv6Addr::from(u128::from(addr) & mask(len)),
            }),
            Check::UOctet => Err(Error::PrefixUOctet { addr, len }),
        }
    }

    /// Builds a prefix from a literal, failing at compile time in a `const`
    /// context (at run time otherwise) if it breaks an RFC 6052 §2.2 rule.
    ///
    /// ```
    /// use std::net::Ipv6Addr;
    /// use sixgate::Nat64Prefix;
    ///
    /// const MINE: Nat64Prefix =
    ///     Nat64Prefix::new_assert(Ipv6Addr::new(0x2001, 0xdb8, 0x64, 0, 0, 0, 0, 0), 96);
    /// assert_eq!(MINE.prefix_len(), 96);
    /// ```
    ///
    /// ```should_panic
    /// use std::net::Ipv6Addr;
    /// use sixgate::Nat64Prefix;
    ///
    /// Nat64Prefix::new_assert(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1), 96);
    /// ```
    #[allow(clippy::panic)] // asserting a literal is this function's purpose
    pub const fn new_assert(addr: Ipv6Addr, len: u8) -> Self {
        match check(u128::from_be_bytes(addr.octets()), len) {
            Check::Ok => Self { network: addr, len },
            Check::Length => panic!("NAT64 prefix length must be 32, 40, 48, 56, 64 or 96"),
            Check::HostBits => panic!("NAT64 prefix has bits set beyond its length"),
            Check::UOctet => panic!("NAT64 /96 prefix sets the u-octet (bits 64-71)"),
        }
    }

    /// The prefix's network address.
    pub const fn network(&self) -> Ipv6Addr {
        self.network
    }

    /// The prefix length: one of 32, 40, 48, 56, 64, 96.
    pub const fn prefix_len(&self) -> u8 {
        self.len
    }

    /// Whether this is the well-known prefix 64:ff9b::/96 (RFC 6052 §2.1), the
    /// only prefix the non-global rule of §3.1 applies to.
    pub fn is_well_known(&self) -> bool {
        *self == Self::WELL_KNOWN
    }

    /// Whether this prefix lies in the local-use block 64:ff9b:1::/48
    /// (RFC 8215). Such prefixes are network-specific: §3.1 does not apply.
    pub fn is_local_use(&self) -> bool {
        Self::LOCAL_USE.contains(self.network)
    }

    /// Whether `addr` lies inside this prefix.
    pub fn contains(&self, addr: Ipv6Addr) -> bool {
        u128::from(addr) & mask(self.len) == u128::from(self.network)
    }

    /// Embeds an IPv4 address in this prefix (RFC 6052 §2.2), skipping the
    /// u-octet and leaving the suffix zero. Plain arithmetic: see
    /// [`synthesize`](Self::synthesize) for the §3.1 check.
    ///
    /// ```
    /// use std::net::Ipv4Addr;
    /// use sixgate::Nat64Prefix;
    ///
    /// let p: Nat64Prefix = "2001:db8:100::/40".parse().unwrap();
    /// assert_eq!(p.embed(Ipv4Addr::new(192, 0, 2, 33)).to_string(), "2001:db8:1c0:2:21::");
    /// ```
    pub fn embed(&self, v4: Ipv4Addr) -> Ipv6Addr {
        let a = u128::from(u32::from(v4));
        // Bit positions below count from the least significant bit of the
        // 128-bit address; the u-octet is bits 56..64 in that count.
        let bits = match self.len {
            32 => a << 64,
            40 => ((a >> 8) << 64) | ((a & 0xff) << 48),
            48 => ((a >> 16) << 64) | ((a & 0xffff) << 40),
            56 => ((a >> 24) << 64) | ((a & 0xff_ffff) << 32),
            64 => a << 24,
            _ => a, // 96: the only other length a built prefix can have
        };
        Ipv6Addr::from(u128::from(self.network) | bits)
    }

    /// Extracts the IPv4 address embedded in `addr` (RFC 6052 §2.2). The
    /// suffix bits are ignored, as §2.2 reserves them.
    ///
    /// ```
    /// use std::net::{Ipv4Addr, Ipv6Addr};
    /// use sixgate::Nat64Prefix;
    ///
    /// let p = Nat64Prefix::WELL_KNOWN;
    /// let a: Ipv6Addr = "64:ff9b::c000:221".parse().unwrap();
    /// assert_eq!(p.extract(a).unwrap(), Ipv4Addr::new(192, 0, 2, 33));
    ///
    /// let outside: Ipv6Addr = "2001:db8::1".parse().unwrap();
    /// assert_eq!(
    ///     p.extract(outside).unwrap_err().to_string(),
    ///     "2001:db8::1 is not inside the NAT64 prefix 64:ff9b::/96"
    /// );
    /// ```
    pub fn extract(&self, addr: Ipv6Addr) -> Result<Ipv4Addr, Error> {
        if !self.contains(addr) {
            return Err(Error::OutsidePrefix {
                addr,
                prefix: *self,
            });
        }
        let x = u128::from(addr);
        if self.len < 96 {
            let value = ((x >> 56) & 0xff) as u8;
            if value != 0 {
                return Err(Error::AddrUOctet {
                    addr,
                    prefix: *self,
                    value,
                });
            }
        }
        Ok(Ipv4Addr::from(embedded_bits(x, self.len)))
    }

    /// Embeds `v4` after checking the RFC 6052 §3.1 rule: under the
    /// well-known prefix, a non-global IPv4 address is refused unless
    /// `non_global` is [`NonGlobal::Allow`]. Network-specific prefixes carry
    /// any address.
    ///
    /// ```
    /// use std::net::Ipv4Addr;
    /// use sixgate::rfc6052::{Nat64Prefix, NonGlobal};
    ///
    /// let wkp = Nat64Prefix::WELL_KNOWN;
    /// let err = wkp.synthesize(Ipv4Addr::new(10, 1, 2, 3), NonGlobal::Refuse).unwrap_err();
    /// assert!(err.to_string().contains("RFC 6052 §3.1"));
    /// assert_eq!(
    ///     wkp.synthesize(Ipv4Addr::new(198, 252, 206, 16), NonGlobal::Refuse).unwrap().to_string(),
    ///     "64:ff9b::c6fc:ce10"
    /// );
    /// ```
    pub fn synthesize(&self, v4: Ipv4Addr, non_global: NonGlobal) -> Result<Ipv6Addr, Error> {
        self.check_scope(v4, non_global)?;
        Ok(self.embed(v4))
    }

    /// Extracts like [`extract`](Self::extract), then applies the RFC 6052
    /// §3.1 rule as [`synthesize`](Self::synthesize) does: a translator must
    /// not translate the well-known prefix with a non-global IPv4 address.
    pub fn extract_checked(
        &self,
        addr: Ipv6Addr,
        non_global: NonGlobal,
    ) -> Result<Ipv4Addr, Error> {
        let v4 = self.extract(addr)?;
        self.check_scope(v4, non_global)?;
        Ok(v4)
    }

    /// Checks the RFC 6052 §3.1 rule for `v4` under this prefix.
    pub fn check_scope(&self, v4: Ipv4Addr, non_global: NonGlobal) -> Result<(), Error> {
        if non_global == NonGlobal::Refuse && self.is_well_known() {
            if let Some(range) = non_global_range(v4) {
                return Err(Error::NonGlobal {
                    addr: v4,
                    range: *range,
                });
            }
        }
        Ok(())
    }

    /// The AAAA answers a DNS64 using this prefix gives for `ipv4only.arpa`
    /// (RFC 8880 §7.2): 192.0.0.170 and 192.0.0.171 embedded.
    pub fn ipv4only_answers(&self) -> [Ipv6Addr; 2] {
        IPV4ONLY_ADDRS.map(|a| self.embed(a))
    }
}

impl fmt::Display for Nat64Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.len)
    }
}

impl fmt::Debug for Nat64Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Nat64Prefix({self})")
    }
}

impl FromStr for Nat64Prefix {
    type Err = Error;

    /// Parses `address/length`, e.g. `64:ff9b::/96`, in any letter case.
    fn from_str(s: &str) -> Result<Self, Error> {
        let (addr, len) = s
            .split_once('/')
            .ok_or_else(|| Error::Syntax { text: s.to_owned() })?;
        let addr: Ipv6Addr = addr
            .parse()
            .map_err(|_| Error::Syntax { text: s.to_owned() })?;
        // A length is one to three ASCII digits; anything else (sign, space,
        // a huge number) is a syntax error, not a wrapped value.
        if len.is_empty() || len.len() > 3 || !len.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Error::Syntax { text: s.to_owned() });
        }
        let len: u8 = len
            .parse()
            .map_err(|_| Error::Syntax { text: s.to_owned() })?;
        if len > 128 {
            return Err(Error::Syntax { text: s.to_owned() });
        }
        Self::new(addr, len)
    }
}

impl TryFrom<Ipv6Net> for Nat64Prefix {
    type Error = Error;

    /// Checks an [`Ipv6Net`] against RFC 6052 §2.2. An `Ipv6Net` may carry
    /// host bits (`2001:db8::1/32`); those are refused, not silently cleared.
    fn try_from(net: Ipv6Net) -> Result<Self, Error> {
        Self::new(net.addr(), net.prefix_len())
    }
}

impl From<Nat64Prefix> for Ipv6Net {
    fn from(p: Nat64Prefix) -> Self {
        // The length was checked to be at most 96 when `p` was built, so
        // `Ipv6Net::new` cannot fail; fall back to the host route only to keep
        // this function free of a panic path.
        Ipv6Net::new(p.network, p.len).unwrap_or_else(|_| Ipv6Net::from(p.network))
    }
}

/// The non-global IPv4 range `v4` falls in, if any: the entries of the IANA
/// IPv4 Special-Purpose Address Registry (RFC 6890 and updates) marked not
/// globally reachable, plus multicast and the other RFC 5735 §3 blocks that
/// RFC 6052 §3.1 names. 192.0.0.9 and 192.0.0.10 are global (RFC 7723,
/// RFC 8155) despite lying in 192.0.0.0/24.
///
/// ```
/// use std::net::Ipv4Addr;
/// use sixgate::rfc6052::non_global_range;
///
/// assert_eq!(non_global_range(Ipv4Addr::new(172, 20, 0, 1)).unwrap().name, "private-use");
/// assert!(non_global_range(Ipv4Addr::new(192, 0, 0, 9)).is_none());
/// assert!(non_global_range(Ipv4Addr::new(131, 111, 150, 25)).is_none());
/// ```
pub fn non_global_range(v4: Ipv4Addr) -> Option<&'static SpecialRange> {
    if v4 == Ipv4Addr::new(192, 0, 0, 9) || v4 == Ipv4Addr::new(192, 0, 0, 10) {
        return None;
    }
    NON_GLOBAL_IPV4.iter().find(|r| r.net.contains(&v4))
}

/// The special-purpose IPv4 ranges that are not global, most specific first
/// where they nest (255.255.255.255/32 inside 240.0.0.0/4).
pub const NON_GLOBAL_IPV4: &[SpecialRange] = &[
    range(0, 0, 0, 0, 8, "\"this network\"", "RFC 791"),
    range(10, 0, 0, 0, 8, "private-use", "RFC 1918"),
    range(100, 64, 0, 0, 10, "shared address space", "RFC 6598"),
    range(127, 0, 0, 0, 8, "loopback", "RFC 1122"),
    range(169, 254, 0, 0, 16, "link-local", "RFC 3927"),
    range(172, 16, 0, 0, 12, "private-use", "RFC 1918"),
    range(192, 0, 0, 0, 24, "IETF protocol assignments", "RFC 6890"),
    range(192, 0, 2, 0, 24, "documentation (TEST-NET-1)", "RFC 5737"),
    range(192, 168, 0, 0, 16, "private-use", "RFC 1918"),
    range(198, 18, 0, 0, 15, "benchmarking", "RFC 2544"),
    range(
        198,
        51,
        100,
        0,
        24,
        "documentation (TEST-NET-2)",
        "RFC 5737",
    ),
    range(203, 0, 113, 0, 24, "documentation (TEST-NET-3)", "RFC 5737"),
    range(224, 0, 0, 0, 4, "multicast", "RFC 5771"),
    range(255, 255, 255, 255, 32, "limited broadcast", "RFC 919"),
    range(240, 0, 0, 0, 4, "reserved", "RFC 1112"),
];

const fn range(
    a: u8,
    b: u8,
    c: u8,
    d: u8,
    len: u8,
    name: &'static str,
    rfc: &'static str,
) -> SpecialRange {
    SpecialRange {
        net: Ipv4Net::new_assert(Ipv4Addr::new(a, b, c, d), len),
        name,
        rfc,
    }
}

/// Finds the NAT64 prefix(es) from the AAAA answers for `ipv4only.arpa`
/// (RFC 7050 §3): each answer is searched for 192.0.0.170 or 192.0.0.171 at
/// the six RFC 6052 positions, with the u-octet zero. Answers that embed
/// neither are ignored.
///
/// An answer that matches at several positions is settled first by the
/// suffix (a DNS64 leaves it zero, RFC 6052 §2.2), then by the other answers
/// (the true position holds .170 in one answer and .171 in another); if it
/// is still unsettled the call fails with [`Error::Ambiguous`] rather than
/// guess.
///
/// Returns the distinct prefixes in the order first found. Work is
/// O(n log n) in the number of answers.
///
/// ```
/// use sixgate::rfc6052::discover;
///
/// let answers = ["2001:db8:122:344:c0:0:aa00:0".parse()?, "2001:db8:122:344:c0:0:ab00:0".parse()?];
/// let found = discover(&answers)?;
/// assert_eq!(found[0].to_string(), "2001:db8:122:344::/64");
///
/// assert!(discover(&["2001:db8::1".parse()?]).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn discover(answers: &[Ipv6Addr]) -> Result<Vec<Nat64Prefix>, Error> {
    // For every candidate prefix, which of the two well-known addresses it
    // was seen carrying (bit 0: .170, bit 1: .171).
    let per_answer: Vec<(Ipv6Addr, Vec<Candidate>)> =
        answers.iter().map(|&a| (a, candidates(a))).collect();
    let mut seen: BTreeMap<Nat64Prefix, u8> = BTreeMap::new();
    for (_, cands) in &per_answer {
        for c in cands {
            *seen.entry(c.prefix).or_insert(0) |= c.which;
        }
    }
    let mut found: Vec<Nat64Prefix> = Vec::new();
    for (addr, cands) in &per_answer {
        let chosen = match cands.as_slice() {
            [] => continue,
            [only] => only.prefix,
            _ => {
                let zero_suffix: Vec<_> = cands.iter().filter(|c| c.zero_suffix).collect();
                let paired: Vec<_> = cands
                    .iter()
                    .filter(|c| seen.get(&c.prefix) == Some(&0b11))
                    .collect();
                match (zero_suffix.as_slice(), paired.as_slice()) {
                    ([only], _) | (_, [only]) => only.prefix,
                    _ => {
                        let list: Vec<String> =
                            cands.iter().map(|c| c.prefix.to_string()).collect();
                        return Err(Error::Ambiguous {
                            addr: *addr,
                            candidates: list.join(", "),
                        });
                    }
                }
            }
        };
        if !found.contains(&chosen) {
            found.push(chosen);
        }
    }
    if found.is_empty() {
        return Err(Error::NotDiscovered {
            count: answers.len(),
        });
    }
    Ok(found)
}

/// One place an `ipv4only.arpa` answer embeds a well-known address.
struct Candidate {
    prefix: Nat64Prefix,
    /// Bit 0: it holds 192.0.0.170; bit 1: 192.0.0.171.
    which: u8,
    /// The RFC 6052 suffix after the embedded address is zero.
    zero_suffix: bool,
}

/// The candidates in one answer: at most one for each of the six lengths.
fn candidates(addr: Ipv6Addr) -> Vec<Candidate> {
    let x = u128::from(addr);
    let mut out = Vec::new();
    for len in PREFIX_LENGTHS {
        if len < 96 && (x >> 56) & 0xff != 0 {
            continue;
        }
        let v4 = Ipv4Addr::from(embedded_bits(x, len));
        let which = match IPV4ONLY_ADDRS.iter().position(|&w| w == v4) {
            Some(0) => 0b01,
            Some(_) => 0b10,
            None => continue,
        };
        if let Ok(p) = Nat64Prefix::new(Ipv6Addr::from(x & mask(len)), len) {
            out.push(Candidate {
                prefix: p,
                which,
                zero_suffix: x & suffix_mask(len) == 0,
            });
        }
    }
    out
}

/// The 32 bits embedded at the position for `len` (no checks).
fn embedded_bits(x: u128, len: u8) -> u32 {
    let v = match len {
        32 => x >> 64,
        40 => (((x >> 64) & 0xff_ffff) << 8) | ((x >> 48) & 0xff),
        48 => (((x >> 64) & 0xffff) << 16) | ((x >> 40) & 0xffff),
        56 => (((x >> 64) & 0xff) << 24) | ((x >> 32) & 0xff_ffff),
        64 => x >> 24,
        _ => x,
    };
    (v & 0xffff_ffff) as u32
}

/// The bits after the embedded IPv4 address for `len` (RFC 6052 §2.2 suffix).
fn suffix_mask(len: u8) -> u128 {
    match len {
        32 => (1 << 56) - 1,
        40 => (1 << 48) - 1,
        48 => (1 << 40) - 1,
        56 => (1 << 32) - 1,
        64 => (1 << 24) - 1,
        _ => 0,
    }
}

/// The network mask for a length of at most 128.
const fn mask(len: u8) -> u128 {
    match len {
        0 => 0,
        l if l >= 128 => u128::MAX,
        l => !(u128::MAX >> l),
    }
}

enum Check {
    Ok,
    Length,
    HostBits,
    UOctet,
}

const fn check(addr: u128, len: u8) -> Check {
    if !matches!(len, 32 | 40 | 48 | 56 | 64 | 96) {
        return Check::Length;
    }
    if addr & !mask(len) != 0 {
        return Check::HostBits;
    }
    if (addr >> 56) & 0xff != 0 {
        return Check::UOctet;
    }
    Check::Ok
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Nat64Prefix {
        s.parse().unwrap()
    }

    fn v6(s: &str) -> Ipv6Addr {
        s.parse().unwrap()
    }

    #[test]
    fn constants() {
        assert_eq!(Nat64Prefix::WELL_KNOWN.to_string(), "64:ff9b::/96");
        assert_eq!(Nat64Prefix::LOCAL_USE.to_string(), "64:ff9b:1::/48");
        assert!(Nat64Prefix::WELL_KNOWN.is_well_known());
        assert!(!Nat64Prefix::LOCAL_USE.is_well_known());
        assert!(Nat64Prefix::LOCAL_USE.is_local_use());
        assert!(p("64:ff9b:1:abcd::/64").is_local_use());
        assert!(!Nat64Prefix::WELL_KNOWN.is_local_use());
        assert!(!p("2001:db8::/32").is_well_known());
    }

    #[test]
    fn parse_errors_name_the_value() {
        let e = "64:ff9b::".parse::<Nat64Prefix>().unwrap_err();
        assert_eq!(
            e,
            Error::Syntax {
                text: "64:ff9b::".into()
            }
        );
        assert!(e.to_string().contains("\"64:ff9b::\""));
        for bad in [
            "",
            "/96",
            "64:ff9b::/",
            "64:ff9b::/+96",
            "64:ff9b::/ 96",
            "64:ff9b::/0096",
            "64:ff9b::/129",
            "192.0.2.0/24",
            "zz::/96",
        ] {
            assert!(
                matches!(bad.parse::<Nat64Prefix>(), Err(Error::Syntax { .. })),
                "{bad}"
            );
        }
        assert_eq!(
            "2001:db8::/33".parse::<Nat64Prefix>(),
            Err(Error::Length { len: 33 })
        );
        assert_eq!(
            "2001:db8::/128".parse::<Nat64Prefix>(),
            Err(Error::Length { len: 128 })
        );
        let e = "2001:db8::1/96".parse::<Nat64Prefix>().unwrap_err();
        assert_eq!(
            e.to_string(),
            "2001:db8::1/96 has bits set beyond the prefix length (did you mean 2001:db8::/96?)"
        );
        let e = "2001:db8:0:0:ff00::/96".parse::<Nat64Prefix>().unwrap_err();
        assert!(matches!(e, Error::PrefixUOctet { len: 96, .. }), "{e}");
        // Upper case is fine.
        assert_eq!(p("64:FF9B::/96"), Nat64Prefix::WELL_KNOWN);
    }

    #[test]
    fn try_from_ipnet_refuses_host_bits() {
        let net: Ipv6Net = "2001:db8::1/32".parse().unwrap();
        assert!(matches!(
            Nat64Prefix::try_from(net),
            Err(Error::HostBits { .. })
        ));
        let net: Ipv6Net = "2001:db8::/32".parse().unwrap();
        let prefix = Nat64Prefix::try_from(net).unwrap();
        assert_eq!(Ipv6Net::from(prefix), net);
    }

    #[test]
    fn extract_errors_say_which() {
        let prefix = p("2001:db8:122:344::/64");
        let e = prefix.extract(v6("2001:db8:122:345::1")).unwrap_err();
        assert!(matches!(e, Error::OutsidePrefix { .. }));
        let e = prefix
            .extract(v6("2001:db8:122:344:1c0:2:2100:0"))
            .unwrap_err();
        assert_eq!(
            e,
            Error::AddrUOctet {
                addr: v6("2001:db8:122:344:1c0:2:2100:0"),
                prefix,
                value: 1
            }
        );
        assert!(e.to_string().contains("0x01"), "{e}");
        // /96: bits 64-71 belong to the prefix, so no u-octet error there.
        assert!(matches!(
            Nat64Prefix::WELL_KNOWN.extract(v6("64:ff9b::ff00:0:c000:221")),
            Err(Error::OutsidePrefix { .. })
        ));
    }

    #[test]
    fn suffix_is_ignored_on_extract() {
        let prefix = p("2001:db8::/32");
        assert_eq!(
            prefix.extract(v6("2001:db8:c000:221:0:ff:ff:ff")).unwrap(),
            Ipv4Addr::new(192, 0, 2, 33)
        );
    }

    #[test]
    fn non_global_rule_applies_to_the_well_known_prefix_only() {
        let wkp = Nat64Prefix::WELL_KNOWN;
        for (a, name) in [
            ([10, 0, 0, 1], "private-use"),
            ([192, 168, 1, 1], "private-use"),
            ([172, 31, 255, 255], "private-use"),
            ([127, 0, 0, 1], "loopback"),
            ([100, 64, 0, 1], "shared address space"),
            ([169, 254, 1, 1], "link-local"),
            ([192, 0, 2, 33], "documentation (TEST-NET-1)"),
            ([198, 19, 0, 1], "benchmarking"),
            ([224, 0, 0, 1], "multicast"),
            ([255, 255, 255, 255], "limited broadcast"),
            ([250, 1, 1, 1], "reserved"),
            ([0, 1, 2, 3], "\"this network\""),
            ([192, 0, 0, 170], "IETF protocol assignments"),
        ] {
            let v4 = Ipv4Addr::from(a);
            match wkp.synthesize(v4, NonGlobal::Refuse) {
                Err(Error::NonGlobal { addr, range }) => {
                    assert_eq!(addr, v4);
                    assert_eq!(range.name, name, "{v4}");
                }
                other => panic!("{v4}: {other:?}"),
            }
            assert_eq!(wkp.synthesize(v4, NonGlobal::Allow).unwrap(), wkp.embed(v4));
            let nsp = p("2001:db8:64::/96");
            assert_eq!(
                nsp.synthesize(v4, NonGlobal::Refuse).unwrap(),
                nsp.embed(v4)
            );
            assert!(wkp
                .extract_checked(wkp.embed(v4), NonGlobal::Refuse)
                .is_err());
            assert_eq!(
                wkp.extract_checked(wkp.embed(v4), NonGlobal::Allow)
                    .unwrap(),
                v4
            );
        }
        for a in [
            [192, 0, 0, 9],
            [192, 0, 0, 10],
            [8, 8, 8, 8],
            [172, 32, 0, 1],
            [100, 128, 0, 1],
            [192, 88, 99, 1],
        ] {
            let v4 = Ipv4Addr::from(a);
            assert!(wkp.synthesize(v4, NonGlobal::Refuse).is_ok(), "{v4}");
        }
        // The local-use block is network-specific (RFC 8215): no rule.
        assert!(Nat64Prefix::LOCAL_USE
            .synthesize(Ipv4Addr::new(10, 0, 0, 1), NonGlobal::Refuse)
            .is_ok());
    }

    #[test]
    fn discovery_at_every_length() {
        for len in PREFIX_LENGTHS {
            let prefix = Nat64Prefix::new(
                Ipv6Addr::new(0x2001, 0xdb8, 0x122, 0x344, 0, 0, 0, 0) & Ipv6Addr::from(mask(len)),
                len,
            )
            .unwrap();
            let answers = prefix.ipv4only_answers();
            assert_eq!(discover(&answers).unwrap(), vec![prefix], "/{len}");
            // One answer alone is enough.
            assert_eq!(discover(&answers[1..]).unwrap(), vec![prefix], "/{len}");
        }
        assert_eq!(
            discover(&Nat64Prefix::WELL_KNOWN.ipv4only_answers()).unwrap(),
            vec![Nat64Prefix::WELL_KNOWN]
        );
    }

    #[test]
    fn discovery_finds_several_prefixes_and_ignores_others() {
        let a = p("64:ff9b::/96");
        let b = p("2001:db8:64::/48");
        let mut answers = vec![v6("2001:db8::1")];
        answers.extend(a.ipv4only_answers());
        answers.extend(b.ipv4only_answers());
        assert_eq!(discover(&answers).unwrap(), vec![a, b]);
        assert_eq!(
            discover(&[v6("2001:db8::1")]),
            Err(Error::NotDiscovered { count: 1 })
        );
        assert_eq!(discover(&[]), Err(Error::NotDiscovered { count: 0 }));
    }

    #[test]
    fn discovery_disambiguates_a_prefix_that_contains_the_wka() {
        // A /64 prefix whose bits 32-63 spell 192.0.0.170: the answer also
        // matches at /32 (u-octet zero) but with a non-zero suffix.
        let prefix = p("2001:db8:c000:aa::/64");
        let answers = prefix.ipv4only_answers();
        assert_eq!(candidates(answers[0]).len(), 2);
        assert_eq!(discover(&answers).unwrap(), vec![prefix]);
        assert_eq!(discover(&answers[..1]).unwrap(), vec![prefix]);
        // With a non-zero suffix on both positions, only the .170/.171 pair
        // tells which is right.
        let odd: Vec<Ipv6Addr> = answers
            .iter()
            .map(|a| Ipv6Addr::from(u128::from(*a) | 1))
            .collect();
        assert_eq!(discover(&odd).unwrap(), vec![prefix]);
        assert!(matches!(discover(&odd[..1]), Err(Error::Ambiguous { .. })));
    }
}
