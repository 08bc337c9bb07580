//! `HostIndex`: longest-prefix match from any address to its owner.

use napi::bindgen_prelude::{FromNapiValue, Unknown};
use napi::{Env, Result, ValueType};
use napi_derive::napi;
use serde_json::Value;
use sixgate::identity;

use crate::addr::{prefix_list, Nat64Prefix, NormalizeOptions};
use crate::conv::{self, Addr, NetOrAddr, Opts};
use crate::errors;

/// Longest-prefix match from any address to the host (or customer) that
/// owns it: a Map from networks to owners whose lookups take any form of
/// an address. An IPv4-mapped address (`::ffff:192.0.2.7`) always finds
/// the IPv4 network, and an address under one of `nat64Prefixes` finds the
/// network of the IPv4 it embeds (RFC 6052); IPv4-mapped networks are
/// stored as IPv4.
///
/// Owners are JSON values (a string, number, boolean, array or plain
/// object; not `null` or `undefined`, so that `null` can mean "no owner"),
/// stored as a copy: what a lookup returns is a fresh copy too.
///
/// ```js
/// const owners = new HostIndex({ nat64Prefixes: ['64:ff9b::/96'] })
/// owners.set('192.0.2.0/24', 'carol')
/// owners.lookup('::ffff:192.0.2.7')   // { network: '192.0.2.0/24', owner: 'carol' }
/// owners.owner('64:ff9b::c000:207')   // 'carol'
/// ```
#[napi]
pub struct HostIndex {
    inner: identity::HostIndex<Value>,
}

/// A network and its owner.
#[napi(object, object_from_js = false, use_nullable = true)]
pub struct HostEntry {
    /// The network, `address/length`.
    pub network: String,
    /// Its owner.
    #[napi(ts_type = "unknown")]
    pub owner: Value,
}

fn entry(network: ipnet::IpNet, owner: &Value) -> HostEntry {
    HostEntry {
        network: conv::net_text(network),
        owner: owner.clone(),
    }
}

/// An owner: a JSON value other than null.
fn owner_arg(env: &Env, owner: Unknown<'_>) -> Result<Value> {
    const EXPECTED: &str = "expected an owner (a JSON value other than null or undefined)";
    match owner.get_type()? {
        ValueType::Null | ValueType::Undefined => return Err(errors::type_error(env, EXPECTED)),
        _ => {}
    }
    match Value::from_unknown(owner) {
        Ok(v) if !v.is_null() => Ok(v),
        _ => Err(errors::type_error(env, EXPECTED)),
    }
}

#[napi]
impl HostIndex {
    /// An empty index; `options.nat64Prefixes` are the NAT64 prefixes whose
    /// addresses fold to the IPv4 they embed.
    #[napi(constructor)]
    pub fn new(
        #[napi(ts_arg_type = "NormalizeOptions")] options: Option<Opts<NormalizeOptions>>,
    ) -> Self {
        let prefixes = prefix_list(options.and_then(|o| o.0.nat64_prefixes));
        Self {
            inner: identity::HostIndex::with_nat64(&prefixes),
        }
    }

    /// The NAT64 prefixes the index folds.
    #[napi(getter)]
    pub fn nat64_prefixes(&self) -> Vec<Nat64Prefix> {
        self.inner
            .nat64_prefixes()
            .iter()
            .map(|&inner| Nat64Prefix { inner })
            .collect()
    }

    /// Sets the owner of `network` (an address stands for its /32 or
    /// /128) and returns the owner it replaces, or `null`.
    #[napi(ts_return_type = "unknown | null")]
    pub fn set(
        &mut self,
        env: Env,
        #[napi(ts_arg_type = "string")] network: NetOrAddr,
        #[napi(ts_arg_type = "unknown")] owner: Unknown<'_>,
    ) -> Result<Option<Value>> {
        let owner = owner_arg(&env, owner)?;
        Ok(self.inner.insert(network.0, owner))
    }

    /// The owner of exactly `network`, or `null` (no longest-prefix match:
    /// see `lookup`).
    #[napi(ts_return_type = "unknown | null")]
    pub fn get(&self, #[napi(ts_arg_type = "string")] network: NetOrAddr) -> Option<Value> {
        self.inner.get(network.0).cloned()
    }

    /// Whether exactly `network` has an owner.
    #[napi]
    pub fn has(&self, #[napi(ts_arg_type = "string")] network: NetOrAddr) -> bool {
        self.inner.get(network.0).is_some()
    }

    /// Removes `network`; whether it was there.
    #[napi]
    pub fn delete(&mut self, #[napi(ts_arg_type = "string")] network: NetOrAddr) -> bool {
        self.inner.remove(network.0).is_some()
    }

    /// Removes every network (the NAT64 prefixes stay).
    #[napi]
    pub fn clear(&mut self) {
        self.inner = identity::HostIndex::with_nat64(self.inner.nat64_prefixes());
    }

    /// The longest network holding `addr` (any form: IPv4, IPv6,
    /// IPv4-mapped, under a NAT64 prefix) and its owner, or `null`.
    #[napi]
    pub fn lookup(&self, #[napi(ts_arg_type = "string")] addr: Addr) -> Option<HostEntry> {
        self.inner.lookup(addr.0).map(|(n, o)| entry(n, o))
    }

    /// The owner `lookup` finds, or `null`.
    #[napi(ts_return_type = "unknown | null")]
    pub fn owner(&self, #[napi(ts_arg_type = "string")] addr: Addr) -> Option<Value> {
        self.inner.lookup(addr.0).map(|(_, o)| o.clone())
    }

    /// The longest network that holds all of `network`, and its owner, or
    /// `null`.
    #[napi]
    pub fn closest(&self, #[napi(ts_arg_type = "string")] network: NetOrAddr) -> Option<HostEntry> {
        self.inner.closest(network.0).map(|(n, o)| entry(n, o))
    }

    /// The address the index looks up for `addr`: IPv4-mapped and NAT64
    /// forms folded to IPv4.
    #[napi]
    pub fn fold(&self, #[napi(ts_arg_type = "string")] addr: Addr) -> String {
        conv::addr_text(self.inner.fold(addr.0))
    }

    /// Every network and owner, IPv4 first, each family in address order.
    #[napi]
    pub fn entries(&self) -> Vec<HostEntry> {
        self.inner.iter().map(|(n, o)| entry(n, o)).collect()
    }

    /// The number of networks.
    #[napi(getter)]
    pub fn size(&self) -> u32 {
        u32::try_from(self.inner.len()).unwrap_or(u32::MAX)
    }
}
