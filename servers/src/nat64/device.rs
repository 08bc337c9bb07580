//! The TUN device: opened (created, or attached to when it exists) with the
//! `tun-rs` crate, which keeps the Linux ioctls out of this workspace
//! (`unsafe_code` is denied here). With `--setup` the device is brought up
//! and routes for the prefix and pool4 point into it (iproute2's `ip`);
//! without it addresses and routes are the operator's.

use std::process::Command;

use anyhow::{bail, Context as _};
use tun_rs::{DeviceBuilder, SyncDevice};

use super::config::Config;

/// Opens the TUN device named in `config` with one queue per worker
/// (`IFF_MULTI_QUEUE` when more than one; each further queue is another
/// descriptor attached to the device, `SyncDevice::try_clone`), plain L3
/// without packet information, non-blocking, with offloads (a
/// `virtio_net_hdr` in front of every packet; see [`super::offload`]; each
/// queue gets them too) unless they are turned off; with `setup`, up and
/// routed.
///
/// A device made by the operator without `multi_queue` cannot take more
/// queues: with the worker count left to its default the gateway then
/// runs one worker and says so; asked for more (`workers`, `--workers`),
/// it fails with the command that makes a device that can.
pub(crate) fn open_queues(config: &Config, workers: u16) -> anyhow::Result<Vec<SyncDevice>> {
    let (first, multi) = match build(config, workers > 1) {
        Ok(dev) => (dev, workers > 1),
        Err(e) if workers > 1 && config.workers.is_none() => match build(config, false) {
            Ok(dev) => {
                tracing::warn!(
                    "TUN device {:?} takes one queue only (made without multi_queue?): one worker instead of {workers}; \
                     `ip tuntap add dev {} mode tun multi_queue` makes one that takes more ({e})",
                    config.tun,
                    config.tun
                );
                (dev, false)
            }
            Err(_) => return Err(open_error(config, workers, e)),
        },
        Err(e) => return Err(open_error(config, workers, e)),
    };
    let mut queues = Vec::with_capacity(usize::from(workers));
    if multi {
        for i in 1..workers {
            let q = first
                .try_clone()
                .with_context(|| format!("opening queue {i} of TUN device {:?}", config.tun))?;
            queues.push(q);
        }
    }
    queues.insert(0, first);
    for q in &queues {
        // Interruptible reads need a non-blocking descriptor (tun-rs docs).
        q.set_nonblocking(true)
            .context("making the TUN descriptor non-blocking")?;
    }
    if config.setup {
        setup_routes(config)?;
    }
    forwarding_warnings();
    local_pool4_warnings(config);
    Ok(queues)
}

fn build(config: &Config, multi_queue: bool) -> std::io::Result<SyncDevice> {
    let mut b = DeviceBuilder::new()
        .name(config.tun.clone())
        .offload(config.offload);
    b = if config.setup {
        b.enable(true)
    } else {
        b.inherit_enable_state()
    };
    if multi_queue {
        b = b.multi_queue(true);
    }
    b.build_sync()
}

fn open_error(config: &Config, workers: u16, e: std::io::Error) -> anyhow::Error {
    let hint = if workers > 1 {
        format!(
            "; {workers} workers need a multi-queue device: remove it or make it with `ip tuntap add dev {} mode tun multi_queue`, or set workers = 1",
            config.tun
        )
    } else {
        String::new()
    };
    anyhow::Error::new(e).context(format!(
        "opening TUN device {:?} (/dev/net/tun, needs CAP_NET_ADMIN){hint}",
        config.tun
    ))
}

/// `ip route replace` for the prefix (IPv6) and each pool4 network (IPv4)
/// through the device: idempotent, so a restart finds them in place.
fn setup_routes(config: &Config) -> anyhow::Result<()> {
    let prefix = config.prefix.to_string();
    ip(&["-6", "route", "replace", &prefix, "dev", &config.tun])?;
    for p in &config.pool4 {
        let net = p.net.to_string();
        ip(&["-4", "route", "replace", &net, "dev", &config.tun])?;
    }
    tracing::info!(
        "--setup: {} up, routes {} and {} via it",
        config.tun,
        prefix,
        config
            .pool4
            .iter()
            .map(|p| p.net.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(())
}

fn ip(args: &[&str]) -> anyhow::Result<()> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .context("running `ip` (iproute2) for --setup")?;
    if !out.status.success() {
        bail!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// The kernel forwards between the device and the other interfaces only
/// with forwarding on; say so rather than change a host-wide setting.
fn forwarding_warnings() {
    for (path, what) in [
        (
            "/proc/sys/net/ipv6/conf/all/forwarding",
            "net.ipv6.conf.all.forwarding",
        ),
        ("/proc/sys/net/ipv4/ip_forward", "net.ipv4.ip_forward"),
    ] {
        if std::fs::read_to_string(path).is_ok_and(|v| v.trim() == "0") {
            tracing::warn!("{what} is 0: the kernel will not forward to and from the TUN device (sysctl -w {what}=1)");
        }
    }
}

/// A pool4 address that is also an address of this host never reaches the
/// device: the kernel delivers packets to it locally. Say so (a warning:
/// policy routing can make it work) rather than translate into silence.
fn local_pool4_warnings(config: &Config) {
    let Ok(out) = Command::new("ip")
        .args(["-4", "-o", "addr", "show"])
        .output()
    else {
        return;
    };
    let text = String::from_utf8_lossy(&out.stdout);
    for (dev, addr) in local_addrs(&text) {
        if config.pool4.iter().any(|p| p.net.contains(&addr)) {
            tracing::warn!(
                "pool4 address {addr} is an address of this host (on {dev}): the kernel delivers \
                 packets to it locally and they never reach the TUN device; use addresses routed \
                 to this host but not configured on it"
            );
        }
    }
}

/// The (device, address) pairs of `ip -4 -o addr show`.
fn local_addrs(text: &str) -> Vec<(&str, std::net::Ipv4Addr)> {
    text.lines()
        .filter_map(|l| {
            let mut words = l.split_whitespace();
            let dev = words.nth(1)?;
            let _ = words.find(|w| *w == "inet")?;
            let addr = words.next()?.split('/').next()?.parse().ok()?;
            Some((dev, addr))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_addresses_from_ip() {
        let text = "1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever preferred_lft forever\n\
                    7: g1    inet 198.51.100.1/24 scope global g1\\       valid_lft forever\n\
                    garbage\n";
        assert_eq!(
            local_addrs(text),
            vec![
                ("lo", "127.0.0.1".parse().unwrap()),
                ("g1", "198.51.100.1".parse().unwrap())
            ]
        );
    }
}
