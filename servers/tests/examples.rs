//! The shipped examples stay valid: the example proxy config passes
//! `sixgate proxy --check`, and its summary shows every listener.

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
