//! Runs the real `sixgate` binary: `sixgate addr …` output, JSON, and the
//! all-or-nothing error contract (exit 2, empty stdout, one stderr line),
//! and `--stdin` batch input.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

fn sixgate(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sixgate"))
        .args(args)
        .output()
        .expect("run sixgate")
}

/// Runs sixgate with `input` on its standard input (written from a thread,
/// so a large input cannot deadlock against the output; a child that stops
/// reading early is fine).
fn sixgate_in(args: &[&str], input: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sixgate"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run sixgate");
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let out = child.wait_with_output().expect("wait for sixgate");
    writer.join().unwrap();
    out
}

fn ok(args: &[&str]) -> String {
    check_ok(args, sixgate(args))
}

fn ok_in(args: &[&str], input: &str) -> String {
    check_ok(args, sixgate_in(args, input.as_bytes()))
}

fn check_ok(args: &[&str], out: Output) -> String {
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "{args:?} wrote to stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

/// Bad input: exit status 2, nothing on stdout, exactly one line on stderr
/// that contains `needle`.
fn fails(args: &[&str], needle: &str) -> String {
    check_fails(args, sixgate(args), needle)
}

fn fails_in(args: &[&str], input: &[u8], needle: &str) -> String {
    check_fails(args, sixgate_in(args, input), needle)
}

fn check_fails(args: &[&str], out: Output, needle: &str) -> String {
    assert_eq!(out.status.code(), Some(2), "{args:?} should exit 2");
    assert!(
        out.stdout.is_empty(),
        "{args:?} printed {:?}",
        String::from_utf8_lossy(&out.stdout)
    );
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(
        err.lines().count(),
        1,
        "{args:?}: one stderr line, got {err:?}"
    );
    assert!(
        err.contains(needle),
        "{args:?}: {err:?} should mention {needle:?}"
    );
    err
}

fn json(args: &[&str]) -> Vec<Value> {
    let text = ok(args);
    let v: Value = serde_json::from_str(&text).expect("valid JSON");
    v.as_array().expect("a JSON array").clone()
}

#[test]
fn synth_every_length_of_the_rfc_table() {
    let table = [
        ("2001:db8::/32", "2001:db8:c000:221::"),
        ("2001:db8:100::/40", "2001:db8:1c0:2:21::"),
        ("2001:db8:122::/48", "2001:db8:122:c000:2:2100::"),
        ("2001:db8:122:300::/56", "2001:db8:122:3c0:0:221::"),
        ("2001:db8:122:344::/64", "2001:db8:122:344:c0:2:2100:0"),
        ("2001:db8:122:344::/96", "2001:db8:122:344::c000:221"),
    ];
    for (prefix, want) in table {
        assert_eq!(
            ok(&["addr", "synth", "--prefix", prefix, "192.0.2.33"]),
            format!("{want}\n")
        );
        assert_eq!(
            ok(&["addr", "extract", "--prefix", prefix, want]),
            "192.0.2.33\n"
        );
    }
}

#[test]
fn synth_well_known_prefix_rule() {
    // Default prefix is 64:ff9b::/96; a global address is fine.
    assert_eq!(
        ok(&["addr", "synth", "131.111.150.25"]),
        "64:ff9b::836f:9619\n"
    );
    let err = fails(&["addr", "synth", "131.111.150.25", "10.0.0.1"], "10.0.0.1");
    assert!(err.contains("RFC 6052 §3.1"), "{err}");
    assert_eq!(
        ok(&[
            "addr",
            "synth",
            "--allow-non-global",
            "10.0.0.1",
            "192.0.2.33"
        ]),
        "64:ff9b::a00:1\n64:ff9b::c000:221\n"
    );
}

#[test]
fn synth_json() {
    let rows = json(&[
        "addr",
        "synth",
        "--json",
        "--prefix",
        "2001:db8:64::/96",
        "192.0.2.1",
        "198.51.100.2",
    ]);
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["ipv4"], "192.0.2.1");
    assert_eq!(rows[0]["ipv6"], "2001:db8:64::c000:201");
    assert_eq!(rows[1]["ipv6"], "2001:db8:64::c633:6402");
    assert_eq!(rows[1]["prefix"], "2001:db8:64::/96");
}

#[test]
fn bad_input_prints_nothing_and_names_the_value() {
    fails(
        &[
            "addr",
            "synth",
            "--allow-non-global",
            "192.0.2.1",
            "192.0.2.300",
        ],
        "\"192.0.2.300\"",
    );
    fails(&["addr", "synth", "2001:db8::1"], "not an IPv4 address");
    fails(
        &["addr", "synth", "--prefix", "2001:db8::/44", "192.0.2.1"],
        "prefix length 44",
    );
    fails(
        &["addr", "synth", "--prefix", "2001:db8::1/96", "192.0.2.1"],
        "2001:db8::1/96",
    );
    fails(
        &["addr", "extract", "2001:db8::1"],
        "not inside the NAT64 prefix 64:ff9b::/96",
    );
    fails(
        &[
            "addr",
            "extract",
            "--prefix",
            "2001:db8::/32",
            "2001:db8:c000:221:100::",
        ],
        "u-octet",
    );
    fails(&["addr", "ptr", "2001:db8::1", "nonsense"], "\"nonsense\"");
    fails(&["addr", "reverse-zones", "192.0.2.1/24"], "192.0.2.1/24");
    fails(&["addr", "fmt", "--style", "squid", "::1"], "squid");
    fails(
        &[
            "addr",
            "fmt",
            "--style",
            "munin-allow",
            "--port",
            "4949",
            "::1",
        ],
        "munin-allow",
    );
    fails(&["addr", "discover", "2001:db8::1"], "ipv4only.arpa");
}

#[test]
fn usage_errors_exit_2() {
    let out = sixgate(&["addr", "synth"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let out = sixgate(&["addr", "fmt", "--style", "nginx", "--port", "70000", "::1"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
}

#[test]
fn normalize_folds_mapped_and_nat64() {
    assert_eq!(
        ok(&[
            "addr",
            "normalize",
            "--nat64-prefix",
            "64:ff9b::/96",
            "::ffff:203.0.113.5",
            "64:ff9b::cb00:7105",
            "2001:DB8::0010",
            "::1"
        ]),
        "203.0.113.5\n203.0.113.5\n2001:db8::10\n::1\n"
    );
    // Without the prefix, the NAT64 address stays as it is.
    assert_eq!(
        ok(&["addr", "normalize", "64:ff9b::cb00:7105"]),
        "64:ff9b::cb00:7105\n"
    );
    let rows = json(&[
        "addr",
        "normalize",
        "--json",
        "--nat64-prefix",
        "64:ff9b::/96",
        "::ffff:192.0.2.1",
        "64:ff9b::c000:201",
        "2001:db8::1",
    ]);
    assert_eq!(rows[0]["folded"], "ipv4-mapped");
    assert_eq!(rows[1]["folded"], "nat64");
    assert_eq!(rows[1]["address"], "192.0.2.1");
    assert_eq!(rows[2]["folded"], Value::Null);
    assert_eq!(rows[2]["family"], "ipv6");
}

#[test]
fn ptr_and_reverse_zones() {
    assert_eq!(
        ok(&["addr", "ptr", "192.0.2.33", "2001:db8::1"]),
        "33.2.0.192.in-addr.arpa.\n1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.\n"
    );
    assert_eq!(
        ok(&["addr", "reverse-zones", "2001:db8::/31", "198.51.100.0/23"]),
        "8.b.d.0.1.0.0.2.ip6.arpa.\n9.b.d.0.1.0.0.2.ip6.arpa.\n100.51.198.in-addr.arpa.\n101.51.198.in-addr.arpa.\n"
    );
    let rows = json(&["addr", "reverse-zones", "--json", "2001:db8::/31"]);
    assert_eq!(rows[0]["prefix"], "2001:db8::/31");
    assert_eq!(rows[0]["zones"].as_array().unwrap().len(), 2);
}

#[test]
fn fmt_styles() {
    let cases: &[(&str, Option<&str>, &str, &str)] = &[
        ("haproxy", None, "2001:db8::1", "[2001:db8::1]"),
        ("haproxy", Some("443"), "2001:db8::1", "[2001:db8::1]:443"),
        ("sshd", Some("2222"), "::1", "[::1]:2222"),
        ("sshd", None, "::1", "::1"),
        (
            "bind",
            Some("5353"),
            "2001:db8::53",
            "2001:db8::53 port 5353",
        ),
        ("nsd", Some("5353"), "2001:db8::53", "2001:db8::53@5353"),
        ("known-hosts", Some("22"), "2001:db8::22", "2001:db8::22"),
        (
            "known-hosts",
            Some("2222"),
            "2001:db8::22",
            "[2001:db8::22]:2222",
        ),
        ("url", Some("8080"), "fe80::1%eth0", "[fe80::1%25eth0]:8080"),
        ("nginx", Some("443"), "2001:DB8::1", "[2001:db8::1]:443"),
        ("apache", Some("80"), "2001:db8::1", "[2001:db8::1]:80"),
        ("hostport", Some("80"), "192.0.2.1", "192.0.2.1:80"),
        (
            "munin-allow",
            None,
            "::ffff:192.0.2.1",
            r"allow ^(::ffff:)?192\.0\.2\.1$",
        ),
        (
            "munin-cidr",
            None,
            "2001:db8::/64",
            "cidr_allow 2001:db8::/64",
        ),
    ];
    for (style, port, addr, want) in cases {
        let mut args = vec!["addr", "fmt", "--style", style];
        if let Some(p) = port {
            args.extend(["--port", p]);
        }
        args.push(addr);
        assert_eq!(ok(&args), format!("{want}\n"), "{args:?}");
    }
    let rows = json(&[
        "addr",
        "fmt",
        "--json",
        "--style",
        "bind",
        "--port",
        "53",
        "2001:db8::53",
    ]);
    assert_eq!(rows[0]["text"], "2001:db8::53 port 53");
    assert_eq!(rows[0]["port"], 53);
    assert_eq!(rows[0]["style"], "bind");
}

#[test]
fn fmt_help_documents_every_pitfall() {
    let help = ok(&["addr", "fmt", "--help"]);
    for style in [
        "hostport",
        "url",
        "nginx",
        "haproxy",
        "apache",
        "sshd",
        "bind",
        "nsd",
        "known-hosts",
        "munin-allow",
        "munin-cidr",
    ] {
        assert!(help.contains(style), "--help lacks {style}");
    }
    assert!(
        help.contains("last colon"),
        "the HAProxy pitfall is explained"
    );
}

#[test]
fn discover() {
    assert_eq!(
        ok(&[
            "addr",
            "discover",
            "2001:db8:122:344:c0:0:aa00:0",
            "2001:db8:122:344:c0:0:ab00:0"
        ]),
        "2001:db8:122:344::/64\n"
    );
    let rows = json(&["addr", "discover", "--json", "64:ff9b::c000:aa"]);
    assert_eq!(rows[0]["prefix"], "64:ff9b::/96");
    assert_eq!(rows[0]["prefix_len"], 96);
    assert_eq!(rows[0]["well_known"], true);
}

#[test]
fn canonical_keeps_mapped_and_lowercases() {
    assert_eq!(
        ok(&[
            "addr",
            "canonical",
            "2001:0DB8::0001",
            "::FFFF:C000:0201",
            "2001:db8:0:0:1:0:0:1",
            "192.0.2.1"
        ]),
        "2001:db8::1\n::ffff:192.0.2.1\n2001:db8::1:0:0:1\n192.0.2.1\n"
    );
    let rows = json(&["addr", "canonical", "--json", "64:FF9B::192.0.2.33"]);
    assert_eq!(rows[0]["address"], "64:ff9b::c000:221");
    assert_eq!(rows[0]["input"], "64:FF9B::192.0.2.33");
    assert_eq!(rows[0]["family"], "ipv6");
    fails(&["addr", "canonical", "2001:db8::g"], "\"2001:db8::g\"");
}

/// Every subcommand gives the same output from --stdin as from arguments,
/// plain and JSON.
#[test]
fn stdin_gives_the_same_output_as_arguments() {
    let cases: &[(&[&str], &[&str])] = &[
        (
            &["synth", "--allow-non-global"],
            &["192.0.2.33", "198.51.100.7", "10.1.2.3"],
        ),
        (
            &["synth", "--prefix", "2001:db8:122:344::/64"],
            &["192.0.2.33", "131.111.150.25"],
        ),
        (
            &["extract", "--prefix", "2001:db8::/32"],
            &["2001:db8:c000:221::", "2001:DB8:FFFF:FFFF::"],
        ),
        (
            &["normalize", "--nat64-prefix", "64:ff9b::/96"],
            &[
                "::ffff:203.0.113.5",
                "64:ff9b::cb00:7105",
                "2001:DB8::0010",
                "::1",
            ],
        ),
        (&["canonical"], &["2001:0DB8::0001", "::FFFF:C000:0201"]),
        (&["ptr"], &["192.0.2.33", "2001:db8::1"]),
        (
            &["reverse-zones"],
            &["2001:db8::/31", "198.51.100.0/23", "10.0.0.0/8"],
        ),
        (
            &["fmt", "--style", "bind", "--port", "5353"],
            &["2001:db8::53", "192.0.2.53"],
        ),
        (
            &["fmt", "--style", "munin-cidr"],
            &["2001:db8::/64", "192.0.2.1"],
        ),
        (
            &["discover"],
            &["2001:db8::1", "64:ff9b::c000:aa", "2001:db8:64::c000:ab"],
        ),
    ];
    for (opts, inputs) in cases {
        for json_flag in [None, Some("--json")] {
            let mut base = vec!["addr"];
            base.extend_from_slice(opts);
            base.extend(json_flag);
            let mut with_args = base.clone();
            with_args.extend_from_slice(inputs);
            let mut with_stdin = base.clone();
            with_stdin.push("--stdin");
            let want = ok(&with_args);
            assert!(!want.is_empty());
            // LF, CRLF and stray whitespace, with and without a final newline.
            let lf = inputs.join("\n") + "\n";
            assert_eq!(ok_in(&with_stdin, &lf), want, "{with_stdin:?}");
            let crlf = inputs
                .iter()
                .map(|i| format!("  {i}\t\r\n"))
                .collect::<String>();
            assert_eq!(ok_in(&with_stdin, &crlf), want, "{with_stdin:?} CRLF");
            assert_eq!(ok_in(&with_stdin, &inputs.join("\n")), want);
        }
    }
}

#[test]
fn stdin_errors_name_the_line_and_the_value() {
    // Nothing is printed even though the first lines were good.
    let err = fails_in(
        &["addr", "synth", "--stdin", "--allow-non-global"],
        b"192.0.2.1\n192.0.2.2\n192.0.2.300\n192.0.2.4\n",
        "stdin line 3",
    );
    assert!(
        err.contains("\"192.0.2.300\" is not an IPv4 address"),
        "{err}"
    );
    let err = fails_in(
        &["addr", "synth", "--stdin", "--json"],
        b"131.111.150.25\n10.1.2.3\n",
        "stdin line 2: 10.1.2.3 is in 10.0.0.0/8",
    );
    assert!(err.contains("RFC 6052 §3.1"), "{err}");
    // The message names the canonical form, so the input is quoted as given.
    fails_in(
        &["addr", "extract", "--stdin"],
        b"64:ff9b::c000:221\n2001:DB8::1\n",
        "stdin line 2: \"2001:DB8::1\": 2001:db8::1 is not inside the NAT64 prefix",
    );
    fails_in(
        &["addr", "ptr", "--stdin"],
        b"::1\r\nnonsense\r\n",
        "stdin line 2: \"nonsense\" is not an IP address",
    );
    fails_in(
        &["addr", "reverse-zones", "--stdin"],
        b"192.0.2.1/24\n",
        "stdin line 1: \"192.0.2.1/24\" has bits set",
    );
    fails_in(
        &["addr", "fmt", "--style", "nginx", "--stdin"],
        b"::1\n::2\nfe80::1%eth0\n",
        "stdin line 3: zone ID in \"fe80::1%eth0\"",
    );
    fails_in(
        &["addr", "discover", "--stdin"],
        b"64:ff9b::c000:aa\nnot-an-address\n",
        "stdin line 2: \"not-an-address\" is not an IPv6 address",
    );
    // An error that is about the set of answers, not one line.
    fails_in(
        &["addr", "discover", "--stdin"],
        b"2001:db8::1\n",
        "ipv4only.arpa",
    );
    // A bad option is still reported as such.
    fails_in(
        &["addr", "synth", "--stdin", "--prefix", "2001:db8::/44"],
        b"192.0.2.1\n",
        "prefix length 44",
    );
}

#[test]
fn stdin_refuses_empty_long_binary_and_missing_input() {
    fails_in(
        &["addr", "ptr", "--stdin"],
        b"192.0.2.1\n\n192.0.2.2\n",
        "stdin line 2 is empty",
    );
    fails_in(
        &["addr", "ptr", "--stdin"],
        b"192.0.2.1\n   \n",
        "stdin line 2 is empty",
    );
    fails_in(
        &["addr", "ptr", "--stdin"],
        b"",
        "no input on standard input",
    );
    fails_in(
        &["addr", "ptr", "--stdin"],
        b"::1\n\xff\n",
        "stdin line 2 is not UTF-8",
    );
    let mut long = b"::1\n".to_vec();
    long.extend(vec![b'1'; 5000]);
    long.push(b'\n');
    fails_in(
        &["addr", "ptr", "--stdin"],
        &long,
        "stdin line 2 is longer than 4096 bytes",
    );
    // A line that never ends is refused without reading it all.
    let endless = vec![b'a'; 8 << 20];
    fails_in(
        &["addr", "ptr", "--stdin"],
        &endless,
        "stdin line 1 is longer than 4096 bytes",
    );
}

#[test]
fn stdin_caps_the_input_count_and_size() {
    let over = b"192.0.2.1\n".repeat(1_000_001);
    fails_in(
        &["addr", "ptr", "--stdin"],
        &over,
        "standard input has more than 1000000 lines",
    );
    let line = [vec![b'a'; 4000], b"\n".to_vec()].concat();
    fails_in(
        &["addr", "ptr", "--stdin"],
        &line.repeat(17_000),
        "standard input is longer than 64 MiB",
    );
}

#[test]
fn stdin_takes_a_large_batch_in_order() {
    let inputs: Vec<String> = (0..100_000u32)
        .map(|i| format!("{}.{}.{}.{}", 1 + i % 200, (i >> 8) % 256, i % 256, 7))
        .collect();
    let out = ok_in(
        &["addr", "synth", "--stdin", "--prefix", "2001:db8:64::/96"],
        &(inputs.join("\n") + "\n"),
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), inputs.len());
    for (i, (v4, v6)) in inputs.iter().zip(&lines).enumerate().step_by(997) {
        let back = ok(&["addr", "extract", "--prefix", "2001:db8:64::/96", v6]);
        assert_eq!(back.trim_end(), v4, "line {}", i + 1);
    }
}

#[test]
fn stdin_and_arguments_together_are_a_usage_error() {
    let out = sixgate_in(&["addr", "synth", "--stdin", "192.0.2.1"], b"192.0.2.2\n");
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--stdin"));
}
