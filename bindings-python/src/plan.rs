//! `Plan`: the address plan (`sixgate::plan`) and the snapshots it hands
//! out.
//!
//! The plan itself is one Python object owning the core `Plan`. Everything
//! it returns (`Pool`, `Allocation`, `Step`, …) is a frozen copy of the
//! fields it reports, so no Python object borrows the Rust plan and a later
//! change never alters a value already returned. The JSON is the core's,
//! byte for byte the file `sixgate plan` reads and writes.

use std::collections::BTreeSet;
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use ipnet::IpNet;
use pyo3::exceptions::{PyOSError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyFloat, PyFrozenSet, PyInt, PyString, PyTuple};
use pyo3::Borrowed;
use sixgate::plan::{
    self, Allocation, Owner, Pick, PoolSpec, Status, Strategy, Timestamp, DEFAULT_HOLD_DOWN,
};

// The signatures below write the core's default hold-down as a literal, so
// that `inspect.signature` (and stubtest) see the number.
const _: () = assert!(DEFAULT_HOLD_DOWN == 604_800);
use sixgate::text;

use crate::addr::{prefix_list, PrefixArg};
use crate::conv::{self, Net, NetOrAddr};
use crate::errors;

// --- arguments --------------------------------------------------------------

/// `now`: wall-clock seconds since the Unix epoch as `int` or `float` (what
/// `time.time()` gives; fractions are dropped). A plan outlives processes,
/// so this is never monotonic time.
struct Now(Timestamp);

impl FromPyObject<'_, '_> for Now {
    type Error = PyErr;

    fn extract(obj: Borrowed<'_, '_, PyAny>) -> PyResult<Self> {
        let bad = || {
            PyValueError::new_err(format!(
                "now={} is not a time in seconds since the Unix epoch (0 to 2**64 - 1)",
                obj.repr().map(|r| r.to_string()).unwrap_or_default()
            ))
        };
        if obj.is_instance_of::<PyBool>() {
            return Err(conv::type_error(
                &obj,
                "int or float seconds since the Unix epoch",
            ));
        }
        if obj.is_instance_of::<PyInt>() {
            return obj
                .extract::<u64>()
                .map(|s| Now(Timestamp(s)))
                .map_err(|_| bad());
        }
        if let Ok(f) = obj.cast::<PyFloat>() {
            let f = f.value();
            // 2^64 as f64 is exact; anything below it truncates into a u64
            // (NaN is in no range).
            if !(0.0..18_446_744_073_709_551_616.0).contains(&f) {
                return Err(bad());
            }
            return Ok(Now(Timestamp(f as u64)));
        }
        Err(conv::type_error(
            &obj,
            "int or float seconds since the Unix epoch",
        ))
    }
}

/// A pool named by its name or prefix text, an `ipaddress` network or a
/// `Pool` snapshot.
struct PoolKey(String);

impl FromPyObject<'_, '_> for PoolKey {
    type Error = PyErr;

    fn extract(obj: Borrowed<'_, '_, PyAny>) -> PyResult<Self> {
        if let Ok(s) = obj.cast::<PyString>() {
            return Ok(PoolKey(s.to_cow()?.into_owned()));
        }
        if let Ok(p) = obj.cast::<PyPool>() {
            return Ok(PoolKey(p.get().prefix.to_string()));
        }
        match obj.extract::<Net>() {
            Ok(n) => Ok(PoolKey(n.0.to_string())),
            Err(_) => Err(conv::type_error(
                &obj,
                "str (a pool's name or prefix), an ipaddress network or a Pool",
            )),
        }
    }
}

/// Tags: any iterable of `str` except a `str` itself (which would give one
/// tag per character).
#[derive(Default)]
struct Tags(BTreeSet<String>);

impl FromPyObject<'_, '_> for Tags {
    type Error = PyErr;

    fn extract(obj: Borrowed<'_, '_, PyAny>) -> PyResult<Self> {
        let expected = "an iterable of str for tags";
        if obj.is_instance_of::<PyString>() {
            return Err(conv::type_error(&obj, expected));
        }
        let Ok(items) = obj.try_iter() else {
            return Err(conv::type_error(&obj, expected));
        };
        let mut tags = BTreeSet::new();
        for item in items {
            let item = item?;
            let Ok(s) = item.cast::<PyString>() else {
                return Err(conv::type_error(&item, "str for each tag"));
            };
            tags.insert(s.to_cow()?.into_owned());
        }
        Ok(Tags(tags))
    }
}

fn build_spec(
    child_len: u8,
    strategy: &str,
    name: Option<String>,
    hold_down: u64,
    allow_unaligned: bool,
    reserve_special: bool,
) -> PyResult<PoolSpec> {
    let strategy: Strategy = strategy.parse().map_err(errors::plan)?;
    let mut spec = PoolSpec::new(child_len, strategy);
    spec.name = name;
    spec.hold_down = hold_down;
    spec.allow_unaligned = allow_unaligned;
    spec.reserve_special = reserve_special;
    Ok(spec)
}

// --- snapshots ----------------------------------------------------------------

/// A pool's utilisation in child units (how many /64s of a /48, not how
/// many addresses): `allocated + reserved + held + free == total`.
#[pyclass(module = "sixgate", name = "Usage", frozen, eq)]
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct PyUsage(plan::Usage);

#[pymethods]
impl PyUsage {
    /// The length of the children counted.
    #[getter]
    fn child_len(&self) -> u8 {
        self.0.child_len
    }

    /// All children: 2**(child_len - prefixlen).
    #[getter]
    fn total(&self) -> u128 {
        self.0.total
    }

    /// Children allocated (sub-pools included).
    #[getter]
    fn allocated(&self) -> u128 {
        self.0.allocated
    }

    /// Children covered by reservations, manual and automatic.
    #[getter]
    fn reserved(&self) -> u128 {
        self.0.reserved
    }

    /// Children in hold-down after a release.
    #[getter]
    fn held(&self) -> u128 {
        self.0.held
    }

    /// Children that can be allocated now.
    #[getter]
    fn free(&self) -> u128 {
        self.0.free
    }

    fn __repr__(&self) -> String {
        let u = &self.0;
        format!(
            "Usage(child_len={}, total={}, allocated={}, reserved={}, held={}, free={})",
            u.child_len, u.total, u.allocated, u.reserved, u.held, u.free
        )
    }
}

/// A pool of a plan as it was when returned: its prefix, how it was made
/// and its utilisation. It does not follow later changes; ask the plan
/// again (`Plan.pool`). Its contents are on the plan: `Plan.free`,
/// `Plan.reservations`, `Plan.held`, `Plan.allocations`.
#[pyclass(module = "sixgate", name = "Pool", frozen, eq)]
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct PyPool {
    prefix: IpNet,
    spec: PoolSpec,
    usage: plan::Usage,
}

impl PyPool {
    fn new(pool: &plan::Pool) -> Self {
        Self {
            prefix: pool.prefix(),
            spec: pool.spec().clone(),
            usage: pool.usage(),
        }
    }
}

#[pymethods]
impl PyPool {
    /// The pool's prefix.
    #[getter]
    fn prefix<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        conv::net_to_py(py, self.prefix)
    }

    /// Its name, or `None`.
    #[getter]
    fn name(&self) -> Option<&str> {
        self.spec.name.as_deref()
    }

    /// The prefix length of its children.
    #[getter]
    fn child_len(&self) -> u8 {
        self.spec.child_len
    }

    /// How it picks the next child: `first-fit`, `sparse`, `deterministic`,
    /// `deterministic-decimal` or `deterministic-hash`.
    #[getter]
    fn strategy(&self) -> &'static str {
        self.spec.strategy.name()
    }

    /// Seconds a released child is held back before it is handed out again.
    #[getter]
    fn hold_down(&self) -> u64 {
        self.spec.hold_down
    }

    /// Whether IPv6 children off a nibble boundary were allowed.
    #[getter]
    fn allow_unaligned(&self) -> bool {
        self.spec.allow_unaligned
    }

    /// Whether the special addresses (subnet-router anycast and RFC 2526
    /// anycast in /128 pools, IPv4 network and broadcast) are reserved.
    #[getter]
    fn reserve_special(&self) -> bool {
        self.spec.reserve_special
    }

    /// Utilisation in child units when the snapshot was taken.
    #[getter]
    fn usage(&self) -> PyUsage {
        PyUsage(self.usage)
    }

    fn __repr__(&self) -> String {
        let name = self
            .spec
            .name
            .as_deref()
            .map(|n| format!(" {n}"))
            .unwrap_or_default();
        format!(
            "<Pool{name} {} of /{}s, {}, {} of {} allocated>",
            self.prefix,
            self.spec.child_len,
            self.spec.strategy,
            self.usage.allocated,
            self.usage.total
        )
    }
}

fn tags_to_py<'py>(py: Python<'py>, tags: &BTreeSet<String>) -> PyResult<Bound<'py, PyFrozenSet>> {
    PyFrozenSet::new(py, tags)
}

fn owner_repr(o: &Owner) -> String {
    let mut s = String::new();
    if let Some(c) = &o.customer {
        s.push_str(&format!(" customer {c:?}"));
    }
    if let Some(h) = &o.host {
        s.push_str(&format!(" host {h:?}"));
    }
    for t in &o.tags {
        s.push_str(&format!(" #{t}"));
    }
    s
}

/// One allocation as it was when returned: its prefix, owner (customer,
/// host, tags), when it was made, and the pool it was subdivided into.
#[pyclass(module = "sixgate", name = "Allocation", frozen, eq)]
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct PyAllocation {
    prefix: IpNet,
    owner: Owner,
    since: Timestamp,
    pool: Option<PyPool>,
}

impl PyAllocation {
    fn new(a: &Allocation) -> Self {
        Self {
            prefix: a.prefix(),
            owner: a.owner().clone(),
            since: a.since(),
            pool: a.pool().map(PyPool::new),
        }
    }
}

#[pymethods]
impl PyAllocation {
    /// The allocated prefix (one child of its pool).
    #[getter]
    fn prefix<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        conv::net_to_py(py, self.prefix)
    }

    /// The customer id, or `None`.
    #[getter]
    fn customer(&self) -> Option<&str> {
        self.owner.customer.as_deref()
    }

    /// The host name (lower case, no trailing dot), or `None`.
    #[getter]
    fn host(&self) -> Option<&str> {
        self.owner.host.as_deref()
    }

    /// The tags.
    #[getter]
    fn tags<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyFrozenSet>> {
        tags_to_py(py, &self.owner.tags)
    }

    /// When it was allocated, in seconds since the Unix epoch.
    #[getter]
    fn since(&self) -> u64 {
        self.since.0
    }

    /// Whether it has been subdivided into a pool.
    #[getter]
    fn is_pool(&self) -> bool {
        self.pool.is_some()
    }

    /// The pool it was subdivided into, or `None`.
    #[getter]
    fn pool(&self) -> Option<PyPool> {
        self.pool.clone()
    }

    fn __repr__(&self) -> String {
        let pool = match &self.pool {
            Some(p) => format!(
                " [pool{} of /{}s]",
                p.spec
                    .name
                    .as_deref()
                    .map(|n| format!(" {n}"))
                    .unwrap_or_default(),
                p.spec.child_len
            ),
            None => String::new(),
        };
        format!(
            "<Allocation {}{}{pool}>",
            self.prefix,
            owner_repr(&self.owner)
        )
    }
}

/// What a release gave back: the prefix, who held it, and when it can be
/// handed out again.
#[pyclass(module = "sixgate", name = "Released", frozen, eq)]
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct PyReleased(plan::Released);

#[pymethods]
impl PyReleased {
    /// The released allocation's prefix.
    #[getter]
    fn prefix<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        conv::net_to_py(py, self.0.prefix)
    }

    /// Who held it: the customer id, or `None`.
    #[getter]
    fn customer(&self) -> Option<&str> {
        self.0.owner.customer.as_deref()
    }

    /// The host name it had, or `None`.
    #[getter]
    fn host(&self) -> Option<&str> {
        self.0.owner.host.as_deref()
    }

    /// The tags it had.
    #[getter]
    fn tags<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyFrozenSet>> {
        tags_to_py(py, &self.0.owner.tags)
    }

    /// When the prefix can be allocated again (seconds since the Unix
    /// epoch); for the contents of a released sub-pool, when the sub-pool's
    /// prefix can.
    #[getter]
    fn until(&self) -> u64 {
        self.0.until.0
    }

    fn __repr__(&self) -> String {
        format!(
            "<Released {}{} until {}>",
            self.0.prefix,
            owner_repr(&self.0.owner),
            self.0.until.0
        )
    }
}

/// A range of a pool that is never handed out: made with `Plan.reserve`,
/// or by the plan itself (`automatic`) for the special addresses.
#[pyclass(module = "sixgate", name = "Reservation", frozen, eq)]
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct PyReservation(plan::Reservation);

#[pymethods]
impl PyReservation {
    /// The reserved range: one child or an aligned block of them.
    #[getter]
    fn prefix<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        conv::net_to_py(py, self.0.prefix)
    }

    /// Why; for automatic reservations, which RFC asks for it.
    #[getter]
    fn reason(&self) -> &str {
        &self.0.reason
    }

    /// Made by the plan itself (the pool's `reserve_special`), not by
    /// `Plan.reserve`; such reservations are not in the JSON.
    #[getter]
    fn automatic(&self) -> bool {
        self.0.automatic
    }

    fn __repr__(&self) -> String {
        format!("<Reservation {} {:?}>", self.0.prefix, self.0.reason)
    }
}

/// One pool on the path of `Plan.lookup`: the pool, the child of it that
/// holds the query, and that child's state.
#[pyclass(module = "sixgate", name = "Step", frozen)]
pub(crate) struct PyStep {
    pool: IpNet,
    pool_name: Option<String>,
    child: Option<IpNet>,
    status: &'static str,
    allocation: Option<PyAllocation>,
    reservation: Option<PyReservation>,
    until: Option<u64>,
}

impl PyStep {
    fn new(step: &plan::Step<'_>) -> Self {
        let (status, allocation, reservation, until) = match &step.status {
            Status::Allocated(a) => ("allocated", Some(PyAllocation::new(a)), None, None),
            Status::Reserved(r) => ("reserved", None, Some(PyReservation((*r).clone())), None),
            Status::Held { until } => ("held", None, None, Some(until.0)),
            Status::Free => ("free", None, None, None),
        };
        Self {
            pool: step.pool.prefix(),
            pool_name: step.pool.name().map(str::to_owned),
            child: step.child,
            status,
            allocation,
            reservation,
            until,
        }
    }
}

#[pymethods]
impl PyStep {
    /// The pool's prefix.
    #[getter]
    fn pool<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        conv::net_to_py(py, self.pool)
    }

    /// The pool's name, or `None`.
    #[getter]
    fn pool_name(&self) -> Option<&str> {
        self.pool_name.as_deref()
    }

    /// The child of the pool containing the query; `None` when the query is
    /// larger than a child.
    #[getter]
    fn child<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        self.child.map(|c| conv::net_to_py(py, c)).transpose()
    }

    /// `"allocated"`, `"reserved"`, `"held"` or `"free"`. When the query
    /// spans several children: the reservation covering it, else the state
    /// of the lowest of them that is not free, else free.
    #[getter]
    fn status(&self) -> &'static str {
        self.status
    }

    /// The allocation, when `status` is `"allocated"`.
    #[getter]
    fn allocation(&self) -> Option<PyAllocation> {
        self.allocation.clone()
    }

    /// The reservation, when `status` is `"reserved"`.
    #[getter]
    fn reservation(&self) -> Option<PyReservation> {
        self.reservation.clone()
    }

    /// The reservation's reason, when `status` is `"reserved"`.
    #[getter]
    fn reason(&self) -> Option<&str> {
        self.reservation.as_ref().map(|r| r.0.reason.as_str())
    }

    /// When a held child becomes free (seconds since the Unix epoch), when
    /// `status` is `"held"`.
    #[getter]
    fn until(&self) -> Option<u64> {
        self.until
    }

    fn __repr__(&self) -> String {
        let child = self.child.map(|c| format!(" > {c}")).unwrap_or_default();
        format!("<Step {}{child} {}>", self.pool, self.status)
    }
}

/// A DNS record for an allocated address: `name`, `type` (`"PTR"`,
/// `"AAAA"` or `"A"`) and `data`, names absolute. `str()` is the zone-file
/// line, `web1.example.com. IN AAAA 2001:db8::1`.
#[pyclass(module = "sixgate", name = "Record", frozen, eq)]
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct PyRecord(plan::Record);

#[pymethods]
impl PyRecord {
    /// The owner name, absolute (trailing dot).
    #[getter]
    fn name(&self) -> &str {
        &self.0.name
    }

    /// The record type: `"PTR"`, `"AAAA"` or `"A"`.
    #[getter(r#type)]
    fn kind(&self) -> String {
        self.0.kind.to_string()
    }

    /// The data: an absolute name for PTR, canonical address text for A
    /// and AAAA.
    #[getter]
    fn data(&self) -> &str {
        &self.0.data
    }

    fn __str__(&self) -> String {
        self.0.to_string()
    }

    fn __repr__(&self) -> String {
        format!("<Record {}>", self.0)
    }
}

/// The reverse zones to delegate for one allocated prefix (one that is
/// neither a single address nor a pool), with who holds it.
#[pyclass(module = "sixgate", name = "ReverseZone", frozen, eq)]
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct PyReverseZone(plan::ReverseZone);

#[pymethods]
impl PyReverseZone {
    /// The allocation.
    #[getter]
    fn prefix<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        conv::net_to_py(py, self.0.prefix)
    }

    /// Its zones (absolute names), as `reverse_zones` gives them.
    #[getter]
    fn zones<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        PyTuple::new(py, &self.0.zones)
    }

    /// Who holds it: the customer id, or `None`.
    #[getter]
    fn customer(&self) -> Option<&str> {
        self.0.owner.customer.as_deref()
    }

    /// The allocation's host name, or `None`.
    #[getter]
    fn host(&self) -> Option<&str> {
        self.0.owner.host.as_deref()
    }

    /// The allocation's tags.
    #[getter]
    fn tags<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyFrozenSet>> {
        tags_to_py(py, &self.0.owner.tags)
    }

    fn __repr__(&self) -> String {
        format!(
            "<ReverseZone {}{} {}>",
            self.0.prefix,
            owner_repr(&self.0.owner),
            self.0.zones.join(" ")
        )
    }
}

// --- the plan -------------------------------------------------------------

/// An address plan: top-level pools (a provider block, IPv4 blocks beside
/// it), each a tree of allocations, any of which can become a pool itself:
/// provider block → site → customer prefix → host addresses. See
/// docs/plan.md.
///
/// Pools are named by their name or their prefix (`str`, an `ipaddress`
/// network or a `Pool`). Prefixes are `str` or `ipaddress` objects;
/// results are `ipaddress` networks and frozen snapshots (`Pool`,
/// `Allocation`, `Step`, …) that do not change with the plan. Time (`now`)
/// is wall-clock seconds since the Unix epoch (`time.time()`), never
/// monotonic time: a plan outlives processes. Errors are `PlanError` with
/// the core's `kind`.
///
/// The JSON (`to_json`, `from_json`, `save`, `load`) is the file `sixgate
/// plan` uses, so a panel can share one plan between Python and the CLI.
///
/// >>> plan = Plan()
/// >>> plan.add_pool("2001:db8::/48", child_len=64, name="fra1")
/// <Pool fra1 2001:db8::/48 of /64s, first-fit, 0 of 65536 allocated>
/// >>> plan.alloc("fra1", customer="42", now=time.time())
/// IPv6Network('2001:db8::/64')
#[pyclass(module = "sixgate", name = "Plan", eq)]
#[derive(Clone, Default, PartialEq)]
pub(crate) struct PyPlan {
    inner: plan::Plan,
}

/// Distinguishes the temporary files of saves running at once in one
/// process.
static SAVES: AtomicU64 = AtomicU64::new(0);

fn os_error(e: &io::Error, what: &str, path: &Path) -> PyErr {
    let errno = e.raw_os_error().unwrap_or(0);
    // OSError(errno, strerror, filename) makes the subclass for the errno
    // (FileNotFoundError, PermissionError, …).
    PyOSError::new_err((errno, format!("{what}: {e}"), path.display().to_string()))
}

/// Writes `text` to `path` so that a crash leaves the old file or the new
/// one: a temporary file in the same directory, fsync, rename over `path`,
/// fsync of the directory (as `sixgate plan` writes).
fn write_atomically(path: &Path, text: &str) -> PyResult<()> {
    let name = path
        .file_name()
        .ok_or_else(|| PyValueError::new_err(format!("{} is not a file name", path.display())))?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(
        ".{}.{}.tmp",
        std::process::id(),
        SAVES.fetch_add(1, Ordering::Relaxed)
    ));
    let tmp = path.with_file_name(tmp_name);
    let written = File::create(&tmp)
        .and_then(|mut f| f.write_all(text.as_bytes()).and_then(|()| f.sync_all()));
    if let Err(e) = written {
        let _ = fs::remove_file(&tmp);
        return Err(os_error(&e, "writing", &tmp));
    }
    if let Err(e) = fs::rename(&tmp, path) {
        let _ = fs::remove_file(&tmp);
        return Err(os_error(&e, "replacing", path));
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| os_error(&e, "syncing", dir))
}

impl PyPlan {
    fn pool_ref(&self, key: &PoolKey) -> PyResult<&plan::Pool> {
        self.inner.pool(&key.0).map_err(errors::plan)
    }

    fn records(py: Python<'_>, records: Vec<plan::Record>) -> PyResult<Vec<Bound<'_, PyRecord>>> {
        records
            .into_iter()
            .map(|r| Bound::new(py, PyRecord(r)))
            .collect()
    }
}

#[pymethods]
impl PyPlan {
    /// An empty plan.
    #[new]
    fn new() -> Self {
        Self::default()
    }

    /// Loads a plan from its JSON (the `sixgate plan` file format),
    /// checking everything again; `PlanError` (`json`, `version`, or the
    /// kind of the check that failed) if it is not a valid plan.
    #[staticmethod]
    #[pyo3(signature = (text, /))]
    fn from_json(text: &str) -> PyResult<Self> {
        plan::Plan::from_json(text)
            .map(|inner| Self { inner })
            .map_err(errors::plan)
    }

    /// The plan as pretty, deterministic JSON with a trailing newline: the
    /// same plan always gives the same text, the one `sixgate plan` writes.
    fn to_json(&self) -> String {
        self.inner.to_json()
    }

    /// Reads a plan file (`from_json` of its text); `OSError` if it cannot
    /// be read.
    #[staticmethod]
    #[pyo3(signature = (path, /))]
    fn load(py: Python<'_>, path: PathBuf) -> PyResult<Self> {
        let text = py
            .detach(|| fs::read_to_string(&path))
            .map_err(|e| os_error(&e, "reading", &path))?;
        Self::from_json(&text)
    }

    /// Writes the plan to `path` as `sixgate plan` does: a temporary file
    /// in the same directory, fsync, rename over `path`, fsync of the
    /// directory, so a crash leaves the old file or the new one. It does
    /// not take the CLI's writer lock (`FILE.lock`): with `sixgate plan`
    /// writing the same file at the same time, the last save wins.
    #[pyo3(signature = (path, /))]
    fn save(&self, py: Python<'_>, path: PathBuf) -> PyResult<()> {
        let text = self.inner.to_json();
        py.detach(|| write_atomically(&path, &text))
    }

    /// A deep copy of the plan.
    fn copy(&self) -> Self {
        self.clone()
    }

    fn __copy__(&self) -> Self {
        self.clone()
    }

    fn __deepcopy__(&self, _memo: &Bound<'_, PyAny>) -> Self {
        self.clone()
    }

    /// Adds a top-level pool: a provider block, or an IPv4 block beside it.
    /// `child_len` is the length of its children (IPv6: a multiple of 4
    /// unless `allow_unaligned`; at most 64 bits longer than the prefix);
    /// `strategy` is `first-fit`, `sparse`, `deterministic`,
    /// `deterministic-decimal` or `deterministic-hash`; `hold_down` is the
    /// seconds a released child waits before reuse; `reserve_special`
    /// reserves the anycast (IPv6 /128 pools) or network and broadcast
    /// (IPv4 /32 pools) addresses.
    #[pyo3(signature = (
        prefix, /, *, child_len, strategy = "first-fit", name = None,
        hold_down = 604800, allow_unaligned = false, reserve_special = true
    ))]
    #[allow(clippy::too_many_arguments)] // keyword-only options, as Python wants
    fn add_pool(
        &mut self,
        prefix: Net,
        child_len: u8,
        strategy: &str,
        name: Option<String>,
        hold_down: u64,
        allow_unaligned: bool,
        reserve_special: bool,
    ) -> PyResult<PyPool> {
        let spec = build_spec(
            child_len,
            strategy,
            name,
            hold_down,
            allow_unaligned,
            reserve_special,
        )?;
        self.inner
            .add_pool(prefix.0, spec)
            .map(PyPool::new)
            .map_err(errors::plan)
    }

    /// Removes a top-level pool that has no allocations and nothing held
    /// (its reservations go with it).
    #[pyo3(signature = (prefix, /))]
    fn remove_pool(&mut self, prefix: Net) -> PyResult<()> {
        self.inner.remove_pool(prefix.0).map_err(errors::plan)
    }

    /// Allocates a child of `pool` (a name, a pool's prefix, or a `Pool`)
    /// and returns it. The pool's strategy picks it, unless `at` (exactly
    /// this child), `index` (child number n, 0-based) or `id` (a
    /// deterministic pool's id) names it; in a deterministic pool with none
    /// of them the customer id is the id, as with `sixgate plan alloc`.
    /// `now` (seconds since the Unix epoch, e.g. `time.time()`) is the
    /// allocation's `since`, and hold-downs due by then expire first.
    #[pyo3(signature = (
        pool, /, *, now, customer = None, host = None, tags = Tags::default(),
        at = None, index = None, id = None
    ))]
    #[allow(clippy::too_many_arguments)] // keyword-only options, as Python wants
    fn alloc<'py>(
        &mut self,
        py: Python<'py>,
        pool: PoolKey,
        now: Now,
        customer: Option<String>,
        host: Option<String>,
        tags: Tags,
        at: Option<Net>,
        index: Option<u64>,
        id: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let pick = match (at, index, id) {
            (Some(at), None, None) => Pick::At(at.0),
            (None, Some(n), None) => Pick::Index(n),
            (None, None, Some(id)) => Pick::Id(id),
            (None, None, None) => {
                let deterministic =
                    matches!(self.pool_ref(&pool)?.strategy(), Strategy::Deterministic(_));
                match &customer {
                    Some(c) if deterministic => Pick::Id(c.clone()),
                    _ => Pick::Next,
                }
            }
            _ => {
                return Err(PyTypeError::new_err(
                    "alloc() takes at most one of at, index and id",
                ))
            }
        };
        let owner = Owner {
            customer,
            host,
            tags: tags.0,
        };
        let net = self
            .inner
            .alloc(&pool.0, pick, owner, now.0)
            .map_err(errors::plan)?;
        conv::net_to_py(py, net)
    }

    /// Turns the allocation `prefix` into a pool of children of
    /// `child_len` (a site's /48 into customer /64s, a customer's /64 into
    /// host /128s); its owner stays. Options as for `add_pool`.
    #[pyo3(signature = (
        prefix, /, *, child_len, strategy = "first-fit", name = None,
        hold_down = 604800, allow_unaligned = false, reserve_special = true
    ))]
    #[allow(clippy::too_many_arguments)] // keyword-only options, as Python wants
    fn subdivide(
        &mut self,
        prefix: Net,
        child_len: u8,
        strategy: &str,
        name: Option<String>,
        hold_down: u64,
        allow_unaligned: bool,
        reserve_special: bool,
    ) -> PyResult<PyPool> {
        let spec = build_spec(
            child_len,
            strategy,
            name,
            hold_down,
            allow_unaligned,
            reserve_special,
        )?;
        self.inner
            .subdivide(prefix.0, spec)
            .map(PyPool::new)
            .map_err(errors::plan)
    }

    /// Releases the allocation `prefix` (exactly it; an address stands for
    /// its /32 or /128, an IPv4-mapped prefix for the IPv4 one) and
    /// everything under it, outermost first. Each prefix is held in its
    /// pool until `now` plus the pool's hold-down.
    #[pyo3(signature = (prefix, /, *, now))]
    fn release(&mut self, prefix: NetOrAddr, now: Now) -> PyResult<Vec<PyReleased>> {
        self.inner
            .release(text::normalize_net(prefix.0), now.0)
            .map(|all| all.into_iter().map(PyReleased).collect())
            .map_err(errors::plan)
    }

    /// Releases everything `customer` holds, outermost first (a sub-pool
    /// takes its contents with it); an empty list if it holds nothing.
    #[pyo3(signature = (customer, /, *, now))]
    fn release_customer(&mut self, customer: &str, now: Now) -> Vec<PyReleased> {
        self.inner
            .release_customer(customer, now.0)
            .into_iter()
            .map(PyReleased)
            .collect()
    }

    /// Reserves `prefix` (whole children of `pool`) so that it is never
    /// handed out. It must not overlap an allocation, a held child or
    /// another reservation.
    #[pyo3(signature = (pool, prefix, /, *, reason = "reserved"))]
    fn reserve(&mut self, pool: PoolKey, prefix: Net, reason: &str) -> PyResult<()> {
        self.inner
            .reserve(&pool.0, prefix.0, reason)
            .map_err(errors::plan)
    }

    /// Removes a reservation made with `reserve` (exactly its prefix).
    #[pyo3(signature = (prefix, /))]
    fn unreserve(&mut self, prefix: Net) -> PyResult<()> {
        self.inner.unreserve(prefix.0).map_err(errors::plan)
    }

    /// Frees every held child whose hold-down ends at or before `now`;
    /// returns how many. `alloc` and `release` do this themselves; call it
    /// before reading (`pool`, `free`, `lookup`) to see past hold-downs as
    /// free, as `sixgate plan show` does.
    #[pyo3(signature = (*, now))]
    fn expire(&mut self, now: Now) -> usize {
        self.inner.expire(now.0)
    }

    /// The pool named `key` (its name, its prefix, or a `Pool`).
    #[pyo3(signature = (key, /))]
    fn pool(&self, key: PoolKey) -> PyResult<PyPool> {
        self.pool_ref(&key).map(PyPool::new)
    }

    /// Every pool, depth-first, ascending prefixes.
    fn pools(&self) -> Vec<PyPool> {
        self.inner.pools().into_iter().map(PyPool::new).collect()
    }

    /// Every allocation, depth-first, ascending (a sub-pool's allocation
    /// before its contents).
    fn allocations(&self) -> Vec<PyAllocation> {
        self.inner
            .allocations()
            .into_iter()
            .map(PyAllocation::new)
            .collect()
    }

    /// What `customer` holds, ascending (from an index, not a scan).
    #[pyo3(signature = (customer, /))]
    fn held_by(&self, customer: &str) -> Vec<PyAllocation> {
        self.inner
            .held_by(customer)
            .into_iter()
            .map(PyAllocation::new)
            .collect()
    }

    /// The free space of `pool` as the largest aligned blocks (never
    /// smaller than a child), ascending, at most `limit` of them.
    #[pyo3(signature = (pool, /, *, limit = 100))]
    fn free<'py>(
        &self,
        py: Python<'py>,
        pool: PoolKey,
        limit: usize,
    ) -> PyResult<Vec<Bound<'py, PyAny>>> {
        self.pool_ref(&pool)?
            .free(limit)
            .into_iter()
            .map(|n| conv::net_to_py(py, n))
            .collect()
    }

    /// The reservations of `pool`, manual and automatic, ascending.
    #[pyo3(signature = (pool, /))]
    fn reservations(&self, pool: PoolKey) -> PyResult<Vec<PyReservation>> {
        Ok(self
            .pool_ref(&pool)?
            .reservations()
            .cloned()
            .map(PyReservation)
            .collect())
    }

    /// The held children of `pool` as `(prefix, until)`, ascending.
    #[pyo3(signature = (pool, /))]
    fn held<'py>(&self, py: Python<'py>, pool: PoolKey) -> PyResult<Vec<Bound<'py, PyTuple>>> {
        self.pool_ref(&pool)?
            .held()
            .map(|(net, until)| {
                PyTuple::new(
                    py,
                    [
                        conv::net_to_py(py, net)?,
                        until.0.into_pyobject(py)?.into_any(),
                    ],
                )
            })
            .collect()
    }

    /// Where `id` goes in the deterministic pool `pool`: computable from
    /// the id, the pool's prefix and child length alone, taken or not.
    #[pyo3(signature = (pool, id, /))]
    fn slot_for_id<'py>(
        &self,
        py: Python<'py>,
        pool: PoolKey,
        id: &str,
    ) -> PyResult<Bound<'py, PyAny>> {
        let net = self
            .pool_ref(&pool)?
            .slot_for_id(id)
            .map_err(errors::plan)?;
        conv::net_to_py(py, net)
    }

    /// The path from the top-level pool to the deepest pool containing
    /// `query`, with the state of the child holding it in each. An address
    /// is looked up as its /32 or /128; an IPv4-mapped address or prefix
    /// as the IPv4 one, and an address under one of `nat64_prefixes` as
    /// the IPv4 address it embeds. `PlanError` `not_in_plan` when no
    /// top-level pool contains it.
    #[pyo3(signature = (query, /, *, nat64_prefixes = Vec::new()))]
    fn lookup(&self, query: NetOrAddr, nat64_prefixes: Vec<PrefixArg>) -> PyResult<Vec<PyStep>> {
        let net = query.0;
        let net = if net.prefix_len() == net.max_prefix_len() {
            IpNet::from(text::normalize(net.addr(), &prefix_list(nat64_prefixes)))
        } else {
            text::normalize_net(net)
        };
        let steps = self.inner.lookup(net).map_err(errors::plan)?;
        Ok(steps.iter().map(PyStep::new).collect())
    }

    /// PTR records for every single-address allocation (/32, /128) with a
    /// host name, within `within` if given.
    #[pyo3(signature = (*, within = None))]
    fn ptr_records<'py>(
        &self,
        py: Python<'py>,
        within: Option<Net>,
    ) -> PyResult<Vec<Bound<'py, PyRecord>>> {
        Self::records(py, self.inner.ptr_records(within.map(|w| w.0)))
    }

    /// A and AAAA records for the same allocations as `ptr_records`.
    #[pyo3(signature = (*, within = None))]
    fn forward_records<'py>(
        &self,
        py: Python<'py>,
        within: Option<Net>,
    ) -> PyResult<Vec<Bound<'py, PyRecord>>> {
        Self::records(py, self.inner.forward_records(within.map(|w| w.0)))
    }

    /// The reverse zones to delegate for each allocation that is neither a
    /// single address nor a pool (the prefixes handed to customers), within
    /// `within` if given.
    #[pyo3(signature = (*, within = None))]
    fn reverse_zones(&self, within: Option<Net>) -> Vec<PyReverseZone> {
        self.inner
            .reverse_zones(within.map(|w| w.0))
            .into_iter()
            .map(PyReverseZone)
            .collect()
    }

    fn __repr__(&self) -> String {
        format!("<Plan of {} pools>", self.inner.pools().len())
    }
}
