//! `sixgate._native`: the Python bindings of the sixgate core, built with
//! maturin into the `sixgate` package (`python/sixgate/__init__.py`
//! re-exports everything).
//!
//! Thin by design: every function converts its arguments (`str` or
//! `ipaddress` objects in, `ipaddress` objects out), calls the core, and
//! maps the core's error to an exception by its `kind()` code. No behaviour
//! lives here; it is all in `sixgate` (core) and tested there. Core never
//! panics on any input, and nothing here unwraps, so no panic reaches
//! Python.

use pyo3::prelude::*;

mod addr;
mod conv;
mod dns64;
mod errors;
mod identity;
mod plan;
mod wire;

/// sixgate: IPv6-only hosting helpers (RFC 6052 NAT64 addresses, address
/// text, host identification, ClientHello / HTTP / PROXY readers, DNS64,
/// address plans).
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    errors::init(py)?;
    for (name, class) in errors::classes(py) {
        m.add(name, class)?;
    }
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add(
        "STYLES",
        pyo3::types::PyTuple::new(py, addr::style_names())?,
    )?;

    m.add_class::<addr::PyNat64Prefix>()?;
    m.add_function(wrap_pyfunction!(addr::synthesize, m)?)?;
    m.add_function(wrap_pyfunction!(addr::extract, m)?)?;
    m.add_function(wrap_pyfunction!(addr::discover, m)?)?;
    m.add_function(wrap_pyfunction!(addr::non_global_range, m)?)?;
    m.add_function(wrap_pyfunction!(addr::parse_address, m)?)?;
    m.add_function(wrap_pyfunction!(addr::parse_network, m)?)?;
    m.add_function(wrap_pyfunction!(addr::canonical, m)?)?;
    m.add_function(wrap_pyfunction!(addr::host_port, m)?)?;
    m.add_function(wrap_pyfunction!(addr::url_host, m)?)?;
    m.add_function(wrap_pyfunction!(addr::ptr_name, m)?)?;
    m.add_function(wrap_pyfunction!(addr::reverse_zones, m)?)?;
    m.add_function(wrap_pyfunction!(addr::munin_allow_regex, m)?)?;
    m.add_function(wrap_pyfunction!(addr::munin_allow, m)?)?;
    m.add_function(wrap_pyfunction!(addr::munin_cidr_allow, m)?)?;
    m.add_function(wrap_pyfunction!(addr::normalize, m)?)?;
    m.add_function(wrap_pyfunction!(addr::format_address, m)?)?;
    m.add_function(wrap_pyfunction!(addr::style_pitfall, m)?)?;

    m.add_class::<identity::PyHostIndex>()?;

    m.add_class::<wire::NeedMore>()?;
    m.add_class::<wire::ClientHello>()?;
    m.add_function(wrap_pyfunction!(wire::read_client_hello, m)?)?;
    m.add_class::<wire::Authority>()?;
    m.add_class::<wire::RequestHead>()?;
    m.add_function(wrap_pyfunction!(wire::read_request_head, m)?)?;
    m.add_class::<wire::ProxyHeader>()?;
    m.add_class::<wire::ProxyDecoded>()?;
    m.add_function(wrap_pyfunction!(wire::decode_proxy_header, m)?)?;
    m.add_function(wrap_pyfunction!(wire::encode_proxy_header, m)?)?;

    m.add_class::<dns64::Dns64Config>()?;
    m.add_class::<dns64::Dns64Resolution>()?;
    m.add_function(wrap_pyfunction!(dns64::resolve, m)?)?;
    m.add_function(wrap_pyfunction!(dns64::error_reply, m)?)?;

    m.add_class::<plan::PyPlan>()?;
    m.add_class::<plan::PyPool>()?;
    m.add_class::<plan::PyUsage>()?;
    m.add_class::<plan::PyAllocation>()?;
    m.add_class::<plan::PyReleased>()?;
    m.add_class::<plan::PyReservation>()?;
    m.add_class::<plan::PyStep>()?;
    m.add_class::<plan::PyRecord>()?;
    m.add_class::<plan::PyReverseZone>()?;
    Ok(())
}
