//! DNS64 (RFC 6147) on wire-format messages: the core's sans-IO
//! `Resolution` with bytes in and bytes out, so a Python DNS server
//! (dnslib, dnspython, a socketserver) can embed it.

use std::borrow::Cow;

use ipnet::IpNet;
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedStr;
use pyo3::types::PyBytes;
use sixgate::dns64::proto::op::{Message, ResponseCode};
use sixgate::dns64::{self, Action, Config, Resolution};

use crate::addr::{prefix_list, PrefixArg, PyNat64Prefix};
use crate::conv::{self, Net};
use crate::errors::{self, PrefixError};

/// RCODE FORMERR (RFC 1035 §4.1.1).
const FORMERR: u16 = 1;
/// RCODE SERVFAIL (RFC 1035 §4.1.1).
const SERVFAIL: u16 = 2;

/// A validated DNS64 configuration, immutable once built. Every option is
/// keyword-only; the defaults are the RFC's: the well-known prefix
/// 64:ff9b::/96, AAAA records inside `::ffff:0:0/96` excluded, synthesis
/// after an upstream error (RFC 6147 §5.1.2). `DnsError` for a bad
/// configuration (no prefix, more than 8 prefixes, a bad name).
#[pyclass(module = "sixgate", name = "Dns64Config", frozen)]
pub(crate) struct Dns64Config(pub(crate) Config);

fn v6_nets(nets: Vec<Net>) -> PyResult<Vec<ipnet::Ipv6Net>> {
    nets.into_iter()
        .map(|n| match n.0 {
            IpNet::V6(n) => Ok(n),
            IpNet::V4(n) => Err(errors::new_error::<PrefixError>(
                "version",
                format!("{n} is not an IPv6 prefix"),
            )),
        })
        .collect()
}

fn v4_nets(nets: Vec<Net>) -> PyResult<Vec<ipnet::Ipv4Net>> {
    nets.into_iter()
        .map(|n| match n.0 {
            IpNet::V4(n) => Ok(n),
            IpNet::V6(n) => Err(errors::new_error::<PrefixError>(
                "version",
                format!("{n} is not an IPv4 prefix"),
            )),
        })
        .collect()
}

fn nets_to_py<'py>(
    py: Python<'py>,
    nets: impl Iterator<Item = IpNet>,
) -> PyResult<Vec<Bound<'py, PyAny>>> {
    nets.map(|n| conv::net_to_py(py, n)).collect()
}

#[pymethods]
impl Dns64Config {
    #[new]
    #[pyo3(signature = (
        *,
        prefixes = None,
        allow_non_global = false,
        exclude_aaaa = None,
        never_map = Vec::new(),
        force_names = Vec::new(),
        exclude_names = Vec::new(),
        synthesize_on_error = true,
        extended_error = false,
        cd_disables_synthesis = false,
    ))]
    #[allow(clippy::too_many_arguments)] // keyword-only options, as Python wants
    fn new(
        prefixes: Option<Vec<PrefixArg>>,
        allow_non_global: bool,
        exclude_aaaa: Option<Vec<Net>>,
        never_map: Vec<Net>,
        force_names: Vec<PyBackedStr>,
        exclude_names: Vec<PyBackedStr>,
        synthesize_on_error: bool,
        extended_error: bool,
        cd_disables_synthesis: bool,
    ) -> PyResult<Self> {
        let mut b = Config::builder()
            .allow_non_global(allow_non_global)
            .never_map(v4_nets(never_map)?)
            .force_names(force_names.iter().map(|s| s.to_string()))
            .exclude_names(exclude_names.iter().map(|s| s.to_string()))
            .synthesize_on_error(synthesize_on_error)
            .extended_error(extended_error)
            .cd_disables_synthesis(cd_disables_synthesis);
        if let Some(p) = prefixes {
            b = b.prefixes(prefix_list(p));
        }
        if let Some(x) = exclude_aaaa {
            b = b.exclude_aaaa(v6_nets(x)?);
        }
        b.build().map(Self).map_err(errors::dns64)
    }

    /// The NAT64 prefixes synthesised with, in order.
    #[getter]
    fn prefixes(&self) -> Vec<PyNat64Prefix> {
        self.0
            .prefixes()
            .iter()
            .map(|&p| PyNat64Prefix(p))
            .collect()
    }

    /// Whether the well-known prefix may carry non-global IPv4.
    #[getter]
    fn allow_non_global(&self) -> bool {
        self.0.allows_non_global()
    }

    /// AAAA records inside these `IPv6Network`s are not usable (RFC 6147
    /// §5.1.4).
    #[getter]
    fn exclude_aaaa<'py>(&self, py: Python<'py>) -> PyResult<Vec<Bound<'py, PyAny>>> {
        nets_to_py(py, self.0.exclude_aaaa().iter().map(|&n| n.into()))
    }

    /// IPv4 networks never mapped into a prefix.
    #[getter]
    fn never_map<'py>(&self, py: Python<'py>) -> PyResult<Vec<Bound<'py, PyAny>>> {
        nets_to_py(py, self.0.never_map().iter().map(|&n| n.into()))
    }

    /// Names whose AAAA queries are always answered by synthesis.
    #[getter]
    fn force_names(&self) -> Vec<String> {
        self.0.force_names().iter().map(|n| n.to_string()).collect()
    }

    /// Names DNS64 leaves alone.
    #[getter]
    fn exclude_names(&self) -> Vec<String> {
        self.0
            .exclude_names()
            .iter()
            .map(|n| n.to_string())
            .collect()
    }

    /// Whether an upstream error or timeout on AAAA still leads to
    /// synthesis (RFC 6147 §5.1.2).
    #[getter]
    fn synthesize_on_error(&self) -> bool {
        self.0.synthesize_on_error()
    }

    /// Whether synthesised answers carry Extended DNS Error 29.
    #[getter]
    fn extended_error(&self) -> bool {
        self.0.extended_error()
    }

    /// Whether CD alone disables synthesis (Unbound's rule).
    #[getter]
    fn cd_disables_synthesis(&self) -> bool {
        self.0.cd_disables_synthesis()
    }

    fn __repr__(&self) -> String {
        let prefixes: Vec<String> = self.0.prefixes().iter().map(|p| p.to_string()).collect();
        format!("<Dns64Config prefixes={prefixes:?}>")
    }
}

fn parse(data: &[u8]) -> Result<Message, String> {
    Message::from_vec(data).map_err(|e| e.to_string())
}

fn to_wire<'py>(py: Python<'py>, m: &Message) -> PyResult<Bound<'py, PyBytes>> {
    let wire = m.to_vec().map_err(|e| {
        errors::dns_error("encode", format!("cannot write the message: {e}"), SERVFAIL)
    })?;
    Ok(PyBytes::new(py, &wire))
}

fn config_or_default(config: Option<&Bound<'_, Dns64Config>>) -> Config {
    config.map_or_else(Config::default, |c| c.get().0.clone())
}

fn start(query: &[u8], config: &Config) -> PyResult<Resolution> {
    let msg = parse(query).map_err(|e| {
        errors::dns_error(
            "malformed",
            format!("the query does not parse: {e}"),
            FORMERR,
        )
    })?;
    Resolution::new(config, &msg).map_err(errors::dns64)
}

/// One client query in flight through DNS64 (RFC 6147 §5), driven from
/// outside: feed the query in, send what `poll()` asks for upstream, hand
/// back the answer (`handle_response`) or the news that none came
/// (`handle_failure`), until `poll()` gives the response. `DnsError` (with
/// `rcode` to answer) for a message that is not a standard query with one
/// question; `error_reply` makes that answer.
#[pyclass(module = "sixgate", name = "Dns64Resolution")]
pub(crate) struct Dns64Resolution(Resolution);

#[pymethods]
impl Dns64Resolution {
    #[new]
    #[pyo3(signature = (query, /, *, config = None))]
    fn new(query: Cow<'_, [u8]>, config: Option<&Bound<'_, Dns64Config>>) -> PyResult<Self> {
        start(&query, &config_or_default(config)).map(Self)
    }

    /// What to do next, as `(action, message)`: `("upstream", query)` send
    /// this query upstream; `("respond", response)` send this to the client,
    /// done; `("forward", None)` no DNS64 here: relay the client's query and
    /// its answer unchanged, done; `("wait", None)` an answer is awaited;
    /// `("done", None)` over.
    fn poll<'py>(
        &mut self,
        py: Python<'py>,
    ) -> PyResult<(&'static str, Option<Bound<'py, PyBytes>>)> {
        Ok(match self.0.poll() {
            Action::Upstream(m) => ("upstream", Some(to_wire(py, &m)?)),
            Action::Respond(m) => ("respond", Some(to_wire(py, &m)?)),
            Action::Forward => ("forward", None),
            Action::Wait => ("wait", None),
            _ => ("done", None),
        })
    }

    /// Hands over the upstream's answer to the last `"upstream"` query. An
    /// answer that does not parse, does not match the question, or is
    /// truncated counts as `handle_failure()`.
    #[pyo3(signature = (response, /))]
    fn handle_response(&mut self, response: Cow<'_, [u8]>) {
        match parse(&response) {
            Ok(m) => self.0.handle_response(&m),
            Err(_) => self.0.handle_failure(),
        }
    }

    /// Reports a timeout or network error on the last `"upstream"` query.
    fn handle_failure(&mut self) {
        self.0.handle_failure();
    }

    /// The client's question name, with its trailing dot.
    #[getter]
    fn query_name(&self) -> String {
        self.0.query().name().to_string()
    }

    /// The client's question type as a number (28 is AAAA, 12 PTR).
    #[getter]
    fn query_type(&self) -> u16 {
        self.0.query().query_type().into()
    }
}

/// Resolves one client query through DNS64, calling `upstream(query_bytes)`
/// for each upstream exchange; it returns the answer's bytes, or `None` for
/// a timeout or network error. Returns the bytes to send the client: the
/// synthesised or passed-on answer, the upstream's own answer for queries
/// DNS64 leaves alone, an error reply (FORMERR, NOTIMP, SERVFAIL) when the
/// query is malformed or forwarding failed; `None` only when `query` is too
/// short or itself a response (never answer those). Exceptions from
/// `upstream` propagate.
#[pyfunction]
#[pyo3(signature = (query, upstream, /, *, config = None))]
pub(crate) fn resolve<'py>(
    py: Python<'py>,
    query: Cow<'_, [u8]>,
    upstream: &Bound<'py, PyAny>,
    config: Option<&Bound<'py, Dns64Config>>,
) -> PyResult<Option<Bound<'py, PyBytes>>> {
    let config = config_or_default(config);
    let msg = match parse(&query) {
        Ok(m) => m,
        Err(_) => return Ok(reply(py, &query, ResponseCode::FormErr)),
    };
    let mut r = match Resolution::new(&config, &msg) {
        Ok(r) => r,
        Err(e) => return Ok(reply(py, &query, e.response_code())),
    };
    loop {
        match r.poll() {
            Action::Upstream(m) => {
                let answer: Option<Vec<u8>> = upstream.call1((to_wire(py, &m)?,))?.extract()?;
                match answer.as_deref().map(parse) {
                    Some(Ok(a)) => r.handle_response(&a),
                    _ => r.handle_failure(),
                }
            }
            Action::Respond(m) => return to_wire(py, &m).map(Some),
            Action::Forward => {
                let answer: Option<Vec<u8>> =
                    upstream.call1((PyBytes::new(py, &query),))?.extract()?;
                return Ok(match answer {
                    Some(a) => Some(PyBytes::new(py, &a)),
                    None => reply(py, &query, ResponseCode::ServFail),
                });
            }
            // Wait or Done after an answer was handed over cannot happen;
            // end rather than loop.
            _ => return Ok(reply(py, &query, ResponseCode::ServFail)),
        }
    }
}

fn reply<'py>(py: Python<'py>, query: &[u8], rcode: ResponseCode) -> Option<Bound<'py, PyBytes>> {
    dns64::error_reply(query, rcode).map(|b| PyBytes::new(py, &b))
}

/// An error reply to a client message, from its bytes, as long as the ID
/// can be read: the ID, opcode, RD and (when it parses) the question, with
/// RCODE `rcode` (1 FORMERR, 2 SERVFAIL, 4 NOTIMP, 5 REFUSED, …). `None`
/// for fewer than 3 bytes or a message that is itself a response.
#[pyfunction]
#[pyo3(signature = (query, rcode, /))]
pub(crate) fn error_reply<'py>(
    py: Python<'py>,
    query: Cow<'_, [u8]>,
    rcode: u16,
) -> Option<Bound<'py, PyBytes>> {
    reply(py, &query, <ResponseCode as From<u16>>::from(rcode))
}
