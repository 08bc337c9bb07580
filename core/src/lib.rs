//! # sixgate: the pure core of an IPv6-only hosting toolkit
//!
//! This crate is **sans-IO**: it never opens a socket, reads a clock, spawns a
//! thread or asks the OS for randomness. Addresses, packets and messages come in
//! as values or bytes; decisions come out as values. Time, where a later module
//! needs it, is passed in by the caller. That is what lets one core serve the
//! `sixgate` servers (tokio), the Python and Node bindings, a Perl panel through
//! the CLI, and a fuzzer, all with the same behaviour.
//!
//! ## Layers
//!
//! | module | owns | standards |
//! |---|---|---|
//! | [`rfc6052`] | [`Nat64Prefix`]: validated NAT64 prefixes, embed / extract, the well-known-prefix rule, prefix discovery | RFC 6052, RFC 8215, RFC 7050, RFC 8880 |
//! | [`text`] | how an address is written for other programs: RFC 5952 text, `[addr]:port`, URL zones, PTR names, reverse zones, munin lines, config formatters, normalising | RFC 5952, RFC 3986, RFC 6874 |
//! | [`name`] | host names from SNI and Host, validated once and normalised | RFC 1123, RFC 6066 |
//! | [`tls`] | the TLS ClientHello reader: SNI, ALPN, versions, ECH, over a partial buffer | RFC 8446, RFC 6066, RFC 7301 |
//! | [`http`] | the HTTP/1.x request-head reader: Host, absolute-form targets | RFC 9112, RFC 9110, RFC 3986 |
//! | [`proxy_protocol`] | PROXY protocol v1 and v2 encode / decode | PROXY protocol spec |
//! | [`plan`] | address plans: pools within pools (provider block, site, customer prefix, host address), first-fit / sparse / deterministic allocation, reservations, release with hold-down, lookup, free space, DNS records; versioned JSON state | RFC 3531, RFC 4291 §2.6.1, RFC 2526 |
//! | [`identity`] | [`identity::HostIndex`]: longest-prefix match from any address (IPv4, IPv6, IPv4-mapped, under a NAT64 prefix) to the host that owns it | RFC 4291 §2.5.5.2, RFC 6052 |
//! | [`time`] | [`time::Instant`]: milliseconds from an origin the caller picks, so every runtime passes its own clock | |
//! | [`nat64`] | NAT64: [`nat64::xlat`], stateless IP/ICMP translation (header fields, fragments, the ICMP type/code and pointer tables, RFC 4884, PTB ↔ FN) over a mapping; [`nat64::state`], the RFC 6146 tables over packet tuples (BIB, sessions, pool4 with per-customer port blocks, TCP state machine with probe and stored SYNs, timers, filtering, limits, log events), the mapping under it; [`nat64::Nat64`], the engine over both with hairpinning | RFC 7915, RFC 6146, RFC 6052, RFC 4884, RFC 1191, RFC 8021, RFC 6888 |
//! | [`dns64`] | DNS64 over hickory-proto messages: when to ask for A, AAAA synthesis, TTLs, exclusions, PTR under the prefix, DNSSEC bits, `ipv4only.arpa` | RFC 6147, RFC 6052, RFC 8880, RFC 8914 |
//!
//! ## The no-panic contract
//!
//! No public function panics on any input it can be given: bad input gives an
//! `Err` whose message quotes the offending value. Every call does bounded
//! work; where a result can grow with the input (reverse zones for a prefix),
//! the bound is stated on the function.
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![cfg_attr(
    not(test),
    warn(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing,
        clippy::arithmetic_side_effects
    )
)]

mod codec;
pub mod dns64;
pub mod http;
pub mod identity;
pub mod name;
pub mod nat64;
pub mod plan;
pub mod proxy_protocol;
pub mod rfc6052;
pub mod text;
pub mod time;
pub mod tls;

pub use rfc6052::Nat64Prefix;
