#!/usr/bin/env node
'use strict'
// Per-call cost of sixgate's RFC 6052 helpers from Node against the
// ip-address package's NAT64 helpers, in one run (these machines drift, so
// only the ratio means much). Build the addon in release mode first:
//
//   SIXGATE_NODE_RELEASE=1 bindings-node/run-tests.sh   (or: npx napi build --platform --release --no-const-enum)
//   node bindings-node/bench/bench.js
//
// Each case runs 200,000 calls per round, 7 rounds, after a warm-up; the
// best round is reported (the least disturbed). Both sides are checked to
// give the same answers on the inputs first.
const assert = require('node:assert/strict')
const { Address6 } = require('ip-address')

const sg = require('../index.js')

const CALLS = 200_000
const ROUNDS = 7

// Global IPv4 addresses (the well-known prefix refuses the others), spread
// over the space so no branch predictor sees one address.
const inputs = []
for (let i = 0; inputs.length < 1024; i++) {
  const v4 = `${11 + (i % 150)}.${(i * 7) % 256}.${(i * 13) % 256}.${(i * 31) % 256}`
  if (sg.nonGlobalRange(v4) === null) inputs.push(v4)
}
const WKP = '64:ff9b::/96'
const NSP = '2001:db8:122:344::/64'
const wkp = new sg.Nat64Prefix(WKP)
const nsp = new sg.Nat64Prefix(NSP)

const cases = [
  ['synthesize(v4), 64:ff9b::/96',
    (v4) => sg.synthesize(v4),
    (v4) => Address6.fromAddress4Nat64(v4).correctForm()],
  ['synthesize(v4, {prefix}) /64',
    (v4) => sg.synthesize(v4, { prefix: NSP }),
    (v4) => Address6.fromAddress4Nat64(v4, NSP).correctForm()],
  ['Nat64Prefix.embed(v4) /64 (prefix parsed once)',
    (v4) => nsp.embed(v4),
    (v4) => Address6.fromAddress4Nat64(v4, NSP).correctForm()],
]
const synthesized = inputs.map((v4) => wkp.embed(v4))
const extractCase = ['extract(v6), 64:ff9b::/96',
  (v6) => sg.extract(v6),
  (v6) => new Address6(v6).toAddress4Nat64(WKP).correctForm()]

function time(fn, data) {
  let best = Infinity
  let sink = 0
  for (let round = 0; round < ROUNDS; round++) {
    const t0 = process.hrtime.bigint()
    for (let i = 0; i < CALLS; i++) sink += fn(data[i & 1023]).length
    const ns = Number(process.hrtime.bigint() - t0) / CALLS
    if (ns < best) best = ns
  }
  if (sink === 0) throw new Error('nothing computed')
  return best
}

function run(name, ours, theirs, data) {
  for (const x of data) assert.equal(ours(x), theirs(x), `${name}: ${x}`)
  // Warm-up: let both be optimised before timing.
  time(ours, data)
  time(theirs, data)
  const a = time(ours, data)
  const b = time(theirs, data)
  console.log(`${name.padEnd(48)} ${a.toFixed(0).padStart(6)} ns ${b.toFixed(0).padStart(7)} ns ${(b / a).toFixed(1).padStart(6)}x`)
}

console.log(`node ${process.version}, ip-address ${require('ip-address/package.json').version}, ${CALLS} calls x ${ROUNDS} rounds, best round`)
console.log(`${'call'.padEnd(48)} ${'sixgate'.padStart(9)} ${'ip-address'.padStart(10)} ${'ratio'.padStart(7)}`)
for (const [name, ours, theirs] of cases) run(name, ours, theirs, inputs)
run(...extractCase, synthesized)
