//! The shipped examples stay valid: the example proxy, DNS64 and NAT64 configs
//! pass `--check`, and their summaries show what they configure.

use std::process::Command;

#[test]
fn example_proxy_config_checks() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/proxy.toml");
    let out = Command::new(env!("CARGO_BIN_EXE_sixgate"))
        .args(["proxy", "--check", "--config", path])
        .output()
        .expect("run sixgate");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for line in [
        "listener https (tls) on 0.0.0.0:443, [::]:443: 3 names",
        "listener http (http) on 0.0.0.0:80, [::]:80: 3 names",
        "listener ssh-alice (tcp) on 0.0.0.0:2201: to [2001:db8:1::10]:22",
        "dynamic: AAAA via [::1]:53 within 2001:db8::/40",
    ] {
        assert!(stdout.contains(line), "missing {line:?} in:\n{stdout}");
    }
}

#[test]
fn flags_and_config_do_not_mix() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/proxy.toml");
    let out = Command::new(env!("CARGO_BIN_EXE_sixgate"))
        .args([
            "proxy",
            "--check",
            "--config",
            path,
            "--route",
            "a.test=[::1]:1",
        ])
        .output()
        .expect("run sixgate");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("cannot be combined"), "{stderr}");
}

#[test]
fn example_dns64_config_checks() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/dns64.toml");
    let out = Command::new(env!("CARGO_BIN_EXE_sixgate"))
        .args(["dns64", "--check", "--config", path])
        .output()
        .expect("run sixgate");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for line in [
        "listen: [2001:db8:53::53]:53, 127.0.0.1:53, [::1]:53",
        "prefixes: 64:ff9b::/96",
        "clients 2001:db8:200::/48: no DNS64",
        "clients 2001:db8:100::/40: 2001:db8:64::/96",
        "forced: registry.npmjs.org.",
        "cache: 67108864 bytes",
        "rate limit: 200/s per client, burst 400",
        "allow: loopback, 2001:db8::/32",
    ] {
        assert!(stdout.contains(line), "missing {line:?} in:\n{stdout}");
    }
}

#[test]
fn example_nat64_config_checks() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/nat64.toml");
    let out = Command::new(env!("CARGO_BIN_EXE_sixgate"))
        .args(["nat64", "--check", "--config", path])
        .output()
        .expect("run sixgate");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for line in [
        "tun: nat64 (set up: up, routes 2001:db8:64::/96 and 192.0.2.8/30, 192.0.2.12/32 via it)",
        "prefix: 2001:db8:64::/96 (network-specific)",
        "pool4: 192.0.2.8/30 ports 1024-65535, 192.0.2.12/32 ports 2048-65535 (tcp, udp, icmp)",
        "port blocks: 256 ports, at most 8 per customer /64 and protocol",
        "filtering: endpoint-independent",
        "timeouts: udp 300s, icmp 60s, tcp established 7440s, tcp transitory 240s",
        "limits: 1048576 sessions, 8192 per customer /64, 1000000 BIB entries, 64 stored SYNs",
        "static: tcp:192.0.2.12:8080=[2001:db8:100::10]:80",
        "icmp errors from: 192.0.2.9, 2001:db8:64::c000:209",
        "log: /var/log/sixgate/nat64.log",
        "metrics: 127.0.0.1:9466",
        "offload: on (TCP super-packets translated whole)",
    ] {
        assert!(stdout.contains(line), "missing {line:?} in:\n{stdout}");
    }
}

#[test]
fn nat64_one_line_form_and_its_errors() {
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_sixgate"))
            .arg("nat64")
            .args(args)
            .arg("--check")
            .output()
            .expect("run sixgate");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let line = [
        "--tun",
        "nat64",
        "--prefix",
        "64:ff9b::/96",
        "--pool4",
        "198.51.100.1/32",
        "--setup",
    ];
    // Documentation space under the well-known prefix: RFC 6052 §3.1.
    let (code, _, err) = run(&line);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("--pool4 \"198.51.100.1/32\""), "{err}");
    assert!(err.contains("--allow-non-global"), "{err}");
    let mut allowed = line.to_vec();
    allowed.push("--allow-non-global");
    let (code, out, err) = run(&allowed);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        out.contains("prefix: 64:ff9b::/96 (well-known, non-global IPv4 allowed)"),
        "{out}"
    );
    // Core rules come back named by flag.
    let (code, _, err) = run(&[
        "--prefix",
        "2001:db8:64::/96",
        "--pool4",
        "192.0.2.1",
        "--udp-timeout",
        "30s",
    ]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("--udp-timeout \"30s\": udp timeout 30s is below"),
        "{err}"
    );
    let (code, _, err) = run(&["--pool4", "192.0.2.1/24:9-8"]);
    assert_eq!(code, Some(2), "{err}");
    // A file and defining flags do not mix.
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/nat64.toml");
    let (code, _, err) = run(&["--config", path, "--pool4", "192.0.2.1"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("cannot be combined"), "{err}");
    // --no-offload overrides a file, like --log and --metrics.
    let (code, out, err) = run(&["--config", path, "--no-offload"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("offload: off"), "{out}");
}
