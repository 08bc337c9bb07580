//! Feeds what `sixgate addr fmt --style …` prints to the real programs and
//! checks that each one accepts it and reads the address and port we meant,
//! and that the naive form the style's pitfall warns about really goes wrong
//! (so these tests fail if the formatter regresses to it).
//!
//! Only configuration checks are run (`haproxy -c`, `nginx -t`, `sshd -T`,
//! `named-checkconf`, `nsd-checkconf`, `apache2 -t`/`-S`, `ssh-keygen -F`,
//! `perl`); no daemon is started and nothing is sent anywhere. Addresses are
//! from the documentation ranges (RFC 3849, RFC 5737) or loopback.
//!
//! Each test skips (with a note on stderr) when its program is missing,
//! except under CI (`CI` set), where a missing program is a failure:
//! `make deps` installs them all (scripts/install-test-deps.sh).
//!
//! The real output quoted in comments is from Debian 12: HAProxy 2.6.12,
//! nginx 1.22.1, OpenSSH 9.2p1, BIND 9.18, NSD 4.6.1, Apache 2.4, Net::Server
//! 2.013.

use std::env;
use std::fs;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{self, Command};
use std::sync::atomic::{AtomicUsize, Ordering};

use sixgate::text::{self, Style};

// ---------------------------------------------------------------- HAProxy

#[test]
fn haproxy() {
    let Some(haproxy) = require("haproxy") else {
        return;
    };
    let dir = Scratch::new("haproxy");
    let check = |bind: &str, server: &str| {
        let cfg = dir.write("haproxy.cfg", &haproxy_cfg(bind, server));
        run(&haproxy, &["-c", "-f", &cfg])
    };

    // `haproxy -c` parses without binding: a real bind of 2001:db8::1,
    // which no interface here has, would fail. So `bind` can be checked too.
    let bind = ours(Style::Haproxy, "2001:db8::1", Some(8443));
    let server = ours(Style::Haproxy, "2001:db8::1", Some(443));
    assert_eq!(
        (bind.as_str(), server.as_str()),
        ("[2001:db8::1]:8443", "[2001:db8::1]:443")
    );
    check(&bind, &server).assert_ok("Configuration file is valid");
    // The port is what follows `]:`: an impossible one is quoted back.
    check(&bind, "[2001:db8::1]:99999").assert_fails("'server b/s1' : invalid port '99999'");
    check("[2001:db8::1]:99999", &server).assert_fails("'bind' : invalid port '99999'");
    // …and there is one: a health check needs a port, and finds ours.
    check(&bind, &format!("{server} check")).assert_ok("Configuration file is valid");
    check(&bind, "[2001:db8::1] check")
        .assert_fails("server 's1' has neither service port nor check port");
    let v4_bind = ours(Style::Haproxy, "192.0.2.1", Some(8443));
    for port in [Some(443), None] {
        check(&v4_bind, &ours(Style::Haproxy, "192.0.2.1", port))
            .assert_ok("Configuration file is valid");
    }

    // The pitfall: HAProxy takes the port after the LAST colon, so
    // `server s1 2001:db8::1` is host "2001:db8:" port 1:
    //   [ALERT] … 'server b/s1' : no method found to resolve address '2001:db8:'.
    // (`init-addr last` in haproxy_cfg makes HAProxy report a host name
    // instead of looking it up, so no DNS query is ever made.)
    check(&bind, "2001:db8::1").assert_fails("resolve address '2001:db8:'");
    check(&bind, "2001:db8::99999").assert_fails("invalid port '99999'");
    //   [ALERT] … 'bind' : invalid address: '2001:db8:' in '2001:db8::1'
    check("2001:db8::1", &server).assert_fails("invalid address: '2001:db8:' in '2001:db8::1'");
    // The `ipv6@` prefix only fixes the family; the last colon still splits.
    check(&bind, "ipv6@2001:db8::1").assert_fails("resolve address '2001:db8:'");
    check("ipv6@2001:db8::1", &server)
        .assert_fails("invalid address: '2001:db8:' in 'ipv6@2001:db8::1'");
    // The flip side of the same rule: WITH a port the naive form works,
    // 2001:db8::1:443 being host 2001:db8::1 port 443.
    check("2001:db8::1:8443", "2001:db8::1:443").assert_ok("Configuration file is valid");
    // Forms that do mean "2001:db8::1, no port" (see haproxy_without_port).
    for portless in ["[2001:db8::1]", "ipv6@[2001:db8::1]", "2001:db8::1:"] {
        check(&bind, portless).assert_ok("Configuration file is valid");
        check(&bind, &format!("{portless} check"))
            .assert_fails("server 's1' has neither service port nor check port");
    }
}

/// The haproxy style without a port: `[2001:db8::1]`, read as the address
/// with no port. (`ipv6@2001:db8::1`, which an earlier formatter printed, is
/// read by HAProxy 2.6 as host `2001:db8:` port 1: its manual says "the port
/// is always the number after the last colon", whatever the prefix.)
#[test]
fn haproxy_without_port() {
    let Some(haproxy) = require("haproxy") else {
        return;
    };
    let dir = Scratch::new("haproxy-no-port");
    let check = |server: &str| {
        let cfg = dir.write("haproxy.cfg", &haproxy_cfg("[2001:db8::1]:8443", server));
        run(&haproxy, &["-c", "-f", &cfg])
    };
    let server = ours(Style::Haproxy, "2001:db8::1", None);
    check(&server).assert_ok("Configuration file is valid");
    // Read as an address with no port (the client's port is used).
    check(&format!("{server} check"))
        .assert_fails("server 's1' has neither service port nor check port");
}

/// A config with one frontend `bind` and one backend `server`. `init-addr
/// last` (no state file) means a server that is not an IP literal is an
/// error naming the host, rather than a DNS lookup.
fn haproxy_cfg(bind: &str, server: &str) -> String {
    format!(
        "defaults\n\
         \x20   mode tcp\n\
         \x20   timeout connect 1s\n\
         \x20   timeout client 1s\n\
         \x20   timeout server 1s\n\
         frontend f\n\
         \x20   bind {bind}\n\
         \x20   default_backend b\n\
         backend b\n\
         \x20   default-server init-addr last\n\
         \x20   server s1 {server}\n"
    )
}

// ------------------------------------------------------------------ nginx

#[test]
fn nginx() {
    let Some(nginx) = require("nginx") else {
        return;
    };
    let dir = Scratch::new("nginx");
    let prefix = format!("{}/", dir.path().display());
    let pid = format!("pid {};", dir.file("nginx.pid"));
    // The upstream block is parsed before the server block, so an error on
    // a `listen` line means the upstream `server` line was accepted.
    let test = |upstream: &str, listens: &[&str]| {
        let listens: String = listens
            .iter()
            .map(|l| format!("        listen {l};\n"))
            .collect();
        let conf = dir.write(
            "nginx.conf",
            &format!(
                "error_log stderr;\n\
                 events {{}}\n\
                 http {{\n\
                 \x20   access_log off;\n\
                 \x20   upstream u {{ server {upstream}; }}\n\
                 \x20   server {{\n\
                 {listens}\
                 \x20       location / {{ proxy_pass http://u; }}\n\
                 \x20   }}\n\
                 }}\n"
            ),
        );
        run(
            &nginx,
            &["-t", "-c", &conf, "-p", &prefix, "-e", "stderr", "-g", &pid],
        )
    };

    let with_port = ours(Style::Nginx, "2001:db8::1", Some(443));
    let no_port = ours(Style::Nginx, "2001:db8::1", None);
    assert_eq!(
        (with_port.as_str(), no_port.as_str()),
        ("[2001:db8::1]:443", "[2001:db8::1]")
    );

    // What `listen` reads, without opening any socket: nginx compares
    // listen addresses as socket addresses while parsing, and names a
    // duplicate in its own canonical text.
    //   [emerg] … a duplicate listen [2001:db8::1]:443 in …/nginx.conf:7
    test(&with_port, &[&with_port, "[2001:0DB8:0:0:0:0:0:0001]:443"])
        .assert_fails("a duplicate listen [2001:db8::1]:443 in");
    test(&no_port, &[&no_port, "[2001:0DB8::1]:80"])
        .assert_fails("a duplicate listen [2001:db8::1]:80 in");
    test("[2001:db8::1]:99999", &[&with_port])
        .assert_fails("invalid port in upstream \"[2001:db8::1]:99999\"");

    // The whole config. `nginx -t` does open the listening sockets, so this
    // runs only where 2001:db8::1 cannot be bound: then nothing listens, and
    // the failure names exactly the socket address nginx read:
    //   nginx: the configuration file …/nginx.conf syntax is ok
    //   [emerg] … bind() to [2001:db8::1]:443 failed (99: Cannot assign requested address)
    if could_bind("20010db8000000000000000000000001") {
        eprintln!("note: 2001:db8::1 is bindable here; skipped the full `nginx -t`");
    } else {
        let r = test(&with_port, &[&with_port]);
        r.assert_fails("syntax is ok");
        r.assert_fails("bind() to [2001:db8::1]:443 failed (99: ");
    }

    // The pitfall: without brackets nginx refuses both directives.
    //   [emerg] … invalid port in "2001:db8::1:443" of the "listen" directive in …
    //   [emerg] … invalid port in upstream "2001:db8::1:443" in …
    test(&with_port, &["2001:db8::1:443"])
        .assert_fails("invalid port in \"2001:db8::1:443\" of the \"listen\" directive");
    test(&with_port, &["2001:db8::1"])
        .assert_fails("invalid port in \"2001:db8::1\" of the \"listen\" directive");
    test("2001:db8::1:443", &[&with_port])
        .assert_fails("invalid port in upstream \"2001:db8::1:443\"");
    test("2001:db8::1", &[&with_port]).assert_fails("invalid port in upstream \"2001:db8::1\"");
}

// ------------------------------------------------------------------- sshd

#[test]
fn sshd() {
    let Some(sshd) = require("sshd") else {
        return;
    };
    let Some(keygen) = require("ssh-keygen") else {
        return;
    };
    if !privsep_dir() {
        return;
    }
    let dir = Scratch::new("sshd");
    let host_key = new_key(&keygen, &dir, "host_key").0;
    // `sshd -T` prints the effective configuration and exits; it binds
    // nothing. Each ListenAddress comes out as `listenaddress [addr]:port`.
    let listen = |value: &str| -> Vec<SocketAddr> {
        let cfg = dir.write(
            "sshd_config",
            &format!("HostKey {host_key}\nListenAddress {value}\n"),
        );
        let r = run(&sshd, &["-T", "-f", &cfg]);
        r.assert_ok("listenaddress ");
        r.stdout
            .lines()
            .filter_map(|l| l.strip_prefix("listenaddress "))
            .map(|a| {
                a.parse()
                    .unwrap_or_else(|e| panic!("sshd printed {a:?}: {e}"))
            })
            .collect()
    };

    let with_port = ours(Style::Sshd, "::1", Some(2222));
    assert_eq!(with_port, "[::1]:2222");
    assert_eq!(listen(&with_port), [sock("[::1]:2222")]);
    assert_eq!(listen(&ours(Style::Sshd, "::1", None)), [sock("[::1]:22")]);
    assert_eq!(
        listen(&ours(Style::Sshd, "127.0.0.1", Some(2222))),
        [sock("127.0.0.1:2222")]
    );

    // The pitfall: `ListenAddress ::1:2222` is the address ::1:2222 on the
    // default port:
    //   listenaddress [::0.1.34.34]:22
    // (0.1.34.34 is 0x0001 0x2222 written as IPv4 by glibc's inet_ntop.)
    let naive = listen("::1:2222");
    assert_eq!(naive, [sock("[::1:2222]:22")]);
    assert_ne!(naive[0].port(), 2222);
}

/// sshd refuses to run, even for `-T`, without its privilege-separation
/// directory, which the service creates at boot. Creates it if absent (as
/// the service would; it is left in place, since a real sshd may start and
/// need it meanwhile). False, after the skip rule, if it cannot.
fn privsep_dir() -> bool {
    let dir = Path::new("/run/sshd");
    if dir.is_dir() || fs::create_dir(dir).is_ok() || dir.is_dir() {
        return true;
    }
    unavailable(
        "/run/sshd",
        "sshd -T needs /run/sshd, which only root can create",
    );
    false
}

// ------------------------------------------------------------------- BIND

#[test]
fn bind() {
    let Some(checkconf) = require("named-checkconf") else {
        return;
    };
    let dir = Scratch::new("bind");
    // `named-checkconf -p` prints the config as BIND parsed it, addresses
    // in canonical text and `port N` where a port was read.
    let forwarders = |list: &[&str]| {
        let list: String = list.iter().map(|a| format!(" {a};")).collect();
        let conf = dir.write(
            "named.conf",
            &format!(
                "options {{\n\tdirectory \"{}\";\n\tforwarders {{{list} }};\n}};\n",
                dir.path().display()
            ),
        );
        run(&checkconf, &["-p", &conf])
    };
    let printed = |list: &[&str]| -> Vec<String> {
        let r = forwarders(list);
        r.assert_ok("forwarders {");
        let block = r.stdout.split("forwarders {").nth(1).unwrap_or_default();
        let block = block.split("};").next().unwrap_or_default();
        block
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(String::from)
            .collect()
    };

    let v6 = ours(Style::Bind, "2001:db8::53", Some(5353));
    let v4 = ours(Style::Bind, "192.0.2.53", Some(5353));
    let bare = ours(Style::Bind, "2001:DB8::53", None);
    assert_eq!(v6, "2001:db8::53 port 5353");
    assert_eq!(
        printed(&[&v6, &v4, &bare]),
        [
            "2001:db8::53 port 5353;",
            "192.0.2.53 port 5353;",
            "2001:db8::53;"
        ]
    );

    // The pitfall: `2001:db8::53:5353` is itself an IPv6 address, and BIND
    // takes it as one, on the default port:
    //   forwarders {
    //           2001:db8::53:5353;
    //   };
    let naive = printed(&["2001:db8::53:5353"]);
    assert_eq!(naive, ["2001:db8::53:5353;"]);
    let read: IpAddr = naive[0].trim_end_matches(';').parse().expect("an address");
    assert_eq!(read, ip("2001:db8:0:0:0:0:53:5353"));
    assert_ne!(read, ip("2001:db8::53"));
    // And the URL form is a syntax error:
    //   named.conf:3: expected IP address near '[2001:db8::53]:5353'
    forwarders(&["[2001:db8::53]:5353"])
        .assert_fails("expected IP address near '[2001:db8::53]:5353'");
}

// -------------------------------------------------------------------- NSD

#[test]
fn nsd() {
    let Some(checkconf) = require("nsd-checkconf") else {
        return;
    };
    let dir = Scratch::new("nsd");
    let conf = |ip_address: &str, request_xfr: &str| {
        dir.write(
            "nsd.conf",
            &format!(
                "server:\n\
                 \tip-address: {ip_address}\n\
                 \tzonesdir: \"{d}\"\n\
                 \tpidfile: \"{d}/nsd.pid\"\n\
                 \tusername: \"\"\n\
                 \tchroot: \"\"\n\
                 zone:\n\
                 \tname: \"example.\"\n\
                 \tzonefile: \"example.zone\"\n\
                 \trequest-xfr: {request_xfr} NOKEY\n",
                d = dir.path().display()
            ),
        )
    };

    let v6 = ours(Style::Nsd, "2001:db8::53", Some(5353));
    let v4 = ours(Style::Nsd, "192.0.2.53", Some(5353));
    assert_eq!(v6, "2001:db8::53@5353");
    for addr in [&v6, &v4] {
        let cfg = conf(addr, addr);
        run(&checkconf, &[&cfg]).assert_success();
        // nsd-checkconf keeps `ip-address` as text; NSD splits it at `@`
        // when it binds (nsd.conf(5): `ip-address: <ip4 or ip6>[@port]`).
        let r = run(&checkconf, &["-o", "ip-address", &cfg]);
        assert_eq!(r.stdout.trim(), addr.as_str(), "{r}");
        let r = run(&checkconf, &["-z", "example.", "-o", "request-xfr", &cfg]);
        assert_eq!(r.stdout.trim(), format!("{addr} NOKEY"), "{r}");
    }
    // nsd-checkconf does not parse `ip-address` at all…
    run(&checkconf, &[&conf("2001:db8::zz@5353", &v6)]).assert_success();
    // …but it does parse access-list addresses, split at `@`: only the text
    // before it is the address.
    //   nsd.conf:10: error: Bad ip6 address '2001:db8::zz'
    run(&checkconf, &[&conf(&v6, "2001:db8::zz@5353")])
        .assert_fails("Bad ip6 address '2001:db8::zz'");
    // The host:port form is not NSD's:
    //   nsd.conf:10: error: Bad ip6 address '[2001:db8::53]:5353'
    run(&checkconf, &[&conf(&v6, "[2001:db8::53]:5353")])
        .assert_fails("Bad ip6 address '[2001:db8::53]:5353'");
    // The pitfall: `2001:db8::53:5353` is a valid IPv6 address, so NSD
    // accepts it silently as a different primary, on port 53.
    run(
        &checkconf,
        &[&conf("2001:db8::53:5353", "2001:db8::53:5353")],
    )
    .assert_success();
    run(&checkconf, &[&conf(&v6, "2001:db8::53:zzzz")])
        .assert_fails("Bad ip6 address '2001:db8::53:zzzz'");
}

// ----------------------------------------------------------------- Apache

/// Where Debian keeps the module every Apache config needs (an MPM).
const APACHE_MPM: &str = "/usr/lib/apache2/modules/mod_mpm_event.so";

#[test]
fn apache() {
    let Some(apache2) = require("apache2") else {
        return;
    };
    if !Path::new(APACHE_MPM).is_file() {
        unavailable(
            APACHE_MPM,
            "apache2 is installed without the Debian module layout",
        );
        return;
    }
    let dir = Scratch::new("apache");
    // `-t` parses (it binds nothing); `-S` also lists the virtual hosts as
    // Apache read their addresses. Each vhost has a ServerName, so Apache
    // does not look its address up in the DNS.
    let apache = |flag: &str, body: &str| {
        let d = dir.path().display();
        let conf = dir.write(
            "apache2.conf",
            &format!(
                "ServerRoot \"{d}\"\n\
                 LoadModule mpm_event_module {APACHE_MPM}\n\
                 PidFile \"{d}/httpd.pid\"\n\
                 ErrorLog \"{d}/error.log\"\n\
                 DocumentRoot \"{d}\"\n\
                 ServerName localhost\n\
                 {body}"
            ),
        );
        run(&apache2, &[flag, "-f", &conf])
    };
    let vhost =
        |addr: &str| format!("<VirtualHost {addr}>\n    ServerName vh.example\n</VirtualHost>\n");

    let with_port = ours(Style::Apache, "2001:db8::1", Some(80));
    let no_port = ours(Style::Apache, "2001:db8::1", None);
    assert_eq!(
        (with_port.as_str(), no_port.as_str()),
        ("[2001:db8::1]:80", "[2001:db8::1]")
    );
    let body = format!("Listen {with_port}\n{}", vhost(&with_port));
    apache("-t", &body).assert_ok("Syntax OK");
    //   VirtualHost configuration:
    //   [2001:db8::1]:80       vh.example (…/apache2.conf:8)
    apache("-S", &body).assert_ok("\n[2001:db8::1]:80 ");
    // Apache refuses two Listens with the same host text and port number:
    // ours is host 2001:db8::1, port 80.
    apache(
        "-t",
        &format!("Listen {with_port}\nListen [2001:db8::1]:0080\n"),
    )
    .assert_fails("Cannot define multiple Listeners on the same IP:port");
    apache(
        "-t",
        &format!("Listen {with_port}\nListen [2001:db8::1]:81\n"),
    )
    .assert_ok("Syntax OK");
    // Without a port: a virtual host on any port. `Listen` always needs
    // one ("Port must be specified"), so the portless form is for vhosts.
    apache("-S", &format!("Listen {with_port}\n{}", vhost(&no_port)))
        .assert_ok("\n[2001:db8::1]:* ");
    apache("-t", &format!("Listen {no_port}\n")).assert_fails("Port must be specified");

    // The pitfall, which only bites without a port. APR takes the digits
    // after the last colon as the port, so WITH a port the naive form
    // happens to work: `Listen 2001:db8::1:80` is the same listener as ours.
    apache(
        "-t",
        &format!("Listen {with_port}\nListen 2001:db8::1:80\n"),
    )
    .assert_fails("Cannot define multiple Listeners on the same IP:port");
    apache(
        "-S",
        &format!("Listen {with_port}\n{}", vhost("2001:db8::1:8080")),
    )
    .assert_ok("\n[2001:db8::1]:8080 ");
    // Without one, host "2001:db8:" port 1:
    //   [core:crit] … AH00077: alloc_listener: failed to set up sockaddr for 2001:db8:
    //   AH00526: Syntax error on line 7 of …/apache2.conf:
    //   Listen setup failed
    apache("-t", "Listen 2001:db8::1\n").assert_fails("failed to set up sockaddr for 2001:db8:\n");
    // …and a naive vhost is dropped with only a log line, while the check
    // still passes:
    //   [core:error] … AH00547: Could not resolve host name 2001:db8: -- ignoring!
    //   Syntax OK
    let r = apache(
        "-S",
        &format!("Listen {with_port}\n{}", vhost("2001:db8::1")),
    );
    r.assert_ok("Could not resolve host name 2001:db8: -- ignoring!");
    assert!(!r.stdout.contains("vh.example"), "{r}");
}

// ------------------------------------------------------------ known_hosts

#[test]
fn known_hosts() {
    let Some(keygen) = require("ssh-keygen") else {
        return;
    };
    let dir = Scratch::new("known-hosts");
    let key_22 = new_key(&keygen, &dir, "key22").1;
    let key_2222 = new_key(&keygen, &dir, "key2222").1;
    let hosts_2222 = ours(Style::KnownHosts, "2001:db8::22", Some(2222));
    let hosts_22 = ours(Style::KnownHosts, "2001:db8::22", Some(22));
    let hosts_v4 = ours(Style::KnownHosts, "192.0.2.22", Some(2222));
    assert_eq!(
        [hosts_2222.as_str(), hosts_22.as_str(), hosts_v4.as_str()],
        ["[2001:db8::22]:2222", "2001:db8::22", "[192.0.2.22]:2222"]
    );
    let file = dir.write(
        "known_hosts",
        &format!("{hosts_2222} {key_2222}\n{hosts_22} {key_22}\n{hosts_v4} {key_2222}\n"),
    );
    // ssh looks a host up as `[addr]:port`, or as plain `addr` on port 22
    // (OpenSSH put_host_port()); `ssh-keygen -F` does the same lookup.
    let lookup = |file: &str, host: &str| run(&keygen, &["-F", host, "-f", file]);
    let finds = |file: &str, host: &str, key: &str| {
        let r = lookup(file, host);
        r.assert_ok(&format!("# Host {host} found: line "));
        assert!(
            r.stdout.contains(key),
            "{host} should give its own key: {r}"
        );
    };
    for file in [&file, &hashed(&keygen, &dir, &file)] {
        finds(file, "[2001:db8::22]:2222", &key_2222);
        finds(file, "2001:db8::22", &key_22);
        finds(file, "[192.0.2.22]:2222", &key_2222);
        // Port 22 is never written out.
        assert_eq!(lookup(file, "[2001:db8::22]:22").code, Some(1), "not found");
    }

    // The pitfall: `2001:db8::22:2222` is the host 2001:db8::22:2222 on
    // port 22; ssh to 2001:db8::22 port 2222 never finds it.
    let naive = dir.write(
        "known_hosts_naive",
        &format!("2001:db8::22:2222 {key_2222}\n"),
    );
    for host in ["[2001:db8::22]:2222", "2001:db8::22"] {
        let r = lookup(&naive, host);
        assert_eq!(r.code, Some(1), "{host} should not be found: {r}");
    }
    finds(&naive, "2001:db8::22:2222", &key_2222);
}

/// A copy of `file` with its host names hashed (`ssh-keygen -H`): ssh then
/// compares hashes of the exact text, so the text has to be right.
fn hashed(keygen: &Path, dir: &Scratch, file: &str) -> String {
    let copy = dir.file("known_hosts_hashed");
    fs::copy(file, &copy).expect("copy known_hosts");
    run(keygen, &["-H", "-f", &copy]).assert_success();
    let text = fs::read_to_string(&copy).expect("read hashed known_hosts");
    assert!(
        text.lines().all(|l| l.starts_with("|1|")),
        "not hashed: {text}"
    );
    copy
}

// ------------------------------------------------------------------ munin

#[test]
fn munin_allow() {
    let Some(perl) = require("perl") else {
        return;
    };
    let line = ours(Style::MuninAllow, "192.0.2.1", None);
    assert_eq!(line, r"allow ^(::ffff:)?192\.0\.2\.1$");
    let re = line.strip_prefix("allow ").expect("an allow line");
    let peers = [
        "192.0.2.1",
        "::ffff:192.0.2.1",
        "192.0.2.10",
        "192x0x2x1",
        "::ffff:192.0.2.100",
    ];
    let want = "1 1 0 0 0";
    // As a Perl regex, alone and as Net::Server wraps it (/^$re$/).
    let matches = |pattern: &str, code: &str| {
        let mut args = vec!["-e", code, "--", pattern];
        args.extend(peers);
        let r = run(&perl, &args);
        r.assert_success();
        r.stdout.trim().to_owned()
    };
    let bare = r#"my $re = shift; print join(" ", map { /$re/ ? 1 : 0 } @ARGV), "\n""#;
    let wrapped = r#"my $re = shift; print join(" ", map { /^$re$/ ? 1 : 0 } @ARGV), "\n""#;
    assert_eq!(matches(re, bare), want);
    assert_eq!(matches(re, wrapped), want);
    // The talk's regex misses a peer written plainly.
    assert_eq!(matches(r"^::ffff:192\.0\.2\.1$", bare), "0 1 0 0 0");

    // And through munin-node's own matching, Net::Server::allow_deny, with
    // the line read from a config file as munin-node reads munin-node.conf.
    // Net::Server 2.x strips `::ffff:` from an IPv4-mapped peer before
    // matching, so the talk's regex now admits nobody.
    if Command::new(&perl)
        .args(["-MNet::Server", "-e", "1"])
        .output()
        .is_ok_and(|o| o.status.success())
    {
        let dir = Scratch::new("munin");
        let decide = |allow: &str, peers: &[&str]| {
            let conf = dir.write("munin-node.conf", &format!("log_level 0\n{allow}\n"));
            let mut args = vec!["-MNet::Server", "-e", NET_SERVER_DECIDE, "--", &conf];
            args.extend(peers);
            let r = run(&perl, &args);
            r.assert_success();
            r.stdout.trim().to_owned()
        };
        assert_eq!(decide(&line, &peers), want);
        let v6 = ours(Style::MuninAllow, "2001:db8::1", None);
        assert_eq!(
            decide(&v6, &["2001:db8::1", "2001:db8::10", "2001:db8::1:0"]),
            "1 0 0"
        );
        assert_eq!(decide(r"allow ^::ffff:192\.0\.2\.1$", &peers[..2]), "0 0");
    } else {
        unavailable(
            "Net::Server",
            "skipped: Net::Server (libnet-server-perl) not installed (make deps installs it)",
        );
    }
}

/// Reads the conf file in `$ARGV[0]` the way Net::Server reads
/// munin-node.conf, then prints 1 (allowed) or 0 for each peer address.
const NET_SERVER_DECIDE: &str = r#"
    my ($conf, @peers) = @ARGV;
    my $s = bless { server => {} }, "Net::Server";
    $s->process_args($s->_read_conf($conf));
    print join(" ", map { $s->{server}{peeraddr} = $_; $s->allow_deny ? 1 : 0 } @peers), "\n";
"#;

// ---------------------------------------------------------------- helpers

/// What we print, or a panic naming the input.
fn ours(style: Style, input: &str, port: Option<u16>) -> String {
    text::format(style, input, port).unwrap_or_else(|e| panic!("{style} {input} {port:?}: {e}"))
}

fn ip(s: &str) -> IpAddr {
    s.parse().expect("an address literal")
}

fn sock(s: &str) -> SocketAddr {
    s.parse().expect("a socket address literal")
}

/// The program's path, from PATH or /usr/sbin (where Debian puts daemons,
/// which a non-root PATH may lack); `None`, after [`unavailable`], if
/// missing.
fn require(program: &str) -> Option<PathBuf> {
    let path = env::var_os("PATH").unwrap_or_default();
    let found = env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin")])
        .map(|dir| dir.join(program))
        .find(|p| p.is_file() && p.is_absolute());
    if found.is_none() {
        unavailable(
            program,
            &format!("skipped: {program} not installed (make deps installs it)"),
        );
    }
    found
}

/// Something a test needs is missing: under CI that is a failure (CI must
/// run every test); elsewhere the test says so on stderr and returns.
fn unavailable(what: &str, note: &str) {
    let ci = env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0");
    assert!(
        !ci,
        "{what} is missing, and CI must run this test (`make deps` as root installs it)"
    );
    eprintln!("{note}");
}

/// True unless the address (32 hex digits, as in /proc/net/if_inet6) is
/// certainly not bindable here: not configured on any interface, and
/// non-local binds off. True also when that cannot be read.
fn could_bind(hex: &str) -> bool {
    let configured = fs::read_to_string("/proc/net/if_inet6")
        .map_or(true, |t| t.lines().any(|l| l.starts_with(hex)));
    let nonlocal =
        fs::read_to_string("/proc/sys/net/ipv6/ip_nonlocal_bind").map_or(true, |t| t.trim() != "0");
    configured || nonlocal
}

/// A new ed25519 key pair in `dir`: the private key's path and the public
/// key as `type base64`.
fn new_key(keygen: &Path, dir: &Scratch, name: &str) -> (String, String) {
    let path = dir.file(name);
    run(
        keygen,
        &["-q", "-t", "ed25519", "-N", "", "-C", "", "-f", &path],
    )
    .assert_success();
    let public = fs::read_to_string(format!("{path}.pub")).expect("read public key");
    let public = public
        .split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ");
    assert!(public.starts_with("ssh-ed25519 AAAA"), "{public}");
    (path, public)
}

/// A program's exit code and output.
struct Run {
    what: String,
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Run {
    /// Exit status 0.
    fn assert_success(&self) {
        assert!(self.code == Some(0), "should succeed: {self}");
    }

    /// Exit status 0, and `needle` in stdout or stderr.
    fn assert_ok(&self, needle: &str) {
        self.assert_success();
        assert!(
            self.output().contains(needle),
            "should say {needle:?}: {self}"
        );
    }

    /// A non-zero exit status, and `needle` in stdout or stderr.
    fn assert_fails(&self, needle: &str) {
        assert!(self.code.is_some_and(|c| c != 0), "should fail: {self}");
        assert!(
            self.output().contains(needle),
            "should say {needle:?}: {self}"
        );
    }

    fn output(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} exited {:?}\n--- stdout\n{}--- stderr\n{}",
            self.what, self.code, self.stdout, self.stderr
        )
    }
}

/// Runs a program to completion in the C locale (for stable messages).
fn run(program: &Path, args: &[&str]) -> Run {
    let out = Command::new(program)
        .args(args)
        .env("LC_ALL", "C")
        .output()
        .unwrap_or_else(|e| panic!("run {}: {e}", program.display()));
    Run {
        what: format!("{} {}", program.display(), args.join(" ")),
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A fresh directory under the system temp dir, removed on drop (also
/// when the test panics).
struct Scratch(PathBuf);

impl Scratch {
    fn new(test: &str) -> Self {
        static COUNT: AtomicUsize = AtomicUsize::new(0);
        let n = COUNT.fetch_add(1, Ordering::Relaxed);
        let dir =
            env::temp_dir().join(format!("sixgate-real-configs-{}-{n}-{test}", process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
        Self(dir)
    }

    fn path(&self) -> &Path {
        &self.0
    }

    /// The path of `name` in the directory, as text for a command line.
    fn file(&self, name: &str) -> String {
        let path = self.0.join(name);
        path.to_str().expect("a UTF-8 temp dir").to_owned()
    }

    /// Writes `name` and returns its path.
    fn write(&self, name: &str, contents: &str) -> String {
        let path = self.file(name);
        fs::write(&path, contents).unwrap_or_else(|e| panic!("write {path}: {e}"));
        path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}
