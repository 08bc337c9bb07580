//! DNS64 (RFC 6147) on wire-format messages: the core's sans-IO
//! `Resolution` with `Buffer`s in and out, so a Node DNS server (on
//! `dgram`, or a DNS library) can embed it.

use ipnet::IpNet;
use napi::bindgen_prelude::{Buffer, Function, Unknown};
use napi::{Env, Result, ValueType};
use napi_derive::napi;
use sixgate::dns64::proto::op::{Message, ResponseCode};
use sixgate::dns64::{self, Action, Config, Resolution};

use crate::addr::{prefix_list, Nat64Prefix};
use crate::conv::{self, Bytes, Count, Flag, FromJs, List, Net, Opts, PrefixArg, Str};
use crate::errors;

const FORMERR: u16 = 1;
const SERVFAIL: u16 = 2;

/// Options of `Dns64Config`; every one has the default a DNS64 should
/// have, so `new Dns64Config()` is RFC 6147 as written.
#[napi(object, object_to_js = false)]
pub struct Dns64Options {
    /// The NAT64 prefixes to synthesise under (default `['64:ff9b::/96']`;
    /// with several, one AAAA per prefix, RFC 6147 §5.2).
    #[napi(ts_type = "Array<string | Nat64Prefix>")]
    pub prefixes: Option<List<PrefixArg>>,
    /// Synthesise non-global IPv4 under the well-known prefix too (RFC
    /// 6052 §3.1 forbids it). Default `false`.
    #[napi(ts_type = "boolean")]
    pub allow_non_global: Option<Flag>,
    /// AAAA records in these IPv6 networks count as absent (RFC 6147
    /// §5.1.4); default `['::ffff:0:0/96']`.
    #[napi(ts_type = "string[]")]
    pub exclude_aaaa: Option<List<Net>>,
    /// IPv4 networks never synthesised (RFC 6147 §5.1.4).
    #[napi(ts_type = "string[]")]
    pub never_map: Option<List<Net>>,
    /// Names (and their subdomains) whose AAAA records are replaced by
    /// synthesis (a site whose IPv6 is broken).
    #[napi(ts_type = "string[]")]
    pub force_names: Option<List<Str>>,
    /// Names (and their subdomains) never synthesised.
    #[napi(ts_type = "string[]")]
    pub exclude_names: Option<List<Str>>,
    /// Synthesise when the AAAA query fails with an error other than
    /// NXDOMAIN (RFC 6147 §5.1.2). Default `true`.
    #[napi(ts_type = "boolean")]
    pub synthesize_on_error: Option<Flag>,
    /// Mark synthesised answers with EDE 29 "Synthesized" (RFC 8914).
    /// Default `false`.
    #[napi(ts_type = "boolean")]
    pub extended_error: Option<Flag>,
    /// A query with CD set gets no synthesis (RFC 6147 §5.5). Default
    /// `false`: synthesise anyway (the validating stub knows DNS64).
    #[napi(ts_type = "boolean")]
    pub cd_disables_synthesis: Option<Flag>,
}

/// A DNS64 configuration, validated once.
#[napi]
pub struct Dns64Config {
    inner: Config,
}

fn v6_nets(env: &Env, nets: List<Net>) -> Result<Vec<ipnet::Ipv6Net>> {
    nets.0
        .into_iter()
        .map(|n| match n.0 {
            IpNet::V6(n) => Ok(n),
            IpNet::V4(n) => Err(errors::sixgate_error(
                env,
                "ERR_SIXGATE_PREFIX",
                "version",
                &format!("{n} is not an IPv6 prefix"),
                None,
            )),
        })
        .collect()
}

fn v4_nets(env: &Env, nets: List<Net>) -> Result<Vec<ipnet::Ipv4Net>> {
    nets.0
        .into_iter()
        .map(|n| match n.0 {
            IpNet::V4(n) => Ok(n),
            IpNet::V6(n) => Err(errors::sixgate_error(
                env,
                "ERR_SIXGATE_PREFIX",
                "version",
                &format!("{n} is not an IPv4 prefix"),
                None,
            )),
        })
        .collect()
}

fn on(flag: Option<Flag>, default: bool) -> bool {
    flag.map_or(default, |f| f.0)
}

#[napi]
impl Dns64Config {
    /// Builds a configuration; throws `ERR_SIXGATE_DNS` or
    /// `ERR_SIXGATE_PREFIX` for a bad one.
    #[napi(constructor)]
    pub fn new(
        env: Env,
        #[napi(ts_arg_type = "Dns64Options")] options: Option<Opts<Dns64Options>>,
    ) -> Result<Self> {
        let Some(Opts(o)) = options else {
            return Ok(Self {
                inner: Config::default(),
            });
        };
        let mut b = Config::builder()
            .allow_non_global(on(o.allow_non_global, false))
            .synthesize_on_error(on(o.synthesize_on_error, true))
            .extended_error(on(o.extended_error, false))
            .cd_disables_synthesis(on(o.cd_disables_synthesis, false));
        if let Some(p) = o.prefixes {
            b = b.prefixes(prefix_list(Some(p)));
        }
        if let Some(x) = o.exclude_aaaa {
            b = b.exclude_aaaa(v6_nets(&env, x)?);
        }
        if let Some(x) = o.never_map {
            b = b.never_map(v4_nets(&env, x)?);
        }
        if let Some(x) = o.force_names {
            b = b.force_names(x.0.into_iter().map(|s| s.0));
        }
        if let Some(x) = o.exclude_names {
            b = b.exclude_names(x.0.into_iter().map(|s| s.0));
        }
        b.build()
            .map(|inner| Self { inner })
            .map_err(|e| errors::dns64(&env, &e))
    }

    /// The NAT64 prefixes synthesised under.
    #[napi(getter)]
    pub fn prefixes(&self) -> Vec<Nat64Prefix> {
        self.inner
            .prefixes()
            .iter()
            .map(|&inner| Nat64Prefix { inner })
            .collect()
    }

    /// Whether non-global IPv4 is synthesised under the well-known prefix.
    #[napi(getter)]
    pub fn allow_non_global(&self) -> bool {
        self.inner.allows_non_global()
    }

    /// The AAAA exclusion networks.
    #[napi(getter)]
    pub fn exclude_aaaa(&self) -> Vec<String> {
        self.inner
            .exclude_aaaa()
            .iter()
            .map(|&n| conv::net_text(n))
            .collect()
    }

    /// The IPv4 networks never synthesised.
    #[napi(getter)]
    pub fn never_map(&self) -> Vec<String> {
        self.inner
            .never_map()
            .iter()
            .map(|&n| conv::net_text(n))
            .collect()
    }

    /// The forced names, fully qualified.
    #[napi(getter)]
    pub fn force_names(&self) -> Vec<String> {
        self.inner
            .force_names()
            .iter()
            .map(|n| n.to_string())
            .collect()
    }

    /// The excluded names, fully qualified.
    #[napi(getter)]
    pub fn exclude_names(&self) -> Vec<String> {
        self.inner
            .exclude_names()
            .iter()
            .map(|n| n.to_string())
            .collect()
    }

    /// Whether a failed AAAA query (other than NXDOMAIN) is synthesised.
    #[napi(getter)]
    pub fn synthesize_on_error(&self) -> bool {
        self.inner.synthesize_on_error()
    }

    /// Whether synthesised answers carry EDE 29.
    #[napi(getter)]
    pub fn extended_error(&self) -> bool {
        self.inner.extended_error()
    }

    /// Whether CD turns synthesis off.
    #[napi(getter)]
    pub fn cd_disables_synthesis(&self) -> bool {
        self.inner.cd_disables_synthesis()
    }
}

fn parse(data: &[u8]) -> std::result::Result<Message, String> {
    Message::from_vec(data).map_err(|e| e.to_string())
}

fn to_wire(env: &Env, m: &Message) -> Result<Buffer> {
    m.to_vec().map(Buffer::from).map_err(|e| {
        errors::dns_error(
            env,
            "encode",
            &format!("cannot write the message: {e}"),
            SERVFAIL,
        )
    })
}

fn config_or_default(config: Option<&Dns64Config>) -> Config {
    config.map_or_else(Config::default, |c| c.inner.clone())
}

fn start(env: &Env, query: &[u8], config: &Config) -> Result<Resolution> {
    let msg = parse(query).map_err(|e| {
        errors::dns_error(
            env,
            "malformed",
            &format!("the query does not parse: {e}"),
            FORMERR,
        )
    })?;
    Resolution::new(config, &msg).map_err(|e| errors::dns64(env, &e))
}

/// What a resolution wants next (see `Dns64Resolution.poll`).
#[napi(object, object_from_js = false, use_nullable = true)]
pub struct Dns64Step {
    /// `'upstream'`: send `message` to the recursive resolver and hand its
    /// answer to `handleResponse` (or call `handleFailure`); `'respond'`:
    /// answer the client with `message`; `'forward'`: relay the client's
    /// query upstream as it is and its answer back (nothing for DNS64 to
    /// do); `'wait'`: an upstream answer is outstanding; `'done'`.
    #[napi(ts_type = "'upstream' | 'respond' | 'forward' | 'wait' | 'done'")]
    pub action: String,
    /// The message to send, for `upstream` and `respond`; `null` otherwise.
    pub message: Option<Buffer>,
}

/// One client query going through DNS64 (RFC 6147 §5), sans-IO: poll for
/// what to send, hand back what came.
///
/// ```js
/// const r = new Dns64Resolution(query, config)
/// for (let step = r.poll(); step.action !== 'done'; step = r.poll()) {
///   if (step.action === 'upstream') r.handleResponse(await ask(step.message))
///   else if (step.action === 'respond') { reply(step.message); break }
///   else if (step.action === 'forward') { reply(await ask(query)); break }
/// }
/// ```
#[napi]
pub struct Dns64Resolution {
    inner: Resolution,
}

#[napi]
impl Dns64Resolution {
    /// Starts resolving a client's query (wire format). Throws
    /// `ERR_SIXGATE_DNS` with the `rcode` to answer with (FORMERR for a
    /// query that does not parse, NOTIMP for an opcode DNS64 does not
    /// handle); `errorReply(query, err.rcode)` writes that answer.
    #[napi(constructor)]
    pub fn new(
        env: Env,
        #[napi(ts_arg_type = "Uint8Array")] query: Bytes,
        config: Option<&Dns64Config>,
    ) -> Result<Self> {
        start(&env, &query.0, &config_or_default(config)).map(|inner| Self { inner })
    }

    /// The next thing to do.
    #[napi]
    pub fn poll(&mut self, env: Env) -> Result<Dns64Step> {
        let (action, message) = match self.inner.poll() {
            Action::Upstream(m) => ("upstream", Some(to_wire(&env, &m)?)),
            Action::Respond(m) => ("respond", Some(to_wire(&env, &m)?)),
            Action::Forward => ("forward", None),
            Action::Wait => ("wait", None),
            _ => ("done", None),
        };
        Ok(Dns64Step {
            action: action.to_owned(),
            message,
        })
    }

    /// Hands over the upstream's answer to the last `upstream` message; an
    /// answer that does not parse counts as a failure.
    #[napi]
    pub fn handle_response(&mut self, #[napi(ts_arg_type = "Uint8Array")] response: Bytes) {
        match parse(&response.0) {
            Ok(m) => self.inner.handle_response(&m),
            Err(_) => self.inner.handle_failure(),
        }
    }

    /// The upstream did not answer (timeout, network error).
    #[napi]
    pub fn handle_failure(&mut self) {
        self.inner.handle_failure();
    }

    /// The name queried, fully qualified.
    #[napi(getter)]
    pub fn query_name(&self) -> String {
        self.inner.query().name().to_string()
    }

    /// The type queried (28 for AAAA).
    #[napi(getter)]
    pub fn query_type(&self) -> u32 {
        u32::from(u16::from(self.inner.query().query_type()))
    }
}

/// `upstream`'s answer: bytes, or `null`/`undefined` for no answer.
fn answer(env: &Env, value: Unknown<'_>) -> Result<Option<Vec<u8>>> {
    match value.get_type()? {
        ValueType::Null | ValueType::Undefined => Ok(None),
        _ => Bytes::from_js(env, value).map(|b| Some(b.0)),
    }
}

/// Resolves one query with a synchronous `upstream(message)` that returns
/// the recursive resolver's answer (a `Buffer`) or `null` when it has
/// none. Returns the answer for the client: synthesised, forwarded, or
/// the error reply (FORMERR, SERVFAIL…) the query is owed; `null` only
/// when the query is too short to answer at all. An exception thrown by
/// `upstream` propagates. For an asynchronous upstream, drive a
/// `Dns64Resolution` instead.
#[napi]
pub fn resolve(
    env: Env,
    #[napi(ts_arg_type = "Uint8Array")] query: Bytes,
    #[napi(ts_arg_type = "(message: Buffer) => Uint8Array | null | undefined")] upstream: Function<
        '_,
        Buffer,
        Unknown<'_>,
    >,
    config: Option<&Dns64Config>,
) -> Result<Option<Buffer>> {
    let config = config_or_default(config);
    let query = query.0;
    let msg = match parse(&query) {
        Ok(m) => m,
        Err(_) => return Ok(reply(&query, ResponseCode::FormErr)),
    };
    let mut r = match Resolution::new(&config, &msg) {
        Ok(r) => r,
        Err(e) => return Ok(reply(&query, e.response_code())),
    };
    loop {
        match r.poll() {
            Action::Upstream(m) => {
                let sent = to_wire(&env, &m)?;
                let got = answer(&env, upstream.call(sent)?)?;
                match got.as_deref().map(parse) {
                    Some(Ok(a)) => r.handle_response(&a),
                    _ => r.handle_failure(),
                }
            }
            Action::Respond(m) => return to_wire(&env, &m).map(Some),
            Action::Forward => {
                let got = answer(&env, upstream.call(Buffer::from(query.clone()))?)?;
                return Ok(match got {
                    Some(a) => Some(Buffer::from(a)),
                    None => reply(&query, ResponseCode::ServFail),
                });
            }
            // Wait or Done after an answer was handed over cannot happen;
            // end rather than loop.
            _ => return Ok(reply(&query, ResponseCode::ServFail)),
        }
    }
}

fn reply(query: &[u8], rcode: ResponseCode) -> Option<Buffer> {
    dns64::error_reply(query, rcode).map(Buffer::from)
}

/// The error answer to a query (its ID, flags and question, the given
/// RCODE: 0 to 4095, extended RCODEs through EDNS), or `null` when the
/// query is too short to answer (under 12 bytes of header).
#[napi]
pub fn error_reply(
    env: Env,
    #[napi(ts_arg_type = "Uint8Array")] query: Bytes,
    #[napi(ts_arg_type = "number")] rcode: Count,
) -> Result<Option<Buffer>> {
    let rcode = match u16::try_from(rcode.0) {
        Ok(r) if r <= 0x0fff => r,
        _ => {
            return Err(errors::range_error(
                &env,
                &format!("RCODE {} is not one of 0 to 4095", rcode.0),
            ))
        }
    };
    Ok(reply(&query.0, <ResponseCode as From<u16>>::from(rcode)))
}
