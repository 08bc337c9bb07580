//! NAT64: IPv6-only nodes talking to IPv4 ones through a translator
//! (RFC 6144 framework).
//!
//! | layer | owns | standards |
//! |---|---|---|
//! | [`xlat`] | stateless IP/ICMP translation of one packet: header fields, fragments, ICMP tables, checksums, MTU; addresses and ports come from a [`xlat::Mapping`] | RFC 7915, RFC 6052, RFC 4884, RFC 1191, RFC 8021 |
//!
//! The stateful layer (RFC 6146: binding and session tables, the IPv4 pool,
//! the TCP state machine, timers) implements [`xlat::Mapping`] on top.

pub mod xlat;
