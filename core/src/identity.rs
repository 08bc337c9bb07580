//! Who owns an address: [`HostIndex`], a longest-prefix-match map from IPv4
//! and IPv6 prefixes to their owners (RFC 4632 §5.1 for the rule, RFC 4291
//! §2.5.5.2 for IPv4-mapped addresses, RFC 6052 §2.2 for NAT64 addresses).
//!
//! A lookup first *folds* the address, so that a client reaching a host
//! through a dual-stack socket or a NAT64 translator is still found under
//! its IPv4 prefix:
//!
//! - an IPv4-mapped address `::ffff:a.b.c.d` always folds to `a.b.c.d`;
//! - an address inside one of the NAT64 prefixes the index was built with
//!   ([`HostIndex::with_nat64`]) folds to the IPv4 address it embeds, read by
//!   [`Nat64Prefix::extract`] (so under prefixes shorter than /96 an address
//!   whose u-octet is not zero is not folded); where several configured
//!   prefixes contain the address the longest wins. This is the rule of
//!   [`text::normalize`](crate::text::normalize);
//! - an IPv4-compatible address `::a.b.c.d` (deprecated by RFC 4291
//!   §2.5.5.1) is *not* folded, nor is anything else.
//!
//! Prefixes are stored in a canonical form: bits beyond the prefix length
//! are cleared ([`IpNet::trunc`]), and a prefix inside `::ffff:0:0/96` is
//! stored as the IPv4 prefix it maps (`::ffff:192.0.2.0/120` is
//! `192.0.2.0/24`). Prefixes inside a NAT64 prefix are stored as given, as
//! IPv6: an address that folds out of a NAT64 prefix is looked up as IPv4,
//! so [`lookup`](HostIndex::lookup) never returns such a prefix for it (see
//! [`closest`](HostIndex::closest) for how prefixes fold).
//!
//! ```
//! use sixgate::identity::HostIndex;
//! use sixgate::Nat64Prefix;
//!
//! let mut owners = HostIndex::with_nat64(&[Nat64Prefix::WELL_KNOWN]);
//! owners.insert("2001:db8:1::/48".parse()?, "alice");
//! owners.insert("2001:db8:1:2::/64".parse()?, "bob");
//! owners.insert("192.0.2.0/24".parse()?, "carol");
//!
//! let (net, who) = owners.lookup("2001:db8:1:2::80".parse()?).unwrap();
//! assert_eq!((net.to_string().as_str(), *who), ("2001:db8:1:2::/64", "bob"));
//! assert_eq!(owners.lookup("2001:db8:1:3::80".parse()?).map(|(_, w)| *w), Some("alice"));
//! // IPv4-mapped and NAT64 addresses fold to the IPv4 address they carry.
//! assert_eq!(owners.lookup("::ffff:192.0.2.7".parse()?).map(|(_, w)| *w), Some("carol"));
//! assert_eq!(owners.lookup("64:ff9b::192.0.2.7".parse()?).map(|(_, w)| *w), Some("carol"));
//!
//! // No stored prefix contains these:
//! assert_eq!(owners.lookup("2001:db8:2::1".parse()?), None);
//! assert_eq!(owners.lookup("198.51.100.1".parse()?), None);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## Cost
//!
//! Each family is a [`prefix_trie::PrefixMap`], a tree-bitmap trie with
//! 5-bit strides: a lookup visits at most 7 nodes for IPv4 and 26 for IPv6
//! and allocates nothing; insert and remove touch the same path.

use std::fmt;
use std::net::IpAddr;

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use prefix_trie::PrefixMap;

use crate::rfc6052::Nat64Prefix;
use crate::text;

/// A longest-prefix-match map from IPv4 and IPv6 prefixes to values (their
/// owners), with IPv4-mapped and NAT64 addresses folded to IPv4 (see the
/// [module docs](self) for the folding rules).
///
/// ```
/// use sixgate::identity::HostIndex;
///
/// let mut index = HostIndex::new();
/// assert_eq!(index.insert("10.0.0.0/8".parse()?, 1), None);
/// assert_eq!(index.insert("10.1.0.0/16".parse()?, 2), None);
/// assert_eq!(index.insert("10.1.0.0/16".parse()?, 3), Some(2)); // replaced
/// assert_eq!(index.lookup("10.1.2.3".parse()?).map(|(_, v)| *v), Some(3));
/// assert_eq!(index.remove("10.1.0.0/16".parse()?), Some(3));
/// assert_eq!(index.lookup("10.1.2.3".parse()?).map(|(_, v)| *v), Some(1));
/// assert_eq!(index.lookup("11.1.2.3".parse()?), None);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct HostIndex<T> {
    /// NAT64 prefixes to fold, longest first, no duplicates.
    nat64: Vec<Nat64Prefix>,
    v4: PrefixMap<Ipv4Net, T>,
    v6: PrefixMap<Ipv6Net, T>,
}

impl<T> HostIndex<T> {
    /// An empty index that folds IPv4-mapped addresses only.
    pub fn new() -> Self {
        Self::with_nat64(&[])
    }

    /// An empty index that also folds addresses under `prefixes` to the IPv4
    /// address they embed (RFC 6052 §2.2). Duplicates are dropped.
    ///
    /// ```
    /// use sixgate::identity::HostIndex;
    /// use sixgate::Nat64Prefix;
    ///
    /// let local: Nat64Prefix = "2001:db8:64::/64".parse()?;
    /// let index: HostIndex<()> = HostIndex::with_nat64(&[Nat64Prefix::WELL_KNOWN, local]);
    /// assert_eq!(index.fold("2001:db8:64:0:c0:2:2100:0".parse()?).to_string(), "192.0.2.33");
    /// // Bits 64-71 (the u-octet) must be zero under a /64: not folded.
    /// assert_eq!(index.fold("2001:db8:64:0:ffc0:2:2100:0".parse()?).to_string(), "2001:db8:64:0:ffc0:2:2100:0");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_nat64(prefixes: &[Nat64Prefix]) -> Self {
        let mut nat64 = prefixes.to_vec();
        // Longest first, so that fold takes the first that extracts.
        nat64.sort_by(|a, b| b.prefix_len().cmp(&a.prefix_len()).then(a.cmp(b)));
        nat64.dedup();
        Self {
            nat64,
            v4: PrefixMap::new(),
            v6: PrefixMap::new(),
        }
    }

    /// The NAT64 prefixes this index folds, longest first.
    pub fn nat64_prefixes(&self) -> &[Nat64Prefix] {
        &self.nat64
    }

    /// Stores `value` for `net` and returns the value it replaces, if the
    /// same prefix was stored. `net` is stored in canonical form: host bits
    /// cleared, and a prefix of length 96 or more inside `::ffff:0:0/96` as
    /// the IPv4 prefix it maps.
    ///
    /// ```
    /// use sixgate::identity::HostIndex;
    ///
    /// let mut index = HostIndex::new();
    /// assert_eq!(index.insert("::ffff:192.0.2.0/120".parse()?, 'a'), None);
    /// assert_eq!(index.insert("192.0.2.99/24".parse()?, 'b'), Some('a')); // the same prefix
    /// assert_eq!(index.iter().next().map(|(n, _)| n.to_string()), Some("192.0.2.0/24".into()));
    /// # Ok::<(), ipnet::AddrParseError>(())
    /// ```
    pub fn insert(&mut self, net: IpNet, value: T) -> Option<T> {
        match canonical(net) {
            IpNet::V4(n) => self.v4.insert(n, value),
            IpNet::V6(n) => self.v6.insert(n, value),
        }
    }

    /// Removes `net` (in canonical form, as [`insert`](Self::insert) stores
    /// it) and returns its value.
    pub fn remove(&mut self, net: IpNet) -> Option<T> {
        match canonical(net) {
            IpNet::V4(n) => self.v4.remove(&n),
            IpNet::V6(n) => self.v6.remove(&n),
        }
    }

    /// The value stored for exactly `net` (in canonical form, as
    /// [`insert`](Self::insert) stores it).
    ///
    /// ```
    /// use sixgate::identity::HostIndex;
    ///
    /// let index: HostIndex<u8> = [("2001:db8::/32".parse()?, 7)].into_iter().collect();
    /// assert_eq!(index.get("2001:db8::/32".parse()?), Some(&7));
    /// assert_eq!(index.get("2001:db8::/48".parse()?), None); // contained, but not stored
    /// # Ok::<(), ipnet::AddrParseError>(())
    /// ```
    pub fn get(&self, net: IpNet) -> Option<&T> {
        match canonical(net) {
            IpNet::V4(n) => self.v4.get(&n),
            IpNet::V6(n) => self.v6.get(&n),
        }
    }

    /// A mutable reference to the value stored for exactly `net`.
    pub fn get_mut(&mut self, net: IpNet) -> Option<&mut T> {
        match canonical(net) {
            IpNet::V4(n) => self.v4.get_mut(&n),
            IpNet::V6(n) => self.v6.get_mut(&n),
        }
    }

    /// The longest stored prefix that contains `addr` after folding (see
    /// [`fold`](Self::fold)), and its value. Visits at most 7 trie nodes for
    /// IPv4 and 26 for IPv6; never allocates.
    ///
    /// ```
    /// use sixgate::identity::HostIndex;
    ///
    /// let index: HostIndex<&str> = [("0.0.0.0/0".parse()?, "default")].into_iter().collect();
    /// assert_eq!(index.lookup("::ffff:203.0.113.9".parse()?).map(|(_, v)| *v), Some("default"));
    /// assert_eq!(index.lookup("2001:db8::1".parse()?), None); // no IPv6 default
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn lookup(&self, addr: IpAddr) -> Option<(IpNet, &T)> {
        match self.fold(addr) {
            IpAddr::V4(a) => self
                .v4
                .get_lpm(&Ipv4Net::from(a))
                .map(|(n, v)| (IpNet::V4(n), v)),
            IpAddr::V6(a) => self
                .v6
                .get_lpm(&Ipv6Net::from(a))
                .map(|(n, v)| (IpNet::V6(n), v)),
        }
    }

    /// The longest stored prefix that contains all of `net` (`net` itself
    /// included), and its value. Host bits of `net` are ignored.
    ///
    /// `net` folds like an address does in [`lookup`](Self::lookup): a
    /// prefix of length 96 or more inside `::ffff:0:0/96`, or inside a
    /// configured NAT64 prefix of length 96, is looked up as the IPv4
    /// prefix of length `len - 96` it carries. Under NAT64 prefixes shorter
    /// than /96 the embedded IPv4 bits are not contiguous, so only a /128
    /// folds (to a /32), exactly as its address would; `closest` of a /128
    /// is always [`lookup`](Self::lookup) of its address.
    ///
    /// ```
    /// use sixgate::identity::HostIndex;
    ///
    /// let mut index = HostIndex::new();
    /// index.insert("2001:db8::/32".parse()?, "provider");
    /// index.insert("2001:db8:5::/48".parse()?, "site");
    /// assert_eq!(index.closest("2001:db8:5::/56".parse()?).map(|(_, v)| *v), Some("site"));
    /// assert_eq!(index.closest("2001:db8:5::/48".parse()?).map(|(_, v)| *v), Some("site"));
    /// assert_eq!(index.closest("2001:db8::/31".parse()?), None); // wider than every prefix
    /// # Ok::<(), ipnet::AddrParseError>(())
    /// ```
    pub fn closest(&self, net: IpNet) -> Option<(IpNet, &T)> {
        match self.fold_net(net) {
            IpNet::V4(n) => self.v4.get_lpm(&n).map(|(n, v)| (IpNet::V4(n), v)),
            IpNet::V6(n) => self.v6.get_lpm(&n).map(|(n, v)| (IpNet::V6(n), v)),
        }
    }

    /// How many prefixes are stored.
    pub fn len(&self) -> usize {
        self.v4.len().saturating_add(self.v6.len())
    }

    /// Whether no prefix is stored.
    pub fn is_empty(&self) -> bool {
        self.v4.is_empty() && self.v6.is_empty()
    }

    /// Every stored prefix and its value, in prefix order: IPv4 before
    /// IPv6, then by network address, a shorter prefix before the longer
    /// ones it contains.
    ///
    /// ```
    /// use sixgate::identity::HostIndex;
    ///
    /// let index: HostIndex<()> = ["2001:db8::/32", "10.1.0.0/16", "10.0.0.0/8", "::/0"]
    ///     .into_iter()
    ///     .map(|s| (s.parse().unwrap(), ()))
    ///     .collect();
    /// let order: Vec<String> = index.iter().map(|(n, _)| n.to_string()).collect();
    /// assert_eq!(order, ["10.0.0.0/8", "10.1.0.0/16", "::/0", "2001:db8::/32"]);
    /// ```
    pub fn iter(&self) -> impl Iterator<Item = (IpNet, &T)> + '_ {
        let v4 = self.v4.iter().map(|(n, v)| (IpNet::V4(n), v));
        v4.chain(self.v6.iter().map(|(n, v)| (IpNet::V6(n), v)))
    }

    /// Folds `addr` as [`lookup`](Self::lookup) does: an IPv4-mapped
    /// address to its IPv4 address, an address under a configured NAT64
    /// prefix (the longest that extracts) to the IPv4 address it embeds,
    /// anything else to itself. The same rule as
    /// [`text::normalize`](crate::text::normalize).
    ///
    /// ```
    /// use sixgate::identity::HostIndex;
    ///
    /// let index: HostIndex<()> = HostIndex::new();
    /// assert_eq!(index.fold("::ffff:192.0.2.1".parse()?).to_string(), "192.0.2.1");
    /// assert_eq!(index.fold("::192.0.2.1".parse()?).to_string(), "::c000:201"); // IPv4-compatible: no
    /// assert_eq!(index.fold("64:ff9b::192.0.2.1".parse()?).to_string(), "64:ff9b::c000:201"); // no NAT64 configured
    /// # Ok::<(), std::net::AddrParseError>(())
    /// ```
    pub fn fold(&self, addr: IpAddr) -> IpAddr {
        text::normalize(addr, &self.nat64)
    }

    /// The memory the index uses, in bytes, as prefix-trie counts it.
    /// Heap memory owned by the values themselves is not counted.
    pub fn heap_bytes(&self) -> usize {
        self.v4.mem_size().saturating_add(self.v6.mem_size())
    }

    /// `net` truncated and folded as [`closest`](Self::closest) documents.
    fn fold_net(&self, net: IpNet) -> IpNet {
        let IpNet::V6(n) = canonical(net) else {
            return canonical(net);
        };
        if n.prefix_len() == 128 {
            return match self.fold(IpAddr::V6(n.network())) {
                IpAddr::V4(a) => IpNet::V4(Ipv4Net::from(a)),
                IpAddr::V6(_) => IpNet::V6(n),
            };
        }
        let Some(v4_len) = n.prefix_len().checked_sub(96) else {
            return IpNet::V6(n);
        };
        self.nat64
            .iter()
            .filter(|p| p.prefix_len() == 96)
            .find_map(|p| p.extract(n.network()).ok())
            .and_then(|a| Ipv4Net::new(a, v4_len).ok())
            .map_or(IpNet::V6(n), IpNet::V4)
    }
}

impl<T> Default for HostIndex<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: fmt::Debug> fmt::Debug for HostIndex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        struct Entries<'a, T>(&'a HostIndex<T>);
        impl<T: fmt::Debug> fmt::Debug for Entries<'_, T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_map().entries(self.0.iter()).finish()
            }
        }
        f.debug_struct("HostIndex")
            .field("nat64", &self.nat64)
            .field("prefixes", &Entries(self))
            .finish()
    }
}

impl<T> FromIterator<(IpNet, T)> for HostIndex<T> {
    /// An index without NAT64 folding holding every pair; a later pair for
    /// the same prefix replaces an earlier one.
    fn from_iter<I: IntoIterator<Item = (IpNet, T)>>(iter: I) -> Self {
        let mut index = Self::new();
        index.extend(iter);
        index
    }
}

impl<T> Extend<(IpNet, T)> for HostIndex<T> {
    fn extend<I: IntoIterator<Item = (IpNet, T)>>(&mut self, iter: I) {
        for (net, value) in iter {
            self.insert(net, value);
        }
    }
}

/// `net` as the index stores it: host bits cleared, and a prefix of length
/// 96 or more inside `::ffff:0:0/96` as the IPv4 prefix it maps.
fn canonical(net: IpNet) -> IpNet {
    text::normalize_net(net.trunc())
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, Ipv6Addr};

    use super::*;

    fn net(s: &str) -> IpNet {
        s.parse().unwrap()
    }

    fn addr(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn owner(index: &HostIndex<&'static str>, a: &str) -> Option<(String, &'static str)> {
        index.lookup(addr(a)).map(|(n, v)| (n.to_string(), *v))
    }

    fn index(pairs: &[(&str, &'static str)]) -> HostIndex<&'static str> {
        pairs.iter().map(|&(n, v)| (net(n), v)).collect()
    }

    #[test]
    fn longest_prefix_wins() {
        let index = index(&[
            ("2001:db8::/32", "provider"),
            ("2001:db8:1::/48", "site"),
            ("2001:db8:1:2::/64", "lan"),
            ("2001:db8:1:2::80/128", "host"),
            ("2001:db8:1:200::/56", "customer"),
        ]);
        for (a, n, who) in [
            ("2001:db8:1:2::80", "2001:db8:1:2::80/128", "host"),
            ("2001:db8:1:2::81", "2001:db8:1:2::/64", "lan"),
            ("2001:db8:1:3::1", "2001:db8:1::/48", "site"),
            ("2001:db8:1:2ff::1", "2001:db8:1:200::/56", "customer"),
            ("2001:db8:ffff::1", "2001:db8::/32", "provider"),
        ] {
            assert_eq!(owner(&index, a), Some((n.into(), who)), "{a}");
        }
        assert_eq!(owner(&index, "2001:db9::1"), None);
    }

    #[test]
    fn families_are_separate() {
        let index = index(&[("0.0.0.0/8", "v4"), ("::/8", "v6")]);
        assert_eq!(owner(&index, "0.1.2.3").map(|o| o.1), Some("v4"));
        assert_eq!(owner(&index, "::1").map(|o| o.1), Some("v6"));
        // ::a.b.c.d (IPv4-compatible) is not folded: it is under ::/8.
        assert_eq!(owner(&index, "::0.1.2.3").map(|o| o.1), Some("v6"));
        let index = self::index(&[("10.0.0.0/8", "v4")]);
        assert_eq!(owner(&index, "a00::1"), None);
        assert_eq!(owner(&index, "::10.0.0.1"), None);
    }

    #[test]
    fn v4_mapped_addresses_and_prefixes_fold() {
        let mut index = index(&[("192.0.2.0/24", "doc"), ("::/0", "v6 default")]);
        assert_eq!(
            owner(&index, "::ffff:192.0.2.9"),
            Some(("192.0.2.0/24".into(), "doc"))
        );
        // Mapped but not under an IPv4 prefix: no match, even with ::/0.
        assert_eq!(owner(&index, "::ffff:198.51.100.1"), None);
        // A mapped prefix is stored as IPv4.
        assert_eq!(index.insert(net("::ffff:198.51.100.0/120"), "mapped"), None);
        assert_eq!(index.get(net("198.51.100.0/24")), Some(&"mapped"));
        assert_eq!(index.get(net("::ffff:198.51.100.0/120")), Some(&"mapped"));
        assert_eq!(owner(&index, "198.51.100.1").map(|o| o.1), Some("mapped"));
        // ::ffff:0:0/96 itself is 0.0.0.0/0.
        assert_eq!(index.insert(net("::ffff:0:0/96"), "all v4"), None);
        assert_eq!(index.get(net("0.0.0.0/0")), Some(&"all v4"));
        assert_eq!(index.remove(net("0.0.0.0/0")), Some("all v4"));
        // A shorter prefix covering ::ffff:0:0/96 stays IPv6.
        index.insert(net("::/64"), "low");
        assert_eq!(index.get(net("::/64")), Some(&"low"));
        assert_eq!(owner(&index, "::ffff:203.0.113.1"), None);
        assert_eq!(
            index.closest(net("::ffff:192.0.2.128/121")).map(|(n, _)| n),
            Some(net("192.0.2.0/24"))
        );
    }

    #[test]
    fn nat64_well_known_and_network_specific() {
        let nsp: Nat64Prefix = "2001:db8:64::/64".parse().unwrap();
        let mut index = HostIndex::with_nat64(&[nsp, Nat64Prefix::WELL_KNOWN, nsp]);
        assert_eq!(index.nat64_prefixes(), &[Nat64Prefix::WELL_KNOWN, nsp]);
        index.insert(net("192.0.2.0/24"), "doc");
        index.insert(net("2001:db8::/32"), "provider");
        let v4: Ipv4Addr = "192.0.2.33".parse().unwrap();
        for a in [
            Nat64Prefix::WELL_KNOWN.embed(v4),
            nsp.embed(v4),
            // The suffix after the IPv4 bits is ignored (RFC 6052 §2.2).
            Ipv6Addr::from(u128::from(nsp.embed(v4)) | 0xff),
        ] {
            let a = IpAddr::V6(a);
            assert_eq!(index.fold(a), IpAddr::V4(v4), "{a}");
            assert_eq!(index.lookup(a).map(|(_, v)| *v), Some("doc"), "{a}");
        }
        // Under the /64, a non-zero u-octet is not an RFC 6052 address: no
        // fold, so the IPv6 provider prefix owns it.
        let odd = addr("2001:db8:64:0:1c0:2:2100:0");
        assert_eq!(index.fold(odd), odd);
        assert_eq!(index.lookup(odd).map(|(_, v)| *v), Some("provider"));
        // Under a NAT64 prefix, with no IPv4 owner: no match.
        assert_eq!(owner(&index, "64:ff9b::198.51.100.1"), None);
        assert_eq!(owner(&index, "2001:db8:64:0:c6:3364:100::"), None);
        // closest: /96-based prefixes fold by length, /64-based only /128.
        assert_eq!(
            index.closest(net("64:ff9b::c000:200/120")).map(|(n, _)| n),
            Some(net("192.0.2.0/24"))
        );
        assert_eq!(
            index.closest(net("64:ff9b::/96")).map(|(n, _)| n),
            None // 0.0.0.0/0 is not stored
        );
        assert_eq!(
            index
                .closest(net("2001:db8:64:0:c0:2:2100:0/128"))
                .map(|(n, _)| n),
            Some(net("192.0.2.0/24"))
        );
        assert_eq!(
            index
                .closest(net("2001:db8:64:0:c0:2::/112"))
                .map(|(n, _)| n),
            Some(net("2001:db8::/32"))
        );
        // Without NAT64 configured, nothing folds but mapped addresses.
        let plain: HostIndex<()> = HostIndex::new();
        let wkp = IpAddr::V6(Nat64Prefix::WELL_KNOWN.embed(v4));
        assert_eq!(plain.fold(wkp), wkp);
        assert!(plain.nat64_prefixes().is_empty());
    }

    #[test]
    fn nested_nat64_prefixes_take_the_longest() {
        let outer: Nat64Prefix = "64:ff9b:1::/48".parse().unwrap();
        let inner: Nat64Prefix = "64:ff9b:1:0:a::/96".parse().unwrap();
        let index: HostIndex<()> = HostIndex::with_nat64(&[outer, inner]);
        let v4 = Ipv4Addr::new(203, 0, 113, 5);
        let a = IpAddr::V6(inner.embed(v4));
        assert_eq!(index.fold(a), IpAddr::V4(v4));
    }

    #[test]
    fn closest_contains_all_of_the_prefix() {
        let index = index(&[
            ("2001:db8::/32", "provider"),
            ("2001:db8:1::/48", "site"),
            ("2001:db8:1:2::/64", "lan"),
            ("10.0.0.0/8", "ten"),
            ("10.1.2.0/24", "lan4"),
        ]);
        let closest = |s: &str| index.closest(net(s)).map(|(n, v)| (n.to_string(), *v));
        assert_eq!(
            closest("2001:db8:1:2::/64"),
            Some(("2001:db8:1:2::/64".into(), "lan"))
        );
        assert_eq!(
            closest("2001:db8:1:2::/63"),
            Some(("2001:db8:1::/48".into(), "site"))
        );
        assert_eq!(
            closest("2001:db8:1::/47"),
            Some(("2001:db8::/32".into(), "provider"))
        );
        assert_eq!(closest("2001:db8:1:2::1/128").map(|c| c.1), Some("lan"));
        assert_eq!(closest("2001:db8::/16"), None);
        assert_eq!(closest("::/0"), None);
        assert_eq!(closest("10.1.2.128/25").map(|c| c.1), Some("lan4"));
        assert_eq!(closest("10.1.0.0/16").map(|c| c.1), Some("ten"));
        assert_eq!(closest("10.1.2.77/24").map(|c| c.1), Some("lan4")); // host bits ignored
        assert_eq!(closest("0.0.0.0/0"), None);
    }

    #[test]
    fn remove_restores_the_shorter_match() {
        let mut index = index(&[
            ("2001:db8::/32", "a"),
            ("2001:db8::/33", "b"),
            ("2001:db8::/34", "c"),
            ("2001:db8::/36", "d"),
        ]);
        let who =
            |index: &HostIndex<&'static str>| index.lookup(addr("2001:db8::1")).map(|(_, v)| *v);
        assert_eq!(who(&index), Some("d"));
        assert_eq!(index.remove(net("2001:db8::/36")), Some("d"));
        assert_eq!(who(&index), Some("c"));
        assert_eq!(index.remove(net("2001:db8::/33")), Some("b"));
        assert_eq!(who(&index), Some("c"));
        assert_eq!(index.remove(net("2001:db8::/34")), Some("c"));
        assert_eq!(who(&index), Some("a"));
        assert_eq!(index.remove(net("2001:db8::/34")), None);
        assert_eq!(index.remove(net("2001:db8::/32")), Some("a"));
        assert_eq!(who(&index), None);
        assert!(index.is_empty());
    }

    #[test]
    fn insert_returns_the_old_value_and_truncates() {
        let mut index = HostIndex::new();
        assert_eq!(index.insert(net("2001:db8::1/32"), 1), None);
        assert_eq!(index.insert(net("2001:db8::/32"), 2), Some(1));
        assert_eq!(index.len(), 1);
        assert_eq!(index.get(net("2001:db8:ffff::/32")), Some(&2));
        if let Some(v) = index.get_mut(net("2001:db8::/32")) {
            *v = 3;
        }
        assert_eq!(
            index.lookup(addr("2001:db8::5")),
            Some((net("2001:db8::/32"), &3))
        );
    }

    #[test]
    fn iteration_is_in_prefix_order() {
        let index = index(&[
            ("2001:db8:1::/48", "c"),
            ("::/0", "v6"),
            ("192.0.2.0/24", "b"),
            ("2001:db8::/32", "d"),
            ("10.0.0.0/8", "a"),
            ("0.0.0.0/0", "v4"),
        ]);
        let order: Vec<&str> = index.iter().map(|(_, v)| *v).collect();
        assert_eq!(order, ["v4", "a", "b", "v6", "d", "c"]);
        let debug = format!("{index:?}");
        assert!(
            debug.starts_with("HostIndex { nat64: [], prefixes: {0.0.0.0/0: \"v4\""),
            "{debug}"
        );
    }

    #[test]
    fn empty_index() {
        let index: HostIndex<u8> = HostIndex::default();
        assert!(index.is_empty());
        assert_eq!(index.len(), 0);
        assert_eq!(index.lookup(addr("192.0.2.1")), None);
        assert_eq!(index.lookup(addr("::")), None);
        assert_eq!(index.closest(net("::/0")), None);
        assert_eq!(index.get(net("0.0.0.0/0")), None);
        assert_eq!(index.iter().count(), 0);
        let mut index = index;
        assert_eq!(index.remove(net("10.0.0.0/8")), None);
    }

    #[test]
    fn default_routes_in_both_families() {
        let mut index = index(&[("0.0.0.0/0", "v4"), ("::/0", "v6")]);
        for (a, who) in [
            ("255.255.255.255", "v4"),
            ("0.0.0.0", "v4"),
            ("::ffff:1.2.3.4", "v4"),
            ("::", "v6"),
            ("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "v6"),
        ] {
            assert_eq!(owner(&index, a).map(|o| o.1), Some(who), "{a}");
        }
        assert_eq!(index.closest(net("0.0.0.0/0")).map(|(_, v)| *v), Some("v4"));
        assert_eq!(index.closest(net("::/0")).map(|(_, v)| *v), Some("v6"));
        assert_eq!(index.closest(net("::1/128")).map(|(_, v)| *v), Some("v6"));
        index.insert(net("::1/128"), "lo");
        assert_eq!(owner(&index, "::1").map(|o| o.1), Some("lo"));
        assert_eq!(owner(&index, "::2").map(|o| o.1), Some("v6"));
        assert_eq!(index.remove(net("::/0")), Some("v6"));
        assert_eq!(owner(&index, "::2"), None);
        assert_eq!(owner(&index, "::1").map(|o| o.1), Some("lo"));
    }

    #[test]
    fn many_children_grow_and_shrink_their_blocks() {
        // 64 siblings in one node, then removed in an interleaved order.
        let mut index = HostIndex::new();
        let nets: Vec<IpNet> = (0..64u32)
            .map(|i| IpNet::V4(Ipv4Net::new(Ipv4Addr::from(i << 20), 12).unwrap()))
            .collect();
        for (i, &n) in nets.iter().enumerate() {
            assert_eq!(index.insert(n, i), None);
            // A deeper prefix under each, so that every slot has a child.
            index.insert(
                IpNet::V4(Ipv4Net::new(n.network().into_v4(), 30).unwrap()),
                100 + i,
            );
        }
        for (i, &n) in nets.iter().enumerate() {
            assert_eq!(index.lookup(n.network()).map(|(_, v)| *v), Some(100 + i));
        }
        for (i, &n) in nets.iter().enumerate().filter(|(i, _)| i % 3 != 1) {
            index.remove(IpNet::V4(Ipv4Net::new(n.network().into_v4(), 30).unwrap()));
            assert_eq!(index.lookup(n.network()).map(|(_, v)| *v), Some(i));
        }
        for (i, &n) in nets.iter().enumerate() {
            let want = if i % 3 == 1 { 100 + i } else { i };
            assert_eq!(
                index.lookup(n.network()).map(|(_, v)| *v),
                Some(want),
                "{n}"
            );
        }
        let before = index.heap_bytes();
        for round in 0..10 {
            for &n in &nets {
                index.insert(
                    IpNet::V4(Ipv4Net::new(n.network().into_v4(), 32).unwrap()),
                    round,
                );
            }
            for &n in &nets {
                index.remove(IpNet::V4(Ipv4Net::new(n.network().into_v4(), 32).unwrap()));
            }
        }
        // Freed blocks are reused: churn does not grow the arenas.
        assert!(
            index.heap_bytes() <= before * 2,
            "{before} -> {}",
            index.heap_bytes()
        );
    }

    trait IntoV4 {
        fn into_v4(self) -> Ipv4Addr;
    }

    impl IntoV4 for IpAddr {
        fn into_v4(self) -> Ipv4Addr {
            match self {
                IpAddr::V4(a) => a,
                IpAddr::V6(_) => panic!("not IPv4"),
            }
        }
    }
}
