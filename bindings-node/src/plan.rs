//! `Plan`: the address plan (`sixgate::plan`), the plain-object snapshots it
//! hands out, and the plan file shared with `sixgate plan`.
//!
//! The plan is one JavaScript object owning the core `Plan`. Everything it
//! returns (`Pool`, `Allocation`, `Step`, …) is a fresh plain object, so no
//! JavaScript value borrows the Rust plan and a later change never alters a
//! value already returned. The JSON is the core's, byte for byte the file
//! `sixgate plan` reads and writes.
//!
//! Besides conversion and error mapping this module does only the file I/O
//! the CLI does: an atomic save (temporary file, fsync, rename, directory
//! fsync) and, in `Plan.edit`, the CLI's writer lock (`flock` on
//! `PATH.lock`).

use std::collections::BTreeSet;
use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use ipnet::IpNet;
use napi::bindgen_prelude::{
    Array, FnArgs, FromNapiValue, Function, JavaScriptClassExt, JsObjectValue, Object, Unknown,
};
use napi::{Env, JsError, JsValue, Result, Status, ValueType};
use napi_derive::napi;
use sixgate::plan::{self as core, Owner, Pick, PoolSpec, Strategy, Timestamp};
use sixgate::text;

use crate::addr::{self, NormalizeOptions};
use crate::conv::{self, Count, Flag, FromJs, List, Net, NetOrAddr, Opts, Seconds, Str};
use crate::errors;

// --- options -------------------------------------------------------------------

/// Options of `Plan.addPool` and `Plan.subdivide`: how the pool is made.
#[napi(object, object_to_js = false)]
pub struct PoolOptions {
    /// The prefix length of each child: longer than the pool's, at most 64
    /// bits longer, a multiple of 4 for IPv6 unless `allowUnaligned`.
    #[napi(ts_type = "number")]
    pub child_len: Count,
    /// How the next child is picked; default `'first-fit'`. An unknown
    /// name throws `ERR_SIXGATE_PLAN` (kind `strategy`).
    #[napi(
        ts_type = "'first-fit' | 'sparse' | 'deterministic' | 'deterministic-decimal' | 'deterministic-hash'"
    )]
    pub strategy: Option<Str>,
    /// A name, unique in the plan: 1 to 64 of `A-Z a-z 0-9 . _ -`.
    #[napi(ts_type = "string")]
    pub name: Option<Str>,
    /// Seconds a released child is held back before it is handed out
    /// again; default 604800 (a week).
    #[napi(ts_type = "number")]
    pub hold_down: Option<Count>,
    /// Allow IPv6 children off a nibble boundary; default `false`.
    #[napi(ts_type = "boolean")]
    pub allow_unaligned: Option<Flag>,
    /// Reserve the special addresses (subnet-router anycast and RFC 2526
    /// anycast in pools of IPv6 /128s, network and broadcast in pools of
    /// IPv4 /32s); default `true`.
    #[napi(ts_type = "boolean")]
    pub reserve_special: Option<Flag>,
}

/// Options of `Plan.alloc`. At most one of `at`, `index` and `id`.
#[napi(object, object_to_js = false)]
pub struct AllocOptions {
    /// Wall-clock time in Unix seconds (`Date.now() / 1000`; fractions are
    /// dropped): the allocation's `since`, and hold-downs due by then
    /// expire first.
    #[napi(ts_type = "number")]
    pub now: Seconds,
    /// The customer id (what `heldBy` and `releaseCustomer` go by).
    #[napi(ts_type = "string")]
    pub customer: Option<Str>,
    /// The host name (stored lower case, no trailing dot); a single-address
    /// allocation with one gets PTR and forward records.
    #[napi(ts_type = "string")]
    pub host: Option<Str>,
    /// Free-form tags.
    #[napi(ts_type = "string[]")]
    pub tags: Option<List<Str>>,
    /// Exactly this child (`address/length` text).
    #[napi(ts_type = "string")]
    pub at: Option<Net>,
    /// Child number n, 0-based (a `bigint` for numbers past 2^53).
    #[napi(ts_type = "number | bigint")]
    pub index: Option<Count>,
    /// The id a deterministic pool derives the child from.
    #[napi(ts_type = "string")]
    pub id: Option<Str>,
}

/// The time option of `release`, `releaseCustomer` and `expire`.
#[napi(object, object_to_js = false)]
pub struct PlanTimeOptions {
    /// Wall-clock time in Unix seconds (`Date.now() / 1000`; fractions are
    /// dropped).
    #[napi(ts_type = "number")]
    pub now: Seconds,
}

/// Options of `Plan.reserve`.
#[napi(object, object_to_js = false)]
pub struct ReserveOptions {
    /// Why; default `'reserved'`.
    #[napi(ts_type = "string")]
    pub reason: Option<Str>,
}

/// Options of `Plan.free`.
#[napi(object, object_to_js = false)]
pub struct FreeOptions {
    /// At most this many blocks; default 100.
    #[napi(ts_type = "number")]
    pub limit: Option<Count>,
}

/// Options of the DNS exports (`ptrRecords`, `forwardRecords`,
/// `reverseZones`).
#[napi(object, object_to_js = false)]
pub struct WithinOptions {
    /// Only what lies within this network (`address/length` text).
    #[napi(ts_type = "string")]
    pub within: Option<Net>,
}

/// Options of `Plan.edit`.
#[napi(object, object_to_js = false)]
pub struct EditOptions {
    /// How long to wait for another writer's lock, in milliseconds (as
    /// Node's own timeouts); default 10000, as `sixgate plan --wait`.
    #[napi(ts_type = "number")]
    pub wait: Option<Count>,
}

// --- snapshots -----------------------------------------------------------------

/// A pool's utilisation in child units (how many /64s of a /48, not how
/// many addresses): `allocated + reserved + held + free === total`. The
/// counts are `bigint`s because a pool has up to 2^64 children.
#[napi(object, object_from_js = false)]
pub struct Usage {
    /// The length of the children counted.
    pub child_len: u32,
    /// All children: 2n ** BigInt(childLen - prefix length).
    #[napi(ts_type = "bigint")]
    pub total: u128,
    /// Children allocated (sub-pools included).
    #[napi(ts_type = "bigint")]
    pub allocated: u128,
    /// Children covered by reservations, manual and automatic.
    #[napi(ts_type = "bigint")]
    pub reserved: u128,
    /// Children in hold-down after a release.
    #[napi(ts_type = "bigint")]
    pub held: u128,
    /// Children that can be allocated now.
    #[napi(ts_type = "bigint")]
    pub free: u128,
}

/// A pool as it was when returned: its prefix, how it was made and its
/// utilisation. It does not follow later changes; ask the plan again
/// (`Plan.pool`). Its contents are on the plan: `free`, `reservations`,
/// `held`, `allocations`.
#[napi(object, object_from_js = false, use_nullable = true)]
pub struct Pool {
    /// The pool's prefix, e.g. `'2001:db8::/48'`.
    pub prefix: String,
    /// Its name, or `null`.
    pub name: Option<String>,
    /// The prefix length of its children.
    pub child_len: u32,
    /// How it picks the next child.
    #[napi(
        ts_type = "'first-fit' | 'sparse' | 'deterministic' | 'deterministic-decimal' | 'deterministic-hash'"
    )]
    pub strategy: String,
    /// Seconds a released child is held back before it is handed out again.
    pub hold_down: f64,
    /// Whether IPv6 children off a nibble boundary were allowed.
    pub allow_unaligned: bool,
    /// Whether the special addresses are reserved (see `PoolOptions`).
    pub reserve_special: bool,
    /// Utilisation when the snapshot was taken.
    pub usage: Usage,
}

/// One allocation as it was when returned.
#[napi(object, object_from_js = false, use_nullable = true)]
pub struct Allocation {
    /// The allocated prefix (one child of its pool).
    pub prefix: String,
    /// The customer id, or `null`.
    pub customer: Option<String>,
    /// The host name (lower case, no trailing dot), or `null`.
    pub host: Option<String>,
    /// The tags, sorted.
    pub tags: Vec<String>,
    /// When it was allocated, in Unix seconds.
    pub since: f64,
    /// Whether it has been subdivided into a pool.
    pub is_pool: bool,
    /// The pool it was subdivided into, or `null`.
    pub pool: Option<Pool>,
}

/// What a release gave back: the prefix, who held it, and when it can be
/// handed out again.
#[napi(object, object_from_js = false, use_nullable = true)]
pub struct Released {
    /// The released allocation's prefix.
    pub prefix: String,
    /// Who held it: the customer id, or `null`.
    pub customer: Option<String>,
    /// The host name it had, or `null`.
    pub host: Option<String>,
    /// The tags it had, sorted.
    pub tags: Vec<String>,
    /// When the prefix can be allocated again (Unix seconds); for the
    /// contents of a released sub-pool, when the sub-pool's prefix can.
    pub until: f64,
}

/// A range of a pool that is never handed out: made with `Plan.reserve`,
/// or by the plan itself (`automatic`) for the special addresses.
#[napi(object, object_from_js = false)]
pub struct Reservation {
    /// The reserved range: one child or an aligned block of them.
    pub prefix: String,
    /// Why; for automatic reservations, which RFC asks for it.
    pub reason: String,
    /// Made by the plan itself (the pool's `reserveSpecial`), not by
    /// `Plan.reserve`; such reservations are not in the JSON.
    pub automatic: bool,
}

/// A child in hold-down: `Plan.held` lists them.
#[napi(object, object_from_js = false)]
pub struct HeldChild {
    /// The held child.
    pub prefix: String,
    /// When it becomes free (Unix seconds).
    pub until: f64,
}

/// One pool on the path of `Plan.lookup`: the pool, the child of it that
/// holds the query, and that child's state.
#[napi(object, object_from_js = false, use_nullable = true)]
pub struct Step {
    /// The pool's prefix.
    pub pool: String,
    /// The pool's name, or `null`.
    pub pool_name: Option<String>,
    /// The child of the pool containing the query; `null` when the query
    /// is larger than a child.
    pub child: Option<String>,
    /// The child's state. When the query spans several children: the
    /// reservation covering it, else the state of the lowest of them that
    /// is not free, else free.
    #[napi(ts_type = "'allocated' | 'reserved' | 'held' | 'free'")]
    pub status: String,
    /// The allocation, when `status` is `'allocated'`.
    pub allocation: Option<Allocation>,
    /// The reservation, when `status` is `'reserved'`.
    pub reservation: Option<Reservation>,
    /// The reservation's reason, when `status` is `'reserved'`.
    pub reason: Option<String>,
    /// When a held child becomes free (Unix seconds), when `status` is
    /// `'held'`.
    pub until: Option<f64>,
}

/// A DNS record for an allocated address, names absolute (trailing dot).
/// (Not called `Record`, which would hide TypeScript's `Record<K, V>`.)
#[napi(object, object_from_js = false)]
pub struct DnsRecord {
    /// The owner name, e.g. `'web1.example.com.'`.
    pub name: String,
    /// The record type.
    #[napi(js_name = "type", ts_type = "'PTR' | 'AAAA' | 'A'")]
    pub kind: String,
    /// An absolute name for PTR, RFC 5952 address text for A and AAAA.
    pub data: String,
}

/// The reverse zones to delegate for one allocated prefix (one that is
/// neither a single address nor a pool), with who holds it.
#[napi(object, object_from_js = false, use_nullable = true)]
pub struct ReverseZone {
    /// The allocation.
    pub prefix: String,
    /// Its zones (absolute names), as `reverseZones(prefix)` gives them.
    pub zones: Vec<String>,
    /// Who holds it: the customer id, or `null`.
    pub customer: Option<String>,
    /// The allocation's host name, or `null`.
    pub host: Option<String>,
    /// The allocation's tags, sorted.
    pub tags: Vec<String>,
}

// --- the plan ------------------------------------------------------------------

/// An address plan: top-level pools (a provider block, IPv4 blocks beside
/// it), each a tree of allocations, any of which can become a pool itself:
/// provider block → site → customer prefix → host addresses. See
/// docs/plan.md.
///
/// A pool is named by its name or its prefix text (or a `Pool` snapshot).
/// Prefixes are strings; results are strings and plain snapshot objects
/// (`Pool`, `Allocation`, `Step`, …) that do not change with the plan.
/// Time (`now`) is wall-clock Unix seconds (`Date.now() / 1000`), never
/// monotonic time: a plan outlives processes. A change the plan refuses
/// throws an `Error` with `code` `ERR_SIXGATE_PLAN` and the core's `kind`
/// (`no_pool`, `taken`, `full`, …), and changes nothing.
///
/// The JSON (`toJson`, `fromJson`, `save`, `load`) is the file `sixgate
/// plan` uses; `Plan.edit` changes that file under the CLI's writer lock.
///
/// ```js
/// const plan = new Plan()
/// plan.addPool('2001:db8::/48', { childLen: 64, name: 'fra1' })
/// plan.alloc('fra1', { customer: '42', now: Date.now() / 1000 })  // '2001:db8::/64'
/// ```
#[napi]
pub struct Plan {
    inner: core::Plan,
}

#[napi]
impl Plan {
    /// An empty plan.
    #[napi(constructor)]
    #[allow(clippy::new_without_default)] // a JavaScript constructor
    pub fn new() -> Self {
        Self {
            inner: core::Plan::new(),
        }
    }

    /// Loads a plan from its JSON (the `sixgate plan` file format),
    /// checking everything again; `ERR_SIXGATE_PLAN` (kind `json`,
    /// `version`, or that of the check that failed) if it is not a valid
    /// plan.
    #[napi]
    pub fn from_json(env: Env, #[napi(ts_arg_type = "string")] text: Str) -> Result<Plan> {
        core::Plan::from_json(&text.0)
            .map(|inner| Plan { inner })
            .map_err(|e| errors::plan(&env, &e))
    }

    /// The plan as pretty, deterministic JSON with a trailing newline: the
    /// same plan always gives the same text, the one `sixgate plan` writes.
    #[napi]
    pub fn to_json(&self) -> String {
        self.inner.to_json()
    }

    /// Reads a plan file (`fromJson` of its text; the message of an
    /// `ERR_SIXGATE_PLAN` starts with the path). A file that cannot be
    /// read throws an `Error` like Node's `fs` errors: `code` (`ENOENT`,
    /// `EACCES`, …), `errno`, `syscall` and `path`.
    #[napi]
    pub fn load(env: Env, #[napi(ts_arg_type = "string")] path: Str) -> Result<Plan> {
        let path = PathBuf::from(path.0);
        load_file(&env, &path).map(|inner| Plan { inner })
    }

    /// Writes the plan to `path` as `sixgate plan` does: a temporary file
    /// in the same directory, fsync, rename over `path`, fsync of the
    /// directory, so a crash leaves the old file or the new one. It does
    /// not take the CLI's writer lock (use `Plan.edit` for that): with
    /// `sixgate plan` writing the same file at the same time, the last save
    /// wins. Failures throw as `load` does.
    #[napi]
    pub fn save(&self, env: Env, #[napi(ts_arg_type = "string")] path: Str) -> Result<()> {
        let text = self.inner.to_json();
        write_atomically(&env, Path::new(&path.0), &text)
    }

    /// Loads the plan file at `path`, calls `fn(plan)`, and saves the plan
    /// if `fn` returns, all under the writer lock `sixgate plan` takes (an
    /// exclusive `flock` on `PATH.lock`), so Node panels, Python panels and
    /// the CLI can change one plan file at the same time without losing an
    /// update. Returns what `fn` returns.
    ///
    /// Synchronous, like `fs.*Sync`: it blocks the event loop while it
    /// waits for the lock (up to `options.wait` milliseconds, default
    /// 10000, then an `Error` with `code` `ERR_SIXGATE_LOCKED`) and while
    /// `fn` runs. If `fn` throws, nothing is saved and its exception is
    /// thrown again; `fn` must not return a promise (a `TypeError`, code
    /// `ERR_INVALID_RETURN_VALUE`, and nothing saved). The lock is released
    /// in every case. Calling `Plan.edit` on the same file from inside `fn`
    /// waits for itself and fails with `ERR_SIXGATE_LOCKED`.
    ///
    /// ```js
    /// const prefix = Plan.edit('/var/lib/panel/plan.json', (plan) =>
    ///   plan.alloc('fra1', { customer: '42', now: Date.now() / 1000 }))
    /// ```
    #[napi(
        ts_generic_types = "T",
        ts_args_type = "path: string, fn: (plan: Plan) => T, options?: EditOptions",
        ts_return_type = "T"
    )]
    pub fn edit<'a>(
        env: &'a Env,
        path: Str,
        callback: Unknown<'a>,
        options: Option<Opts<EditOptions>>,
    ) -> Result<Unknown<'a>> {
        if callback.get_type()? != ValueType::Function {
            return Err(errors::type_error(
                env,
                &format!("expected a function, got {}", conv::type_of(&callback)),
            ));
        }
        let wait = options.and_then(|o| o.0.wait).map_or(10_000, |w| w.0);
        let path = PathBuf::from(path.0);
        let _lock = lock_file(env, &path, Duration::from_millis(wait))?;
        let inner = load_file(env, &path)?;
        let instance = Plan { inner }.into_instance(env)?;
        // `fn` runs inside a JavaScript try/catch, so whatever it throws
        // (a primitive too, which napi-rs cannot hold) is thrown again as
        // it was.
        let guard: Function<'a, FnArgs<(Unknown<'a>, Object<'a>)>, Array<'a>> =
            env.run_script(GUARD)?;
        let outcome = guard.call((callback, instance.as_object(env)).into())?;
        let returned = outcome
            .get::<Unknown<'a>>(1)?
            .ok_or_else(|| napi::Error::from_reason("the guard of Plan.edit returned no result"))?;
        if outcome.get::<bool>(0)? != Some(true) {
            env.throw(returned)?;
            return Err(napi::Error::from_status(Status::PendingException));
        }
        if is_thenable(&returned)? {
            return Err(throw_type_error(
                env,
                "ERR_INVALID_RETURN_VALUE",
                "the function given to Plan.edit returned a promise: it must change the plan \
                 synchronously (nothing was saved)",
            ));
        }
        write_atomically(env, &path, &instance.inner.to_json())?;
        Ok(returned)
    }

    /// A deep copy of the plan.
    #[napi(js_name = "clone")]
    pub fn copy(&self) -> Plan {
        Plan {
            inner: self.inner.clone(),
        }
    }

    /// Whether `other` is a plan with the same contents (what its JSON
    /// says).
    #[napi]
    pub fn equals(
        &self,
        env: Env,
        #[napi(ts_arg_type = "Plan")] other: Unknown<'_>,
    ) -> Result<bool> {
        if other.get_type()? != ValueType::Object || !Plan::instance_of(&env, &other)? {
            return Err(errors::type_error(
                &env,
                &format!("expected a Plan, got {}", conv::type_of(&other)),
            ));
        }
        let other = napi::bindgen_prelude::ClassInstance::<Plan>::from_unknown(other)?;
        Ok(self.inner == other.inner)
    }

    /// Adds a top-level pool: a provider block, or an IPv4 block beside it.
    /// Returns the new pool.
    ///
    /// ```js
    /// plan.addPool('2001:db8::/32', { childLen: 48, strategy: 'sparse', name: 'provider' })
    /// plan.addPool('198.51.100.0/24', { childLen: 32, name: 'v4', holdDown: 0 })
    /// ```
    #[napi]
    pub fn add_pool(
        &mut self,
        env: Env,
        #[napi(ts_arg_type = "string")] prefix: Net,
        #[napi(ts_arg_type = "PoolOptions")] options: Unknown<'_>,
    ) -> Result<Pool> {
        let spec = pool_spec(&env, options)?;
        self.inner
            .add_pool(prefix.0, spec)
            .map(pool_snapshot)
            .map_err(|e| errors::plan(&env, &e))
    }

    /// Removes a top-level pool that has no allocations and nothing held
    /// (its reservations go with it).
    #[napi]
    pub fn remove_pool(
        &mut self,
        env: Env,
        #[napi(ts_arg_type = "string")] prefix: Net,
    ) -> Result<()> {
        self.inner
            .remove_pool(prefix.0)
            .map_err(|e| errors::plan(&env, &e))
    }

    /// Allocates a child of `pool` and returns it. The pool's strategy
    /// picks it, unless `at` (exactly this child), `index` (child number n)
    /// or `id` (a deterministic pool's id) names it; in a deterministic
    /// pool with none of them the customer id is the id, as with `sixgate
    /// plan alloc`. Giving more than one of `at`, `index` and `id` is a
    /// `TypeError` (code `ERR_INCOMPATIBLE_OPTION_PAIR`).
    ///
    /// ```js
    /// plan.alloc('fra1', { customer: '42', now: Date.now() / 1000 })   // '2001:db8::/64'
    /// plan.alloc('fra2', { now: 0 })      // Error ERR_SIXGATE_PLAN, kind 'no_pool'
    /// ```
    #[napi]
    pub fn alloc(
        &mut self,
        env: Env,
        #[napi(ts_arg_type = "string | Pool")] pool: Unknown<'_>,
        #[napi(ts_arg_type = "AllocOptions")] options: Unknown<'_>,
    ) -> Result<String> {
        let pool = PoolKey::from_js(&env, pool)?;
        let o: AllocOptions = required_options(&env, options, &["now"])?;
        let pick = match (o.at, o.index, o.id) {
            (Some(at), None, None) => Pick::At(at.0),
            (None, Some(n), None) => Pick::Index(n.0),
            (None, None, Some(id)) => Pick::Id(id.0),
            (None, None, None) => {
                let deterministic = matches!(
                    self.pool_ref(&env, &pool)?.strategy(),
                    Strategy::Deterministic(_)
                );
                match &o.customer {
                    Some(c) if deterministic => Pick::Id(c.0.clone()),
                    _ => Pick::Next,
                }
            }
            _ => {
                return Err(throw_type_error(
                    &env,
                    "ERR_INCOMPATIBLE_OPTION_PAIR",
                    "alloc() takes at most one of the options at, index and id",
                ))
            }
        };
        let owner = Owner {
            customer: o.customer.map(|c| c.0),
            host: o.host.map(|h| h.0),
            tags: o
                .tags
                .map_or_else(BTreeSet::new, |t| t.0.into_iter().map(|s| s.0).collect()),
        };
        self.inner
            .alloc(&pool.0, pick, owner, Timestamp(o.now.0))
            .map(conv::net_text)
            .map_err(|e| errors::plan(&env, &e))
    }

    /// Turns the allocation `prefix` into a pool of children of `childLen`
    /// (a site's /48 into customer /64s, a customer's /64 into host
    /// /128s); its owner stays. Options as for `addPool`. Returns the new
    /// pool.
    #[napi]
    pub fn subdivide(
        &mut self,
        env: Env,
        #[napi(ts_arg_type = "string")] prefix: Net,
        #[napi(ts_arg_type = "PoolOptions")] options: Unknown<'_>,
    ) -> Result<Pool> {
        let spec = pool_spec(&env, options)?;
        self.inner
            .subdivide(prefix.0, spec)
            .map(pool_snapshot)
            .map_err(|e| errors::plan(&env, &e))
    }

    /// Releases the allocation `prefix` (exactly it; an address stands for
    /// its /32 or /128, an IPv4-mapped prefix for the IPv4 one) and
    /// everything under it, outermost first. Each prefix is held in its
    /// pool until `now` plus the pool's hold-down.
    #[napi]
    pub fn release(
        &mut self,
        env: Env,
        #[napi(ts_arg_type = "string")] prefix: NetOrAddr,
        #[napi(ts_arg_type = "PlanTimeOptions")] options: Unknown<'_>,
    ) -> Result<Vec<Released>> {
        let o: PlanTimeOptions = required_options(&env, options, &["now"])?;
        self.inner
            .release(text::normalize_net(prefix.0), Timestamp(o.now.0))
            .map(|all| all.into_iter().map(released).collect())
            .map_err(|e| errors::plan(&env, &e))
    }

    /// Releases everything `customer` holds, outermost first (a sub-pool
    /// takes its contents with it); an empty array if it holds nothing.
    #[napi]
    pub fn release_customer(
        &mut self,
        env: Env,
        #[napi(ts_arg_type = "string")] customer: Str,
        #[napi(ts_arg_type = "PlanTimeOptions")] options: Unknown<'_>,
    ) -> Result<Vec<Released>> {
        let o: PlanTimeOptions = required_options(&env, options, &["now"])?;
        Ok(self
            .inner
            .release_customer(&customer.0, Timestamp(o.now.0))
            .into_iter()
            .map(released)
            .collect())
    }

    /// Reserves `prefix` (whole children of `pool`) so that it is never
    /// handed out. It must not overlap an allocation, a held child or
    /// another reservation.
    #[napi]
    pub fn reserve(
        &mut self,
        env: Env,
        #[napi(ts_arg_type = "string | Pool")] pool: Unknown<'_>,
        #[napi(ts_arg_type = "string")] prefix: Net,
        #[napi(ts_arg_type = "ReserveOptions")] options: Option<Opts<ReserveOptions>>,
    ) -> Result<()> {
        let pool = PoolKey::from_js(&env, pool)?;
        let reason = options
            .and_then(|o| o.0.reason)
            .map_or_else(|| "reserved".to_owned(), |r| r.0);
        self.inner
            .reserve(&pool.0, prefix.0, &reason)
            .map_err(|e| errors::plan(&env, &e))
    }

    /// Removes a reservation made with `reserve` (exactly its prefix).
    #[napi]
    pub fn unreserve(
        &mut self,
        env: Env,
        #[napi(ts_arg_type = "string")] prefix: Net,
    ) -> Result<()> {
        self.inner
            .unreserve(prefix.0)
            .map_err(|e| errors::plan(&env, &e))
    }

    /// Frees every held child whose hold-down ends at or before `now`;
    /// returns how many. `alloc` and `release` do this themselves; call it
    /// before reading (`pool`, `free`, `lookup`) to see past hold-downs as
    /// free, as `sixgate plan show` does.
    #[napi]
    pub fn expire(
        &mut self,
        env: Env,
        #[napi(ts_arg_type = "PlanTimeOptions")] options: Unknown<'_>,
    ) -> Result<f64> {
        let o: PlanTimeOptions = required_options(&env, options, &["now"])?;
        // A count of children, far below 2^53.
        #[allow(clippy::cast_precision_loss)]
        Ok(self.inner.expire(Timestamp(o.now.0)) as f64)
    }

    /// The pool named `key` (its name, its prefix, or a `Pool`).
    #[napi]
    pub fn pool(
        &self,
        env: Env,
        #[napi(ts_arg_type = "string | Pool")] key: Unknown<'_>,
    ) -> Result<Pool> {
        let key = PoolKey::from_js(&env, key)?;
        self.pool_ref(&env, &key).map(pool_snapshot)
    }

    /// Every pool, depth-first, ascending prefixes.
    #[napi]
    pub fn pools(&self) -> Vec<Pool> {
        self.inner.pools().into_iter().map(pool_snapshot).collect()
    }

    /// Every allocation, depth-first, ascending (a sub-pool's allocation
    /// before its contents).
    #[napi]
    pub fn allocations(&self) -> Vec<Allocation> {
        self.inner
            .allocations()
            .into_iter()
            .map(allocation)
            .collect()
    }

    /// What `customer` holds, ascending (from an index, not a scan).
    #[napi]
    pub fn held_by(&self, #[napi(ts_arg_type = "string")] customer: Str) -> Vec<Allocation> {
        self.inner
            .held_by(&customer.0)
            .into_iter()
            .map(allocation)
            .collect()
    }

    /// The free space of `pool` as the largest aligned blocks (never
    /// smaller than a child), ascending, at most `limit` of them.
    #[napi]
    pub fn free(
        &self,
        env: Env,
        #[napi(ts_arg_type = "string | Pool")] pool: Unknown<'_>,
        #[napi(ts_arg_type = "FreeOptions")] options: Option<Opts<FreeOptions>>,
    ) -> Result<Vec<String>> {
        let pool = PoolKey::from_js(&env, pool)?;
        let limit = options
            .and_then(|o| o.0.limit)
            .map_or(100, |l| usize::try_from(l.0).unwrap_or(usize::MAX));
        Ok(self
            .pool_ref(&env, &pool)?
            .free(limit)
            .into_iter()
            .map(conv::net_text)
            .collect())
    }

    /// The reservations of `pool`, manual and automatic, ascending.
    #[napi]
    pub fn reservations(
        &self,
        env: Env,
        #[napi(ts_arg_type = "string | Pool")] pool: Unknown<'_>,
    ) -> Result<Vec<Reservation>> {
        let pool = PoolKey::from_js(&env, pool)?;
        Ok(self
            .pool_ref(&env, &pool)?
            .reservations()
            .map(reservation)
            .collect())
    }

    /// The held children of `pool` and when each becomes free, ascending.
    #[napi]
    pub fn held(
        &self,
        env: Env,
        #[napi(ts_arg_type = "string | Pool")] pool: Unknown<'_>,
    ) -> Result<Vec<HeldChild>> {
        let pool = PoolKey::from_js(&env, pool)?;
        Ok(self
            .pool_ref(&env, &pool)?
            .held()
            .map(|(net, until)| HeldChild {
                prefix: conv::net_text(net),
                until: seconds(until),
            })
            .collect())
    }

    /// Where `id` goes in the deterministic pool `pool`: computable from
    /// the id, the pool's prefix and child length alone, taken or not.
    #[napi]
    pub fn slot_for_id(
        &self,
        env: Env,
        #[napi(ts_arg_type = "string | Pool")] pool: Unknown<'_>,
        #[napi(ts_arg_type = "string")] id: Str,
    ) -> Result<String> {
        let pool = PoolKey::from_js(&env, pool)?;
        self.pool_ref(&env, &pool)?
            .slot_for_id(&id.0)
            .map(conv::net_text)
            .map_err(|e| errors::plan(&env, &e))
    }

    /// The path from the top-level pool to the deepest pool containing
    /// `query`, with the state of the child holding it in each. An address
    /// is looked up as its /32 or /128; an IPv4-mapped address or prefix
    /// as the IPv4 one, and an address under one of
    /// `options.nat64Prefixes` as the IPv4 address it embeds.
    /// `ERR_SIXGATE_PLAN` (kind `not_in_plan`) when no top-level pool
    /// contains it.
    ///
    /// ```js
    /// plan.lookup('::ffff:198.51.100.1')[0].allocation.host   // 'web1.example.com'
    /// plan.lookup('64:ff9b::c633:6401', { nat64Prefixes: ['64:ff9b::/96'] })
    /// ```
    #[napi]
    pub fn lookup(
        &self,
        env: Env,
        #[napi(ts_arg_type = "string")] query: NetOrAddr,
        #[napi(ts_arg_type = "NormalizeOptions")] options: Option<Opts<NormalizeOptions>>,
    ) -> Result<Vec<Step>> {
        let net = query.0;
        let net = if net.prefix_len() == net.max_prefix_len() {
            let prefixes = addr::prefix_list(options.and_then(|o| o.0.nat64_prefixes));
            IpNet::from(text::normalize(net.addr(), &prefixes))
        } else {
            text::normalize_net(net)
        };
        let steps = self.inner.lookup(net).map_err(|e| errors::plan(&env, &e))?;
        Ok(steps.iter().map(step).collect())
    }

    /// PTR records for every single-address allocation (/32, /128) with a
    /// host name, within `options.within` if given.
    #[napi]
    pub fn ptr_records(
        &self,
        #[napi(ts_arg_type = "WithinOptions")] options: Option<Opts<WithinOptions>>,
    ) -> Vec<DnsRecord> {
        let within = options.and_then(|o| o.0.within).map(|w| w.0);
        self.inner
            .ptr_records(within)
            .into_iter()
            .map(record)
            .collect()
    }

    /// A and AAAA records for the same allocations as `ptrRecords`.
    #[napi]
    pub fn forward_records(
        &self,
        #[napi(ts_arg_type = "WithinOptions")] options: Option<Opts<WithinOptions>>,
    ) -> Vec<DnsRecord> {
        let within = options.and_then(|o| o.0.within).map(|w| w.0);
        self.inner
            .forward_records(within)
            .into_iter()
            .map(record)
            .collect()
    }

    /// The reverse zones to delegate for each allocation that is neither a
    /// single address nor a pool (the prefixes handed to customers), within
    /// `options.within` if given.
    #[napi]
    pub fn reverse_zones(
        &self,
        #[napi(ts_arg_type = "WithinOptions")] options: Option<Opts<WithinOptions>>,
    ) -> Vec<ReverseZone> {
        let within = options.and_then(|o| o.0.within).map(|w| w.0);
        self.inner
            .reverse_zones(within)
            .into_iter()
            .map(|z| ReverseZone {
                prefix: conv::net_text(z.prefix),
                zones: z.zones,
                customer: z.owner.customer,
                host: z.owner.host,
                tags: z.owner.tags.into_iter().collect(),
            })
            .collect()
    }
}

impl Plan {
    fn pool_ref(&self, env: &Env, key: &PoolKey) -> Result<&core::Pool> {
        self.inner.pool(&key.0).map_err(|e| errors::plan(env, &e))
    }
}

// --- arguments -----------------------------------------------------------------

/// A pool named by its name or prefix text, or a `Pool` snapshot (any
/// object with a string `prefix`), whose prefix names it.
struct PoolKey(String);

impl FromJs for PoolKey {
    const EXPECTED: &'static str = "a pool's name or prefix (a string) or a Pool";

    fn from_js(env: &Env, value: Unknown<'_>) -> Result<Self> {
        match value.get_type()? {
            ValueType::String => String::from_unknown(value).map(PoolKey),
            ValueType::Object if !value.is_array()? => {
                let object = Object::from_unknown(value)?;
                match object.get::<Unknown<'_>>("prefix")? {
                    Some(p) if p.get_type()? == ValueType::String => {
                        String::from_unknown(p).map(PoolKey)
                    }
                    _ => Err(errors::type_error(
                        env,
                        &format!(
                            "expected {}, got an object without a string prefix",
                            Self::EXPECTED
                        ),
                    )),
                }
            }
            _ => Err(conv::wrong_type::<Self>(env, &value)),
        }
    }
}

/// An options object that must be given, with `fields` that must be in it
/// (napi-rs would throw a plain `Error` for a missing field; this throws
/// the `TypeError` a wrong type gets).
fn required_options<T: FromNapiValue>(env: &Env, value: Unknown<'_>, fields: &[&str]) -> Result<T> {
    if value.get_type()? != ValueType::Object || value.is_array()? {
        return Err(errors::type_error(
            env,
            &format!("expected an options object, got {}", conv::type_of(&value)),
        ));
    }
    let object = Object::from_unknown(value)?;
    for field in fields {
        if object.get::<Unknown<'_>>(field)?.is_none() {
            return Err(errors::type_error(
                env,
                &format!("the option {field} is required"),
            ));
        }
    }
    Opts::<T>::from_unknown(value).map(|o| o.0)
}

/// The `PoolSpec` of `addPool` / `subdivide` options.
fn pool_spec(env: &Env, options: Unknown<'_>) -> Result<PoolSpec> {
    let o: PoolOptions = required_options(env, options, &["childLen"])?;
    let child_len = u8::try_from(o.child_len.0).map_err(|_| {
        errors::range_error(
            env,
            &format!(
                "childLen {} is not a prefix length (0 to 128)",
                o.child_len.0
            ),
        )
    })?;
    let strategy = match o.strategy {
        Some(s) => s.0.parse().map_err(|e| errors::plan(env, &e))?,
        None => Strategy::FirstFit,
    };
    let mut spec = PoolSpec::new(child_len, strategy);
    spec.name = o.name.map(|n| n.0);
    if let Some(h) = o.hold_down {
        spec.hold_down = h.0;
    }
    if let Some(a) = o.allow_unaligned {
        spec.allow_unaligned = a.0;
    }
    if let Some(r) = o.reserve_special {
        spec.reserve_special = r.0;
    }
    Ok(spec)
}

/// Throws a `TypeError` with `code` (a Node code other than
/// `ERR_INVALID_ARG_TYPE`).
fn throw_type_error(env: &Env, code: &str, message: &str) -> napi::Error {
    match env.throw_type_error(message, Some(code)) {
        Ok(()) => napi::Error::from_status(Status::PendingException),
        Err(e) => e,
    }
}

/// Whether `value` is a promise or another thenable.
fn is_thenable(value: &Unknown<'_>) -> Result<bool> {
    if !matches!(value.get_type()?, ValueType::Object | ValueType::Function) {
        return Ok(false);
    }
    let object = Object::from_unknown(*value)?;
    match object.get::<Unknown<'_>>("then")? {
        Some(then) => Ok(then.get_type()? == ValueType::Function),
        None => Ok(false),
    }
}

// --- snapshots -----------------------------------------------------------------

/// Unix seconds as a JavaScript number (exact up to 2^53).
#[allow(clippy::cast_precision_loss)]
fn seconds(t: Timestamp) -> f64 {
    t.0 as f64
}

fn pool_snapshot(pool: &core::Pool) -> Pool {
    let spec = pool.spec();
    let u = pool.usage();
    Pool {
        prefix: conv::net_text(pool.prefix()),
        name: spec.name.clone(),
        child_len: u32::from(spec.child_len),
        strategy: spec.strategy.name().to_owned(),
        hold_down: seconds(Timestamp(spec.hold_down)),
        allow_unaligned: spec.allow_unaligned,
        reserve_special: spec.reserve_special,
        usage: Usage {
            child_len: u32::from(u.child_len),
            total: u.total,
            allocated: u.allocated,
            reserved: u.reserved,
            held: u.held,
            free: u.free,
        },
    }
}

fn allocation(a: &core::Allocation) -> Allocation {
    let owner = a.owner();
    Allocation {
        prefix: conv::net_text(a.prefix()),
        customer: owner.customer.clone(),
        host: owner.host.clone(),
        tags: owner.tags.iter().cloned().collect(),
        since: seconds(a.since()),
        is_pool: a.pool().is_some(),
        pool: a.pool().map(pool_snapshot),
    }
}

fn released(r: core::Released) -> Released {
    Released {
        prefix: conv::net_text(r.prefix),
        customer: r.owner.customer,
        host: r.owner.host,
        tags: r.owner.tags.into_iter().collect(),
        until: seconds(r.until),
    }
}

fn reservation(r: &core::Reservation) -> Reservation {
    Reservation {
        prefix: conv::net_text(r.prefix),
        reason: r.reason.clone(),
        automatic: r.automatic,
    }
}

fn step(s: &core::Step<'_>) -> Step {
    let (status, allocation, reservation, until) = match &s.status {
        core::Status::Allocated(a) => ("allocated", Some(allocation(a)), None, None),
        core::Status::Reserved(r) => ("reserved", None, Some(reservation(r)), None),
        core::Status::Held { until } => ("held", None, None, Some(seconds(*until))),
        core::Status::Free => ("free", None, None, None),
    };
    Step {
        pool: conv::net_text(s.pool.prefix()),
        pool_name: s.pool.name().map(str::to_owned),
        child: s.child.map(conv::net_text),
        status: status.to_owned(),
        reason: reservation.as_ref().map(|r| r.reason.clone()),
        allocation,
        reservation,
        until,
    }
}

fn record(r: core::Record) -> DnsRecord {
    DnsRecord {
        name: r.name,
        kind: r.kind.to_string(),
        data: r.data,
    }
}

// --- the plan file -------------------------------------------------------------

/// Calls `fn(plan)` and returns `[true, result]`, or `[false, thrown]`.
const GUARD: &str =
    "(function (fn, plan) { try { return [true, fn(plan)] } catch (e) { return [false, e] } })";

/// Distinguishes the temporary files of saves in one process.
static SAVES: AtomicU64 = AtomicU64::new(0);

/// Throws an `Error` shaped like Node's `fs` errors: `code` (`ENOENT`, …,
/// or `EIO` for an error with no better name), `errno` (negative, as
/// Node's), `syscall`, `path`, and a message naming the path.
fn io_error(env: &Env, e: &io::Error, syscall: &str, path: &Path) -> napi::Error {
    let code = errno_code(e);
    let message = format!("{code}: {e}, {syscall} '{}'", path.display());
    let thrown = (|| -> Result<()> {
        let error = JsError::from(napi::Error::new(code, message)).into_unknown(*env);
        let mut object = Object::from_unknown(error)?;
        if let Some(n) = e.raw_os_error() {
            object.set_named_property("errno", n.saturating_neg())?;
        }
        object.set_named_property("syscall", syscall)?;
        object.set_named_property("path", path.display().to_string())?;
        env.throw(object)
    })();
    match thrown {
        Ok(()) => napi::Error::from_status(Status::PendingException),
        Err(e) => e,
    }
}

/// The POSIX name Node gives an I/O error (from its kind, which std maps
/// from errno portably).
fn errno_code(e: &io::Error) -> &'static str {
    use io::ErrorKind as K;
    match e.kind() {
        K::NotFound => "ENOENT",
        K::PermissionDenied if e.raw_os_error() == Some(1) => "EPERM",
        K::PermissionDenied => "EACCES",
        K::AlreadyExists => "EEXIST",
        K::NotADirectory => "ENOTDIR",
        K::IsADirectory => "EISDIR",
        K::DirectoryNotEmpty => "ENOTEMPTY",
        K::ReadOnlyFilesystem => "EROFS",
        K::StorageFull => "ENOSPC",
        K::QuotaExceeded => "EDQUOT",
        K::FileTooLarge => "EFBIG",
        K::ResourceBusy => "EBUSY",
        K::ExecutableFileBusy => "ETXTBSY",
        K::CrossesDevices => "EXDEV",
        K::TooManyLinks => "EMLINK",
        K::InvalidFilename => "ENAMETOOLONG",
        K::StaleNetworkFileHandle => "ESTALE",
        K::WouldBlock => "EAGAIN",
        K::Interrupted => "EINTR",
        K::InvalidInput => "EINVAL",
        K::OutOfMemory => "ENOMEM",
        _ => "EIO",
    }
}

/// `path` with `suffix` appended to its file name (`plan.json.lock`), as
/// the CLI names its siblings; a `TypeError` for a path with no file name.
fn sibling(env: &Env, path: &Path, prefix: &str, suffix: &str) -> Result<PathBuf> {
    let Some(name) = path.file_name() else {
        return Err(throw_type_error(
            env,
            "ERR_INVALID_ARG_VALUE",
            &format!("{} is not a file name", path.display()),
        ));
    };
    let mut sibling = std::ffi::OsString::from(prefix);
    sibling.push(name);
    sibling.push(suffix);
    Ok(path.with_file_name(sibling))
}

/// Reads and parses the plan file at `path`.
fn load_file(env: &Env, path: &Path) -> Result<core::Plan> {
    let mut bytes = Vec::new();
    File::open(path)
        .map_err(|e| io_error(env, &e, "open", path))?
        .read_to_end(&mut bytes)
        .map_err(|e| io_error(env, &e, "read", path))?;
    let text = String::from_utf8(bytes).map_err(|e| {
        errors::sixgate_error(
            env,
            "ERR_SIXGATE_PLAN",
            "json",
            &format!("{}: not UTF-8 text ({e})", path.display()),
            None,
        )
    })?;
    core::Plan::from_json(&text).map_err(|e| {
        errors::sixgate_error(
            env,
            "ERR_SIXGATE_PLAN",
            e.kind(),
            &format!("{}: {e}", path.display()),
            None,
        )
    })
}

/// Writes `text` to `path` so that a crash leaves the old file or the new
/// one: a temporary file in the same directory, fsync, rename over `path`,
/// fsync of the directory (as `sixgate plan` writes).
fn write_atomically(env: &Env, path: &Path, text: &str) -> Result<()> {
    let unique = format!(
        ".{}.{}.tmp",
        std::process::id(),
        SAVES.fetch_add(1, Ordering::Relaxed)
    );
    let tmp = sibling(env, path, ".", &unique)?;
    let mut file = File::create(&tmp).map_err(|e| io_error(env, &e, "open", &tmp))?;
    let written = file
        .write_all(text.as_bytes())
        .map_err(|e| ("write", e))
        .and_then(|()| file.sync_all().map_err(|e| ("fsync", e)));
    drop(file);
    if let Err((syscall, e)) = written {
        let _ = fs::remove_file(&tmp);
        return Err(io_error(env, &e, syscall, &tmp));
    }
    if let Err(e) = fs::rename(&tmp, path) {
        let _ = fs::remove_file(&tmp);
        return Err(io_error(env, &e, "rename", path));
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    File::open(dir)
        .map_err(|e| io_error(env, &e, "open", dir))?
        .sync_all()
        .map_err(|e| io_error(env, &e, "fsync", dir))
}

/// The CLI's writer lock on `PATH.lock`, held until dropped (closing the
/// file releases the `flock`).
struct WriterLock {
    _file: File,
}

/// Takes the writer lock of the plan file `path`, waiting up to `wait`
/// for another writer (polling every 5 ms, as the CLI does).
fn lock_file(env: &Env, path: &Path, wait: Duration) -> Result<WriterLock> {
    let lock_path = sibling(env, path, "", ".lock")?;
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| io_error(env, &e, "open", &lock_path))?;
    let deadline = Instant::now().checked_add(wait);
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(WriterLock { _file: file }),
            Err(TryLockError::WouldBlock) if deadline.is_none_or(|d| Instant::now() < d) => {
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(TryLockError::WouldBlock) => {
                return Err(errors::sixgate_error(
                    env,
                    "ERR_SIXGATE_LOCKED",
                    "locked",
                    &format!(
                        "{} is locked by another writer (waited {} ms)",
                        lock_path.display(),
                        wait.as_millis()
                    ),
                    None,
                ))
            }
            Err(TryLockError::Error(e)) => return Err(io_error(env, &e, "flock", &lock_path)),
        }
    }
}
