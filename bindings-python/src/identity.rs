//! `HostIndex`: longest-prefix match from any address to its owner.

use std::sync::OnceLock;

use pyo3::exceptions::PyKeyError;
use pyo3::prelude::*;
use pyo3::types::PyTuple;
use pyo3::{PyTraverseError, PyVisit};
use sixgate::identity;

use crate::addr::{prefix_list, PrefixArg, PyNat64Prefix};
use crate::conv::{self, Addr, NetOrAddr};

/// A longest-prefix-match map from IPv4 and IPv6 networks to owners (any
/// Python object), for identifying a host by any of its addresses.
///
/// A lookup first folds the address: an IPv4-mapped address
/// (`::ffff:192.0.2.7`, from a dual-stack socket or a log) always folds to
/// IPv4, and an address under one of `nat64_prefixes` folds to the IPv4
/// address it embeds (RFC 6052 §2.2). Networks are stored with host bits
/// cleared, and one inside `::ffff:0:0/96` as the IPv4 network it maps.
/// Networks may be given as `str`, `ipaddress` networks, or addresses (a
/// host route). It is also a mapping: `index[net] = owner`, `index[net]`,
/// `del index[net]`, `net in index`, `len(index)`, iteration over
/// `(network, owner)` pairs in prefix order.
///
/// >>> index = HostIndex(nat64_prefixes=[Nat64Prefix.WELL_KNOWN])
/// >>> index.insert("192.0.2.0/24", "carol")
/// >>> index.lookup("::ffff:192.0.2.7")
/// (IPv4Network('192.0.2.0/24'), 'carol')
#[pyclass(module = "sixgate", name = "HostIndex")]
pub(crate) struct PyHostIndex {
    inner: identity::HostIndex<Entry>,
}

/// What the index stores for a network: the owner, and the `(network,
/// owner)` tuple `lookup` returns, made on first use and kept (an
/// `ipaddress` network costs microseconds to build; the entry is replaced,
/// never changed, when the owner changes).
struct Entry {
    owner: Py<PyAny>,
    pair: OnceLock<Py<PyTuple>>,
}

impl Entry {
    fn new(owner: Py<PyAny>) -> Self {
        Self {
            owner,
            pair: OnceLock::new(),
        }
    }

    fn pair<'py>(&self, py: Python<'py>, net: ipnet::IpNet) -> PyResult<Bound<'py, PyTuple>> {
        if let Some(pair) = self.pair.get() {
            return Ok(pair.bind(py).clone());
        }
        let pair = PyTuple::new(py, [conv::net_to_py(py, net)?, self.owner.bind(py).clone()])?;
        // Another thread may have set it first; either tuple is right.
        let _ = self.pair.set(pair.clone().unbind());
        Ok(pair)
    }
}

#[pymethods]
impl PyHostIndex {
    #[new]
    #[pyo3(signature = (*, nat64_prefixes = Vec::new()))]
    fn new(nat64_prefixes: Vec<PrefixArg>) -> Self {
        Self {
            inner: identity::HostIndex::with_nat64(&prefix_list(nat64_prefixes)),
        }
    }

    /// The NAT64 prefixes this index folds, longest first.
    #[getter]
    fn nat64_prefixes(&self) -> Vec<PyNat64Prefix> {
        self.inner
            .nat64_prefixes()
            .iter()
            .map(|&p| PyNat64Prefix(p))
            .collect()
    }

    /// Stores `owner` for `network`; returns the owner it replaces, if the
    /// same network (in canonical form) was stored, else `None`.
    #[pyo3(signature = (network, owner, /))]
    fn insert(&mut self, network: NetOrAddr, owner: Py<PyAny>) -> Option<Py<PyAny>> {
        self.inner
            .insert(network.0, Entry::new(owner))
            .map(|e| e.owner)
    }

    /// Removes `network` and returns its owner, or `None` if it was not
    /// stored.
    #[pyo3(signature = (network, /))]
    fn remove(&mut self, network: NetOrAddr) -> Option<Py<PyAny>> {
        self.inner.remove(network.0).map(|e| e.owner)
    }

    /// The owner stored for exactly `network`, or `default`.
    #[pyo3(signature = (network, default = None, /))]
    fn get(
        &self,
        py: Python<'_>,
        network: NetOrAddr,
        default: Option<Py<PyAny>>,
    ) -> Option<Py<PyAny>> {
        match self.inner.get(network.0) {
            Some(e) => Some(e.owner.clone_ref(py)),
            None => default,
        }
    }

    /// The longest stored network containing `addr` after folding, as
    /// `(network, owner)`, or `None`. Bounded work, no allocation in core.
    #[pyo3(signature = (addr, /))]
    fn lookup<'py>(&self, py: Python<'py>, addr: Addr) -> PyResult<Option<Bound<'py, PyTuple>>> {
        self.inner
            .lookup(addr.0)
            .map(|(net, e)| e.pair(py, net))
            .transpose()
    }

    /// The owner of the longest stored network containing `addr` after
    /// folding, or `default`: `lookup` without building the network.
    #[pyo3(signature = (addr, default = None, /))]
    fn owner(&self, py: Python<'_>, addr: Addr, default: Option<Py<PyAny>>) -> Option<Py<PyAny>> {
        match self.inner.lookup(addr.0) {
            Some((_, e)) => Some(e.owner.clone_ref(py)),
            None => default,
        }
    }

    /// The longest stored network that contains all of `network` (itself
    /// included), as `(network, owner)`, or `None`.
    #[pyo3(signature = (network, /))]
    fn closest<'py>(
        &self,
        py: Python<'py>,
        network: NetOrAddr,
    ) -> PyResult<Option<Bound<'py, PyTuple>>> {
        self.inner
            .closest(network.0)
            .map(|(net, e)| e.pair(py, net))
            .transpose()
    }

    /// `addr` folded as a lookup folds it: IPv4-mapped and NAT64 addresses
    /// to IPv4, anything else unchanged.
    #[pyo3(signature = (addr, /))]
    fn fold<'py>(&self, py: Python<'py>, addr: Addr) -> PyResult<Bound<'py, PyAny>> {
        conv::addr_to_py(py, self.inner.fold(addr.0))
    }

    /// Every `(network, owner)` pair, in prefix order (IPv4 first).
    fn items<'py>(&self, py: Python<'py>) -> PyResult<Vec<Bound<'py, PyTuple>>> {
        self.inner.iter().map(|(n, e)| e.pair(py, n)).collect()
    }

    fn __iter__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.items(py)?
            .into_pyobject(py)?
            .try_iter()
            .map(Bound::into_any)
    }

    fn __len__(&self) -> usize {
        self.inner.len()
    }

    fn __contains__(&self, network: NetOrAddr) -> bool {
        self.inner.get(network.0).is_some()
    }

    fn __getitem__(&self, py: Python<'_>, network: NetOrAddr) -> PyResult<Py<PyAny>> {
        match self.inner.get(network.0) {
            Some(e) => Ok(e.owner.clone_ref(py)),
            None => Err(PyKeyError::new_err(network.0.to_string())),
        }
    }

    fn __setitem__(&mut self, network: NetOrAddr, owner: Py<PyAny>) {
        self.inner.insert(network.0, Entry::new(owner));
    }

    fn __delitem__(&mut self, network: NetOrAddr) -> PyResult<()> {
        match self.inner.remove(network.0) {
            Some(_) => Ok(()),
            None => Err(PyKeyError::new_err(network.0.to_string())),
        }
    }

    fn __repr__(&self) -> String {
        format!("<HostIndex of {} networks>", self.inner.len())
    }

    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        for (_, e) in self.inner.iter() {
            visit.call(&e.owner)?;
            if let Some(pair) = e.pair.get() {
                visit.call(pair)?;
            }
        }
        Ok(())
    }

    fn __clear__(&mut self) {
        self.inner = identity::HostIndex::with_nat64(self.inner.nat64_prefixes());
    }
}
