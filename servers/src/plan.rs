//! `sixgate plan …`: the core's address plan on a plan file, for panels and
//! shell scripts (Perl panels read the `--json` output).
//!
//! The plan lives in one JSON file (the same versioned JSON the library
//! writes). Commands that change it are safe under concurrency and crashes:
//!
//! - an advisory lock on `FILE.lock` serialises writers, so two panels
//!   running `sixgate plan alloc` at the same moment never get the same
//!   prefix (a writer waits up to `--wait`, then gives up with an error);
//! - the new plan is written to `FILE.tmp`, fsync'd, renamed over `FILE` and
//!   the directory fsync'd, so a crash at any point leaves either the old or
//!   the new plan, never a torn one. Readers need no lock.
//!
//! Time (hold-downs) is wall-clock seconds since the Unix epoch, from the
//! system clock unless `--now` gives it.

use std::fmt::Write as _;
use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use clap::{Args, Subcommand};
use ipnet::IpNet;
use serde_json::{json, Value};
use sixgate::plan::{
    self, Allocation, Owner, Pick, Plan, Pool, PoolSpec, Record, Status, Step, Strategy, Timestamp,
};
use sixgate::rfc6052::Nat64Prefix;
use sixgate::text;

/// `sixgate plan`: options shared by every subcommand, then the subcommand.
#[derive(Debug, Args)]
pub(crate) struct PlanArgs {
    /// The plan file.
    #[arg(
        long,
        short,
        global = true,
        env = "SIXGATE_PLAN",
        default_value = "sixgate-plan.json",
        value_name = "FILE"
    )]
    file: PathBuf,
    /// Print JSON instead of plain lines.
    #[arg(long, global = true)]
    json: bool,
    /// The time, in seconds since the Unix epoch, for hold-downs (default:
    /// the system clock).
    #[arg(long, global = true, value_name = "SECONDS")]
    now: Option<u64>,
    /// How long a writer waits for another writer's lock before giving up.
    #[arg(long, global = true, default_value = "10s", value_name = "DURATION",
          value_parser = parse_wait)]
    wait: Duration,
    #[command(subcommand)]
    command: PlanCommand,
}

/// The subcommands of `sixgate plan`.
#[derive(Debug, Subcommand)]
enum PlanCommand {
    /// Create a new plan file, optionally with its first pool (refuses to
    /// overwrite an existing file unless --force).
    Init {
        /// Overwrite an existing plan file.
        #[arg(long)]
        force: bool,
        /// A first top-level pool (e.g. the provider block).
        #[arg(long, value_name = "PREFIX", requires = "child")]
        pool: Option<String>,
        #[command(flatten)]
        spec: SpecArgs,
    },
    /// Add a top-level pool: a provider block, or an IPv4 block beside it.
    AddPool {
        /// The pool's prefix (no host bits set).
        #[arg(value_name = "PREFIX")]
        prefix: String,
        #[command(flatten)]
        spec: SpecArgs,
    },
    /// Remove an empty top-level pool.
    RemovePool {
        /// The pool's prefix.
        #[arg(value_name = "PREFIX")]
        prefix: String,
    },
    /// Allocate a child of a pool (a site, a customer prefix, a host
    /// address) and print it. In a deterministic pool the child comes from
    /// --index, --id or, failing both, --customer.
    Alloc {
        /// The pool: its name or prefix.
        #[arg(long, short, value_name = "POOL")]
        pool: String,
        /// The customer id this allocation belongs to.
        #[arg(long, value_name = "ID")]
        customer: Option<String>,
        /// The host name (gives PTR and forward records for an address).
        #[arg(long, value_name = "NAME")]
        host: Option<String>,
        /// A free-form tag (repeatable).
        #[arg(long = "tag", value_name = "TAG")]
        tags: Vec<String>,
        /// Take exactly this child.
        #[arg(long, value_name = "PREFIX", conflicts_with_all = ["index", "id"])]
        at: Option<String>,
        /// Take child number N (0-based).
        #[arg(long, value_name = "N", conflicts_with = "id")]
        index: Option<u64>,
        /// Derive the child from this id (deterministic pools).
        #[arg(long, value_name = "ID")]
        id: Option<String>,
        /// Make the new allocation a pool of children of this length (e.g.
        /// a customer /64 for host /128s); the pool options below apply.
        #[arg(long, value_name = "LEN")]
        subdivide: Option<u8>,
        #[command(flatten)]
        sub: SubSpecArgs,
    },
    /// Turn an existing allocation into a pool of smaller children.
    Subdivide {
        /// The allocation's prefix.
        #[arg(value_name = "PREFIX")]
        prefix: String,
        #[command(flatten)]
        spec: SpecArgs,
    },
    /// Release allocations (with everything under them); each is held back
    /// from reuse for its pool's hold-down.
    Release {
        /// Prefixes (or addresses) of allocations.
        #[arg(value_name = "PREFIX", required_unless_present = "customer")]
        prefixes: Vec<String>,
        /// Release everything this customer holds.
        #[arg(long, value_name = "ID", conflicts_with = "prefixes")]
        customer: Option<String>,
    },
    /// Reserve a range of a pool so that it is never handed out.
    Reserve {
        /// The pool: its name or prefix.
        #[arg(long, short, value_name = "POOL")]
        pool: String,
        /// Why (shown by show and lookup).
        #[arg(long, default_value = "reserved", value_name = "TEXT")]
        reason: String,
        /// The range: a prefix of one child or more.
        #[arg(value_name = "PREFIX")]
        prefix: String,
    },
    /// Remove a reservation made with reserve.
    Unreserve {
        /// The reservation's prefix.
        #[arg(value_name = "PREFIX")]
        prefix: String,
    },
    /// Show every pool with its utilisation, or one pool's contents, or
    /// what a customer holds.
    Show {
        /// A pool (name or prefix) to list in full.
        #[arg(value_name = "POOL", conflicts_with = "customer")]
        pool: Option<String>,
        /// List what this customer holds.
        #[arg(long, value_name = "ID")]
        customer: Option<String>,
    },
    /// List a pool's free space as the largest aligned blocks.
    Free {
        /// The pool: its name or prefix.
        #[arg(value_name = "POOL")]
        pool: String,
        /// At most this many blocks.
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// Find what holds addresses or prefixes: the path of pools down to the
    /// allocation. IPv4-mapped addresses are folded to IPv4, and addresses
    /// under a given NAT64 prefix to the IPv4 they embed.
    Lookup {
        /// A NAT64 prefix whose addresses fold to IPv4 (repeatable).
        #[arg(long = "nat64-prefix", value_name = "PREFIX")]
        nat64_prefixes: Vec<String>,
        /// Addresses or prefixes.
        #[arg(required = true, value_name = "ADDR")]
        queries: Vec<String>,
    },
    /// Write DNS records for what is allocated: PTR records (default), the
    /// forward A/AAAA records, or the reverse zones to delegate to customers.
    ExportZone {
        /// Only what lies within this prefix.
        #[arg(long, value_name = "PREFIX")]
        within: Option<String>,
        /// Forward A/AAAA records instead of PTR records.
        #[arg(long, conflicts_with = "zones")]
        forward: bool,
        /// The reverse zones of customer prefixes, with their owners.
        #[arg(long)]
        zones: bool,
        /// A TTL to write on each record.
        #[arg(long, value_name = "SECONDS")]
        ttl: Option<u32>,
    },
}

/// Pool options, where a pool is made.
#[derive(Debug, Args)]
struct SpecArgs {
    /// The length of the pool's children (e.g. 48 for sites, 64 for
    /// customers, 128 or 32 for host addresses).
    #[arg(long, value_name = "LEN")]
    child: Option<u8>,
    #[command(flatten)]
    rest: SubSpecArgs,
}

/// Pool options other than the child length.
#[derive(Debug, Args)]
struct SubSpecArgs {
    /// first-fit, sparse (RFC 3531 leftmost), deterministic,
    /// deterministic-decimal or deterministic-hash.
    #[arg(long, default_value = "first-fit", value_name = "STRATEGY")]
    strategy: String,
    /// A name for the pool, usable wherever a pool is asked for.
    #[arg(long, value_name = "NAME")]
    name: Option<String>,
    /// How long a released child is held back: 0, or e.g. 3600s, 90m, 12h, 30d.
    #[arg(long, value_name = "DURATION")]
    hold_down: Option<String>,
    /// Allow a child length that is not on a nibble boundary (IPv6).
    #[arg(long)]
    allow_unaligned: bool,
    /// Hand out the subnet-router anycast, RFC 2526 anycast, IPv4 network
    /// and broadcast addresses like any other.
    #[arg(long)]
    no_reserve_special: bool,
}

/// A failed command: bad input (exit 2) or a failing file or lock (exit 1).
#[derive(Debug)]
enum Failure {
    Input(String),
    Io(String),
}

impl From<plan::Error> for Failure {
    fn from(e: plan::Error) -> Self {
        Self::Input(e.to_string())
    }
}

impl From<text::Error> for Failure {
    fn from(e: text::Error) -> Self {
        Self::Input(e.to_string())
    }
}

/// What a command printed: plain lines and the JSON value.
struct Output {
    plain: String,
    json: Value,
}

/// Runs `sixgate plan …` and prints its result.
pub(crate) fn run(args: PlanArgs) -> ExitCode {
    let json = args.json;
    match execute(args) {
        Ok(out) => {
            let text = if json {
                let mut s = serde_json::to_string(&out.json).unwrap_or_else(|_| "null".into());
                s.push('\n');
                s
            } else {
                out.plain
            };
            let mut stdout = io::stdout().lock();
            match stdout
                .write_all(text.as_bytes())
                .and_then(|()| stdout.flush())
            {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("sixgate: error: writing output: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Err(Failure::Input(msg)) => {
            eprintln!("sixgate: error: {msg}");
            ExitCode::from(2)
        }
        Err(Failure::Io(msg)) => {
            eprintln!("sixgate: error: {msg}");
            ExitCode::FAILURE
        }
    }
}

fn execute(args: PlanArgs) -> Result<Output, Failure> {
    let now = Timestamp(match args.now {
        Some(n) => n,
        None => SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
    });
    let file = PlanFile::new(args.file);
    match args.command {
        PlanCommand::Init { force, pool, spec } => {
            let mut plan = Plan::new();
            let mut out = Output::new();
            if let Some(prefix) = pool {
                let prefix = text::parse_net(&prefix)?;
                plan.add_pool(prefix, spec.build()?)?;
                out.pools(&plan);
            }
            let _lock = file.lock(args.wait)?;
            if !force && file.path.exists() {
                return Err(Failure::Input(format!(
                    "{} exists already (use --force to replace it)",
                    file.path.display()
                )));
            }
            file.save(&plan)?;
            Ok(out)
        }
        PlanCommand::AddPool { prefix, spec } => file.change(args.wait, |plan| {
            let prefix = text::parse_net(&prefix)?;
            plan.add_pool(prefix, spec.build()?)?;
            let mut out = Output::new();
            out.pool_summary(plan.pool(&prefix.to_string())?);
            Ok(out)
        }),
        PlanCommand::RemovePool { prefix } => file.change(args.wait, |plan| {
            let prefix = text::parse_net(&prefix)?;
            plan.remove_pool(prefix)?;
            Ok(Output::line(
                prefix.to_string(),
                json!({"removed": prefix.to_string()}),
            ))
        }),
        PlanCommand::Alloc {
            pool,
            customer,
            host,
            tags,
            at,
            index,
            id,
            subdivide,
            sub,
        } => {
            let owner = Owner {
                customer,
                host,
                tags: tags.into_iter().collect(),
            };
            let pick = match (at, index, id) {
                (Some(at), _, _) => Pick::At(text::parse_net(&at)?),
                (None, Some(n), _) => Pick::Index(n),
                (None, None, Some(id)) => Pick::Id(id),
                (None, None, None) => Pick::Next,
            };
            let spec = subdivide.map(|len| sub.build(len)).transpose()?;
            file.change(args.wait, |plan| {
                let pick = match pick {
                    // A deterministic pool derives the child from the customer
                    // id when nothing else names it.
                    Pick::Next if deterministic(plan.pool(&pool)?) => match &owner.customer {
                        Some(c) => Pick::Id(c.clone()),
                        None => Pick::Next,
                    },
                    other => other,
                };
                let prefix = plan.alloc(&pool, pick, owner, now)?;
                if let Some(spec) = spec {
                    plan.subdivide(prefix, spec)?;
                }
                let alloc = find_alloc(plan, prefix)?;
                Ok(Output::line(prefix.to_string(), alloc_json(alloc)))
            })
        }
        PlanCommand::Subdivide { prefix, spec } => file.change(args.wait, |plan| {
            let prefix = text::parse_net(&prefix)?;
            let pool = plan.subdivide(prefix, spec.build()?)?;
            let mut out = Output::new();
            out.pool_summary(pool);
            Ok(out)
        }),
        PlanCommand::Release { prefixes, customer } => file.change(args.wait, |plan| {
            let released = match customer {
                Some(c) => plan.release_customer(&c, now),
                None => {
                    let mut all = Vec::new();
                    for p in &prefixes {
                        let net = parse_query(p, &[])?;
                        all.extend(plan.release(net, now)?);
                    }
                    all
                }
            };
            let mut out = Output::new();
            let mut rows = Vec::new();
            for r in &released {
                let _ = writeln!(out.plain, "{} held until {}", r.prefix, r.until.0);
                rows.push(json!({
                    "prefix": r.prefix.to_string(),
                    "customer": r.owner.customer,
                    "host": r.owner.host,
                    "tags": r.owner.tags,
                    "until": r.until.0,
                }));
            }
            out.json = Value::Array(rows);
            Ok(out)
        }),
        PlanCommand::Reserve {
            pool,
            reason,
            prefix,
        } => file.change(args.wait, |plan| {
            let prefix = text::parse_net(&prefix)?;
            plan.reserve(&pool, prefix, &reason)?;
            Ok(Output::line(
                prefix.to_string(),
                json!({"reserved": prefix.to_string(), "reason": reason}),
            ))
        }),
        PlanCommand::Unreserve { prefix } => file.change(args.wait, |plan| {
            let prefix = text::parse_net(&prefix)?;
            plan.unreserve(prefix)?;
            Ok(Output::line(
                prefix.to_string(),
                json!({"unreserved": prefix.to_string()}),
            ))
        }),
        PlanCommand::Show { pool, customer } => {
            let plan = file.load_at(now)?;
            let mut out = Output::new();
            match (pool, customer) {
                (Some(key), _) => out.pool_contents(plan.pool(&key)?),
                (None, Some(c)) => {
                    let held = plan.held_by(&c);
                    for a in &held {
                        let _ = writeln!(out.plain, "{}", alloc_line(a));
                    }
                    out.json = Value::Array(held.iter().map(|a| alloc_json(a)).collect());
                }
                (None, None) => out.pools(&plan),
            }
            Ok(out)
        }
        PlanCommand::Free { pool, limit } => {
            let plan = file.load_at(now)?;
            let pool = plan.pool(&pool)?;
            let blocks = pool.free(limit);
            let mut out = Output::new();
            for b in &blocks {
                let _ = writeln!(out.plain, "{b}");
            }
            out.json = json!({
                "pool": pool.prefix().to_string(),
                "child_len": pool.child_len(),
                "free": blocks.iter().map(ToString::to_string).collect::<Vec<_>>(),
            });
            Ok(out)
        }
        PlanCommand::Lookup {
            nat64_prefixes,
            queries,
        } => {
            let prefixes = nat64_prefixes
                .iter()
                .map(|p| {
                    text::parse_net(p)
                        .map_err(Failure::from)
                        .and_then(|net| match net {
                            IpNet::V6(v6) => Nat64Prefix::new(v6.network(), v6.prefix_len())
                                .map_err(|e| Failure::Input(e.to_string())),
                            IpNet::V4(_) => {
                                Err(Failure::Input(format!("{p:?} is not an IPv6 prefix")))
                            }
                        })
                })
                .collect::<Result<Vec<_>, _>>()?;
            let plan = file.load_at(now)?;
            let mut out = Output::new();
            let mut rows = Vec::new();
            for q in &queries {
                let net = parse_query(q, &prefixes)?;
                let steps = plan.lookup(net)?;
                let _ = writeln!(out.plain, "{q}: {}", path_line(&steps));
                rows.push(json!({
                    "query": q,
                    "prefix": net.to_string(),
                    "path": steps.iter().map(step_json).collect::<Vec<_>>(),
                }));
            }
            out.json = Value::Array(rows);
            Ok(out)
        }
        PlanCommand::ExportZone {
            within,
            forward,
            zones,
            ttl,
        } => {
            let within = within.map(|w| text::parse_net(&w)).transpose()?;
            let plan = file.load()?;
            let mut out = Output::new();
            if zones {
                let mut rows = Vec::new();
                for z in plan.reverse_zones(within) {
                    for name in &z.zones {
                        let who = owner_text(&z.owner);
                        let _ = writeln!(out.plain, "{name} {}{who}", z.prefix);
                        rows.push(json!({
                            "zone": name,
                            "prefix": z.prefix.to_string(),
                            "customer": z.owner.customer,
                            "host": z.owner.host,
                        }));
                    }
                }
                out.json = Value::Array(rows);
            } else {
                let records = if forward {
                    plan.forward_records(within)
                } else {
                    plan.ptr_records(within)
                };
                out.records(&records, ttl);
            }
            Ok(out)
        }
    }
}

impl Output {
    fn new() -> Self {
        Self {
            plain: String::new(),
            json: Value::Null,
        }
    }

    fn line(plain: String, json: Value) -> Self {
        Self {
            plain: plain + "\n",
            json,
        }
    }

    /// Every pool, one line each, with its utilisation in child units.
    fn pools(&mut self, plan: &Plan) {
        let mut rows = Vec::new();
        for pool in plan.pools() {
            self.plain.push_str(&pool_line(pool));
            rows.push(pool_json(pool));
        }
        self.json = json!({ "pools": rows });
    }

    fn pool_summary(&mut self, pool: &Pool) {
        self.plain = pool_line(pool);
        self.json = pool_json(pool);
    }

    /// One pool in full: allocations, reservations, held children.
    fn pool_contents(&mut self, pool: &Pool) {
        self.pool_summary(pool);
        let mut allocs = Vec::new();
        for a in pool.allocations() {
            let _ = writeln!(self.plain, "  {}", alloc_line(a));
            allocs.push(alloc_json(a));
        }
        let mut reserved = Vec::new();
        for r in pool.reservations() {
            let _ = writeln!(self.plain, "  {} reserved: {}", r.prefix, r.reason);
            reserved.push(json!({
                "prefix": r.prefix.to_string(),
                "reason": r.reason,
                "automatic": r.automatic,
            }));
        }
        let mut held = Vec::new();
        for (prefix, until) in pool.held() {
            let _ = writeln!(self.plain, "  {prefix} held until {}", until.0);
            held.push(json!({"prefix": prefix.to_string(), "until": until.0}));
        }
        if let Value::Object(map) = &mut self.json {
            map.insert("allocations".into(), Value::Array(allocs));
            map.insert("reserved".into(), Value::Array(reserved));
            map.insert("held".into(), Value::Array(held));
        }
    }

    /// Zone-file lines, and the same as JSON objects.
    fn records(&mut self, records: &[Record], ttl: Option<u32>) {
        let mut rows = Vec::new();
        for r in records {
            match ttl {
                Some(t) => {
                    let _ = writeln!(self.plain, "{} {t} IN {} {}", r.name, r.kind, r.data);
                }
                None => {
                    let _ = writeln!(self.plain, "{r}");
                }
            }
            rows.push(json!({
                "name": r.name,
                "ttl": ttl,
                "type": r.kind.to_string(),
                "data": r.data,
            }));
        }
        self.json = Value::Array(rows);
    }
}

impl SpecArgs {
    fn build(&self) -> Result<PoolSpec, Failure> {
        let child = self
            .child
            .ok_or_else(|| Failure::Input("--child LEN is needed to make a pool".into()))?;
        self.rest.build(child)
    }
}

impl SubSpecArgs {
    fn build(&self, child_len: u8) -> Result<PoolSpec, Failure> {
        let strategy: Strategy = self.strategy.parse()?;
        let mut spec = PoolSpec::new(child_len, strategy);
        spec.name.clone_from(&self.name);
        if let Some(h) = &self.hold_down {
            spec.hold_down = parse_hold_down(h).map_err(Failure::Input)?;
        }
        spec.allow_unaligned = self.allow_unaligned;
        spec.reserve_special = !self.no_reserve_special;
        Ok(spec)
    }
}

/// A plan file with its lock and temporary file beside it.
struct PlanFile {
    path: PathBuf,
}

/// Holds the writers' lock until dropped (closing the file releases it).
struct Lock {
    _file: File,
}

impl PlanFile {
    fn new(path: PathBuf) -> Self {
        Self { path }
    }

    fn sibling(&self, suffix: &str) -> PathBuf {
        let mut name = self.path.file_name().unwrap_or_default().to_os_string();
        name.push(suffix);
        self.path.with_file_name(name)
    }

    /// Takes the writers' lock, waiting up to `wait` for another writer.
    fn lock(&self, wait: Duration) -> Result<Lock, Failure> {
        let path = self.sibling(".lock");
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| Failure::Io(format!("opening the lock file {}: {e}", path.display())))?;
        let deadline = Instant::now() + wait;
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(Lock { _file: file }),
                Err(TryLockError::WouldBlock) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err(TryLockError::WouldBlock) => {
                    return Err(Failure::Io(format!(
                        "{} is locked by another writer (waited {} ms)",
                        path.display(),
                        wait.as_millis()
                    )))
                }
                Err(TryLockError::Error(e)) => {
                    return Err(Failure::Io(format!("locking {}: {e}", path.display())))
                }
            }
        }
    }

    fn load(&self) -> Result<Plan, Failure> {
        let text = fs::read_to_string(&self.path).map_err(|e| {
            if e.kind() == io::ErrorKind::NotFound {
                Failure::Input(format!(
                    "no plan file {} (create one with `sixgate plan init`)",
                    self.path.display()
                ))
            } else {
                Failure::Io(format!("reading {}: {e}", self.path.display()))
            }
        })?;
        Plan::from_json(&text).map_err(|e| Failure::Input(format!("{}: {e}", self.path.display())))
    }

    /// The plan as of `now`, for readers: hold-downs past due count as free
    /// (nothing is written).
    fn load_at(&self, now: Timestamp) -> Result<Plan, Failure> {
        let mut plan = self.load()?;
        plan.expire(now);
        Ok(plan)
    }

    /// Writes the plan so that a crash leaves the old file or the new one:
    /// temporary file, fsync, rename, fsync of the directory. The caller
    /// holds the lock.
    fn save(&self, plan: &Plan) -> Result<(), Failure> {
        let tmp = self.sibling(".tmp");
        let io_err = |what: &str, e: io::Error| Failure::Io(format!("{what}: {e}"));
        let mut f =
            File::create(&tmp).map_err(|e| io_err(&format!("creating {}", tmp.display()), e))?;
        f.write_all(plan.to_json().as_bytes())
            .and_then(|()| f.sync_all())
            .map_err(|e| io_err(&format!("writing {}", tmp.display()), e))?;
        drop(f);
        fs::rename(&tmp, &self.path)
            .map_err(|e| io_err(&format!("replacing {}", self.path.display()), e))?;
        let dir = match self.path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| io_err(&format!("syncing {}", dir.display()), e))
    }

    /// Load, change and save under the lock; nothing is written when the
    /// change fails.
    fn change(
        &self,
        wait: Duration,
        f: impl FnOnce(&mut Plan) -> Result<Output, Failure>,
    ) -> Result<Output, Failure> {
        let _lock = self.lock(wait)?;
        let mut plan = self.load()?;
        let out = f(&mut plan)?;
        self.save(&plan)?;
        Ok(out)
    }
}

fn deterministic(pool: &Pool) -> bool {
    matches!(pool.strategy(), Strategy::Deterministic(_))
}

/// The allocation just made (the deepest step of its lookup).
fn find_alloc(plan: &Plan, prefix: IpNet) -> Result<&Allocation, Failure> {
    let steps = plan.lookup(prefix)?;
    steps
        .iter()
        .rev()
        .find_map(|s| match s.status {
            Status::Allocated(a) if a.prefix() == prefix => Some(a),
            _ => None,
        })
        .ok_or_else(|| Failure::Input(format!("{prefix} is not allocated")))
}

/// An address or prefix from the command line: an address becomes /32 or
/// /128, IPv4-mapped folds to IPv4 and an address under a NAT64 prefix to
/// the IPv4 it embeds.
fn parse_query(s: &str, nat64: &[Nat64Prefix]) -> Result<IpNet, Failure> {
    if s.contains('/') {
        return Ok(text::normalize_net(text::parse_net(s)?));
    }
    Ok(IpNet::from(text::normalize(text::parse_addr(s)?, nat64)))
}

fn parse_wait(s: &str) -> Result<Duration, String> {
    parse_hold_down(s).map(Duration::from_secs)
}

/// A duration in whole seconds: `0`, or a number with s, m, h or d.
fn parse_hold_down(s: &str) -> Result<u64, String> {
    let bad = || format!("{s:?} is not a duration: write 0, 3600s, 90m, 12h or 30d");
    if s == "0" {
        return Ok(0);
    }
    let digits = s.bytes().take_while(u8::is_ascii_digit).count();
    let (num, unit) = s.split_at(digits);
    let n: u64 = num.parse().map_err(|_| bad())?;
    let scale = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        _ => return Err(bad()),
    };
    n.checked_mul(scale).ok_or_else(bad)
}

fn owner_text(o: &Owner) -> String {
    let mut s = String::new();
    if let Some(c) = &o.customer {
        let _ = write!(s, " customer {c}");
    }
    if let Some(h) = &o.host {
        let _ = write!(s, " host {h}");
    }
    for t in &o.tags {
        let _ = write!(s, " #{t}");
    }
    s
}

/// `2001:db8::/48 (fra1) first-fit /64s: 2 allocated, 0 reserved, 1 held, 65533 free of 65536`
fn pool_line(pool: &Pool) -> String {
    let u = pool.usage();
    format!(
        "{}{} {} /{}s: {} allocated, {} reserved, {} held, {} free of {}\n",
        pool.prefix(),
        pool.name().map(|n| format!(" ({n})")).unwrap_or_default(),
        pool.strategy(),
        pool.child_len(),
        u.allocated,
        u.reserved,
        u.held,
        u.free,
        u.total
    )
}

fn alloc_line(a: &Allocation) -> String {
    let mut s = format!("{}{}", a.prefix(), owner_text(a.owner()));
    if let Some(pool) = a.pool() {
        let _ = write!(
            s,
            " [pool{} of /{}s]",
            pool.name().map(|n| format!(" {n}")).unwrap_or_default(),
            pool.child_len()
        );
    }
    s
}

fn alloc_json(a: &Allocation) -> Value {
    json!({
        "prefix": a.prefix().to_string(),
        "customer": a.owner().customer,
        "host": a.owner().host,
        "tags": a.owner().tags,
        "since": a.since().0,
        "pool": a.pool().map(pool_json),
    })
}

fn pool_json(pool: &Pool) -> Value {
    let u = pool.usage();
    json!({
        "prefix": pool.prefix().to_string(),
        "name": pool.name(),
        "child_len": pool.child_len(),
        "strategy": pool.strategy().to_string(),
        "hold_down": pool.spec().hold_down,
        "usage": {
            "total": count(u.total),
            "allocated": count(u.allocated),
            "reserved": count(u.reserved),
            "held": count(u.held),
            "free": count(u.free),
        },
    })
}

/// A count of children as JSON: a number up to 2^64 - 1, else its decimal
/// text (a /64 of /128s has 2^64 children, which no JSON number reader is
/// obliged to hold).
fn count(n: u128) -> Value {
    u64::try_from(n).map_or_else(|_| Value::String(n.to_string()), Value::from)
}

fn step_json(step: &Step<'_>) -> Value {
    let mut v = json!({
        "pool": step.pool.prefix().to_string(),
        "pool_name": step.pool.name(),
        "child": step.child.map(|c| c.to_string()),
    });
    let extra = match &step.status {
        Status::Allocated(a) => json!({
            "status": "allocated",
            "prefix": a.prefix().to_string(),
            "customer": a.owner().customer,
            "host": a.owner().host,
            "tags": a.owner().tags,
            "since": a.since().0,
        }),
        Status::Reserved(r) => json!({
            "status": "reserved",
            "prefix": r.prefix.to_string(),
            "reason": r.reason,
            "automatic": r.automatic,
        }),
        Status::Held { until } => json!({"status": "held", "until": until.0}),
        Status::Free => json!({"status": "free"}),
    };
    if let (Value::Object(map), Value::Object(more)) = (&mut v, extra) {
        map.extend(more);
    }
    v
}

/// `2001:db8::/32 (provider) > 2001:db8:8000::/48 (fra1) > 2001:db8:8000:1::/64
/// customer 42 > 2001:db8:8000:1::5/128 customer 42 host web1.example.com`
fn path_line(steps: &[Step<'_>]) -> String {
    let mut s = String::new();
    if let Some(root) = steps.first() {
        let name = root
            .pool
            .name()
            .map(|n| format!(" ({n})"))
            .unwrap_or_default();
        let _ = write!(s, "{}{name}", root.pool.prefix());
    }
    for step in steps {
        let Some(child) = step.child else { continue };
        let _ = write!(s, " > ");
        let _ = match &step.status {
            Status::Allocated(a) => {
                let pool = a
                    .pool()
                    .and_then(Pool::name)
                    .map(|n| format!(" ({n})"))
                    .unwrap_or_default();
                write!(s, "{}{pool}{}", a.prefix(), owner_text(a.owner()))
            }
            Status::Reserved(r) => write!(s, "{} reserved: {}", r.prefix, r.reason),
            Status::Held { until } => write!(s, "{child} held until {}", until.0),
            Status::Free => write!(s, "{child} free"),
        };
    }
    s
}
