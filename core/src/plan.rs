//! Address plans: a tree of pools (provider block → site → customer prefix →
//! host addresses, with IPv4 blocks beside them), allocation by first-fit,
//! sparse (RFC 3531 §3.1 "leftmost") or deterministic strategies,
//! reservations (including the subnet-router anycast address of RFC 4291
//! §2.6.1 and the RFC 2526 reserved anycast range), release with a
//! hold-down, lookup, free space, utilisation in child units, DNS records,
//! and one versioned JSON form of the whole state.
//!
//! Every operation is pure: time comes in as a [`Timestamp`] and nothing is
//! read from the system. Operations on one child are O(log n) in the number
//! of allocations, reservations and held children of the pools on the way;
//! those whose result grows with the plan (listing, export, releasing a
//! sub-pool with its contents, [`Pool::free`]) are O(output) and say so.
//!
//! ```
//! use sixgate::plan::{Owner, Pick, Plan, PoolSpec, Strategy, Timestamp};
//!
//! let mut plan = Plan::new();
//! let mut spec = PoolSpec::new(48, Strategy::Sparse);
//! spec.name = Some("provider".into());
//! plan.add_pool("2001:db8::/32".parse()?, spec)?;
//! let now = Timestamp(1_780_000_000);
//! let a = plan.alloc("provider", Pick::Next, Owner::default(), now)?;
//! let b = plan.alloc("provider", Pick::Next, Owner::default(), now)?;
//! assert_eq!(a.to_string(), "2001:db8::/48");
//! assert_eq!(b.to_string(), "2001:db8:8000::/48"); // as far from a as possible
//!
//! let json = plan.to_json();
//! assert_eq!(Plan::from_json(&json)?, plan);
//!
//! // Children of IPv6 pools sit on nibble boundaries unless asked otherwise.
//! let err = plan
//!     .add_pool("2001:db9::/32".parse()?, PoolSpec::new(50, Strategy::FirstFit))
//!     .unwrap_err();
//! assert_eq!(err.to_string(), "child length /50 is not on a nibble boundary (use allow_unaligned)");
//! assert_eq!(err.kind(), "unaligned");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## The JSON form
//!
//! [`Plan::to_json`] writes, and [`Plan::from_json`] reads (checking it all
//! again), one versioned document in a deterministic order, addresses in
//! RFC 5952 text; serialise → load → serialise gives the same bytes:
//!
//! ```text
//! {"version": 1, "pools": [{"prefix": "2001:db8::/32", "name": "provider",
//!   "child_len": 48, "strategy": "sparse", "hold_down": 604800,
//!   "allow_unaligned": false, "reserve_special": true,
//!   "reserved": [{"prefix": "2001:db8:ffff::/48", "reason": "infrastructure"}],
//!   "held": [{"prefix": "2001:db8:4000::/48", "until": 1790000000}],
//!   "allocations": [{"prefix": "2001:db8::/48", "customer": null, "host": null,
//!     "tags": [], "since": 1780000000,
//!     "pool": {…the fields of a top-level pool except "prefix"…}}]}]}
//! ```
//!
//! `pool` is left out of an allocation that is not a pool; automatic
//! reservations are not written (they are recomputed).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use ipnet::IpNet;
use serde::ser::{SerializeSeq, SerializeStruct};
use serde::{Deserialize, Serialize, Serializer};

use crate::name::{HostName, NameError};
use crate::text;

/// The version of the JSON form written by [`Plan::to_json`] (`"version"`).
pub const FORMAT_VERSION: u32 = 1;

/// The hold-down of a new [`PoolSpec`]: seven days, in seconds.
pub const DEFAULT_HOLD_DOWN: u64 = 7 * 86_400;

/// The widest child-number field: `child_len - prefix_len` is at most 64, so
/// child numbers fit a `u64`.
pub const MAX_FIELD_BITS: u8 = 64;

/// How deep pools may be nested (a top-level pool is depth 1).
pub const MAX_NESTING: usize = 8;

/// The longest customer id, tag, reservation reason or allocation id, in
/// bytes.
pub const MAX_TEXT: usize = 255;

/// The most tags one allocation carries.
pub const MAX_TAGS: usize = 32;

/// The longest pool name, in characters.
pub const MAX_POOL_NAME: usize = 64;

/// How many children sparse allocation probes before it falls back to an
/// exact search over the free intervals (see [`Strategy::Sparse`]).
const SPARSE_PROBES: usize = 4096;

/// FNV-1a 64 offset basis (the stable id hash of
/// [`IdEncoding::Hash`]).
const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
/// FNV-1a 64 prime.
const FNV_PRIME: u64 = 0x0100_0000_01b3;

/// The RFC 2526 §2 reserved subnet anycast interface IDs of a /64 (EUI-64
/// format): `fdff:ffff:ffff:ff80` to `fdff:ffff:ffff:ffff`, a /121.
const RFC2526_IID: u128 = 0xfdff_ffff_ffff_ff80;

/// Wall-clock seconds since the Unix epoch (a plan outlives processes, so not
/// monotonic time). The caller reads the clock; the plan never does.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Timestamp(pub u64);

/// How a pool picks the child for [`Pick::Next`].
///
/// ```
/// use sixgate::plan::{IdEncoding, Strategy};
///
/// assert_eq!("sparse".parse::<Strategy>()?, Strategy::Sparse);
/// assert_eq!(
///     "deterministic-decimal".parse::<Strategy>()?,
///     Strategy::Deterministic(IdEncoding::Decimal)
/// );
/// assert_eq!(Strategy::Deterministic(IdEncoding::Number).to_string(), "deterministic");
/// assert!("best-fit".parse::<Strategy>().is_err());
/// # Ok::<(), sixgate::plan::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Strategy {
    /// The lowest free child (`first-fit`).
    FirstFit,
    /// RFC 3531 §3.1 "leftmost" (`sparse`): the k-th candidate is child
    /// number k with its field bits reversed (0, 1000…, 0100…, 1100…), so
    /// each allocation keeps the most room to grow beside it. Each
    /// allocation takes the free child with the lowest such ordinal. A
    /// cursor makes this amortised O(log n); after 4096 misses
    /// in one call (or after loading) the lowest free ordinal is found
    /// exactly, in O(w) per free interval (the index in `a..=b` with the
    /// least reversal is built bit by bit from the lowest bit, taking 0
    /// whenever an index in the interval allows it).
    Sparse,
    /// Children are named by the caller, by number or by id
    /// ([`Pick::Index`], [`Pick::Id`]); [`Pick::Next`] is refused.
    Deterministic(IdEncoding),
}

/// How a deterministic pool turns an id ([`Pick::Id`]) into a child number.
/// These are stable formats: the child can be computed again from the id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IdEncoding {
    /// The id is a decimal number, and that number is the child number
    /// (`deterministic`).
    Number,
    /// The id's decimal digits are written as hex nibbles, so customer
    /// `4711` gets child `0x4711` and reads as `…:4711::/64`
    /// (`deterministic-decimal`). The field must be whole nibbles, with
    /// room for every digit.
    Decimal,
    /// FNV-1a 64 over the id's UTF-8 bytes (offset basis
    /// `0xcbf29ce484222325`, prime `0x100000001b3`: for each byte,
    /// `h ^= byte; h *= prime` wrapping), keeping the field's low `w` bits
    /// (`deterministic-hash`).
    Hash,
}

/// The strategy names, in the order they are listed in errors.
const STRATEGY_NAMES: &str =
    "first-fit, sparse, deterministic, deterministic-decimal, deterministic-hash";

impl Strategy {
    /// The canonical name, as in the JSON and on the command line.
    pub const fn name(self) -> &'static str {
        match self {
            Self::FirstFit => "first-fit",
            Self::Sparse => "sparse",
            Self::Deterministic(IdEncoding::Number) => "deterministic",
            Self::Deterministic(IdEncoding::Decimal) => "deterministic-decimal",
            Self::Deterministic(IdEncoding::Hash) => "deterministic-hash",
        }
    }
}

impl FromStr for Strategy {
    type Err = Error;

    /// Parses a canonical name (exact, lower case).
    fn from_str(s: &str) -> Result<Self, Error> {
        Ok(match s {
            "first-fit" => Self::FirstFit,
            "sparse" => Self::Sparse,
            "deterministic" => Self::Deterministic(IdEncoding::Number),
            "deterministic-decimal" => Self::Deterministic(IdEncoding::Decimal),
            "deterministic-hash" => Self::Deterministic(IdEncoding::Hash),
            _ => return Err(Error::Strategy { text: s.to_owned() }),
        })
    }
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How a pool is made: its child length, strategy, name and options.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PoolSpec {
    /// The prefix length of each child: longer than the pool's, at most
    /// 64 bits longer, on a nibble boundary for IPv6 unless
    /// `allow_unaligned`.
    pub child_len: u8,
    /// How [`Pick::Next`] chooses.
    pub strategy: Strategy,
    /// A name, unique in the plan: 1 to 64 of `A-Z a-z 0-9 . _ -` (so never
    /// a prefix).
    pub name: Option<String>,
    /// Seconds a released child waits before it can be handed out again.
    pub hold_down: u64,
    /// Allow an IPv6 child length that is not a multiple of 4 (children
    /// then have no reverse zone of their own).
    pub allow_unaligned: bool,
    /// Reserve the addresses no host should get: in pools of IPv6 /128s the
    /// subnet-router anycast address (RFC 4291 §2.6.1) and the RFC 2526
    /// reserved anycast range; in pools of IPv4 /32s of a /30 or larger,
    /// the network and broadcast addresses.
    pub reserve_special: bool,
}

impl PoolSpec {
    /// A spec with no name, [`DEFAULT_HOLD_DOWN`], nibble-aligned children
    /// and the special reservations.
    ///
    /// ```
    /// use sixgate::plan::{PoolSpec, Strategy, DEFAULT_HOLD_DOWN};
    ///
    /// let spec = PoolSpec::new(64, Strategy::FirstFit);
    /// assert_eq!((spec.hold_down, spec.reserve_special), (DEFAULT_HOLD_DOWN, true));
    /// ```
    pub fn new(child_len: u8, strategy: Strategy) -> Self {
        Self {
            child_len,
            strategy,
            name: None,
            hold_down: DEFAULT_HOLD_DOWN,
            allow_unaligned: false,
            reserve_special: true,
        }
    }
}

/// Who holds an allocation. `host` is a host name (RFC 1123 §2.1), stored
/// lower case without a trailing dot; `customer` and each tag are 1 to
/// [`MAX_TEXT`] bytes without control characters; at most [`MAX_TAGS`] tags.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Owner {
    /// The customer id (what [`Plan::held_by`] and
    /// [`Plan::release_customer`] go by).
    pub customer: Option<String>,
    /// The host name, which gives PTR and forward records to a
    /// single-address allocation.
    pub host: Option<String>,
    /// Free-form tags.
    pub tags: BTreeSet<String>,
}

/// Which child [`Plan::alloc`] takes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Pick {
    /// By the pool's strategy (refused in a deterministic pool, which needs
    /// an index or an id).
    Next,
    /// Exactly this child: its length is the pool's child length.
    At(IpNet),
    /// Child number n, 0-based (n < 2^(child_len - prefix_len)); any pool.
    Index(u64),
    /// The child derived from an id by the pool's [`IdEncoding`];
    /// deterministic pools only. A taken or out-of-range child is an error,
    /// never moved elsewhere.
    Id(String),
}

/// A pool's utilisation in child units (how many /64s, not addresses).
/// `allocated + reserved + held + free == total`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Usage {
    /// The length of the children counted.
    pub child_len: u8,
    /// All children: 2^(child_len - prefix_len).
    pub total: u128,
    /// Children allocated (sub-pools included).
    pub allocated: u128,
    /// Children covered by reservations, manual and automatic.
    pub reserved: u128,
    /// Children in hold-down after a release.
    pub held: u128,
    /// Children that can be allocated now.
    pub free: u128,
}

/// A range of a pool that is never handed out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reservation {
    /// The range: one child or an aligned block of them.
    pub prefix: IpNet,
    /// Why; for automatic reservations, which RFC asks for it.
    pub reason: String,
    /// Made by the plan itself ([`PoolSpec::reserve_special`]), not by
    /// [`Plan::reserve`]; recomputed, never serialised.
    pub automatic: bool,
}

/// What a release gave back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Released {
    /// The allocation's prefix.
    pub prefix: IpNet,
    /// Who held it.
    pub owner: Owner,
    /// When the prefix can be handed out again (for the contents of a
    /// released sub-pool: when the sub-pool's prefix can).
    pub until: Timestamp,
}

/// One pool on the path of a [`Plan::lookup`].
#[derive(Clone, Debug)]
pub struct Step<'a> {
    /// The pool.
    pub pool: &'a Pool,
    /// The child of `pool` containing the query; `None` when the query is
    /// larger than a child.
    pub child: Option<IpNet>,
    /// The state of that child. When the query spans several children:
    /// the reservation covering it, else the state of the lowest of them
    /// that is not free, else free.
    pub status: Status<'a>,
}

/// The state of a child.
#[derive(Clone, Debug)]
pub enum Status<'a> {
    /// Allocated (perhaps a sub-pool: see [`Allocation::pool`]).
    Allocated(&'a Allocation),
    /// Covered by a reservation.
    Reserved(&'a Reservation),
    /// Released and held back until the given time.
    Held {
        /// When it becomes free.
        until: Timestamp,
    },
    /// Free to allocate.
    Free,
}

/// A DNS record for an allocated address (RFC 1035 §3.3, RFC 3596).
/// `Display` writes a zone-file line with absolute names:
/// `web1.example.com. IN AAAA 2001:db8::1`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// The owner name, absolute (trailing dot).
    pub name: String,
    /// The record type.
    pub kind: RecordKind,
    /// The data: an absolute name for PTR, canonical address text
    /// (RFC 5952) for A and AAAA.
    pub data: String,
}

/// The record types a plan exports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecordKind {
    /// A reverse pointer (RFC 1035 §3.3.12).
    Ptr,
    /// An IPv6 address (RFC 3596 §2.1).
    Aaaa,
    /// An IPv4 address (RFC 1035 §3.4.1).
    A,
}

/// The reverse zones (RFC 3596 §2.5, RFC 1035 §3.5) to delegate for one
/// allocated prefix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReverseZone {
    /// The allocation.
    pub prefix: IpNet,
    /// Its zones, as [`text::reverse_zones`] gives them.
    pub zones: Vec<String>,
    /// Who holds it.
    pub owner: Owner,
}

impl fmt::Display for RecordKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Ptr => "PTR",
            Self::Aaaa => "AAAA",
            Self::A => "A",
        })
    }
}

impl fmt::Display for Record {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} IN {} {}", self.name, self.kind, self.data)
    }
}

/// Errors from the address plan. Each message quotes the offending value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The text is not a strategy name.
    #[error("{text:?} is not a strategy (expected one of {STRATEGY_NAMES})")]
    Strategy {
        /// The text as given.
        text: String,
    },
    /// A prefix has bits set beyond its length (never truncated).
    #[error("{:?} has bits set beyond the prefix length (did you mean {}?)", .prefix.to_string(), .prefix.trunc())]
    HostBits {
        /// The prefix as given.
        prefix: IpNet,
    },
    /// The child length is not longer than the pool's prefix, or longer
    /// than an address.
    #[error("child length /{child_len} does not fit pool {prefix}: it must be longer than /{} and at most /{}", .prefix.prefix_len(), .prefix.max_prefix_len())]
    ChildLen {
        /// The pool's prefix.
        prefix: IpNet,
        /// The child length asked for.
        child_len: u8,
    },
    /// More than [`MAX_FIELD_BITS`] bits between the pool's prefix and its
    /// children.
    #[error("pool {prefix} of /{child_len}s would have 2^{} children; at most 2^64 (a child length at most /{})", child_len.saturating_sub(.prefix.prefix_len()), .prefix.prefix_len().saturating_add(MAX_FIELD_BITS))]
    FieldTooWide {
        /// The pool's prefix.
        prefix: IpNet,
        /// The child length asked for.
        child_len: u8,
    },
    /// An IPv6 child length that is not a multiple of 4, without
    /// `allow_unaligned`.
    #[error("child length /{child_len} is not on a nibble boundary (use allow_unaligned)")]
    Unaligned {
        /// The child length asked for.
        child_len: u8,
    },
    /// A deterministic-decimal pool whose field is not whole nibbles.
    #[error("a deterministic-decimal pool needs a field of whole nibbles: {prefix} of /{child_len}s has {} bits", child_len.saturating_sub(.prefix.prefix_len()))]
    DecimalWidth {
        /// The pool's prefix.
        prefix: IpNet,
        /// The child length asked for.
        child_len: u8,
    },
    /// A sub-pool deeper than [`MAX_NESTING`].
    #[error("pool {prefix} would be nested {depth} deep; at most {MAX_NESTING} levels of pools are allowed")]
    Nesting {
        /// The would-be pool.
        prefix: IpNet,
        /// Its depth.
        depth: usize,
    },
    /// A top-level pool overlapping another.
    #[error("pool {prefix} overlaps pool {other}")]
    PoolOverlap {
        /// The pool asked for.
        prefix: IpNet,
        /// The pool already there.
        other: IpNet,
    },
    /// A pool name outside the allowed characters or length.
    #[error("{name:?} is not a pool name: {reason}")]
    BadName {
        /// The name as given.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A pool name used twice.
    #[error("pool name {name:?} is already used by {prefix}")]
    DuplicateName {
        /// The name.
        name: String,
        /// The pool that has it.
        prefix: IpNet,
    },
    /// No pool has this name or prefix.
    #[error("{}", no_pool_message(.key))]
    NoPool {
        /// The name or prefix text as given.
        key: String,
    },
    /// The prefix is a pool, but not a top-level one.
    #[error("{prefix} is not a top-level pool (release the allocation instead)")]
    NotRoot {
        /// The pool's prefix.
        prefix: IpNet,
    },
    /// A top-level pool still holds something.
    #[error("pool {prefix} is not empty: {allocated} allocated and {held} held children")]
    PoolInUse {
        /// The pool's prefix.
        prefix: IpNet,
        /// Its allocations.
        allocated: u128,
        /// Its children in hold-down.
        held: u128,
    },
    /// No top-level pool contains the prefix.
    #[error("{prefix} is not in any pool of the plan")]
    NotInPlan {
        /// The prefix asked about.
        prefix: IpNet,
    },
    /// The prefix lies outside the pool (or is of the other family).
    #[error("{prefix} is not inside pool {pool}")]
    NotInPool {
        /// The prefix asked for.
        prefix: IpNet,
        /// The pool.
        pool: IpNet,
    },
    /// The prefix is inside the pool, but not one child.
    #[error("{prefix} is not a child of pool {pool}, whose children are /{child_len}s")]
    NotAChild {
        /// The prefix asked for.
        prefix: IpNet,
        /// The pool.
        pool: IpNet,
        /// The pool's child length.
        child_len: u8,
    },
    /// A reservation smaller than one child.
    #[error("{prefix} is smaller than a child of pool {pool} (/{child_len}): reservations are whole children")]
    PartChild {
        /// The range asked for.
        prefix: IpNet,
        /// The pool.
        pool: IpNet,
        /// The pool's child length.
        child_len: u8,
    },
    /// A child number beyond the pool.
    #[error("child number {index} is beyond pool {pool}, which has {total} children")]
    IndexOutOfRange {
        /// The number asked for.
        index: u64,
        /// The pool.
        pool: IpNet,
        /// How many children it has.
        total: u128,
    },
    /// Nothing free in the pool.
    #[error("pool {pool}{} is full: {used} of {total} /{child_len}s in use", .name.as_deref().map(|n| format!(" ({n})")).unwrap_or_default())]
    Full {
        /// The pool.
        pool: IpNet,
        /// Its name, if any.
        name: Option<String>,
        /// Children allocated, reserved or held.
        used: u128,
        /// All its children.
        total: u128,
        /// Its child length.
        child_len: u8,
    },
    /// The child is allocated.
    #[error("{prefix} is already held by {holder}")]
    Taken {
        /// The child.
        prefix: IpNet,
        /// Who holds it, e.g. `customer 42`.
        holder: String,
    },
    /// The child was released and is in hold-down.
    #[error("{prefix} is in hold-down until {}", .until.0)]
    HeldDown {
        /// The child.
        prefix: IpNet,
        /// When it becomes free.
        until: Timestamp,
    },
    /// The child is reserved.
    #[error("{prefix} is reserved ({range}: {reason})")]
    Reserved {
        /// The child.
        prefix: IpNet,
        /// The reservation covering it.
        range: IpNet,
        /// The reservation's reason.
        reason: String,
    },
    /// [`Pick::Next`] in a deterministic pool.
    #[error("pool {pool} is {strategy}: give a child index or an id")]
    NeedsId {
        /// The pool.
        pool: IpNet,
        /// Its strategy.
        strategy: Strategy,
    },
    /// [`Pick::Id`] or [`Pool::slot_for_id`] in a pool that is not
    /// deterministic.
    #[error("pool {pool} is {strategy}: ids are for deterministic pools")]
    NotDeterministic {
        /// The pool.
        pool: IpNet,
        /// Its strategy.
        strategy: Strategy,
    },
    /// An id that does not give a child of the pool.
    #[error("id {id:?} does not fit pool {pool}: {reason}")]
    BadId {
        /// The id.
        id: String,
        /// The pool.
        pool: IpNet,
        /// Why.
        reason: String,
    },
    /// The child an id maps to is not free (never moved elsewhere).
    #[error("id {id:?} maps to {prefix}, which is {state}")]
    IdUnavailable {
        /// The id.
        id: String,
        /// Its child.
        prefix: IpNet,
        /// What holds it, e.g. `already held by customer 4711`.
        state: String,
    },
    /// Release or subdivide of something that is not an allocation.
    #[error("{prefix} is not an allocation{}", .within.map(|w| format!(" (it lies within allocation {w})")).unwrap_or_default())]
    NotAllocated {
        /// The prefix asked for.
        prefix: IpNet,
        /// The allocation containing it, if any.
        within: Option<IpNet>,
    },
    /// Subdivide of an allocation that is a pool already.
    #[error("{prefix} is already a pool")]
    AlreadyPool {
        /// The allocation.
        prefix: IpNet,
    },
    /// A reservation overlapping something already in the pool.
    #[error("{range} overlaps {what}")]
    Overlap {
        /// The range asked for.
        range: IpNet,
        /// What it overlaps, e.g. `allocation 2001:db8::/48 (customer 42)`.
        what: String,
    },
    /// Unreserve of something that is not a reservation.
    #[error("{prefix} is not a reservation")]
    NotReserved {
        /// The prefix asked for.
        prefix: IpNet,
    },
    /// Unreserve of an automatic reservation.
    #[error("{prefix} is reserved automatically ({reason}); turn off reserve_special on the pool instead")]
    AutoReserved {
        /// The reservation.
        prefix: IpNet,
        /// Its reason.
        reason: String,
    },
    /// An owner's host name is not a host name.
    #[error("{host:?} is not a host name: {reason}")]
    BadHost {
        /// The name as given.
        host: String,
        /// Why.
        reason: NameError,
    },
    /// A customer id, tag, reason or id that is empty, too long or has
    /// control characters.
    #[error("{what} {text:?} refused: {reason}")]
    BadText {
        /// `customer id`, `tag`, `reason` or `id`.
        what: &'static str,
        /// The text as given.
        text: String,
        /// Why.
        reason: &'static str,
    },
    /// More than [`MAX_TAGS`] tags.
    #[error("{count} tags given; at most {MAX_TAGS} are allowed")]
    TooManyTags {
        /// How many were given.
        count: usize,
    },
    /// Text in the plan's JSON that is not an `address/length` prefix.
    #[error("{text:?} is not an IP prefix (address/length, such as 2001:db8::/32)")]
    BadPrefix {
        /// The text as found.
        text: String,
    },
    /// The plan's JSON is malformed (the message has serde_json's line and
    /// column).
    #[error("the plan is not valid: {message}")]
    Json {
        /// serde_json's message.
        message: String,
    },
    /// The plan's JSON has a version this sixgate cannot read.
    #[error("{}", version_message(*.found))]
    Version {
        /// The version in the file.
        found: u64,
    },
}

impl Error {
    /// A stable snake_case name for the kind of error, for programs and
    /// bindings to match on; the message itself may be reworded.
    ///
    /// ```
    /// use sixgate::plan::{Owner, Pick, Plan, PoolSpec, Strategy, Timestamp};
    ///
    /// let mut plan = Plan::new();
    /// let err = plan.alloc("fra2", Pick::Next, Owner::default(), Timestamp(0)).unwrap_err();
    /// assert_eq!(err.to_string(), "no pool named \"fra2\"");
    /// assert_eq!(err.kind(), "no_pool");
    /// ```
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Strategy { .. } => "strategy",
            Self::HostBits { .. } => "host_bits",
            Self::ChildLen { .. } => "child_len",
            Self::FieldTooWide { .. } => "field_too_wide",
            Self::Unaligned { .. } => "unaligned",
            Self::DecimalWidth { .. } => "decimal_width",
            Self::Nesting { .. } => "nesting",
            Self::PoolOverlap { .. } => "pool_overlap",
            Self::BadName { .. } => "bad_name",
            Self::DuplicateName { .. } => "duplicate_name",
            Self::NoPool { .. } => "no_pool",
            Self::NotRoot { .. } => "not_root",
            Self::PoolInUse { .. } => "pool_in_use",
            Self::NotInPlan { .. } => "not_in_plan",
            Self::NotInPool { .. } => "not_in_pool",
            Self::NotAChild { .. } => "not_a_child",
            Self::PartChild { .. } => "part_child",
            Self::IndexOutOfRange { .. } => "index_out_of_range",
            Self::Full { .. } => "full",
            Self::Taken { .. } => "taken",
            Self::HeldDown { .. } => "held_down",
            Self::Reserved { .. } => "reserved",
            Self::NeedsId { .. } => "needs_id",
            Self::NotDeterministic { .. } => "not_deterministic",
            Self::BadId { .. } => "bad_id",
            Self::IdUnavailable { .. } => "id_unavailable",
            Self::NotAllocated { .. } => "not_allocated",
            Self::AlreadyPool { .. } => "already_pool",
            Self::Overlap { .. } => "overlap",
            Self::NotReserved { .. } => "not_reserved",
            Self::AutoReserved { .. } => "auto_reserved",
            Self::BadHost { .. } => "bad_host",
            Self::BadText { .. } => "bad_text",
            Self::TooManyTags { .. } => "too_many_tags",
            Self::BadPrefix { .. } => "bad_prefix",
            Self::Json { .. } => "json",
            Self::Version { .. } => "version",
        }
    }
}

fn no_pool_message(key: &str) -> String {
    match text::parse_net(key) {
        Ok(net) => format!("no pool {net}"),
        Err(_) => format!("no pool named {key:?}"),
    }
}

fn version_message(found: u64) -> String {
    if found > u64::from(FORMAT_VERSION) {
        format!("plan file version {found} is newer than this sixgate ({FORMAT_VERSION})")
    } else {
        format!("plan file version {found} is not one this sixgate reads ({FORMAT_VERSION})")
    }
}

/// An address plan: top-level pools that do not overlap, each a tree of
/// allocations, some of which are pools themselves.
///
/// Indexes kept beside the tree (customer → prefixes, pool name → prefix,
/// hold-down expiry queue) are derived from it, so two plans with the same
/// contents compare equal however they were built.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Plan {
    /// Top-level pools by prefix (never overlapping).
    roots: BTreeMap<IpNet, Pool>,
    /// Pool name → pool prefix.
    names: BTreeMap<String, IpNet>,
    /// A pool's prefix in canonical text → the prefix, so that a pool named
    /// by its prefix is found without parsing the text on every call.
    texts: BTreeMap<String, IpNet>,
    /// Customer → the prefixes of its allocations.
    customers: CustomerIndex,
    /// (until, held child) for every held child of every pool.
    expiry: BTreeSet<(Timestamp, IpNet)>,
}

/// A pool: a prefix cut into children of one length, with the state of
/// each child (free, allocated, reserved or held).
#[derive(Clone, Debug)]
pub struct Pool {
    prefix: IpNet,
    spec: PoolSpec,
    /// `child_len - prefix_len`: 1 to 64.
    width: u8,
    /// `max_prefix_len - child_len`: how far a child number is shifted.
    shift: u8,
    allocations: BTreeMap<u64, Allocation>,
    /// Child numbers of allocations that are pools.
    subpools: BTreeSet<u64>,
    /// Reservations by their first child number.
    reserved: BTreeMap<u64, Reservation>,
    /// Held children: number → until.
    held: BTreeMap<u64, Timestamp>,
    free: FreeSet,
    allocated: u128,
    reserved_count: u128,
    held_count: u128,
    /// Not part of the pool's value: a cache for sparse allocation.
    sparse: SparseCursor,
}

/// One allocation: a child of a pool, its owner, when it was made, and the
/// pool it has been subdivided into, if any.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Allocation {
    prefix: IpNet,
    owner: Owner,
    since: Timestamp,
    pool: Option<Box<Pool>>,
}

impl Allocation {
    /// The allocated prefix (one child of its pool).
    pub fn prefix(&self) -> IpNet {
        self.prefix
    }

    /// Who holds it.
    pub fn owner(&self) -> &Owner {
        &self.owner
    }

    /// When it was allocated.
    pub fn since(&self) -> Timestamp {
        self.since
    }

    /// The pool it was subdivided into ([`Plan::subdivide`]), if any.
    pub fn pool(&self) -> Option<&Pool> {
        self.pool.as_deref()
    }
}

impl PartialEq for Pool {
    /// Pools are equal when their contents are: the sparse cursor (a cache)
    /// is left out, and the free set and counters follow from the rest.
    fn eq(&self, other: &Self) -> bool {
        self.prefix == other.prefix
            && self.spec == other.spec
            && self.allocations == other.allocations
            && self.reserved == other.reserved
            && self.held == other.held
    }
}

impl Eq for Pool {}

/// Free child numbers as disjoint, coalesced intervals, keyed by their last
/// number (inclusive) with their first as the value, so that a field of
/// 2^64 children fits and first-fit can bump the lowest interval in place.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct FreeSet {
    map: BTreeMap<u64, u64>,
}

/// The sparse strategy's cache: every free child whose ordinal (bit-reversed
/// number) is below `next` has its ordinal in `returned` (which may also
/// hold stale ordinals, dropped when met).
#[derive(Clone, Debug, Default)]
struct SparseCursor {
    next: u128,
    returned: BTreeSet<u64>,
}

/// What occupies a child.
enum ChildState<'a> {
    Allocated(&'a Allocation),
    Reserved(&'a Reservation),
    Held(Timestamp),
    Free,
}

impl Pool {
    /// The pool's prefix.
    pub fn prefix(&self) -> IpNet {
        self.prefix
    }

    /// How the pool was made.
    pub fn spec(&self) -> &PoolSpec {
        &self.spec
    }

    /// The pool's name, if it has one.
    pub fn name(&self) -> Option<&str> {
        self.spec.name.as_deref()
    }

    /// The length of its children.
    pub fn child_len(&self) -> u8 {
        self.spec.child_len
    }

    /// How [`Pick::Next`] chooses.
    pub fn strategy(&self) -> Strategy {
        self.spec.strategy
    }

    /// Utilisation in child units, O(1) (counters kept up to date).
    ///
    /// ```
    /// use sixgate::plan::{Owner, Pick, Plan, PoolSpec, Strategy, Timestamp};
    ///
    /// let mut plan = Plan::new();
    /// plan.add_pool("2001:db8::/48".parse()?, PoolSpec::new(64, Strategy::FirstFit))?;
    /// plan.alloc("2001:db8::/48", Pick::Next, Owner::default(), Timestamp(0))?;
    /// let u = plan.pool("2001:db8::/48")?.usage();
    /// assert_eq!((u.allocated, u.free, u.total), (1, 65535, 65536));
    /// assert!(plan.pool("2001:db8::/47").is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn usage(&self) -> Usage {
        let total = self.total();
        let used = self
            .allocated
            .saturating_add(self.reserved_count)
            .saturating_add(self.held_count);
        Usage {
            child_len: self.spec.child_len,
            total,
            allocated: self.allocated,
            reserved: self.reserved_count,
            held: self.held_count,
            free: total.saturating_sub(used),
        }
    }

    /// The free space as the largest aligned CIDR blocks (never smaller
    /// than a child), ascending, at most `limit` of them. O(limit · log n).
    ///
    /// ```
    /// use sixgate::plan::{Owner, Pick, Plan, PoolSpec, Strategy, Timestamp};
    ///
    /// let mut plan = Plan::new();
    /// plan.add_pool("2001:db8::/48".parse()?, PoolSpec::new(64, Strategy::FirstFit))?;
    /// plan.alloc("2001:db8::/48", Pick::Next, Owner::default(), Timestamp(0))?;
    /// let free: Vec<String> =
    ///     plan.pool("2001:db8::/48")?.free(3).iter().map(|n| n.to_string()).collect();
    /// assert_eq!(free, ["2001:db8:0:1::/64", "2001:db8:0:2::/63", "2001:db8:0:4::/62"]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn free(&self, limit: usize) -> Vec<IpNet> {
        let mut out = Vec::new();
        for (&last, &first) in &self.free.map {
            let mut at = u128::from(first);
            // `last + 1` cannot overflow a u128.
            let end = u128::from(last).saturating_add(1);
            while at < end {
                if out.len() >= limit {
                    return out;
                }
                let align = if at == 0 {
                    u32::from(self.width)
                } else {
                    at.trailing_zeros().min(u32::from(self.width))
                };
                // floor(log2(end - at)); end > at, so the difference is >= 1.
                let room = 127u32.saturating_sub(end.saturating_sub(at).leading_zeros());
                let k = align.min(room);
                let len = u32::from(self.spec.child_len).saturating_sub(k);
                if let Some(net) = u64::try_from(at)
                    .ok()
                    .and_then(|i| self.child(i))
                    .and_then(|c| IpNet::new(c.network(), u8::try_from(len).unwrap_or(0)).ok())
                {
                    out.push(net);
                }
                at = at.saturating_add(pow2_u32(k));
            }
        }
        out
    }

    /// Every allocation of this pool (not of its sub-pools), ascending.
    pub fn allocations(&self) -> impl Iterator<Item = &Allocation> {
        self.allocations.values()
    }

    /// Every reservation, manual and automatic, ascending.
    pub fn reservations(&self) -> impl Iterator<Item = &Reservation> {
        self.reserved.values()
    }

    /// Every held child with the time it becomes free, ascending.
    pub fn held(&self) -> impl Iterator<Item = (IpNet, Timestamp)> + '_ {
        self.held
            .iter()
            .filter_map(|(&i, &until)| self.child(i).map(|c| (c, until)))
    }

    /// Child number `index`, if the pool has that many children.
    ///
    /// ```
    /// use sixgate::plan::{Plan, PoolSpec, Strategy};
    ///
    /// let mut plan = Plan::new();
    /// let pool = plan.add_pool("2001:db8::/48".parse()?, PoolSpec::new(64, Strategy::FirstFit))?;
    /// assert_eq!(pool.child(0x4711).map(|c| c.to_string()).as_deref(), Some("2001:db8:0:4711::/64"));
    /// assert_eq!(pool.child(0x1_0000), None);
    /// assert_eq!(pool.index_of("2001:db8:0:4711::1/128".parse()?), Some(0x4711));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn child(&self, index: u64) -> Option<IpNet> {
        if u128::from(index) >= self.total() {
            return None;
        }
        // index < 2^width and width + shift = max_len - prefix_len <= 128,
        // so the shifted index stays inside the pool's host bits.
        let offset = u128::from(index).checked_shl(u32::from(self.shift))?;
        let value = net_value(self.prefix) | offset;
        make_net(self.prefix, value, self.spec.child_len)
    }

    /// The number of the child containing `net` (which lies within one
    /// child of this pool), or `None`.
    pub fn index_of(&self, net: IpNet) -> Option<u64> {
        if net.prefix_len() < self.spec.child_len || !same_family(net, self.prefix) {
            return None;
        }
        if !self.prefix.contains(&net) {
            return None;
        }
        let offset = net_value(net).wrapping_sub(net_value(self.prefix));
        u64::try_from(offset.checked_shr(u32::from(self.shift))?).ok()
    }

    /// Where an id goes in a deterministic pool: computable again from the
    /// id and the pool's prefix and child length alone, whatever the
    /// plan's state (see [`IdEncoding`]).
    ///
    /// ```
    /// use sixgate::plan::{IdEncoding, Plan, PoolSpec, Strategy};
    ///
    /// let mut plan = Plan::new();
    /// let spec = PoolSpec::new(64, Strategy::Deterministic(IdEncoding::Decimal));
    /// let pool = plan.add_pool("2001:db8:100::/48".parse()?, spec)?;
    /// assert_eq!(pool.slot_for_id("4711")?.to_string(), "2001:db8:100:4711::/64");
    /// assert_eq!(
    ///     pool.slot_for_id("123456").unwrap_err().to_string(),
    ///     "id \"123456\" does not fit pool 2001:db8:100::/48: it has 6 digits; \
    ///      the pool's 16-bit field holds 4"
    /// );
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn slot_for_id(&self, id: &str) -> Result<IpNet, Error> {
        let index = self.id_index(id)?;
        self.child(index).ok_or_else(|| Error::BadId {
            id: id.to_owned(),
            pool: self.prefix,
            reason: format!("child {index} is beyond the pool"),
        })
    }
}

impl Plan {
    /// An empty plan.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a top-level pool: a provider block, or an IPv4 block beside it.
    /// Refused if it overlaps another top-level pool, or its spec does not
    /// fit it (see [`PoolSpec`]).
    ///
    /// ```
    /// use sixgate::plan::{Plan, PoolSpec, Strategy};
    ///
    /// let mut plan = Plan::new();
    /// plan.add_pool("2001:db8::/32".parse()?, PoolSpec::new(48, Strategy::Sparse))?;
    /// let err = plan
    ///     .add_pool("2001:db8:1::/48".parse()?, PoolSpec::new(64, Strategy::FirstFit))
    ///     .unwrap_err();
    /// assert_eq!(err.to_string(), "pool 2001:db8:1::/48 overlaps pool 2001:db8::/32");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn add_pool(&mut self, prefix: IpNet, spec: PoolSpec) -> Result<&Pool, Error> {
        check_prefix(prefix)?;
        let overlapping = self
            .roots
            .range(..=prefix)
            .next_back()
            .filter(|(r, _)| r.contains(&prefix))
            .or_else(|| {
                self.roots
                    .range(prefix..)
                    .next()
                    .filter(|(r, _)| prefix.contains(*r))
            });
        if let Some((&other, _)) = overlapping {
            return Err(Error::PoolOverlap { prefix, other });
        }
        self.check_name(spec.name.as_deref())?;
        let pool = Pool::new(prefix, spec)?;
        if let Some(name) = &pool.spec.name {
            self.names.insert(name.clone(), prefix);
        }
        self.texts.insert(prefix.to_string(), prefix);
        Ok(self.roots.entry(prefix).or_insert(pool))
    }

    /// Removes a top-level pool that has no allocations and nothing held
    /// (its reservations go with it).
    pub fn remove_pool(&mut self, prefix: IpNet) -> Result<(), Error> {
        check_prefix(prefix)?;
        let Some(pool) = self.roots.get(&prefix) else {
            return match route_to_pool(&self.roots, prefix) {
                Some(_) => Err(Error::NotRoot { prefix }),
                None => Err(Error::NoPool {
                    key: prefix.to_string(),
                }),
            };
        };
        if pool.allocated != 0 || pool.held_count != 0 {
            return Err(Error::PoolInUse {
                prefix,
                allocated: pool.allocated,
                held: pool.held_count,
            });
        }
        if let Some(name) = &pool.spec.name {
            self.names.remove(name);
        }
        self.texts.remove(&prefix.to_string());
        self.roots.remove(&prefix);
        Ok(())
    }

    /// Allocates a child of the pool named by `pool` (a name, or a pool's
    /// prefix text) for `owner`, as `pick` says. Expires hold-downs due at
    /// `now` first. O(depth · log n); sparse allocation is amortised
    /// O(log n) (see [`Strategy::Sparse`]).
    ///
    /// ```
    /// use sixgate::plan::{Owner, Pick, Plan, PoolSpec, Strategy, Timestamp};
    ///
    /// let mut plan = Plan::new();
    /// plan.add_pool("2001:db8::/64".parse()?, PoolSpec::new(128, Strategy::FirstFit))?;
    /// let owner = Owner { host: Some("Web1.Example.COM.".into()), ..Owner::default() };
    /// // ::0 is the subnet-router anycast address (RFC 4291 §2.6.1).
    /// let a = plan.alloc("2001:db8::/64", Pick::Next, owner, Timestamp(0))?;
    /// assert_eq!(a.to_string(), "2001:db8::1/128");
    /// let err = plan
    ///     .alloc("2001:db8::/64", Pick::Index(0), Owner::default(), Timestamp(0))
    ///     .unwrap_err();
    /// assert_eq!(err.kind(), "reserved");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn alloc(
        &mut self,
        pool: &str,
        pick: Pick,
        owner: Owner,
        now: Timestamp,
    ) -> Result<IpNet, Error> {
        let owner = check_owner(owner)?;
        self.expire(now);
        let route = self.route_by_key(pool)?;
        let p = pool_mut(&mut self.roots, &route).ok_or_else(|| Error::NoPool {
            key: pool.to_owned(),
        })?;
        let index = p.choose(&pick)?;
        let prefix = p.child(index).ok_or(Error::IndexOutOfRange {
            index,
            pool: p.prefix,
            total: p.total(),
        })?;
        if let Some(c) = &owner.customer {
            self.customers.add(c, prefix);
        }
        p.insert_alloc(
            index,
            Allocation {
                prefix,
                owner,
                since: now,
                pool: None,
            },
        );
        Ok(prefix)
    }

    /// Turns an existing allocation into a pool of smaller children; its
    /// owner stays. Pools nest at most [`MAX_NESTING`] deep.
    pub fn subdivide(&mut self, prefix: IpNet, spec: PoolSpec) -> Result<&Pool, Error> {
        check_prefix(prefix)?;
        let (route, index) = self.find_alloc_route(prefix)?;
        let depth = route.path.len().saturating_add(2);
        let parent = pool_ref(&self.roots, &route).ok_or(Error::NotInPlan { prefix })?;
        if parent.subpools.contains(&index) {
            return Err(Error::AlreadyPool { prefix });
        }
        if depth > MAX_NESTING {
            return Err(Error::Nesting { prefix, depth });
        }
        self.check_name(spec.name.as_deref())?;
        let pool = Pool::new(prefix, spec)?;
        if let Some(name) = &pool.spec.name {
            self.names.insert(name.clone(), prefix);
        }
        self.texts.insert(prefix.to_string(), prefix);
        let parent = pool_mut(&mut self.roots, &route).ok_or(Error::NotInPlan { prefix })?;
        let alloc = parent
            .allocations
            .get_mut(&index)
            .ok_or(Error::NotAllocated {
                prefix,
                within: None,
            })?;
        parent.subpools.insert(index);
        Ok(alloc.pool.insert(Box::new(pool)))
    }

    /// Releases an allocation (exactly its prefix) and everything under it.
    /// The prefix is held in its pool until `now + hold_down`; the released
    /// allocations are returned outermost first. Expires hold-downs due at
    /// `now` first. O(depth · log n), plus O(contents) for a sub-pool.
    ///
    /// ```
    /// use sixgate::plan::{Owner, Pick, Plan, PoolSpec, Strategy, Timestamp};
    ///
    /// let mut plan = Plan::new();
    /// plan.add_pool("2001:db8::/48".parse()?, PoolSpec::new(64, Strategy::FirstFit))?;
    /// let net = plan.alloc("2001:db8::/48", Pick::Next, Owner::default(), Timestamp(0))?;
    /// let gone = plan.release(net, Timestamp(10))?;
    /// assert_eq!(gone[0].until, Timestamp(10 + 7 * 86_400));
    /// assert_eq!(plan.release(net, Timestamp(10)).unwrap_err().to_string(), "2001:db8::/64 is not an allocation");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn release(&mut self, prefix: IpNet, now: Timestamp) -> Result<Vec<Released>, Error> {
        check_prefix(prefix)?;
        self.expire(now);
        self.release_inner(prefix, now)
    }

    /// Releases everything whose owner's customer is `customer`, outermost
    /// first (a sub-pool takes its contents with it, whoever holds them).
    /// O(k · depth · log n) for k allocations released.
    pub fn release_customer(&mut self, customer: &str, now: Timestamp) -> Vec<Released> {
        self.expire(now);
        let prefixes = self.customer_prefixes(customer);
        let mut out = Vec::new();
        for prefix in prefixes {
            // Still held by this customer (not gone with an earlier one).
            let held = self
                .find_alloc(prefix)
                .is_some_and(|a| a.owner.customer.as_deref() == Some(customer));
            if held {
                if let Ok(released) = self.release_inner(prefix, now) {
                    out.extend(released);
                }
            }
        }
        out
    }

    /// Reserves `range` of a pool (whole children: `prefix_len <=
    /// child_len`) so that it is never handed out. It must not overlap an
    /// allocation, a held child or another reservation; the error names
    /// what it overlaps.
    ///
    /// ```
    /// use sixgate::plan::{Plan, PoolSpec, Strategy};
    ///
    /// let mut plan = Plan::new();
    /// plan.add_pool("2001:db8::/32".parse()?, PoolSpec::new(48, Strategy::Sparse))?;
    /// plan.reserve("2001:db8::/32", "2001:db8::/44".parse()?, "infrastructure")?;
    /// let err = plan.reserve("2001:db8::/32", "2001:db8::/48".parse()?, "x").unwrap_err();
    /// assert_eq!(err.to_string(), "2001:db8::/48 overlaps reservation 2001:db8::/44 (infrastructure)");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn reserve(&mut self, pool: &str, range: IpNet, reason: &str) -> Result<(), Error> {
        check_text("reason", reason)?;
        let route = self.route_by_key(pool)?;
        let p = pool_mut(&mut self.roots, &route).ok_or_else(|| Error::NoPool {
            key: pool.to_owned(),
        })?;
        p.reserve(range, reason.to_owned(), false)
    }

    /// Removes a reservation made with [`Plan::reserve`] (exactly its
    /// prefix).
    pub fn unreserve(&mut self, range: IpNet) -> Result<(), Error> {
        check_prefix(range)?;
        let route =
            route_to_parent(&self.roots, range).ok_or(Error::NotInPlan { prefix: range })?;
        let p = pool_mut(&mut self.roots, &route).ok_or(Error::NotInPlan { prefix: range })?;
        p.unreserve(range)
    }

    /// Frees every held child whose hold-down ends at or before `now`;
    /// returns how many. O(k · depth · log n) for k children freed.
    pub fn expire(&mut self, now: Timestamp) -> usize {
        let mut count = 0usize;
        while let Some(&(until, prefix)) = self.expiry.first() {
            if until > now {
                break;
            }
            self.expiry.pop_first();
            let Some(route) = route_to_parent(&self.roots, prefix) else {
                continue;
            };
            if let Some(p) = pool_mut(&mut self.roots, &route) {
                if let Some(index) = p.index_of(prefix) {
                    if p.unhold(index) {
                        count = count.saturating_add(1);
                    }
                }
            }
        }
        count
    }

    /// The pool with this name, or whose prefix this is (as text).
    /// O(depth · log n).
    pub fn pool(&self, key: &str) -> Result<&Pool, Error> {
        let route = self.route_by_key(key)?;
        pool_ref(&self.roots, &route).ok_or_else(|| Error::NoPool {
            key: key.to_owned(),
        })
    }

    /// Every pool, depth-first, ascending prefixes. O(pools · log n).
    pub fn pools(&self) -> Vec<&Pool> {
        fn walk<'a>(pool: &'a Pool, out: &mut Vec<&'a Pool>) {
            out.push(pool);
            for index in &pool.subpools {
                if let Some(sub) = pool.allocations.get(index).and_then(|a| a.pool.as_deref()) {
                    walk(sub, out);
                }
            }
        }
        let mut out = Vec::new();
        for root in self.roots.values() {
            walk(root, &mut out);
        }
        out
    }

    /// The path from the top-level pool to the deepest pool containing
    /// `net`, with the state of the child holding `net` in each. Addresses
    /// are looked up as /32 or /128. O(depth · log n).
    ///
    /// ```
    /// use sixgate::plan::{Owner, Pick, Plan, PoolSpec, Status, Strategy, Timestamp};
    ///
    /// let mut plan = Plan::new();
    /// plan.add_pool("2001:db8::/48".parse()?, PoolSpec::new(64, Strategy::FirstFit))?;
    /// let owner = Owner { customer: Some("42".into()), ..Owner::default() };
    /// plan.alloc("2001:db8::/48", Pick::Next, owner, Timestamp(0))?;
    /// let steps = plan.lookup("2001:db8::5/128".parse()?)?;
    /// assert!(matches!(steps[0].status, Status::Allocated(a) if a.owner().customer.as_deref() == Some("42")));
    /// assert!(matches!(plan.lookup("2001:db8:0:1::/64".parse()?)?[0].status, Status::Free));
    /// assert_eq!(plan.lookup("2001:db9::/64".parse()?).unwrap_err().kind(), "not_in_plan");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn lookup(&self, net: IpNet) -> Result<Vec<Step<'_>>, Error> {
        check_prefix(net)?;
        let mut pool = root_of(&self.roots, net).ok_or(Error::NotInPlan { prefix: net })?;
        let mut steps = Vec::new();
        loop {
            let Some(index) = pool.index_of(net) else {
                steps.push(Step {
                    pool,
                    child: None,
                    status: pool.span_status(net),
                });
                break;
            };
            let state = pool.state(index);
            let sub = match state {
                ChildState::Allocated(a) => a.pool.as_deref(),
                _ => None,
            };
            steps.push(Step {
                pool,
                child: pool.child(index),
                status: state.into(),
            });
            match sub {
                Some(sub) if steps.len() < MAX_NESTING.saturating_add(1) => pool = sub,
                _ => break,
            }
        }
        Ok(steps)
    }

    /// Every allocation, depth-first, ascending (a sub-pool's allocation
    /// before its contents). O(allocations).
    pub fn allocations(&self) -> Vec<&Allocation> {
        let mut out = Vec::new();
        for root in self.roots.values() {
            collect_allocations(root, &mut out);
        }
        out
    }

    /// What a customer holds, ascending, from an index (not a scan).
    /// O(k · depth · log n) for k allocations.
    pub fn held_by(&self, customer: &str) -> Vec<&Allocation> {
        self.customer_prefixes(customer)
            .into_iter()
            .filter_map(|prefix| self.find_alloc(prefix))
            .collect()
    }

    /// PTR records (RFC 1035 §3.5, RFC 3596 §2.5) for every single-address
    /// allocation (/32, /128) with a host name, within `within` if given.
    /// O(allocations).
    pub fn ptr_records(&self, within: Option<IpNet>) -> Vec<Record> {
        self.host_allocations(within)
            .map(|(addr, host)| Record {
                name: text::ptr_name(addr),
                kind: RecordKind::Ptr,
                data: format!("{host}."),
            })
            .collect()
    }

    /// Forward records (A, RFC 1035 §3.4.1; AAAA, RFC 3596 §2.1) for the
    /// same allocations as [`Plan::ptr_records`]. O(allocations).
    pub fn forward_records(&self, within: Option<IpNet>) -> Vec<Record> {
        self.host_allocations(within)
            .map(|(addr, host)| Record {
                name: format!("{host}."),
                kind: if addr.is_ipv4() {
                    RecordKind::A
                } else {
                    RecordKind::Aaaa
                },
                data: text::canonical(addr),
            })
            .collect()
    }

    /// The reverse zones to delegate (RFC 3596 §2.5, RFC 1035 §3.5) for each
    /// allocation that is neither a single address nor a pool: the
    /// prefixes handed to customers. O(allocations); each prefix gives at
    /// most 8 (IPv6) or 128 (IPv4) zones.
    pub fn reverse_zones(&self, within: Option<IpNet>) -> Vec<ReverseZone> {
        self.allocations()
            .into_iter()
            .filter(|a| {
                a.pool.is_none()
                    && a.prefix.prefix_len() < a.prefix.max_prefix_len()
                    && within.is_none_or(|w| w.contains(&a.prefix))
            })
            .map(|a| ReverseZone {
                prefix: a.prefix,
                zones: text::reverse_zones(a.prefix),
                owner: a.owner.clone(),
            })
            .collect()
    }

    /// The plan as pretty, deterministic JSON with a trailing newline (see
    /// the module documentation for its shape).
    pub fn to_json(&self) -> String {
        let mut out = serde_json::to_string_pretty(self).unwrap_or_default();
        out.push('\n');
        out
    }

    /// Loads a plan from its JSON, checking everything again (version,
    /// prefixes, host bits, overlaps, prefixes outside their pool, names,
    /// owners) through the same checks as the operations. Never panics.
    ///
    /// ```
    /// use sixgate::plan::Plan;
    ///
    /// let err = Plan::from_json(r#"{"version": 2, "pools": []}"#).unwrap_err();
    /// assert_eq!(err.to_string(), "plan file version 2 is newer than this sixgate (1)");
    /// let err = Plan::from_json(r#"{"version": 1, "pools": ["#).unwrap_err();
    /// assert!(err.to_string().contains("line 1 column"), "{err}");
    /// ```
    pub fn from_json(text: &str) -> Result<Self, Error> {
        let file: PlanFile = match serde_json::from_str(text) {
            Ok(file) => file,
            Err(e) => {
                // A newer file may not even have this shape: say so first.
                if let Ok(v) = serde_json::from_str::<VersionOnly>(text) {
                    if v.version != u64::from(FORMAT_VERSION) {
                        return Err(Error::Version { found: v.version });
                    }
                }
                return Err(Error::Json {
                    message: e.to_string(),
                });
            }
        };
        Self::try_from(file)
    }
}

/// Customer id → the prefixes of its allocations, keyed by a 64-bit hash
/// of the id (FNV-1a with a splitmix64 finish; unkeyed, since the core
/// reads no OS randomness and customer ids come from the panel). The ids
/// themselves live in the allocations only: readers keep the prefixes whose
/// allocation's customer is the one asked for, so a collision costs a
/// little time, never a wrong answer. Adding is one short hash and one
/// table insert, with no copy of the id.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct CustomerIndex {
    map: HashMap<u64, Prefixes, BuildHasherDefault<KeyHasher>>,
}

/// The hasher of [`CustomerIndex`]: its keys are hashes already.
#[derive(Default)]
struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(FNV_PRIME);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// The index key of a customer id.
fn customer_key(customer: &str) -> u64 {
    let mut z = customer.bytes().fold(FNV_OFFSET, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(FNV_PRIME)
    });
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// One customer's prefixes: most hold one, so no tree node for those.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Prefixes {
    One(IpNet),
    Many(BTreeSet<IpNet>),
}

impl CustomerIndex {
    fn add(&mut self, customer: &str, prefix: IpNet) {
        let key = customer_key(customer);
        match self.map.get_mut(&key) {
            None => {
                self.map.insert(key, Prefixes::One(prefix));
            }
            Some(Prefixes::Many(set)) => {
                set.insert(prefix);
            }
            Some(entry @ Prefixes::One(_)) => {
                if let Prefixes::One(first) = *entry {
                    *entry = Prefixes::Many([first, prefix].into());
                }
            }
        }
    }

    /// The prefixes of `customer` and of any id with the same key,
    /// ascending.
    fn get(&self, customer: &str) -> Vec<IpNet> {
        match self.map.get(&customer_key(customer)) {
            Some(Prefixes::One(p)) => vec![*p],
            Some(Prefixes::Many(set)) => set.iter().copied().collect(),
            None => Vec::new(),
        }
    }

    fn remove(&mut self, customer: &str, prefix: IpNet) {
        let key = customer_key(customer);
        let empty = match self.map.get_mut(&key) {
            Some(Prefixes::One(p)) => *p == prefix,
            Some(entry @ Prefixes::Many(_)) => {
                if let Prefixes::Many(set) = entry {
                    set.remove(&prefix);
                    // Keep one form per content, so equal plans compare equal.
                    if set.len() == 1 {
                        if let Some(&last) = set.first() {
                            *entry = Prefixes::One(last);
                        }
                    }
                }
                false
            }
            None => false,
        };
        if empty {
            self.map.remove(&key);
        }
    }
}

/// Where a pool sits in the tree: its top-level pool and the child numbers
/// of the allocations down to it (at most [`MAX_NESTING`] - 1).
struct Route {
    root: IpNet,
    path: Vec<u64>,
}

impl Plan {
    fn check_name(&self, name: Option<&str>) -> Result<(), Error> {
        let Some(name) = name else { return Ok(()) };
        check_pool_name(name)?;
        match self.names.get(name) {
            Some(&prefix) => Err(Error::DuplicateName {
                name: name.to_owned(),
                prefix,
            }),
            None => Ok(()),
        }
    }

    /// The route to a pool given by name or prefix text.
    fn route_by_key(&self, key: &str) -> Result<Route, Error> {
        let no_pool = || Error::NoPool {
            key: key.to_owned(),
        };
        let prefix = match self.names.get(key).or_else(|| self.texts.get(key)) {
            Some(&prefix) => prefix,
            None => text::parse_net(key).map_err(|_| no_pool())?,
        };
        route_to_pool(&self.roots, prefix).ok_or_else(no_pool)
    }

    /// The route to the pool holding allocation `prefix`, and its number.
    fn find_alloc_route(&self, prefix: IpNet) -> Result<(Route, u64), Error> {
        let route = route_to_parent(&self.roots, prefix).ok_or(Error::NotInPlan { prefix })?;
        let pool = pool_ref(&self.roots, &route).ok_or(Error::NotInPlan { prefix })?;
        let not = |within| Error::NotAllocated { prefix, within };
        let Some(index) = pool.index_of(prefix) else {
            return Err(not(None));
        };
        match pool.allocations.get(&index) {
            Some(a) if a.prefix == prefix => Ok((route, index)),
            Some(a) => Err(not(Some(a.prefix))),
            None => Err(not(None)),
        }
    }

    fn find_alloc(&self, prefix: IpNet) -> Option<&Allocation> {
        let route = route_to_parent(&self.roots, prefix)?;
        let pool = pool_ref(&self.roots, &route)?;
        let index = pool.index_of(prefix)?;
        pool.allocations.get(&index).filter(|a| a.prefix == prefix)
    }

    /// [`Plan::release`] without the expiry.
    fn release_inner(&mut self, prefix: IpNet, now: Timestamp) -> Result<Vec<Released>, Error> {
        let (route, index) = self.find_alloc_route(prefix)?;
        let pool = pool_mut(&mut self.roots, &route).ok_or(Error::NotInPlan { prefix })?;
        let until = Timestamp(now.0.saturating_add(pool.spec.hold_down));
        let alloc = pool.take_alloc(index, until).ok_or(Error::NotAllocated {
            prefix,
            within: None,
        })?;
        self.expiry.insert((until, prefix));
        let mut out = Vec::new();
        self.forget(alloc, until, &mut out);
        Ok(out)
    }

    /// Drops a released allocation and its contents from the indexes.
    /// Recursion is at most [`MAX_NESTING`] deep.
    fn forget(&mut self, alloc: Allocation, until: Timestamp, out: &mut Vec<Released>) {
        if let Some(c) = &alloc.owner.customer {
            self.customers.remove(c, alloc.prefix);
        }
        out.push(Released {
            prefix: alloc.prefix,
            owner: alloc.owner,
            until,
        });
        if let Some(pool) = alloc.pool {
            if let Some(name) = &pool.spec.name {
                self.names.remove(name);
            }
            self.texts.remove(&pool.prefix.to_string());
            for (&i, &t) in &pool.held {
                if let Some(c) = pool.child(i) {
                    self.expiry.remove(&(t, c));
                }
            }
            for (_, a) in pool.allocations {
                self.forget(a, until, out);
            }
        }
    }

    /// A customer's prefixes, ascending (from the index, checked against
    /// each allocation's owner).
    fn customer_prefixes(&self, customer: &str) -> Vec<IpNet> {
        let mut out = self.customers.get(customer);
        out.retain(|&p| {
            self.find_alloc(p)
                .is_some_and(|a| a.owner.customer.as_deref() == Some(customer))
        });
        out
    }

    /// Single-address allocations with a host name, within `within`.
    fn host_allocations(&self, within: Option<IpNet>) -> impl Iterator<Item = (IpAddr, &str)> {
        self.allocations().into_iter().filter_map(move |a| {
            let host = a.owner.host.as_deref()?;
            let single = a.prefix.prefix_len() == a.prefix.max_prefix_len();
            (single && within.is_none_or(|w| w.contains(&a.prefix)))
                .then_some((a.prefix.addr(), host))
        })
    }
}

fn collect_allocations<'a>(pool: &'a Pool, out: &mut Vec<&'a Allocation>) {
    for a in pool.allocations.values() {
        out.push(a);
        if let Some(sub) = &a.pool {
            collect_allocations(sub, out);
        }
    }
}

/// The top-level pool containing `net`: the greatest root not above it
/// (roots never overlap, so no other can contain it).
fn root_of(roots: &BTreeMap<IpNet, Pool>, net: IpNet) -> Option<&Pool> {
    roots
        .range(..=net)
        .next_back()
        .map(|(_, p)| p)
        .filter(|p| same_family(p.prefix, net) && p.prefix.contains(&net))
}

/// The route to the deepest pool in which `net` is a child, or lies within
/// a child that is not a sub-pool, or spans children. At most
/// [`MAX_NESTING`] steps.
fn route_to_parent(roots: &BTreeMap<IpNet, Pool>, net: IpNet) -> Option<Route> {
    let mut pool = root_of(roots, net)?;
    let mut route = Route {
        root: pool.prefix,
        path: Vec::new(),
    };
    while net.prefix_len() > pool.spec.child_len {
        let Some(index) = pool.index_of(net) else {
            break;
        };
        let Some(sub) = pool.allocations.get(&index).and_then(|a| a.pool.as_deref()) else {
            break;
        };
        route.path.push(index);
        pool = sub;
    }
    Some(route)
}

/// The route to the pool whose prefix is exactly `prefix`.
fn route_to_pool(roots: &BTreeMap<IpNet, Pool>, prefix: IpNet) -> Option<Route> {
    let mut route = route_to_parent(roots, prefix)?;
    let pool = pool_ref(roots, &route)?;
    if pool.prefix == prefix {
        return Some(route);
    }
    let index = pool.index_of(prefix)?;
    let a = pool.allocations.get(&index)?;
    if a.prefix == prefix && a.pool.is_some() {
        route.path.push(index);
        Some(route)
    } else {
        None
    }
}

fn pool_ref<'a>(roots: &'a BTreeMap<IpNet, Pool>, route: &Route) -> Option<&'a Pool> {
    let mut pool = roots.get(&route.root)?;
    for index in &route.path {
        pool = pool.allocations.get(index)?.pool.as_deref()?;
    }
    Some(pool)
}

fn pool_mut<'a>(roots: &'a mut BTreeMap<IpNet, Pool>, route: &Route) -> Option<&'a mut Pool> {
    let mut pool = roots.get_mut(&route.root)?;
    for index in &route.path {
        pool = pool.allocations.get_mut(index)?.pool.as_deref_mut()?;
    }
    Some(pool)
}

impl<'a> From<ChildState<'a>> for Status<'a> {
    fn from(state: ChildState<'a>) -> Self {
        match state {
            ChildState::Allocated(a) => Status::Allocated(a),
            ChildState::Reserved(r) => Status::Reserved(r),
            ChildState::Held(until) => Status::Held { until },
            ChildState::Free => Status::Free,
        }
    }
}

impl Pool {
    /// A pool with nothing allocated, after checking `spec` against
    /// `prefix`; the special reservations are made here.
    fn new(prefix: IpNet, spec: PoolSpec) -> Result<Self, Error> {
        check_prefix(prefix)?;
        let child_len = spec.child_len;
        let max = prefix.max_prefix_len();
        if child_len <= prefix.prefix_len() || child_len > max {
            return Err(Error::ChildLen { prefix, child_len });
        }
        // child_len > prefix_len and child_len <= max: both differences fit.
        let width = child_len.saturating_sub(prefix.prefix_len());
        let shift = max.saturating_sub(child_len);
        if width > MAX_FIELD_BITS {
            return Err(Error::FieldTooWide { prefix, child_len });
        }
        if matches!(prefix, IpNet::V6(_)) && !child_len.is_multiple_of(4) && !spec.allow_unaligned {
            return Err(Error::Unaligned { child_len });
        }
        if spec.strategy == Strategy::Deterministic(IdEncoding::Decimal) && !width.is_multiple_of(4)
        {
            return Err(Error::DecimalWidth { prefix, child_len });
        }
        if let Some(name) = &spec.name {
            check_pool_name(name)?;
        }
        let last = u64::try_from(pow2(width).saturating_sub(1)).unwrap_or(u64::MAX);
        let mut pool = Self {
            prefix,
            spec,
            width,
            shift,
            allocations: BTreeMap::new(),
            subpools: BTreeSet::new(),
            reserved: BTreeMap::new(),
            held: BTreeMap::new(),
            free: FreeSet::default(),
            allocated: 0,
            reserved_count: 0,
            held_count: 0,
            sparse: SparseCursor::default(),
        };
        pool.free.insert(0, last);
        if pool.spec.reserve_special {
            for (net, reason) in special_reservations(prefix, child_len) {
                // The special ranges are disjoint and inside the pool.
                let _ = pool.reserve(net, reason.to_owned(), true);
            }
        }
        Ok(pool)
    }

    /// How many children: 2^width (width <= 64, so this fits).
    fn total(&self) -> u128 {
        pow2(self.width)
    }

    /// The child numbers `net` covers: it lies inside the pool and is no
    /// longer than a child.
    fn span(&self, net: IpNet) -> Option<(u64, u64)> {
        if !same_family(net, self.prefix)
            || !self.prefix.contains(&net)
            || net.prefix_len() > self.spec.child_len
        {
            return None;
        }
        let first = net_value(net)
            .wrapping_sub(net_value(self.prefix))
            .checked_shr(u32::from(self.shift))?;
        let count = pow2(self.spec.child_len.saturating_sub(net.prefix_len()));
        // net is aligned inside the pool: first + count <= 2^width <= 2^64.
        let last = first.saturating_add(count).saturating_sub(1);
        Some((u64::try_from(first).ok()?, u64::try_from(last).ok()?))
    }

    fn reservation_at(&self, index: u64) -> Option<&Reservation> {
        let (_, r) = self.reserved.range(..=index).next_back()?;
        let (_, last) = self.span(r.prefix)?;
        (index <= last).then_some(r)
    }

    fn state(&self, index: u64) -> ChildState<'_> {
        if self.free.contains(index) {
            return ChildState::Free;
        }
        if let Some(a) = self.allocations.get(&index) {
            return ChildState::Allocated(a);
        }
        if let Some(&until) = self.held.get(&index) {
            return ChildState::Held(until);
        }
        match self.reservation_at(index) {
            Some(r) => ChildState::Reserved(r),
            None => ChildState::Free,
        }
    }

    /// The status of a query spanning several children (see [`Step`]).
    fn span_status(&self, net: IpNet) -> Status<'_> {
        let Some((first, last)) = self.span(net) else {
            return Status::Free;
        };
        if let Some(r) = self.reservation_at(first) {
            if self.span(r.prefix).is_some_and(|(_, l)| l >= last) {
                return Status::Reserved(r);
            }
        }
        let busy = self.free.first_nonfree_from(first);
        match u64::try_from(busy) {
            Ok(i) if i <= last => self.state(i).into(),
            _ => Status::Free,
        }
    }

    /// Why child `index` cannot be taken, if it cannot.
    fn unavailable(&self, index: u64) -> Option<Error> {
        let prefix = self.child(index)?;
        match self.state(index) {
            ChildState::Free => None,
            ChildState::Allocated(a) => Some(Error::Taken {
                prefix,
                holder: holder(&a.owner),
            }),
            ChildState::Held(until) => Some(Error::HeldDown { prefix, until }),
            ChildState::Reserved(r) => Some(Error::Reserved {
                prefix,
                range: r.prefix,
                reason: r.reason.clone(),
            }),
        }
    }

    /// What occupies child `index`, for an overlap error.
    fn describe(&self, index: u64) -> String {
        let child = self.child(index).map(|c| c.to_string()).unwrap_or_default();
        match self.state(index) {
            ChildState::Allocated(a) => match (&a.owner.customer, &a.owner.host) {
                (None, None) => format!("allocation {}", a.prefix),
                _ => format!("allocation {} ({})", a.prefix, holder(&a.owner)),
            },
            ChildState::Reserved(r) => format!("reservation {} ({})", r.prefix, r.reason),
            ChildState::Held(until) => format!("held child {child} (until {})", until.0),
            ChildState::Free => format!("child {child}"),
        }
    }

    /// The child number a pick names, checked to be free.
    fn choose(&mut self, pick: &Pick) -> Result<u64, Error> {
        let index = match pick {
            Pick::Next => {
                let usage = self.usage();
                if usage.free == 0 {
                    return Err(Error::Full {
                        pool: self.prefix,
                        name: self.spec.name.clone(),
                        used: usage.total.saturating_sub(usage.free),
                        total: usage.total,
                        child_len: self.spec.child_len,
                    });
                }
                let found = match self.spec.strategy {
                    Strategy::FirstFit => self.free.map.first_key_value().map(|(_, &f)| f),
                    Strategy::Sparse => self.sparse_next(),
                    Strategy::Deterministic(_) => {
                        return Err(Error::NeedsId {
                            pool: self.prefix,
                            strategy: self.spec.strategy,
                        })
                    }
                };
                // Some child is free (usage.free > 0), so one is found.
                return found.ok_or(Error::Full {
                    pool: self.prefix,
                    name: self.spec.name.clone(),
                    used: usage.total,
                    total: usage.total,
                    child_len: self.spec.child_len,
                });
            }
            Pick::At(net) => {
                check_prefix(*net)?;
                if !same_family(*net, self.prefix) || !self.prefix.contains(net) {
                    return Err(Error::NotInPool {
                        prefix: *net,
                        pool: self.prefix,
                    });
                }
                if net.prefix_len() != self.spec.child_len {
                    return Err(Error::NotAChild {
                        prefix: *net,
                        pool: self.prefix,
                        child_len: self.spec.child_len,
                    });
                }
                self.index_of(*net).ok_or(Error::NotInPool {
                    prefix: *net,
                    pool: self.prefix,
                })?
            }
            Pick::Index(n) => {
                if u128::from(*n) >= self.total() {
                    return Err(Error::IndexOutOfRange {
                        index: *n,
                        pool: self.prefix,
                        total: self.total(),
                    });
                }
                *n
            }
            Pick::Id(id) => {
                let index = self.id_index(id)?;
                if let Some(e) = self.unavailable(index) {
                    let (prefix, state) = match e {
                        Error::Taken { prefix, holder } => {
                            (prefix, format!("already held by {holder}"))
                        }
                        Error::HeldDown { prefix, until } => {
                            (prefix, format!("in hold-down until {}", until.0))
                        }
                        Error::Reserved {
                            prefix,
                            range,
                            reason,
                        } => (prefix, format!("reserved ({range}: {reason})")),
                        other => return Err(other),
                    };
                    return Err(Error::IdUnavailable {
                        id: id.clone(),
                        prefix,
                        state,
                    });
                }
                return Ok(index);
            }
        };
        match self.unavailable(index) {
            Some(e) => Err(e),
            None => Ok(index),
        }
    }

    /// The child number for an id (see [`IdEncoding`]).
    fn id_index(&self, id: &str) -> Result<u64, Error> {
        let Strategy::Deterministic(encoding) = self.spec.strategy else {
            return Err(Error::NotDeterministic {
                pool: self.prefix,
                strategy: self.spec.strategy,
            });
        };
        check_text("id", id)?;
        let bad = |reason: String| Error::BadId {
            id: id.to_owned(),
            pool: self.prefix,
            reason,
        };
        let digits = id.bytes().all(|b| b.is_ascii_digit());
        let index = match encoding {
            IdEncoding::Hash => {
                let hash = id.bytes().fold(FNV_OFFSET, |h, b| {
                    (h ^ u64::from(b)).wrapping_mul(FNV_PRIME)
                });
                // width <= 64: the mask keeps the low `width` bits.
                let mask = u64::try_from(self.total().saturating_sub(1)).unwrap_or(u64::MAX);
                return Ok(hash & mask);
            }
            _ if !digits => {
                return Err(bad(format!(
                    "a {} pool takes decimal digits (deterministic-hash takes any id)",
                    self.spec.strategy
                )))
            }
            IdEncoding::Number => {
                let n: u128 = id.parse().unwrap_or(u128::MAX);
                if n >= self.total() {
                    return Err(bad(format!(
                        "the pool has {} children, numbered from 0",
                        self.total()
                    )));
                }
                n
            }
            IdEncoding::Decimal => {
                let room = usize::from(self.width / 4);
                if id.len() > room {
                    return Err(bad(format!(
                        "it has {} digits; the pool's {}-bit field holds {room}",
                        id.len(),
                        self.width
                    )));
                }
                // At most 16 digits of 4 bits each: fits a u64.
                id.bytes().fold(0u128, |n, b| {
                    n.checked_shl(4).unwrap_or(0) | u128::from(b.wrapping_sub(b'0'))
                })
            }
        };
        u64::try_from(index).map_err(|_| bad("it is too large".into()))
    }

    /// The free child with the lowest RFC 3531 ordinal (see
    /// [`Strategy::Sparse`]). At most [`SPARSE_PROBES`] probes, then an
    /// exact search.
    fn sparse_next(&mut self) -> Option<u64> {
        let w = self.width;
        let mut probes = 0usize;
        while let Some(o) = self.sparse.returned.pop_first() {
            let index = reverse(o, w);
            if self.free.contains(index) {
                return Some(index);
            }
            probes = probes.saturating_add(1);
            if probes >= SPARSE_PROBES {
                return self.sparse_exact();
            }
        }
        let total = self.total();
        while self.sparse.next < total {
            if probes >= SPARSE_PROBES {
                return self.sparse_exact();
            }
            let o = u64::try_from(self.sparse.next).ok()?;
            self.sparse.next = self.sparse.next.saturating_add(1);
            let index = reverse(o, w);
            if self.free.contains(index) {
                return Some(index);
            }
            probes = probes.saturating_add(1);
        }
        self.sparse_exact()
    }

    /// The lowest free ordinal, exactly: O(w) per free interval. Leaves the
    /// cursor just past it.
    fn sparse_exact(&mut self) -> Option<u64> {
        let w = self.width;
        let mut best: Option<(u64, u64)> = None;
        for (&last, &first) in &self.free.map {
            let index = min_ordinal_index(first, last, w);
            let o = reverse(index, w);
            if best.is_none_or(|(b, _)| o < b) {
                best = Some((o, index));
            }
        }
        let (o, index) = best?;
        if u128::from(o) >= self.sparse.next {
            // No free ordinal below o: everything in `returned` is stale.
            self.sparse.next = u128::from(o).saturating_add(1);
            self.sparse.returned.clear();
        } else {
            match o.checked_add(1) {
                Some(above) => self.sparse.returned = self.sparse.returned.split_off(&above),
                None => self.sparse.returned.clear(),
            }
        }
        Some(index)
    }

    /// Children `first..=last` became free: keep the sparse cursor's
    /// promise (every free ordinal below it is in `returned`).
    fn note_freed(&mut self, first: u64, last: u64) {
        if self.spec.strategy != Strategy::Sparse {
            return;
        }
        let w = self.width;
        let o = reverse(min_ordinal_index(first, last, w), w);
        if u128::from(o) >= self.sparse.next {
            return;
        }
        if first == last {
            self.sparse.returned.insert(o);
        } else {
            self.sparse.next = u128::from(o);
            let _above = self.sparse.returned.split_off(&o);
        }
    }

    /// Child `index` (free) becomes taken: drop it from the sparse cache.
    fn note_taken(&mut self, index: u64) {
        if self.spec.strategy == Strategy::Sparse {
            let o = reverse(index, self.width);
            if u128::from(o) < self.sparse.next {
                self.sparse.returned.remove(&o);
            }
        }
    }

    fn insert_alloc(&mut self, index: u64, alloc: Allocation) {
        self.free.take_range(index, index);
        self.note_taken(index);
        self.allocated = self.allocated.saturating_add(1);
        if alloc.pool.is_some() {
            self.subpools.insert(index);
        }
        self.allocations.insert(index, alloc);
    }

    /// Removes an allocation, holding its child until `until`.
    fn take_alloc(&mut self, index: u64, until: Timestamp) -> Option<Allocation> {
        let alloc = self.allocations.remove(&index)?;
        self.subpools.remove(&index);
        self.allocated = self.allocated.saturating_sub(1);
        self.held.insert(index, until);
        self.held_count = self.held_count.saturating_add(1);
        Some(alloc)
    }

    /// Holds a free child (when loading a plan).
    fn hold(&mut self, index: u64, until: Timestamp) {
        self.free.take_range(index, index);
        self.note_taken(index);
        self.held.insert(index, until);
        self.held_count = self.held_count.saturating_add(1);
    }

    /// Ends a child's hold-down; false if it was not held.
    fn unhold(&mut self, index: u64) -> bool {
        if self.held.remove(&index).is_none() {
            return false;
        }
        self.held_count = self.held_count.saturating_sub(1);
        self.free.insert(index, index);
        self.note_freed(index, index);
        true
    }

    fn reserve(&mut self, range: IpNet, reason: String, automatic: bool) -> Result<(), Error> {
        check_prefix(range)?;
        if !same_family(range, self.prefix) || !self.prefix.contains(&range) {
            return Err(Error::NotInPool {
                prefix: range,
                pool: self.prefix,
            });
        }
        if range.prefix_len() > self.spec.child_len {
            return Err(Error::PartChild {
                prefix: range,
                pool: self.prefix,
                child_len: self.spec.child_len,
            });
        }
        let (first, last) = self.span(range).ok_or(Error::NotInPool {
            prefix: range,
            pool: self.prefix,
        })?;
        if !self.free.take_range(first, last) {
            let busy = u64::try_from(self.free.first_nonfree_from(first)).unwrap_or(first);
            return Err(Error::Overlap {
                range,
                what: self.describe(busy),
            });
        }
        if first == last {
            self.note_taken(first);
        }
        let count = u128::from(last.saturating_sub(first)).saturating_add(1);
        self.reserved_count = self.reserved_count.saturating_add(count);
        self.reserved.insert(
            first,
            Reservation {
                prefix: range,
                reason,
                automatic,
            },
        );
        Ok(())
    }

    fn unreserve(&mut self, range: IpNet) -> Result<(), Error> {
        let not = Error::NotReserved { prefix: range };
        let Some((first, last)) = self.span(range) else {
            return Err(not);
        };
        match self.reserved.get(&first) {
            Some(r) if r.prefix == range && r.automatic => Err(Error::AutoReserved {
                prefix: range,
                reason: r.reason.clone(),
            }),
            Some(r) if r.prefix == range => {
                self.reserved.remove(&first);
                let count = u128::from(last.saturating_sub(first)).saturating_add(1);
                self.reserved_count = self.reserved_count.saturating_sub(count);
                self.free.insert(first, last);
                self.note_freed(first, last);
                Ok(())
            }
            _ => Err(not),
        }
    }
}

impl FreeSet {
    fn contains(&self, i: u64) -> bool {
        self.contains_range(i, i)
    }

    fn contains_range(&self, a: u64, b: u64) -> bool {
        self.map
            .range(a..)
            .next()
            .is_some_and(|(&last, &first)| first <= a && b <= last)
    }

    /// The first child number at or after `a` that is not free (2^64 if
    /// every one is).
    fn first_nonfree_from(&self, a: u64) -> u128 {
        match self.map.range(a..).next() {
            Some((&last, &first)) if first <= a => u128::from(last).saturating_add(1),
            _ => u128::from(a),
        }
    }

    /// Takes `a..=b` if it is all free; false (and nothing changed) if not.
    fn take_range(&mut self, a: u64, b: u64) -> bool {
        let Some((&last, &first)) = self.map.range(a..).next() else {
            return false;
        };
        if first > a || b > last {
            return false;
        }
        if b == last {
            self.map.remove(&last);
        } else if let Some(start) = self.map.get_mut(&last) {
            // b < last, so b + 1 does not overflow.
            *start = b.saturating_add(1);
        }
        if first < a {
            // first < a, so a >= 1.
            self.map.insert(a.saturating_sub(1), first);
        }
        true
    }

    /// Frees `a..=b` (not free before), merging with its neighbours.
    fn insert(&mut self, a: u64, b: u64) {
        let mut start = a;
        let mut end = b;
        if let Some(before) = a.checked_sub(1) {
            if let Some(first) = self.map.remove(&before) {
                start = first;
            }
        }
        if let Some(after) = b.checked_add(1) {
            if let Some((&last, &first)) = self.map.range(after..).next() {
                if first == after {
                    self.map.remove(&last);
                    end = last;
                }
            }
        }
        self.map.insert(end, start);
    }
}

/// Refuses a prefix with bits set beyond its length (never truncated).
fn check_prefix(net: IpNet) -> Result<(), Error> {
    if net.trunc() == net {
        Ok(())
    } else {
        Err(Error::HostBits { prefix: net })
    }
}

/// A customer id, tag, reason or id: 1 to [`MAX_TEXT`] bytes, no control
/// characters.
fn check_text(what: &'static str, text: &str) -> Result<(), Error> {
    let reason = if text.is_empty() {
        "it is empty"
    } else if text.len() > MAX_TEXT {
        "it is longer than 255 bytes"
    } else if text.chars().any(char::is_control) {
        "it has a control character"
    } else {
        return Ok(());
    };
    Err(Error::BadText {
        what,
        text: text.to_owned(),
        reason,
    })
}

fn check_pool_name(name: &str) -> Result<(), Error> {
    let reason = if name.is_empty() || name.len() > MAX_POOL_NAME {
        "a pool name is 1 to 64 characters"
    } else if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    {
        "only letters, digits, '.', '_' and '-' are allowed"
    } else {
        return Ok(());
    };
    Err(Error::BadName {
        name: name.to_owned(),
        reason,
    })
}

/// Checks an owner, normalising its host name (lower case, no trailing
/// dot).
fn check_owner(owner: Owner) -> Result<Owner, Error> {
    if let Some(c) = &owner.customer {
        check_text("customer id", c)?;
    }
    if owner.tags.len() > MAX_TAGS {
        return Err(Error::TooManyTags {
            count: owner.tags.len(),
        });
    }
    for tag in &owner.tags {
        check_text("tag", tag)?;
    }
    let host = match owner.host {
        Some(h) => match HostName::new(h.as_bytes()) {
            Ok(name) => Some(name.as_str().to_owned()),
            Err(reason) => return Err(Error::BadHost { host: h, reason }),
        },
        None => None,
    };
    Ok(Owner { host, ..owner })
}

/// `customer 42`, `host web1.example.com`, both, or a note that there is
/// no owner.
fn holder(owner: &Owner) -> String {
    match (&owner.customer, &owner.host) {
        (Some(c), Some(h)) => format!("customer {c} (host {h})"),
        (Some(c), None) => format!("customer {c}"),
        (None, Some(h)) => format!("host {h}"),
        (None, None) => "an allocation without an owner".to_owned(),
    }
}

/// The special reservations of a pool ([`PoolSpec::reserve_special`]).
fn special_reservations(prefix: IpNet, child_len: u8) -> Vec<(IpNet, &'static str)> {
    let mut out = Vec::new();
    match prefix {
        IpNet::V6(_) if child_len == 128 => {
            // The pool is at least a /64 (at most 64 field bits), so it lies
            // in one /64: the one its own network is in.
            let subnet = net_value(prefix) & !u128::from(u64::MAX);
            if let Some(anycast) = make_net(prefix, subnet, 128) {
                if prefix.contains(&anycast) {
                    out.push((anycast, "subnet-router anycast address, RFC 4291 §2.6.1"));
                }
            }
            if let Some(block) = make_net(prefix, subnet | RFC2526_IID, 121) {
                let reason = "reserved subnet anycast addresses, RFC 2526";
                if prefix.contains(&block) {
                    out.push((block, reason));
                } else if block.contains(&prefix) {
                    out.push((prefix, reason));
                }
            }
        }
        IpNet::V4(_) if child_len == 32 && prefix.prefix_len() <= 30 => {
            let first = net_value(prefix);
            let last = first | (pow2(32u8.saturating_sub(prefix.prefix_len())).saturating_sub(1));
            if let Some(net) = make_net(prefix, first, 32) {
                out.push((net, "network address, RFC 919 §7"));
            }
            if let Some(net) = make_net(prefix, last, 32) {
                out.push((net, "broadcast address, RFC 919 §7"));
            }
        }
        _ => {}
    }
    out
}

/// An address as a number (IPv4 in the low 32 bits).
fn addr_value(addr: IpAddr) -> u128 {
    match addr {
        IpAddr::V4(v4) => u128::from(u32::from(v4)),
        IpAddr::V6(v6) => u128::from(v6),
    }
}

/// A prefix's network address as a number.
fn net_value(net: IpNet) -> u128 {
    addr_value(net.network())
}

/// The prefix of `net`'s family at `value` / `len`.
fn make_net(like: IpNet, value: u128, len: u8) -> Option<IpNet> {
    let addr = match like {
        IpNet::V4(_) => IpAddr::V4(Ipv4Addr::from(u32::try_from(value).ok()?)),
        IpNet::V6(_) => IpAddr::V6(Ipv6Addr::from(value)),
    };
    IpNet::new(addr, len).ok()
}

fn same_family(a: IpNet, b: IpNet) -> bool {
    matches!(
        (a, b),
        (IpNet::V4(_), IpNet::V4(_)) | (IpNet::V6(_), IpNet::V6(_))
    )
}

/// 2^w for w <= 127 (0 beyond, never reached: widths are at most 64).
fn pow2(w: u8) -> u128 {
    pow2_u32(u32::from(w))
}

fn pow2_u32(w: u32) -> u128 {
    1u128.checked_shl(w).unwrap_or(0)
}

/// The `w`-bit reversal of `i` (1 <= w <= 64): RFC 3531's ordinal of child
/// `i`, and the child of ordinal `i`.
fn reverse(i: u64, w: u8) -> u64 {
    i.reverse_bits()
        .checked_shr(u32::from(64u8.saturating_sub(w)))
        .unwrap_or(0)
}

/// The number in `a..=b` whose `w`-bit reversal is least. Built from the
/// lowest bit up: bit k is 0 whenever some number in the range agrees with
/// the bits chosen so far and has bit k clear. O(w).
fn min_ordinal_index(a: u64, b: u64, w: u8) -> u64 {
    let (a, b) = (u128::from(a), u128::from(b));
    let mut r: u128 = 0;
    for k in 0..u32::from(w) {
        let m = pow2_u32(k.saturating_add(1));
        // The least i >= a with i ≡ r (mod m): r < m, so r + m - a % m is
        // below 2m <= 2^66.
        let below = a.checked_rem(m).unwrap_or(0);
        let step = r
            .saturating_add(m)
            .saturating_sub(below)
            .checked_rem(m)
            .unwrap_or(0);
        if a.saturating_add(step) > b {
            r |= pow2_u32(k);
        }
    }
    u64::try_from(r).unwrap_or(u64::MAX)
}

// ---------------------------------------------------------------------------
// JSON: written through borrowed views (no copy of a large plan), read
// through owned file types and replayed through the same checks as the
// operations.

/// Writes a value through its `Display` (addresses in RFC 5952 text).
struct Text<T>(T);

impl<T: fmt::Display> Serialize for Text<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0)
    }
}

impl Serialize for Plan {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("Plan", 2)?;
        st.serialize_field("version", &FORMAT_VERSION)?;
        st.serialize_field("pools", &RootsOut(&self.roots))?;
        st.end()
    }
}

struct RootsOut<'a>(&'a BTreeMap<IpNet, Pool>);

impl Serialize for RootsOut<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.values().map(|pool| PoolOut { pool, root: true }))
    }
}

struct PoolOut<'a> {
    pool: &'a Pool,
    root: bool,
}

impl Serialize for PoolOut<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let p = self.pool;
        let mut st = s.serialize_struct("Pool", 10)?;
        if self.root {
            st.serialize_field("prefix", &Text(p.prefix))?;
        } else {
            st.skip_field("prefix")?;
        }
        st.serialize_field("name", &p.spec.name)?;
        st.serialize_field("child_len", &p.spec.child_len)?;
        st.serialize_field("strategy", p.spec.strategy.name())?;
        st.serialize_field("hold_down", &p.spec.hold_down)?;
        st.serialize_field("allow_unaligned", &p.spec.allow_unaligned)?;
        st.serialize_field("reserve_special", &p.spec.reserve_special)?;
        st.serialize_field("reserved", &ReservedOut(p))?;
        st.serialize_field("held", &HeldOut(p))?;
        st.serialize_field("allocations", &AllocsOut(p))?;
        st.end()
    }
}

struct ReservedOut<'a>(&'a Pool);

impl Serialize for ReservedOut<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(None)?;
        for r in self.0.reserved.values().filter(|r| !r.automatic) {
            seq.serialize_element(&ReservedItem {
                prefix: Text(r.prefix),
                reason: &r.reason,
            })?;
        }
        seq.end()
    }
}

#[derive(Serialize)]
struct ReservedItem<'a> {
    prefix: Text<IpNet>,
    reason: &'a str,
}

struct HeldOut<'a>(&'a Pool);

impl Serialize for HeldOut<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.held().map(|(prefix, until)| HeldItem {
            prefix: Text(prefix),
            until,
        }))
    }
}

#[derive(Serialize)]
struct HeldItem {
    prefix: Text<IpNet>,
    until: Timestamp,
}

struct AllocsOut<'a>(&'a Pool);

impl Serialize for AllocsOut<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.allocations.values().map(AllocOut))
    }
}

struct AllocOut<'a>(&'a Allocation);

impl Serialize for AllocOut<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let a = self.0;
        let mut st = s.serialize_struct("Allocation", 6)?;
        st.serialize_field("prefix", &Text(a.prefix))?;
        st.serialize_field("customer", &a.owner.customer)?;
        st.serialize_field("host", &a.owner.host)?;
        st.serialize_field("tags", &a.owner.tags)?;
        st.serialize_field("since", &a.since)?;
        match &a.pool {
            Some(pool) => st.serialize_field("pool", &PoolOut { pool, root: false })?,
            None => st.skip_field("pool")?,
        }
        st.end()
    }
}

/// Just the version, to report a newer file before its shape.
#[derive(Deserialize)]
struct VersionOnly {
    version: u64,
}

/// The plan as read from JSON, before it is checked.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PlanFile {
    version: u64,
    pools: Vec<PoolFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PoolFile {
    /// Top-level pools only: a sub-pool's prefix is its allocation's.
    #[serde(default)]
    prefix: Option<String>,
    #[serde(default)]
    name: Option<String>,
    child_len: u8,
    strategy: String,
    hold_down: u64,
    allow_unaligned: bool,
    reserve_special: bool,
    #[serde(default)]
    reserved: Vec<ReservedFile>,
    #[serde(default)]
    held: Vec<HeldFile>,
    #[serde(default)]
    allocations: Vec<AllocFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReservedFile {
    prefix: String,
    reason: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HeldFile {
    prefix: String,
    until: Timestamp,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AllocFile {
    prefix: String,
    #[serde(default)]
    customer: Option<String>,
    #[serde(default)]
    host: Option<String>,
    #[serde(default)]
    tags: BTreeSet<String>,
    since: Timestamp,
    #[serde(default)]
    pool: Option<Box<PoolFile>>,
}

impl PoolFile {
    fn spec(&self) -> Result<PoolSpec, Error> {
        Ok(PoolSpec {
            child_len: self.child_len,
            strategy: self.strategy.parse()?,
            name: self.name.clone(),
            hold_down: self.hold_down,
            allow_unaligned: self.allow_unaligned,
            reserve_special: self.reserve_special,
        })
    }
}

impl<'de> Deserialize<'de> for Plan {
    /// Reads the JSON form and checks it as [`Plan::from_json`] does.
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let file = PlanFile::deserialize(d)?;
        Self::try_from(file).map_err(serde::de::Error::custom)
    }
}

impl TryFrom<PlanFile> for Plan {
    type Error = Error;

    fn try_from(file: PlanFile) -> Result<Self, Error> {
        if file.version != u64::from(FORMAT_VERSION) {
            return Err(Error::Version {
                found: file.version,
            });
        }
        let mut plan = Self::new();
        for pool in file.pools {
            let text = pool.prefix.as_deref().ok_or_else(|| Error::Json {
                message: "a top-level pool has no \"prefix\"".into(),
            })?;
            let prefix = parse_prefix(text)?;
            plan.add_pool(prefix, pool.spec()?)?;
            plan.load_contents(prefix, pool)?;
        }
        Ok(plan)
    }
}

/// A prefix from the JSON: host bits and junk refused.
fn parse_prefix(text: &str) -> Result<IpNet, Error> {
    match text.parse::<IpNet>() {
        Ok(net) => {
            check_prefix(net)?;
            Ok(net)
        }
        Err(_) => Err(Error::BadPrefix {
            text: text.to_owned(),
        }),
    }
}

impl Plan {
    /// Replays a pool's reservations, held children and allocations
    /// through the operations' checks. Recursion is bounded by
    /// [`Plan::subdivide`]'s nesting check.
    fn load_contents(&mut self, prefix: IpNet, file: PoolFile) -> Result<(), Error> {
        let route = route_to_pool(&self.roots, prefix).ok_or(Error::NotInPlan { prefix })?;
        let missing = || Error::NotInPlan { prefix };
        for r in file.reserved {
            let net = parse_prefix(&r.prefix)?;
            check_text("reason", &r.reason)?;
            let pool = pool_mut(&mut self.roots, &route).ok_or_else(missing)?;
            pool.reserve(net, r.reason, false)?;
        }
        for h in file.held {
            let net = parse_prefix(&h.prefix)?;
            let pool = pool_mut(&mut self.roots, &route).ok_or_else(missing)?;
            let index = pool.choose(&Pick::At(net))?;
            pool.hold(index, h.until);
            self.expiry.insert((h.until, net));
        }
        for a in file.allocations {
            let net = parse_prefix(&a.prefix)?;
            let owner = check_owner(Owner {
                customer: a.customer,
                host: a.host,
                tags: a.tags,
            })?;
            let pool = pool_mut(&mut self.roots, &route).ok_or_else(missing)?;
            let index = pool.choose(&Pick::At(net))?;
            if let Some(c) = &owner.customer {
                self.customers.add(c, net);
            }
            pool.insert_alloc(
                index,
                Allocation {
                    prefix: net,
                    owner,
                    since: a.since,
                    pool: None,
                },
            );
            if let Some(sub) = a.pool {
                if let Some(text) = &sub.prefix {
                    if parse_prefix(text)? != net {
                        return Err(Error::Json {
                            message: format!(
                                "the pool of allocation {net} has another prefix, {text:?}"
                            ),
                        });
                    }
                }
                self.subdivide(net, sub.spec()?)?;
                self.load_contents(net, *sub)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> IpNet {
        s.parse().unwrap()
    }

    fn t(secs: u64) -> Timestamp {
        Timestamp(secs)
    }

    fn cust(c: &str) -> Owner {
        Owner {
            customer: Some(c.into()),
            ..Owner::default()
        }
    }

    fn named(len: u8, strategy: Strategy, name: &str) -> PoolSpec {
        let mut spec = PoolSpec::new(len, strategy);
        spec.name = Some(name.into());
        spec
    }

    fn next(plan: &mut Plan, pool: &str) -> String {
        plan.alloc(pool, Pick::Next, Owner::default(), t(0))
            .unwrap()
            .to_string()
    }

    /// Provider /32 → site /48 (sparse) → customer /64 (first-fit) → host
    /// /128, with an IPv4 pool beside it.
    fn tree() -> Plan {
        let mut plan = Plan::new();
        plan.add_pool(n("2001:db8::/32"), named(48, Strategy::Sparse, "provider"))
            .unwrap();
        let mut v4 = named(32, Strategy::FirstFit, "v4");
        v4.hold_down = 0;
        plan.add_pool(n("198.51.100.0/24"), v4).unwrap();
        let site = plan
            .alloc("provider", Pick::Next, Owner::default(), t(1))
            .unwrap();
        plan.subdivide(site, named(64, Strategy::FirstFit, "fra1"))
            .unwrap();
        let c42 = plan.alloc("fra1", Pick::Next, cust("42"), t(1)).unwrap();
        plan.subdivide(c42, named(128, Strategy::FirstFit, "c42"))
            .unwrap();
        let host = Owner {
            customer: Some("42".into()),
            host: Some("Web1.Example.com.".into()),
            tags: ["prod".to_string()].into(),
        };
        plan.alloc("c42", Pick::Next, host.clone(), t(1)).unwrap();
        plan.alloc("v4", Pick::Next, host, t(1)).unwrap();
        plan.alloc("fra1", Pick::Next, cust("43"), t(1)).unwrap();
        plan
    }

    #[test]
    fn the_tree() {
        let plan = tree();
        let prefixes: Vec<String> = plan
            .allocations()
            .iter()
            .map(|a| a.prefix().to_string())
            .collect();
        assert_eq!(
            prefixes,
            [
                "198.51.100.1/32",
                "2001:db8::/48",
                "2001:db8::/64",
                "2001:db8::1/128",
                "2001:db8:0:1::/64"
            ]
        );
        let pools: Vec<Option<&str>> = plan.pools().iter().map(|p| p.name()).collect();
        assert_eq!(
            pools,
            [Some("v4"), Some("provider"), Some("fra1"), Some("c42")]
        );
        let host = &plan.allocations()[3];
        assert_eq!(host.owner().host.as_deref(), Some("web1.example.com"));
        assert_eq!(host.since(), t(1));
        assert_eq!(plan.pool("2001:db8::/64").unwrap().name(), Some("c42"));
        assert_eq!(plan.pool("c42").unwrap().prefix(), n("2001:db8::/64"));
        assert_eq!(
            plan.pool("fra2").unwrap_err().to_string(),
            "no pool named \"fra2\""
        );
        assert_eq!(
            plan.pool("2001:db8:1::/48").unwrap_err().to_string(),
            "no pool 2001:db8:1::/48"
        );
    }

    #[test]
    fn first_fit_order() {
        let mut plan = Plan::new();
        plan.add_pool(n("2001:db8::/48"), PoolSpec::new(64, Strategy::FirstFit))
            .unwrap();
        let got: Vec<String> = (0..3).map(|_| next(&mut plan, "2001:db8::/48")).collect();
        assert_eq!(
            got,
            ["2001:db8::/64", "2001:db8:0:1::/64", "2001:db8:0:2::/64"]
        );
        // A hole is filled first.
        plan.alloc("2001:db8::/48", Pick::Index(4), Owner::default(), t(0))
            .unwrap();
        assert_eq!(next(&mut plan, "2001:db8::/48"), "2001:db8:0:3::/64");
        assert_eq!(next(&mut plan, "2001:db8::/48"), "2001:db8:0:5::/64");
    }

    #[test]
    fn sparse_order_is_rfc3531_leftmost() {
        let mut plan = Plan::new();
        plan.add_pool(n("2001:db8::/32"), PoolSpec::new(48, Strategy::Sparse))
            .unwrap();
        let got: Vec<String> = (0..8).map(|_| next(&mut plan, "2001:db8::/32")).collect();
        assert_eq!(
            got,
            [
                "2001:db8::/48",
                "2001:db8:8000::/48",
                "2001:db8:4000::/48",
                "2001:db8:c000::/48",
                "2001:db8:2000::/48",
                "2001:db8:a000::/48",
                "2001:db8:6000::/48",
                "2001:db8:e000::/48",
            ]
        );
        // A child taken by index is skipped.
        plan.alloc(
            "2001:db8::/32",
            Pick::At(n("2001:db8:1000::/48")),
            Owner::default(),
            t(0),
        )
        .unwrap();
        assert_eq!(next(&mut plan, "2001:db8::/32"), "2001:db8:9000::/48");
    }

    #[test]
    fn sparse_fills_a_small_pool_completely_and_reuses() {
        let mut plan = Plan::new();
        let mut spec = PoolSpec::new(24, Strategy::Sparse);
        spec.hold_down = 10;
        plan.add_pool(n("10.0.0.0/20"), spec).unwrap();
        let mut seen = BTreeSet::new();
        for _ in 0..16 {
            seen.insert(
                plan.alloc("10.0.0.0/20", Pick::Next, Owner::default(), t(0))
                    .unwrap(),
            );
        }
        assert_eq!(seen.len(), 16);
        let err = plan
            .alloc("10.0.0.0/20", Pick::Next, Owner::default(), t(0))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "pool 10.0.0.0/20 is full: 16 of 16 /24s in use"
        );
        assert_eq!(err.kind(), "full");
        plan.release(n("10.0.8.0/24"), t(0)).unwrap();
        plan.release(n("10.0.4.0/24"), t(0)).unwrap();
        assert_eq!(
            plan.alloc("10.0.0.0/20", Pick::Next, Owner::default(), t(9))
                .unwrap_err()
                .kind(),
            "full"
        );
        // After the hold-down: the lowest ordinal first (8 is ordinal 1, 4 is 2).
        assert_eq!(next_at(&mut plan, "10.0.0.0/20", 10), "10.0.8.0/24");
        assert_eq!(next_at(&mut plan, "10.0.0.0/20", 10), "10.0.4.0/24");
    }

    fn next_at(plan: &mut Plan, pool: &str, now: u64) -> String {
        plan.alloc(pool, Pick::Next, Owner::default(), t(now))
            .unwrap()
            .to_string()
    }

    #[test]
    fn sparse_after_round_trip_is_the_same() {
        let mut plan = Plan::new();
        let mut spec = PoolSpec::new(56, Strategy::Sparse);
        spec.hold_down = 0;
        plan.add_pool(n("2001:db8::/48"), spec).unwrap();
        for _ in 0..40 {
            next(&mut plan, "2001:db8::/48");
        }
        for p in [
            "2001:db8:0:8000::/56",
            "2001:db8:0:4400::/56",
            "2001:db8::/56",
        ] {
            plan.release(n(p), t(0)).unwrap();
        }
        plan.reserve("2001:db8::/48", n("2001:db8:0:200::/55"), "later")
            .unwrap();
        plan.reserve("2001:db8::/48", n("2001:db8:0:100::/56"), "one")
            .unwrap();
        let mut loaded = Plan::from_json(&plan.to_json()).unwrap();
        assert_eq!(loaded, plan);
        for _ in 0..30 {
            assert_eq!(
                next_at(&mut loaded, "2001:db8::/48", 1),
                next_at(&mut plan, "2001:db8::/48", 1)
            );
        }
        for r in ["2001:db8:0:200::/55", "2001:db8:0:100::/56"] {
            plan.unreserve(n(r)).unwrap();
            loaded.unreserve(n(r)).unwrap();
        }
        let mut again = Plan::from_json(&plan.to_json()).unwrap();
        for _ in 0..30 {
            let want = next_at(&mut plan, "2001:db8::/48", 1);
            assert_eq!(next_at(&mut loaded, "2001:db8::/48", 1), want);
            assert_eq!(next_at(&mut again, "2001:db8::/48", 1), want);
        }
    }

    #[test]
    fn sparse_exact_search_agrees_with_the_walk() {
        for (a, b, w) in [
            (0u64, 0u64, 4u8),
            (3, 5, 4),
            (1, 15, 4),
            (5, 5, 3),
            (6, 7, 3),
            (9, 14, 4),
            (0, u64::MAX, 64),
            (7, 1000, 12),
        ] {
            let best = (a..=b.min(a + 5000))
                .min_by_key(|&i| reverse(i, w))
                .unwrap();
            if b - a < 5000 {
                assert_eq!(min_ordinal_index(a, b, w), best, "{a}..={b} w={w}");
            }
        }
        assert_eq!(min_ordinal_index(0, u64::MAX, 64), 0);
        assert_eq!(reverse(1, 16), 0x8000);
        assert_eq!(reverse(0x8000, 16), 1);
        assert_eq!(reverse(1, 64), 1 << 63);
    }

    #[test]
    fn deterministic_pools() {
        let mut plan = Plan::new();
        let det = |e| PoolSpec::new(64, Strategy::Deterministic(e));
        plan.add_pool(n("2001:db8:100::/48"), det(IdEncoding::Decimal))
            .unwrap();
        plan.add_pool(n("2001:db8:200::/48"), det(IdEncoding::Number))
            .unwrap();
        plan.add_pool(n("2001:db8:300::/48"), det(IdEncoding::Hash))
            .unwrap();
        let id = |s: &str| Pick::Id(s.into());

        let a = plan
            .alloc("2001:db8:100::/48", id("4711"), cust("4711"), t(0))
            .unwrap();
        assert_eq!(a.to_string(), "2001:db8:100:4711::/64");
        let pool = plan.pool("2001:db8:100::/48").unwrap();
        assert_eq!(pool.slot_for_id("4711").unwrap(), a);
        let err = plan
            .alloc("2001:db8:100::/48", id("4711"), cust("x"), t(0))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "id \"4711\" maps to 2001:db8:100:4711::/64, which is already held by customer 4711"
        );
        assert_eq!(err.kind(), "id_unavailable");
        let err = plan
            .alloc("2001:db8:100::/48", id("123456"), cust("x"), t(0))
            .unwrap_err();
        assert!(err.to_string().contains("\"123456\""), "{err}");
        assert_eq!(err.kind(), "bad_id");
        let err = plan
            .alloc("2001:db8:100::/48", id("abc"), cust("x"), t(0))
            .unwrap_err();
        assert_eq!(err.kind(), "bad_id");
        let err = plan
            .alloc("2001:db8:100::/48", Pick::Next, cust("x"), t(0))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "pool 2001:db8:100::/48 is deterministic-decimal: give a child index or an id"
        );
        // Index works in any pool.
        let b = plan
            .alloc("2001:db8:100::/48", Pick::Index(1), cust("y"), t(0))
            .unwrap();
        assert_eq!(b.to_string(), "2001:db8:100:1::/64");

        let c = plan
            .alloc("2001:db8:200::/48", id("4711"), cust("4711"), t(0))
            .unwrap();
        assert_eq!(c.to_string(), "2001:db8:200:1267::/64"); // 4711 = 0x1267
        let err = plan
            .alloc("2001:db8:200::/48", id("65536"), cust("x"), t(0))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "id \"65536\" does not fit pool 2001:db8:200::/48: the pool has 65536 children, numbered from 0"
        );
        assert!(plan
            .alloc("2001:db8:200::/48", id("65535"), cust("x"), t(0))
            .is_ok());

        // FNV-1a 64 of "customer-a", low 16 bits, computed independently.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in b"customer-a" {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x100_0000_01b3);
        }
        let d = plan
            .alloc("2001:db8:300::/48", id("customer-a"), cust("a"), t(0))
            .unwrap();
        assert_eq!(
            plan.pool("2001:db8:300::/48").unwrap().index_of(d),
            Some(h & 0xffff)
        );
        // FNV-1a test vector: "a" → 0xaf63dc4c8601ec8c.
        let mut other = Plan::new();
        let mut wide = PoolSpec::new(128, Strategy::Deterministic(IdEncoding::Hash));
        wide.reserve_special = false;
        other.add_pool(n("2001:db8::/64"), wide).unwrap();
        let e = other
            .alloc("2001:db8::/64", id("a"), Owner::default(), t(0))
            .unwrap();
        assert_eq!(e.to_string(), "2001:db8::af63:dc4c:8601:ec8c/128");

        // Ids are refused elsewhere.
        let mut ff = Plan::new();
        ff.add_pool(n("2001:db8::/48"), PoolSpec::new(64, Strategy::FirstFit))
            .unwrap();
        assert_eq!(
            ff.alloc("2001:db8::/48", id("1"), Owner::default(), t(0))
                .unwrap_err()
                .to_string(),
            "pool 2001:db8::/48 is first-fit: ids are for deterministic pools"
        );
        // A decimal pool needs whole nibbles.
        let mut spec = PoolSpec::new(58, Strategy::Deterministic(IdEncoding::Decimal));
        spec.allow_unaligned = true;
        assert_eq!(
            ff.add_pool(n("2001:db9::/48"), spec).unwrap_err().kind(),
            "decimal_width"
        );
    }

    #[test]
    fn deterministic_is_stable_across_plans() {
        let spec = || PoolSpec::new(64, Strategy::Deterministic(IdEncoding::Hash));
        let mut a = Plan::new();
        a.add_pool(n("2001:db8::/48"), spec()).unwrap();
        let mut b = Plan::new();
        b.add_pool(n("2001:db8::/48"), spec()).unwrap();
        for i in 0..50 {
            b.alloc("2001:db8::/48", Pick::Index(i * 7), Owner::default(), t(0))
                .ok();
        }
        for id in ["x", "customer-17", "Ünïcode"] {
            let pa = a
                .alloc("2001:db8::/48", Pick::Id(id.into()), Owner::default(), t(0))
                .unwrap();
            let slot = b.pool("2001:db8::/48").unwrap().slot_for_id(id).unwrap();
            assert_eq!(pa, slot);
        }
    }

    #[test]
    fn anycast_addresses_are_never_handed_out() {
        let mut plan = Plan::new();
        plan.add_pool(n("2001:db8::/64"), PoolSpec::new(128, Strategy::FirstFit))
            .unwrap();
        let pool = plan.pool("2001:db8::/64").unwrap();
        let auto: Vec<(String, bool)> = pool
            .reservations()
            .map(|r| (r.prefix.to_string(), r.automatic))
            .collect();
        assert_eq!(
            auto,
            [
                ("2001:db8::/128".to_string(), true),
                ("2001:db8::fdff:ffff:ffff:ff80/121".to_string(), true)
            ]
        );
        assert_eq!(pool.usage().reserved, 129);
        assert_eq!(next(&mut plan, "2001:db8::/64"), "2001:db8::1/128");
        for (pick, kind) in [
            (Pick::Index(0), "reserved"),
            (Pick::At(n("2001:db8::fdff:ffff:ffff:ff80/128")), "reserved"),
            (Pick::At(n("2001:db8::fdff:ffff:ffff:ffff/128")), "reserved"),
        ] {
            assert_eq!(
                plan.alloc("2001:db8::/64", pick, Owner::default(), t(0))
                    .unwrap_err()
                    .kind(),
                kind
            );
        }
        let err = plan
            .alloc("2001:db8::/64", Pick::Index(0), Owner::default(), t(0))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "2001:db8::/128 is reserved (2001:db8::/128: subnet-router anycast address, RFC 4291 §2.6.1)"
        );
        assert!(plan
            .alloc(
                "2001:db8::/64",
                Pick::At(n("2001:db8::fdff:ffff:ffff:ff7f/128")),
                Owner::default(),
                t(0)
            )
            .is_ok());
        assert!(plan
            .alloc(
                "2001:db8::/64",
                Pick::At(n("2001:db8::fe00:0:0:0/128")),
                Owner::default(),
                t(0)
            )
            .is_ok());
        assert_eq!(
            plan.unreserve(n("2001:db8::/128")).unwrap_err().kind(),
            "auto_reserved"
        );
        // Automatic reservations are not written, and come back on load.
        let json = plan.to_json();
        assert!(!json.contains("anycast"), "{json}");
        assert_eq!(Plan::from_json(&json).unwrap(), plan);

        // A pool inside the RFC 2526 range is wholly reserved; one outside
        // the /64's start has no anycast address.
        let mut p = Plan::new();
        p.add_pool(
            n("2001:db8::fdff:ffff:ffff:ffc0/122"),
            PoolSpec::new(128, Strategy::FirstFit),
        )
        .unwrap();
        assert_eq!(
            p.pool("2001:db8::fdff:ffff:ffff:ffc0/122")
                .unwrap()
                .usage()
                .free,
            0
        );
        p.add_pool(
            n("2001:db8:1::100/120"),
            PoolSpec::new(128, Strategy::FirstFit),
        )
        .unwrap();
        assert_eq!(p.pool("2001:db8:1::100/120").unwrap().usage().reserved, 0);
        // Turned off: ::0 is handed out.
        let mut spec = PoolSpec::new(128, Strategy::FirstFit);
        spec.reserve_special = false;
        p.add_pool(n("2001:db8:2::/64"), spec).unwrap();
        assert_eq!(next(&mut p, "2001:db8:2::/64"), "2001:db8:2::/128");
    }

    #[test]
    fn ipv4_network_and_broadcast() {
        let mut plan = Plan::new();
        plan.add_pool(n("198.51.100.0/30"), PoolSpec::new(32, Strategy::FirstFit))
            .unwrap();
        assert_eq!(next(&mut plan, "198.51.100.0/30"), "198.51.100.1/32");
        assert_eq!(next(&mut plan, "198.51.100.0/30"), "198.51.100.2/32");
        assert_eq!(
            plan.alloc("198.51.100.0/30", Pick::Next, Owner::default(), t(0))
                .unwrap_err()
                .to_string(),
            "pool 198.51.100.0/30 is full: 4 of 4 /32s in use"
        );
        let err = plan
            .alloc("198.51.100.0/30", Pick::Index(3), Owner::default(), t(0))
            .unwrap_err();
        assert!(err.to_string().contains("broadcast"), "{err}");
        // A /31 (RFC 3021) has no network or broadcast address.
        plan.add_pool(n("198.51.100.4/31"), PoolSpec::new(32, Strategy::FirstFit))
            .unwrap();
        assert_eq!(next(&mut plan, "198.51.100.4/31"), "198.51.100.4/32");
        // IPv4 takes any child length.
        plan.add_pool(n("203.0.113.0/24"), PoolSpec::new(29, Strategy::FirstFit))
            .unwrap();
        assert_eq!(next(&mut plan, "203.0.113.0/24"), "203.0.113.0/29");
    }

    #[test]
    fn reservations() {
        let mut plan = Plan::new();
        plan.add_pool(n("2001:db8::/32"), named(48, Strategy::FirstFit, "p"))
            .unwrap();
        plan.reserve("p", n("2001:db8::/46"), "infrastructure")
            .unwrap();
        assert_eq!(next(&mut plan, "p"), "2001:db8:4::/48");
        assert_eq!(plan.pool("p").unwrap().usage().reserved, 4);
        for (range, msg) in [
            ("2001:db8:4::/48", "2001:db8:4::/48 overlaps allocation 2001:db8:4::/48"),
            ("2001:db8::/47", "2001:db8::/47 overlaps reservation 2001:db8::/46 (infrastructure)"),
            ("2001:db8:4::/56", "2001:db8:4::/56 is smaller than a child of pool 2001:db8::/32 (/48): reservations are whole children"),
            ("2001:db9::/48", "2001:db9::/48 is not inside pool 2001:db8::/32"),
            ("2001:db8:5::1/48", "\"2001:db8:5::1/48\" has bits set beyond the prefix length (did you mean 2001:db8:5::/48?)"),
        ] {
            assert_eq!(plan.reserve("p", n(range), "x").unwrap_err().to_string(), msg, "{range}");
        }
        assert_eq!(
            plan.reserve("p", n("2001:db8:8::/48"), "")
                .unwrap_err()
                .kind(),
            "bad_text"
        );
        let err = plan
            .alloc("p", Pick::At(n("2001:db8:1::/48")), Owner::default(), t(0))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "2001:db8:1::/48 is reserved (2001:db8::/46: infrastructure)"
        );
        assert_eq!(
            plan.unreserve(n("2001:db8::/47")).unwrap_err().kind(),
            "not_reserved"
        );
        plan.unreserve(n("2001:db8::/46")).unwrap();
        assert_eq!(plan.pool("p").unwrap().usage().reserved, 0);
        assert_eq!(next(&mut plan, "p"), "2001:db8::/48");
        // Held children block reservations too.
        plan.release(n("2001:db8::/48"), t(5)).unwrap();
        assert_eq!(
            plan.reserve("p", n("2001:db8::/44"), "x")
                .unwrap_err()
                .to_string(),
            format!(
                "2001:db8::/44 overlaps held child 2001:db8::/48 (until {})",
                5 + DEFAULT_HOLD_DOWN
            )
        );
    }

    #[test]
    fn hold_down() {
        let mut plan = Plan::new();
        let mut spec = PoolSpec::new(64, Strategy::FirstFit);
        spec.hold_down = 100;
        plan.add_pool(n("2001:db8::/48"), spec).unwrap();
        let a = plan
            .alloc("2001:db8::/48", Pick::Next, cust("1"), t(1000))
            .unwrap();
        let gone = plan.release(a, t(2000)).unwrap();
        assert_eq!(
            gone,
            [Released {
                prefix: a,
                owner: cust("1"),
                until: t(2100)
            }]
        );
        assert_eq!(
            next_at(&mut plan, "2001:db8::/48", 2050),
            "2001:db8:0:1::/64"
        );
        let err = plan
            .alloc("2001:db8::/48", Pick::At(a), Owner::default(), t(2099))
            .unwrap_err();
        assert_eq!(err.to_string(), "2001:db8::/64 is in hold-down until 2100");
        assert_eq!(plan.pool("2001:db8::/48").unwrap().usage().held, 1);
        let held: Vec<_> = plan.pool("2001:db8::/48").unwrap().held().collect();
        assert_eq!(held, [(a, t(2100))]);
        assert_eq!(plan.expire(t(2099)), 0);
        assert_eq!(plan.expire(t(2100)), 1);
        assert_eq!(plan.pool("2001:db8::/48").unwrap().usage().held, 0);
        assert_eq!(next_at(&mut plan, "2001:db8::/48", 2100), "2001:db8::/64");
        // alloc expires by itself.
        plan.release(a, t(3000)).unwrap();
        assert_eq!(next_at(&mut plan, "2001:db8::/48", 3100), "2001:db8::/64");
        // Hold-down 0: free again at the same second.
        let mut p = Plan::new();
        let mut spec = PoolSpec::new(32, Strategy::FirstFit);
        spec.hold_down = 0;
        p.add_pool(n("192.0.2.0/24"), spec).unwrap();
        let x = p
            .alloc("192.0.2.0/24", Pick::Next, Owner::default(), t(5))
            .unwrap();
        p.release(x, t(5)).unwrap();
        assert_eq!(
            p.alloc("192.0.2.0/24", Pick::Next, Owner::default(), t(5))
                .unwrap(),
            x
        );
    }

    #[test]
    fn release_cascades_and_customers() {
        let mut plan = tree();
        assert_eq!(plan.held_by("42").len(), 3);
        let held: Vec<String> = plan
            .held_by("42")
            .iter()
            .map(|a| a.prefix().to_string())
            .collect();
        assert_eq!(
            held,
            ["198.51.100.1/32", "2001:db8::/64", "2001:db8::1/128"]
        );
        // Only exact allocations are released.
        let err = plan.release(n("2001:db8::5/128"), t(10)).unwrap_err();
        assert_eq!(err.to_string(), "2001:db8::5/128 is not an allocation");
        let err = plan.release(n("2001:db8:0:1::5/128"), t(10)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "2001:db8:0:1::5/128 is not an allocation (it lies within allocation 2001:db8:0:1::/64)"
        );
        assert_eq!(
            plan.release(n("2001:db9::/64"), t(10)).unwrap_err().kind(),
            "not_in_plan"
        );

        // Releasing the site takes everything under it; names go too.
        let gone = plan.release(n("2001:db8::/48"), t(10)).unwrap();
        let gone: Vec<String> = gone.iter().map(|r| r.prefix.to_string()).collect();
        assert_eq!(
            gone,
            [
                "2001:db8::/48",
                "2001:db8::/64",
                "2001:db8::1/128",
                "2001:db8:0:1::/64"
            ]
        );
        assert!(plan.pool("fra1").is_err() && plan.pool("c42").is_err());
        assert_eq!(plan.held_by("42").len(), 1);
        assert_eq!(plan.held_by("43").len(), 0);
        let json = plan.to_json();
        assert_eq!(Plan::from_json(&json).unwrap(), plan);
        // The name can be used again.
        let site = plan
            .alloc("provider", Pick::Next, Owner::default(), t(10))
            .unwrap();
        plan.subdivide(site, named(64, Strategy::FirstFit, "fra1"))
            .unwrap();

        let mut plan = tree();
        let gone = plan.release_customer("42", t(10));
        let gone: Vec<String> = gone.iter().map(|r| r.prefix.to_string()).collect();
        assert_eq!(
            gone,
            ["198.51.100.1/32", "2001:db8::/64", "2001:db8::1/128"]
        );
        assert!(plan.held_by("42").is_empty());
        assert_eq!(plan.held_by("43").len(), 1);
        assert!(plan.release_customer("nobody", t(10)).is_empty());
        // IPv4 has no hold-down here; the /64 has the default.
        assert_eq!(next_at(&mut plan, "v4", 10), "198.51.100.1/32");
        assert_eq!(next_at(&mut plan, "fra1", 10), "2001:db8:0:2::/64");
        assert_eq!(
            next_at(&mut plan, "fra1", 10 + DEFAULT_HOLD_DOWN),
            "2001:db8::/64"
        );
    }

    #[test]
    fn subdivide_and_pools() {
        let mut plan = tree();
        let c43 = n("2001:db8:0:1::/64");
        assert_eq!(
            plan.subdivide(c43, PoolSpec::new(60, Strategy::FirstFit))
                .unwrap_err()
                .kind(),
            "child_len"
        );
        assert_eq!(
            plan.subdivide(n("2001:db8::/64"), PoolSpec::new(128, Strategy::FirstFit))
                .unwrap_err()
                .kind(),
            "already_pool"
        );
        assert_eq!(
            plan.subdivide(
                n("2001:db8:0:2::/64"),
                PoolSpec::new(128, Strategy::FirstFit)
            )
            .unwrap_err()
            .kind(),
            "not_allocated"
        );
        assert_eq!(
            plan.subdivide(c43, named(128, Strategy::FirstFit, "c42"))
                .unwrap_err()
                .to_string(),
            "pool name \"c42\" is already used by 2001:db8::/64"
        );
        assert_eq!(
            plan.subdivide(c43, named(128, Strategy::FirstFit, "a b"))
                .unwrap_err()
                .kind(),
            "bad_name"
        );
        let pool = plan
            .subdivide(c43, PoolSpec::new(80, Strategy::FirstFit))
            .unwrap();
        assert_eq!(pool.prefix(), c43);
        // The owner stays.
        assert_eq!(plan.held_by("43")[0].pool().map(Pool::child_len), Some(80));
        // Nesting is bounded.
        let mut p = Plan::new();
        p.add_pool(n("2001:db8::/32"), PoolSpec::new(36, Strategy::FirstFit))
            .unwrap();
        let mut key = "2001:db8::/32".to_string();
        let mut len = 36;
        for depth in 2..=MAX_NESTING + 1 {
            let a = p.alloc(&key, Pick::Next, Owner::default(), t(0)).unwrap();
            let r = p.subdivide(a, PoolSpec::new(len + 4, Strategy::FirstFit));
            if depth > MAX_NESTING {
                assert_eq!(r.unwrap_err().kind(), "nesting");
            } else {
                r.unwrap();
            }
            key = a.to_string();
            len += 4;
        }
        assert_eq!(p.pools().len(), MAX_NESTING);
        assert_eq!(Plan::from_json(&p.to_json()).unwrap(), p);
    }

    #[test]
    fn add_and_remove_pools() {
        let mut plan = Plan::new();
        plan.add_pool(n("2001:db8::/32"), PoolSpec::new(48, Strategy::FirstFit))
            .unwrap();
        for (prefix, len, msg) in [
            ("2001:db8::/32", 48, "pool 2001:db8::/32 overlaps pool 2001:db8::/32"),
            ("2001::/16", 32, "pool 2001::/16 overlaps pool 2001:db8::/32"),
            ("2001:db9::/32", 50, "child length /50 is not on a nibble boundary (use allow_unaligned)"),
            ("2001:db9::/32", 32, "child length /32 does not fit pool 2001:db9::/32: it must be longer than /32 and at most /128"),
            ("2001:db9::/32", 100, "pool 2001:db9::/32 of /100s would have 2^68 children; at most 2^64 (a child length at most /96)"),
            ("2001:db9::1/32", 48, "\"2001:db9::1/32\" has bits set beyond the prefix length (did you mean 2001:db9::/32?)"),
            ("192.0.2.0/24", 33, "child length /33 does not fit pool 192.0.2.0/24: it must be longer than /24 and at most /32"),
        ] {
            let e = plan.add_pool(n(prefix), PoolSpec::new(len, Strategy::FirstFit)).unwrap_err();
            assert_eq!(e.to_string(), msg);
        }
        let mut spec = PoolSpec::new(62, Strategy::FirstFit);
        spec.allow_unaligned = true;
        plan.add_pool(n("2001:db9::/56"), spec).unwrap();
        assert_eq!(next(&mut plan, "2001:db9::/56"), "2001:db9::/62");
        assert_eq!(next(&mut plan, "2001:db9::/56"), "2001:db9:0:4::/62");
        assert_eq!(
            plan.remove_pool(n("2001:db9::/56")).unwrap_err().kind(),
            "pool_in_use"
        );
        assert!(plan.remove_pool(n("2001:db8::/32")).is_ok());
        assert_eq!(
            plan.remove_pool(n("2001:db8::/32"))
                .unwrap_err()
                .to_string(),
            "no pool 2001:db8::/32"
        );
        assert_eq!(plan.pools().len(), 1);
        // A 2^64-child pool works at the edges.
        plan.add_pool(n("2001:db8::/64"), PoolSpec::new(128, Strategy::Sparse))
            .unwrap();
        let p = plan.pool("2001:db8::/64").unwrap();
        assert_eq!(p.usage().total, 1 << 64);
        assert_eq!(
            p.child(u64::MAX).unwrap().to_string(),
            "2001:db8::ffff:ffff:ffff:ffff/128"
        );
        assert_eq!(next(&mut plan, "2001:db8::/64"), "2001:db8:0:0:8000::/128");
        plan.add_pool(n("::/0"), PoolSpec::new(64, Strategy::FirstFit))
            .unwrap_err();
        plan.add_pool(n("0.0.0.0/0"), PoolSpec::new(32, Strategy::Sparse))
            .unwrap();
        assert_eq!(next(&mut plan, "0.0.0.0/0"), "128.0.0.0/32");
    }

    #[test]
    fn lookup_paths() {
        let mut plan = tree();
        let steps = plan.lookup(n("2001:db8::1/128")).unwrap();
        let names: Vec<Option<&str>> = steps.iter().map(|s| s.pool.name()).collect();
        assert_eq!(names, [Some("provider"), Some("fra1"), Some("c42")]);
        assert!(
            matches!(steps[2].status, Status::Allocated(a) if a.owner().host.as_deref() == Some("web1.example.com"))
        );
        assert_eq!(steps[2].child, Some(n("2001:db8::1/128")));
        let steps = plan.lookup(n("2001:db8::/128")).unwrap();
        assert!(matches!(steps[2].status, Status::Reserved(r) if r.automatic));
        let steps = plan.lookup(n("2001:db8:0:99::1/128")).unwrap();
        assert_eq!(steps.len(), 2);
        assert!(matches!(steps[1].status, Status::Free));
        assert!(matches!(
            plan.lookup(n("2001:db8:1::/48")).unwrap()[0].status,
            Status::Free
        ));
        // A query larger than a child.
        let steps = plan.lookup(n("2001:db8::/32")).unwrap();
        assert_eq!((steps.len(), steps[0].child), (1, None));
        assert!(matches!(steps[0].status, Status::Allocated(_)));
        plan.release(n("2001:db8::/64"), t(50)).unwrap();
        let steps = plan.lookup(n("2001:db8::5/128")).unwrap();
        assert!(
            matches!(steps[1].status, Status::Held { until } if until == t(50 + DEFAULT_HOLD_DOWN))
        );
        assert_eq!(plan.lookup(n("198.51.100.1/32")).unwrap().len(), 1);
        assert_eq!(
            plan.lookup(n("192.0.2.1/32")).unwrap_err().to_string(),
            "192.0.2.1/32 is not in any pool of the plan"
        );
        // Automatic reservations count: the broadcast address is in the /25.
        assert_eq!(
            plan.reserve("v4", n("198.51.100.128/25"), "later")
                .unwrap_err()
                .kind(),
            "overlap"
        );
        plan.reserve("v4", n("198.51.100.128/26"), "later").unwrap();
        assert!(
            matches!(plan.lookup(n("198.51.100.128/27")).unwrap()[0].status, Status::Reserved(r) if !r.automatic)
        );
    }

    #[test]
    fn free_blocks_and_usage() {
        let mut plan = Plan::new();
        plan.add_pool(n("2001:db8::/48"), PoolSpec::new(64, Strategy::FirstFit))
            .unwrap();
        for _ in 0..3 {
            next(&mut plan, "2001:db8::/48");
        }
        plan.reserve("2001:db8::/48", n("2001:db8:0:8::/61"), "x")
            .unwrap();
        let pool = plan.pool("2001:db8::/48").unwrap();
        let free: Vec<String> = pool.free(5).iter().map(|n| n.to_string()).collect();
        assert_eq!(
            free,
            [
                "2001:db8:0:3::/64",
                "2001:db8:0:4::/62",
                "2001:db8:0:10::/60",
                "2001:db8:0:20::/59",
                "2001:db8:0:40::/58"
            ]
        );
        assert_eq!(pool.free(100).len(), 2 + 12);
        assert!(pool.free(0).is_empty());
        assert_eq!(
            pool.usage(),
            Usage {
                child_len: 64,
                total: 65536,
                allocated: 3,
                reserved: 8,
                held: 0,
                free: 65525
            }
        );
        let mut p = Plan::new();
        p.add_pool(n("2001:db8::/64"), PoolSpec::new(128, Strategy::FirstFit))
            .unwrap();
        let whole: Vec<String> = p
            .pool("2001:db8::/64")
            .unwrap()
            .free(3)
            .iter()
            .map(|n| n.to_string())
            .collect();
        assert_eq!(
            whole,
            ["2001:db8::1/128", "2001:db8::2/127", "2001:db8::4/126"]
        );
        let mut p = Plan::new();
        let mut spec = PoolSpec::new(128, Strategy::FirstFit);
        spec.reserve_special = false;
        p.add_pool(n("2001:db8::/64"), spec).unwrap();
        assert_eq!(
            p.pool("2001:db8::/64").unwrap().free(3),
            [n("2001:db8::/64")]
        );
    }

    #[test]
    fn exports() {
        let mut plan = tree();
        let ptr: Vec<String> = plan
            .ptr_records(None)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            ptr,
            [
                "1.100.51.198.in-addr.arpa. IN PTR web1.example.com.",
                "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa. IN PTR web1.example.com.",
            ]
        );
        let fwd: Vec<String> = plan
            .forward_records(None)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            fwd,
            [
                "web1.example.com. IN A 198.51.100.1",
                "web1.example.com. IN AAAA 2001:db8::1"
            ]
        );
        assert_eq!(plan.ptr_records(Some(n("2001:db8::/32"))).len(), 1);
        assert_eq!(plan.forward_records(Some(n("2001:db9::/32"))).len(), 0);
        // A /56 and a /64 handed to customers.
        let site2 = plan
            .alloc("provider", Pick::Next, Owner::default(), t(1))
            .unwrap();
        plan.subdivide(site2, named(56, Strategy::FirstFit, "fra2"))
            .unwrap();
        plan.alloc("fra2", Pick::Next, cust("44"), t(1)).unwrap();
        let zones = plan.reverse_zones(None);
        let got: Vec<(String, Vec<String>, Option<String>)> = zones
            .iter()
            .map(|z| {
                (
                    z.prefix.to_string(),
                    z.zones.clone(),
                    z.owner.customer.clone(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                (
                    "2001:db8:0:1::/64".to_string(),
                    vec!["1.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.".to_string()],
                    Some("43".to_string())
                ),
                (
                    "2001:db8:8000::/56".to_string(),
                    vec!["0.0.0.0.0.8.8.b.d.0.1.0.0.2.ip6.arpa.".to_string()],
                    Some("44".to_string())
                ),
            ]
        );
        assert_eq!(plan.reverse_zones(Some(n("2001:db8:8000::/33"))).len(), 1);
        assert_eq!(RecordKind::Aaaa.to_string(), "AAAA");
    }

    #[test]
    fn owners_are_checked() {
        let mut plan = tree();
        let bad_host = Owner {
            host: Some("not a name!".into()),
            ..Owner::default()
        };
        let err = plan.alloc("fra1", Pick::Next, bad_host, t(0)).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("\"not a name!\" is not a host name: "),
            "{err}"
        );
        assert_eq!(err.kind(), "bad_host");
        let err = plan
            .alloc("fra1", Pick::Next, cust("a\nb"), t(0))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "customer id \"a\\nb\" refused: it has a control character"
        );
        let err = plan
            .alloc("fra1", Pick::Next, cust(&"x".repeat(256)), t(0))
            .unwrap_err();
        assert_eq!(err.kind(), "bad_text");
        let many = Owner {
            tags: (0..33).map(|i| i.to_string()).collect(),
            ..Owner::default()
        };
        assert_eq!(
            plan.alloc("fra1", Pick::Next, many, t(0))
                .unwrap_err()
                .to_string(),
            "33 tags given; at most 32 are allowed"
        );
        // Nothing was allocated by the failures.
        assert_eq!(plan.pool("fra1").unwrap().usage().allocated, 2);
        for (pick, kind) in [
            (Pick::At(n("2001:db8::/56")), "not_a_child"),
            (Pick::At(n("2001:db9::/64")), "not_in_pool"),
            (Pick::At(n("2001:db8:0:1::/64")), "taken"),
            (Pick::Index(70000), "index_out_of_range"),
        ] {
            assert_eq!(
                plan.alloc("fra1", pick, Owner::default(), t(0))
                    .unwrap_err()
                    .kind(),
                kind
            );
        }
        assert_eq!(
            plan.alloc(
                "fra1",
                Pick::At(n("2001:db8:0:1::/64")),
                Owner::default(),
                t(0)
            )
            .unwrap_err()
            .to_string(),
            "2001:db8:0:1::/64 is already held by customer 43"
        );
    }

    #[test]
    fn json_shape_and_round_trip() {
        let mut plan = Plan::new();
        plan.add_pool(n("2001:db8::/32"), named(48, Strategy::Sparse, "provider"))
            .unwrap();
        plan.reserve("provider", n("2001:db8:ffff::/48"), "infrastructure")
            .unwrap();
        let a = plan
            .alloc("provider", Pick::Next, Owner::default(), t(1_780_000_000))
            .unwrap();
        plan.subdivide(a, named(64, Strategy::FirstFit, "fra1"))
            .unwrap();
        let b = plan
            .alloc("provider", Pick::Next, Owner::default(), t(1_780_000_000))
            .unwrap();
        plan.release(b, t(1_789_395_200)).unwrap();
        let json = plan.to_json();
        let want = r#"{
  "version": 1,
  "pools": [
    {
      "prefix": "2001:db8::/32",
      "name": "provider",
      "child_len": 48,
      "strategy": "sparse",
      "hold_down": 604800,
      "allow_unaligned": false,
      "reserve_special": true,
      "reserved": [
        {
          "prefix": "2001:db8:ffff::/48",
          "reason": "infrastructure"
        }
      ],
      "held": [
        {
          "prefix": "2001:db8:8000::/48",
          "until": 1790000000
        }
      ],
      "allocations": [
        {
          "prefix": "2001:db8::/48",
          "customer": null,
          "host": null,
          "tags": [],
          "since": 1780000000,
          "pool": {
            "name": "fra1",
            "child_len": 64,
            "strategy": "first-fit",
            "hold_down": 604800,
            "allow_unaligned": false,
            "reserve_special": true,
            "reserved": [],
            "held": [],
            "allocations": []
          }
        }
      ]
    }
  ]
}
"#;
        assert_eq!(json, want);
        let loaded = Plan::from_json(&json).unwrap();
        assert_eq!(loaded, plan);
        assert_eq!(loaded.to_json(), json);
        // serde for embedding.
        let via_serde: Plan = serde_json::from_str(&serde_json::to_string(&plan).unwrap()).unwrap();
        assert_eq!(via_serde, plan);
        assert_eq!(
            Plan::from_json("{\"version\":1,\"pools\":[]}").unwrap(),
            Plan::new()
        );
        assert_eq!(
            Plan::new().to_json(),
            "{\n  \"version\": 1,\n  \"pools\": []\n}\n"
        );
    }

    #[test]
    fn json_errors() {
        let good = tree().to_json();
        let cases: &[(&str, &str, &str)] = &[
            (
                "\"version\": 1",
                "\"version\": 2",
                "plan file version 2 is newer than this sixgate (1)",
            ),
            (
                "\"version\": 1",
                "\"version\": 0",
                "plan file version 0 is not one this sixgate reads (1)",
            ),
            (
                "\"198.51.100.1/32\"",
                "\"198.51.100.1/24\"",
                "\"198.51.100.1/24\" has bits set beyond the prefix length",
            ),
            (
                "\"198.51.100.1/32\"",
                "\"198.51.101.1/32\"",
                "198.51.101.1/32 is not inside pool 198.51.100.0/24",
            ),
            (
                "\"198.51.100.1/32\"",
                "\"198.51.100.0/32\"",
                "198.51.100.0/32 is reserved",
            ),
            (
                "\"198.51.100.1/32\"",
                "\"2001:db8::1/128\"",
                "2001:db8::1/128 is not inside pool 198.51.100.0/24",
            ),
            (
                "\"2001:db8:0:1::/64\"",
                "\"2001:db8::/64\"",
                "2001:db8::/64 is already held by customer 42",
            ),
            (
                "\"2001:db8::1/128\"",
                "\"2001:db8::2/127\"",
                "is not a child of pool",
            ),
            (
                "\"name\": \"c42\"",
                "\"name\": \"fra1\"",
                "pool name \"fra1\" is already used",
            ),
            (
                "\"name\": \"c42\"",
                "\"name\": \"c 42\"",
                "is not a pool name",
            ),
            (
                "\"strategy\": \"sparse\"",
                "\"strategy\": \"best\"",
                "\"best\" is not a strategy",
            ),
            (
                "\"host\": \"web1.example.com\"",
                "\"host\": \"web 1\"",
                "\"web 1\" is not a host name",
            ),
            (
                "\"child_len\": 48",
                "\"child_len\": 47",
                "not on a nibble boundary",
            ),
            ("\"child_len\": 48", "\"child_len\": 300", "line"),
            ("\"since\": 1", "\"since\": -1", "line"),
            (
                "\"since\": 1",
                "\"since\": 1, \"extra\": 2",
                "unknown field `extra`",
            ),
            (
                "\"prefix\": \"198.51.100.0/24\"",
                "\"prefix\": \"junk\"",
                "\"junk\" is not an IP prefix",
            ),
        ];
        for (from, to, needle) in cases {
            assert!(good.contains(from), "{from}");
            let bad = good.replacen(from, to, 1);
            let err = Plan::from_json(&bad).unwrap_err();
            assert!(err.to_string().contains(needle), "{to}: {err}");
        }
        let pool = r#"{"prefix": "P", "child_len": 64, "strategy": "sparse", "hold_down": 0, "allow_unaligned": false, "reserve_special": true}"#;
        let two = format!(
            "{{\"version\": 1, \"pools\": [{}, {}]}}",
            pool.replace('P', "2001:db8::/48"),
            pool.replace('P', "2001:db8::/32")
        );
        assert_eq!(
            Plan::from_json(&two).unwrap_err().to_string(),
            "pool 2001:db8::/32 overlaps pool 2001:db8::/48"
        );
        assert!(Plan::from_json(&two.replace("2001:db8::/32", "2001:db9::/48")).is_ok());
        for junk in [
            "",
            "null",
            "[]",
            "{",
            "{\"version\": 1}",
            "{\"version\": 1, \"pools\": [",
            "\u{0}",
        ] {
            let err = Plan::from_json(junk).unwrap_err();
            assert_eq!(err.kind(), "json", "{junk:?}: {err}");
        }
        let err = Plan::from_json("{\"version\": 1, \"pools\": [").unwrap_err();
        assert!(err.to_string().contains("line 1 column 25"), "{err}");
        // Every truncation of a good file is an error, never a panic.
        for cut in (0..good.len()).step_by(7) {
            if let Some(part) = good.get(..cut) {
                assert!(Plan::from_json(part).is_err());
            }
        }
    }

    #[test]
    fn strategies_and_kinds() {
        for s in [
            Strategy::FirstFit,
            Strategy::Sparse,
            Strategy::Deterministic(IdEncoding::Number),
            Strategy::Deterministic(IdEncoding::Decimal),
            Strategy::Deterministic(IdEncoding::Hash),
        ] {
            assert_eq!(s.to_string().parse::<Strategy>().unwrap(), s);
            assert!(STRATEGY_NAMES.contains(s.name()));
        }
        let e = "FIRST-FIT".parse::<Strategy>().unwrap_err();
        assert_eq!(
            e.to_string(),
            "\"FIRST-FIT\" is not a strategy (expected one of first-fit, sparse, deterministic, \
             deterministic-decimal, deterministic-hash)"
        );
        assert_eq!(e.kind(), "strategy");
        assert_eq!(Error::Version { found: 9 }.kind(), "version");
        assert_eq!(
            Error::Full {
                pool: n("2001:db8::/32"),
                name: Some("provider".into()),
                used: 65536,
                total: 65536,
                child_len: 48
            }
            .to_string(),
            "pool 2001:db8::/32 (provider) is full: 65536 of 65536 /48s in use"
        );
    }
}
