//! The shipped examples stay valid: the example proxy and DNS64 configs
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
