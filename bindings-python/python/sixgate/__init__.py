"""sixgate: the IPv6-only hosting toolkit, for Python.

A thin layer over the Rust core (``sixgate._native``), made to feel like the
standard library's :mod:`ipaddress`: functions accept ``str`` or
``ipaddress`` objects and return ``ipaddress`` objects (networks as
``IPv4Network`` / ``IPv6Network``), options are keyword-only, and every
error is a :class:`sixgate.Error`, a :class:`ValueError` whose ``kind``
attribute is a stable code and whose message quotes the bad value.

- RFC 6052: :class:`Nat64Prefix`, :func:`synthesize`, :func:`extract`,
  :func:`discover` (prefix discovery from ``ipv4only.arpa`` answers).
- Address text: :func:`host_port`, :func:`url_host`, :func:`ptr_name`,
  :func:`reverse_zones`, :func:`munin_allow`, :func:`munin_cidr_allow`,
  :func:`normalize`, :func:`format_address`.
- Identity: :class:`HostIndex`, longest-prefix match from any address
  (IPv4-mapped and NAT64 addresses folded) to its owner.
- Bytes at the edge: :func:`read_client_hello`, :func:`read_request_head`,
  :class:`ProxyHeader`, :func:`decode_proxy_header`.
- DNS64 on wire-format messages: :class:`Dns64Config`,
  :class:`Dns64Resolution`, :func:`resolve`, :func:`error_reply`.
- Address plans: :class:`Plan` (pools within pools, allocation, release
  with hold-down, reservations, lookup, free space, utilisation, DNS
  records), saved as the same JSON file ``sixgate plan`` uses; it hands out
  frozen snapshots (:class:`Pool`, :class:`Usage`, :class:`Allocation`,
  :class:`Released`, :class:`Reservation`, :class:`Step`, :class:`Record`,
  :class:`ReverseZone`) and raises :class:`PlanError`. :func:`edit_plan`
  changes a plan file under the same writer lock as ``sixgate plan``.

>>> import sixgate
>>> sixgate.synthesize("198.51.100.7", prefix="2001:db8:64::/96")
IPv6Address('2001:db8:64::c633:6407')
>>> sixgate.normalize("64:ff9b::c633:6407", nat64_prefixes=["64:ff9b::/96"])
IPv4Address('198.51.100.7')
"""

import contextlib
import fcntl
import os
import time
from typing import Iterator

from sixgate._native import (
    STYLES,
    AddressError,
    Allocation,
    Authority,
    ClientHello,
    Dns64Config,
    Dns64Resolution,
    DnsError,
    Error,
    FormatError,
    HostIndex,
    HttpError,
    Nat64Error,
    Nat64Prefix,
    NeedMore,
    Plan,
    PlanError,
    Pool,
    PrefixError,
    ProxyDecoded,
    ProxyHeader,
    ProxyProtocolError,
    Record,
    Released,
    RequestHead,
    Reservation,
    ReverseZone,
    Step,
    TlsError,
    Usage,
    __version__,
    canonical,
    decode_proxy_header,
    discover,
    encode_proxy_header,
    error_reply,
    extract,
    format_address,
    host_port,
    munin_allow,
    munin_allow_regex,
    munin_cidr_allow,
    non_global_range,
    normalize,
    parse_address,
    parse_network,
    ptr_name,
    read_client_hello,
    read_request_head,
    resolve,
    reverse_zones,
    style_pitfall,
    synthesize,
    url_host,
)

__all__ = [
    "STYLES",
    "edit_plan",
    "AddressError",
    "Allocation",
    "Authority",
    "ClientHello",
    "Dns64Config",
    "Dns64Resolution",
    "DnsError",
    "Error",
    "FormatError",
    "HostIndex",
    "HttpError",
    "Nat64Error",
    "Nat64Prefix",
    "NeedMore",
    "Plan",
    "PlanError",
    "Pool",
    "PrefixError",
    "ProxyDecoded",
    "ProxyHeader",
    "ProxyProtocolError",
    "Record",
    "Released",
    "RequestHead",
    "Reservation",
    "ReverseZone",
    "Step",
    "TlsError",
    "Usage",
    "__version__",
    "canonical",
    "decode_proxy_header",
    "discover",
    "encode_proxy_header",
    "error_reply",
    "extract",
    "format_address",
    "host_port",
    "munin_allow",
    "munin_allow_regex",
    "munin_cidr_allow",
    "non_global_range",
    "normalize",
    "parse_address",
    "parse_network",
    "ptr_name",
    "read_client_hello",
    "read_request_head",
    "resolve",
    "reverse_zones",
    "style_pitfall",
    "synthesize",
    "url_host",
]


@contextlib.contextmanager
def edit_plan(path: "str | os.PathLike[str]", *, wait: float = 10.0) -> Iterator[Plan]:
    """Load the plan file at ``path``, yield it for changes, and save it,
    all under the writer lock ``sixgate plan`` takes (``flock`` on
    ``PATH.lock``), so Python panels and the CLI can change one plan file at
    the same time without losing an update. Waits up to ``wait`` seconds for
    another writer, then raises :class:`TimeoutError`. Nothing is saved if
    the block raises.

    >>> with sixgate.edit_plan("plan.json") as plan:   # doctest: +SKIP
    ...     plan.alloc("fra1", customer="42", now=time.time())
    """
    lock_path = os.fspath(path) + ".lock"
    with open(lock_path, "a", encoding="utf-8") as lock:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise TimeoutError(
                        f"{lock_path} is locked by another writer (waited {wait} s)"
                    ) from None
                time.sleep(0.005)
        try:
            plan = Plan.load(path)
            yield plan
            plan.save(path)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
