//! Runs the real `sixgate plan` binary on plan files: a panel's whole
//! workflow, the error contract, writers running in parallel (never the same
//! prefix twice) and writers killed at random points (the plan always loads
//! and never loses an allocation that was reported).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Instant;

use serde_json::Value;
use sixgate::plan::{Owner, Pick, Plan, PoolSpec, Strategy, Timestamp};

/// A directory for one test's plan files, removed afterwards.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("sixgate-plan-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    fn file(&self) -> PathBuf {
        self.0.join("plan.json")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn run(file: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sixgate"))
        .arg("plan")
        .arg("--file")
        .arg(file)
        .args(args)
        .env_remove("SIXGATE_PLAN")
        .output()
        .expect("run sixgate")
}

fn ok(file: &Path, args: &[&str]) -> String {
    let out = run(file, args);
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stderr.is_empty(), "{args:?} wrote to stderr");
    String::from_utf8(out.stdout).expect("utf-8 output")
}

fn json(file: &Path, args: &[&str]) -> Value {
    let mut all = args.to_vec();
    all.push("--json");
    serde_json::from_str(&ok(file, &all)).expect("valid JSON")
}

/// Bad input: exit 2, nothing on stdout, one stderr line naming the problem.
fn fails(file: &Path, args: &[&str], needle: &str) {
    let out = run(file, args);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
    assert!(out.stdout.is_empty(), "{args:?} printed something");
    assert_eq!(err.lines().count(), 1, "{args:?}: {err:?}");
    assert!(
        err.contains(needle),
        "{args:?}: {err:?} should mention {needle:?}"
    );
}

fn load(file: &Path) -> Plan {
    Plan::from_json(&std::fs::read_to_string(file).unwrap()).expect("the plan file loads")
}

#[test]
fn a_panels_workflow_from_provider_block_to_host_records() {
    let dir = TempDir::new("tour");
    let f = dir.file();
    let f = f.as_path();
    ok(
        f,
        &[
            "init",
            "--now",
            "1000",
            "--pool",
            "2001:db8::/32",
            "--child",
            "48",
            "--strategy",
            "sparse",
            "--name",
            "provider",
        ],
    );
    ok(
        f,
        &[
            "add-pool",
            "198.51.100.0/24",
            "--child",
            "32",
            "--name",
            "v4",
            "--hold-down",
            "0",
        ],
    );

    // Sparse sites: the first two are as far apart as the pool allows.
    let site = ok(
        f,
        &[
            "alloc",
            "--now",
            "1000",
            "-p",
            "provider",
            "--subdivide",
            "64",
            "--name",
            "fra1",
        ],
    );
    assert_eq!(site, "2001:db8::/48\n");
    let site2 = ok(f, &["alloc", "--now", "1000", "-p", "provider"]);
    assert_eq!(site2, "2001:db8:8000::/48\n");

    // A customer /64 becomes a pool of host addresses; the first host skips
    // the subnet-router anycast address.
    let c42 = json(
        f,
        &[
            "alloc",
            "--now",
            "1000",
            "-p",
            "fra1",
            "--customer",
            "42",
            "--subdivide",
            "128",
            "--name",
            "c42",
        ],
    );
    assert_eq!(c42["prefix"], "2001:db8::/64");
    assert_eq!(c42["customer"], "42");
    assert_eq!(c42["pool"]["child_len"], 128);
    let host = ok(
        f,
        &[
            "alloc",
            "--now",
            "1000",
            "-p",
            "c42",
            "--customer",
            "42",
            "--host",
            "Web1.Example.com.",
            "--tag",
            "prod",
        ],
    );
    assert_eq!(host, "2001:db8::1/128\n");
    let v4 = ok(
        f,
        &[
            "alloc",
            "--now",
            "1000",
            "-p",
            "v4",
            "--customer",
            "42",
            "--host",
            "web1.example.com",
        ],
    );
    assert_eq!(
        v4, "198.51.100.1/32\n",
        "the network address is never a host's"
    );
    let c43 = ok(
        f,
        &["alloc", "--now", "1000", "-p", "fra1", "--customer", "43"],
    );
    assert_eq!(c43, "2001:db8:0:1::/64\n");

    // Utilisation is in child units.
    let show = json(f, &["show"]);
    let fra1 = show["pools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "fra1")
        .expect("fra1 listed");
    assert_eq!(fra1["usage"]["allocated"], 2);
    assert_eq!(fra1["usage"]["total"], 65536);

    // Any form of a host's address finds it: v4-mapped, NAT64, plain.
    let found = ok(f, &["lookup", "::ffff:198.51.100.1"]);
    assert!(
        found.contains("customer 42 host web1.example.com"),
        "{found}"
    );
    let found = ok(
        f,
        &[
            "lookup",
            "--nat64-prefix",
            "64:ff9b::/96",
            "64:ff9b::c633:6401",
        ],
    );
    assert!(found.contains("198.51.100.1/32"), "{found}");
    let path = json(f, &["lookup", "2001:db8::1"]);
    let steps = path[0]["path"].as_array().unwrap();
    let names: Vec<&Value> = steps.iter().map(|s| &s["pool_name"]).collect();
    assert_eq!(names, ["provider", "fra1", "c42"]);
    assert_eq!(steps[2]["status"], "allocated");
    assert_eq!(steps[2]["host"], "web1.example.com");
    assert_eq!(steps[2]["tags"][0], "prod");
    let free = json(f, &["lookup", "2001:db8:0:99::1"]);
    assert_eq!(
        free[0]["path"].as_array().unwrap().last().unwrap()["status"],
        "free"
    );

    // DNS records for what is allocated.
    let ptr = ok(f, &["export-zone"]);
    assert!(
        ptr.contains("1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa. IN PTR web1.example.com."),
        "{ptr}"
    );
    assert!(
        ptr.contains("1.100.51.198.in-addr.arpa. IN PTR web1.example.com."),
        "{ptr}"
    );
    let fwd = ok(f, &["export-zone", "--forward", "--ttl", "300"]);
    assert!(
        fwd.contains("web1.example.com. 300 IN AAAA 2001:db8::1"),
        "{fwd}"
    );
    assert!(
        fwd.contains("web1.example.com. 300 IN A 198.51.100.1"),
        "{fwd}"
    );
    let zones = json(f, &["export-zone", "--zones"]);
    assert_eq!(
        zones[0]["zone"],
        "1.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa."
    );
    assert_eq!(zones[0]["customer"], "43");

    // The customer leaves: everything goes, each prefix into its pool's
    // hold-down (none for the IPv4 pool).
    let gone = json(f, &["release", "--now", "2000", "--customer", "42"]);
    let gone: BTreeSet<&str> = gone
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["prefix"].as_str().unwrap())
        .collect();
    assert!(
        gone.contains("2001:db8::/64") && gone.contains("198.51.100.1/32"),
        "{gone:?}"
    );
    assert_eq!(json(f, &["show", "--customer", "42"]), Value::Array(vec![]));
    assert_eq!(
        ok(f, &["alloc", "--now", "2000", "-p", "v4"]),
        "198.51.100.1/32\n"
    );
    assert_eq!(
        ok(f, &["alloc", "--now", "2000", "-p", "fra1"]),
        "2001:db8:0:2::/64\n"
    );
    let held = ok(f, &["lookup", "--now", "2000", "2001:db8::5"]);
    assert!(held.contains("held until"), "{held}");
    let week = (2000 + 7 * 86_400).to_string();
    assert_eq!(
        ok(f, &["alloc", "--now", &week, "-p", "fra1"]),
        "2001:db8::/64\n"
    );

    // Free space in the largest blocks.
    let free = json(f, &["free", "fra1", "--limit", "3"]);
    assert_eq!(free["free"][0], "2001:db8:0:3::/64");
    assert_eq!(free["free"][1], "2001:db8:0:4::/62");

    // Errors: exit 2, one line, nothing written.
    let before = std::fs::read(f).unwrap();
    fails(f, &["alloc", "-p", "fra9"], "fra9");
    fails(
        f,
        &["add-pool", "2001:db8::1/32", "--child", "48"],
        "bits set beyond",
    );
    fails(f, &["add-pool", "2001:db9::/32", "--child", "50"], "nibble");
    fails(f, &["init"], "exists");
    fails(
        f,
        &["alloc", "-p", "fra1", "--host", "not a name!"],
        "not a name!",
    );
    assert_eq!(
        std::fs::read(f).unwrap(),
        before,
        "a failed command changed the plan"
    );

    // A damaged file is named in the error.
    let bad = dir.0.join("bad.json");
    std::fs::write(&bad, "{\"version\": 1, \"pools\": [").unwrap();
    fails(&bad, &["show"], "bad.json");
    fails(&dir.0.join("missing.json"), &["show"], "sixgate plan init");
}

#[test]
fn deterministic_pools_take_the_customer_id() {
    let dir = TempDir::new("det");
    let f = dir.file();
    let f = f.as_path();
    ok(
        f,
        &[
            "init",
            "--pool",
            "2001:db8:100::/48",
            "--child",
            "64",
            "--strategy",
            "deterministic-decimal",
        ],
    );
    assert_eq!(
        ok(
            f,
            &["alloc", "-p", "2001:db8:100::/48", "--customer", "4711"]
        ),
        "2001:db8:100:4711::/64\n"
    );
    assert_eq!(
        ok(f, &["alloc", "-p", "2001:db8:100::/48", "--index", "1"]),
        "2001:db8:100:1::/64\n"
    );
    fails(
        f,
        &["alloc", "-p", "2001:db8:100::/48", "--customer", "4711"],
        "4711",
    );
    fails(
        f,
        &["alloc", "-p", "2001:db8:100::/48", "--customer", "123456"],
        "123456",
    );
}

#[test]
fn parallel_writers_never_get_the_same_prefix() {
    let dir = TempDir::new("par");
    let f = dir.file();
    ok(&f, &["init", "--pool", "2001:db8::/48", "--child", "64"]);
    const WRITERS: usize = 8;
    const EACH: usize = 15;
    let got: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..WRITERS)
            .map(|w| {
                let f = f.clone();
                s.spawn(move || {
                    (0..EACH)
                        .map(|i| {
                            let c = format!("w{w}-{i}");
                            ok(
                                &f,
                                &[
                                    "alloc",
                                    "-p",
                                    "2001:db8::/48",
                                    "--customer",
                                    &c,
                                    "--wait",
                                    "60s",
                                ],
                            )
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    let unique: BTreeSet<&String> = got.iter().collect();
    assert_eq!(
        unique.len(),
        WRITERS * EACH,
        "a prefix was handed out twice"
    );
    let plan = load(&f);
    assert_eq!(
        plan.allocations().len(),
        WRITERS * EACH,
        "an allocation was lost"
    );
    for p in &unique {
        let net = p.trim().parse().unwrap();
        assert!(
            plan.allocations().iter().any(|a| a.prefix() == net),
            "{p} missing"
        );
    }
}

#[test]
fn a_killed_writer_never_loses_or_corrupts_the_plan() {
    let dir = TempDir::new("kill");
    let f = dir.file();
    // A plan big enough that writing it takes a while.
    let mut plan = Plan::new();
    plan.add_pool(
        "2001:db8::/32".parse().unwrap(),
        PoolSpec::new(64, Strategy::FirstFit),
    )
    .unwrap();
    for i in 0..40_000 {
        let owner = Owner {
            customer: Some(format!("c{i}")),
            ..Owner::default()
        };
        plan.alloc("2001:db8::/32", Pick::Next, owner, Timestamp(1))
            .unwrap();
    }
    std::fs::write(&f, plan.to_json()).unwrap();
    let alloc = |c: &str| {
        Command::new(env!("CARGO_BIN_EXE_sixgate"))
            .args(["plan", "--file"])
            .arg(&f)
            .args([
                "alloc",
                "-p",
                "2001:db8::/32",
                "--customer",
                c,
                "--wait",
                "60s",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    // How long one whole write takes here.
    let t0 = Instant::now();
    let first = alloc("timing").wait_with_output().unwrap();
    assert!(first.status.success());
    let full = t0.elapsed();

    let mut reported: Vec<String> = vec![String::from_utf8(first.stdout).unwrap()];
    let mut count = load(&f).allocations().len();
    let tmp = dir.0.join("plan.json.tmp");
    let (mut killed, mut torn_tmp) = (0, 0);
    const ROUNDS: u32 = 24;
    for round in 0..ROUNDS {
        let _ = std::fs::remove_file(&tmp);
        let mut child = alloc(&format!("k{round}"));
        // Spread the kills over the whole run, the write at its end included.
        std::thread::sleep(full.mul_f64(f64::from(round) / f64::from(ROUNDS) * 1.1));
        let _ = child.kill();
        let out = child.wait_with_output().unwrap();
        if out.status.success() {
            reported.push(String::from_utf8(out.stdout).unwrap());
        } else {
            killed += 1;
            if tmp.exists() {
                torn_tmp += 1;
            }
        }
        let now = load(&f).allocations().len();
        assert!(
            now >= count,
            "round {round}: allocations went from {count} to {now}"
        );
        count = now;
    }
    let plan = load(&f);
    for p in &reported {
        let net = p.trim().parse().unwrap();
        assert!(
            plan.allocations().iter().any(|a| a.prefix() == net),
            "{p} reported but lost"
        );
    }
    assert!(killed > 0, "no writer was killed: the test proved nothing");
    assert!(
        torn_tmp > 0,
        "no writer was killed mid-write: the test proved nothing"
    );
    eprintln!("{killed} writers killed, {torn_tmp} of them mid-write; plan intact");
    // The next writer is not disturbed by what a killed one left behind.
    let after = alloc("after").wait_with_output().unwrap();
    assert!(after.status.success());
    assert_eq!(load(&f).allocations().len(), count + 1);
}
