'use strict'
// sixgate.Plan: the address plan from Node, and the same plan file shared
// with the `sixgate plan` command (mirrors bindings-python/tests/test_plan.py).

const assert = require('node:assert/strict')
const { spawn, spawnSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { test } = require('node:test')

const sixgate = require('../index.js')
const { Plan, Nat64Prefix } = sixgate

const T0 = 1_780_000_000 // a fixed wall-clock time, Unix seconds
const WEEK = 7 * 86_400
const INDEX = path.join(__dirname, '..', 'index.js')

/** provider /32 (sparse /48s) → site fra1 (/64s) → customer 42's /64 (host
 * /128s), and a paid IPv4 /24 beside it. */
function tree () {
  const plan = new Plan()
  plan.addPool('2001:db8::/32', { childLen: 48, strategy: 'sparse', name: 'provider' })
  plan.addPool('198.51.100.0/24', { childLen: 32, name: 'v4', holdDown: 0 })
  const site = plan.alloc('provider', { now: T0 })
  plan.subdivide(site, { childLen: 64, name: 'fra1' })
  const cust = plan.alloc('fra1', { customer: '42', now: T0 })
  plan.subdivide(cust, { childLen: 128, name: 'c42' })
  plan.alloc('c42', { customer: '42', host: 'Web1.Example.COM.', tags: ['prod'], now: T0 })
  plan.alloc('v4', { customer: '42', host: 'web1.example.com', now: T0 })
  return plan
}

/** A fresh temporary directory, removed when the test ends. */
function tmpdir (t) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sixgate-plan-'))
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }))
  return dir
}

/** Blocks this thread for `ms` milliseconds (as a panel's slow work would). */
function sleepSync (ms) {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms)
}

/** Asserts that `fn` throws an ERR_SIXGATE_PLAN error of `kind`, quoting
 * `quoted` if given; returns the error. */
function throwsPlan (fn, kind, quoted) {
  let caught
  assert.throws(fn, (e) => {
    caught = e
    return true
  })
  assert.ok(caught instanceof Error, String(caught))
  assert.equal(caught.code, 'ERR_SIXGATE_PLAN', caught.message)
  assert.equal(caught.kind, kind, caught.message)
  if (quoted !== undefined) assert.ok(caught.message.includes(quoted), caught.message)
  return caught
}

// --- the tree ------------------------------------------------------------------

test('provider → site → customer → host tree', () => {
  const plan = tree()
  assert.deepEqual(
    plan.pools().map((p) => [p.prefix, p.name, p.childLen, p.strategy]),
    [
      ['198.51.100.0/24', 'v4', 32, 'first-fit'],
      ['2001:db8::/32', 'provider', 48, 'sparse'],
      ['2001:db8::/48', 'fra1', 64, 'first-fit'],
      ['2001:db8::/64', 'c42', 128, 'first-fit']
    ]
  )
  const allocs = plan.allocations()
  assert.deepEqual(
    allocs.map((a) => a.prefix),
    [
      '198.51.100.1/32', // .0 is the network address, reserved
      '2001:db8::/48',
      '2001:db8::/64',
      '2001:db8::1/128' // ::0 is the subnet-router anycast address
    ]
  )
  for (const a of allocs) assert.equal(a.since, T0)
  const [, site, cust, host] = allocs
  assert.ok(site.isPool && site.pool !== null && site.pool.name === 'fra1')
  assert.equal(site.customer, null)
  assert.equal(site.host, null)
  assert.deepEqual(site.tags, [])
  assert.ok(cust.customer === '42' && cust.isPool)
  assert.equal(host.host, 'web1.example.com')
  assert.deepEqual(host.tags, ['prod'])
  assert.ok(!host.isPool && host.pool === null)
  assert.deepEqual(plan.heldBy('42'), allocs.filter((a) => a.customer === '42'))
  assert.deepEqual(plan.heldBy('nobody'), [])

  const pool = plan.pool('fra1')
  assert.deepEqual(plan.pool('2001:db8::/48'), pool)
  assert.deepEqual(plan.pool('2001:DB8:0::/48'), pool) // any spelling of the prefix
  assert.deepEqual(plan.pool(pool), pool) // a Pool snapshot names its pool
  assert.deepEqual(pool, {
    prefix: '2001:db8::/48',
    name: 'fra1',
    childLen: 64,
    strategy: 'first-fit',
    holdDown: WEEK,
    allowUnaligned: false,
    reserveSpecial: true,
    usage: { childLen: 64, total: 65536n, allocated: 1n, reserved: 0n, held: 0n, free: 65535n }
  })
  assert.deepEqual(plan.free('fra1', { limit: 3 }), [
    '2001:db8:0:1::/64',
    '2001:db8:0:2::/63',
    '2001:db8:0:4::/62'
  ])
  assert.equal(plan.free('fra1').length, 16) // default limit 100; a /48 less one /64 is 16 blocks
  const reasons = plan.reservations('c42')
  assert.deepEqual(
    reasons.map((r) => r.prefix),
    ['2001:db8::/128', '2001:db8::fdff:ffff:ffff:ff80/121']
  )
  assert.ok(reasons.every((r) => r.automatic && typeof r.reason === 'string'))
})

test('usage counts are bigints and reach 2^64', () => {
  const plan = tree()
  const c42 = plan.pool('c42').usage
  assert.equal(typeof c42.total, 'bigint')
  assert.equal(c42.total, 2n ** 64n)
  assert.equal(c42.reserved, 1n + 128n) // anycast ::0 and RFC 2526
  assert.equal(c42.allocated + c42.reserved + c42.held + c42.free, c42.total)
  assert.equal(c42.free, 2n ** 64n - 130n)
  const provider = plan.pool('provider').usage
  assert.equal(provider.total, 65536n)
  assert.equal(provider.childLen, 48)
})

test('a snapshot does not follow the plan', () => {
  const plan = tree()
  const before = plan.pool('fra1')
  plan.alloc('fra1', { now: T0 })
  assert.equal(before.usage.allocated, 1n)
  assert.equal(plan.pool('fra1').usage.allocated, 2n)
  before.name = 'x' // a plain object: changing it changes nothing in the plan
  assert.equal(plan.pool('fra1').name, 'fra1')
})

// --- strategies ----------------------------------------------------------------

test('sparse, first-fit and deterministic strategies', () => {
  let plan = new Plan()
  plan.addPool('2001:db8::/32', { childLen: 48, strategy: 'sparse' })
  const got = [0, 1, 2, 3].map(() => plan.alloc('2001:db8::/32', { now: T0 }))
  assert.deepEqual(got, [
    '2001:db8::/48',
    '2001:db8:8000::/48',
    '2001:db8:4000::/48',
    '2001:db8:c000::/48'
  ])
  plan = new Plan()
  plan.addPool('2001:db8:100::/48', { childLen: 64, strategy: 'deterministic-decimal', name: 'cust' })
  assert.equal(plan.pool('cust').strategy, 'deterministic-decimal')
  // Like `sixgate plan alloc`: with no at/index/id, the customer id is the id.
  assert.equal(plan.alloc('cust', { customer: '4711', now: T0 }), '2001:db8:100:4711::/64')
  assert.equal(plan.alloc('cust', { id: '12', customer: 'x', now: T0 }), '2001:db8:100:12::/64')
  assert.equal(plan.slotForId('cust', '99'), '2001:db8:100:99::/64')
  throwsPlan(() => plan.alloc('cust', { customer: '4711', now: T0 }), 'id_unavailable')
  throwsPlan(() => plan.alloc('cust', { now: T0 }), 'needs_id')
  throwsPlan(() => plan.slotForId('cust', 'abc'), 'bad_id', 'abc')
  plan.addPool('2001:db8:200::/48', { childLen: 64, strategy: 'deterministic', name: 'num' })
  assert.equal(plan.alloc('num', { customer: '10', now: T0 }), '2001:db8:200:a::/64')
  plan.addPool('2001:db8:300::/48', { childLen: 64, strategy: 'deterministic-hash', name: 'hash' })
  const slot = plan.slotForId('hash', 'customer-a')
  assert.equal(plan.alloc('hash', { customer: 'customer-a', now: T0 }), slot)
  assert.equal(plan.pool('hash').strategy, 'deterministic-hash')
  plan.addPool('2001:db8:400::/48', { childLen: 64, name: 'ff' })
  assert.equal(plan.alloc('ff', { index: 5, now: T0 }), '2001:db8:400:5::/64')
  assert.equal(plan.alloc('ff', { index: 6n, now: T0 }), '2001:db8:400:6::/64')
  assert.equal(plan.alloc('ff', { at: '2001:db8:400:9::/64', now: T0 }), '2001:db8:400:9::/64')
  assert.equal(plan.alloc('ff', { now: T0 }), '2001:db8:400::/64')
  assert.equal(plan.pool('ff').strategy, 'first-fit')
  // Child numbers past 2^53 as bigint: the last /128 of a /64.
  plan.addPool('2001:db8:500::/64', { childLen: 128, reserveSpecial: false })
  assert.equal(
    plan.alloc('2001:db8:500::/64', { index: 2n ** 64n - 1n, now: T0 }),
    '2001:db8:500:0:ffff:ffff:ffff:ffff/128'
  )
  throwsPlan(() => plan.alloc('ff', { index: 65536, now: T0 }), 'index_out_of_range')
})

test('anycast and IPv4 network/broadcast addresses are skipped', () => {
  const plan = new Plan()
  plan.addPool('2001:db8:1:2::/64', { childLen: 128 })
  assert.equal(plan.alloc('2001:db8:1:2::/64', { now: T0 }), '2001:db8:1:2::1/128')
  throwsPlan(() => plan.alloc('2001:db8:1:2::/64', { index: 0, now: T0 }), 'reserved')
  plan.addPool('2001:db8:1:3::/64', { childLen: 128, reserveSpecial: false })
  assert.equal(plan.alloc('2001:db8:1:3::/64', { now: T0 }), '2001:db8:1:3::/128')
  assert.equal(plan.pool('2001:db8:1:3::/64').reserveSpecial, false)
  plan.addPool('192.0.2.0/30', { childLen: 32 })
  assert.equal(plan.alloc('192.0.2.0/30', { now: T0 }), '192.0.2.1/32')
  assert.equal(plan.alloc('192.0.2.0/30', { now: T0 }), '192.0.2.2/32')
  throwsPlan(() => plan.alloc('192.0.2.0/30', { now: T0 }), 'full')
  plan.addPool('2001:db8:2::/48', { childLen: 62, allowUnaligned: true })
  assert.equal(plan.pool('2001:db8:2::/48').allowUnaligned, true)
})

// --- release, hold-down, reservations ------------------------------------------

test('release and hold-down', () => {
  const plan = new Plan()
  plan.addPool('2001:db8::/48', { childLen: 64, name: 'site' })
  const first = plan.alloc('site', { customer: '7', host: 'a.example', now: T0 })
  const gone = plan.release(first, { now: T0 + 10 })
  assert.deepEqual(gone, [
    { prefix: first, customer: '7', host: 'a.example', tags: [], until: T0 + 10 + WEEK }
  ])
  assert.equal(plan.pool('site').usage.held, 1n)
  assert.deepEqual(plan.held('site'), [{ prefix: first, until: T0 + 10 + WEEK }])
  // Held back: the next customer gets the next /64, and asking for it fails.
  assert.equal(plan.alloc('site', { now: T0 + 20 }), '2001:db8:0:1::/64')
  throwsPlan(() => plan.alloc('site', { at: first, now: T0 + 20 }), 'held_down')
  const [step] = plan.lookup('2001:db8::5')
  assert.equal(step.status, 'held')
  assert.equal(step.until, T0 + 10 + WEEK)
  assert.equal(step.allocation, null)
  // A week later it is free again (alloc expires hold-downs itself; a
  // fractional `now` is dropped to whole seconds).
  assert.equal(plan.expire({ now: T0 + 11 }), 0)
  assert.equal(plan.alloc('site', { now: T0 + 10 + WEEK + 0.5 }), first)
  plan.addPool('2001:db8:1::/48', { childLen: 64, name: 'quick', holdDown: 0 })
  const net = plan.alloc('quick', { now: T0 })
  plan.release(net, { now: T0 })
  assert.equal(plan.alloc('quick', { now: T0 }), net)
  // An address stands for its /128; a v4-mapped prefix for the IPv4 one.
  plan.addPool('192.0.2.0/24', { childLen: 32, holdDown: 0 })
  plan.alloc('192.0.2.0/24', { at: '192.0.2.9/32', now: T0 })
  assert.equal(plan.release('::ffff:192.0.2.9/128', { now: T0 })[0].prefix, '192.0.2.9/32')
  plan.alloc('192.0.2.0/24', { at: '192.0.2.9/32', now: T0 })
  assert.equal(plan.release('192.0.2.9', { now: T0 })[0].prefix, '192.0.2.9/32')
})

test('releaseCustomer takes sub-pools with it', () => {
  const plan = tree()
  const gone = plan.releaseCustomer('42', { now: T0 + 1 })
  // Outermost first; the host /128 goes with its /64.
  assert.deepEqual(
    gone.map((r) => r.prefix),
    ['198.51.100.1/32', '2001:db8::/64', '2001:db8::1/128']
  )
  assert.equal(gone[0].until, T0 + 1) // the v4 pool has no hold-down
  assert.equal(gone[1].until, T0 + 1 + WEEK)
  assert.equal(gone[2].until, T0 + 1 + WEEK)
  assert.deepEqual(gone[2].tags, ['prod'])
  assert.deepEqual(plan.heldBy('42'), [])
  assert.deepEqual(plan.releaseCustomer('42', { now: T0 + 2 }), [])
  throwsPlan(() => plan.release('2001:db8::/64', { now: T0 + 2 }), 'not_allocated')
  // The site stays, with its /64 held.
  assert.equal(plan.pool('fra1').usage.held, 1n)
})

test('reserve, unreserve, expire, removePool', () => {
  const plan = new Plan()
  plan.addPool('2001:db8::/32', { childLen: 48, strategy: 'sparse', name: 'p' })
  plan.reserve('p', '2001:db8::/44', { reason: 'infrastructure' })
  const [step] = plan.lookup('2001:db8:5::1')
  assert.equal(step.status, 'reserved')
  assert.equal(step.reason, 'infrastructure')
  assert.deepEqual(step.reservation, {
    prefix: '2001:db8::/44',
    reason: 'infrastructure',
    automatic: false
  })
  assert.deepEqual(plan.reservations('p'), [step.reservation])
  assert.equal(plan.alloc('p', { now: T0 }), '2001:db8:8000::/48')
  const e = throwsPlan(() => plan.reserve('p', '2001:db8::/48'), 'overlap')
  assert.ok(e.message.includes('infrastructure'), e.message)
  plan.unreserve('2001:db8::/44')
  throwsPlan(() => plan.unreserve('2001:db8::/44'), 'not_reserved')
  plan.reserve(plan.pool('p'), '2001:db8:1::/48') // default reason
  assert.equal(plan.reservations('p')[0].reason, 'reserved')
  plan.unreserve('2001:db8:1::/48')
  throwsPlan(() => plan.removePool('2001:db8::/32'), 'pool_in_use')
  plan.release('2001:db8:8000::/48', { now: T0 })
  assert.equal(plan.expire({ now: T0 + WEEK }), 1)
  plan.removePool('2001:db8::/32')
  assert.deepEqual(plan.pools(), [])
})

// --- lookup --------------------------------------------------------------------

test('lookup: the path, v4-mapped and NAT64 queries', () => {
  const plan = tree()
  const steps = plan.lookup('2001:db8::1')
  assert.deepEqual(
    steps.map((s) => [s.pool, s.poolName, s.child, s.status]),
    [
      ['2001:db8::/32', 'provider', '2001:db8::/48', 'allocated'],
      ['2001:db8::/48', 'fra1', '2001:db8::/64', 'allocated'],
      ['2001:db8::/64', 'c42', '2001:db8::1/128', 'allocated']
    ]
  )
  const last = steps[2]
  assert.equal(last.allocation.host, 'web1.example.com')
  assert.equal(last.allocation.customer, '42')
  assert.equal(last.reason, null)
  assert.equal(last.until, null)
  assert.equal(last.reservation, null)
  assert.equal(steps[0].allocation.pool.name, 'fra1')
  // An IPv4-mapped address (a dual-stack socket's view of an IPv4 client)
  // is looked up as the IPv4 address, as `sixgate plan lookup` does.
  for (const query of ['::ffff:198.51.100.1', '::FFFF:c633:6401', '198.51.100.1']) {
    const found = plan.lookup(query)
    assert.equal(found.length, 1, query)
    const [step] = found
    assert.equal(step.pool, '198.51.100.0/24')
    assert.equal(step.child, '198.51.100.1/32')
    assert.equal(step.status, 'allocated')
    assert.equal(step.allocation.host, 'web1.example.com')
  }
  const [span] = plan.lookup('::ffff:198.51.100.0/120')
  assert.equal(span.child, null)
  assert.equal(span.status, 'reserved') // spans .0, the network address
  // NAT64: an address under one of nat64Prefixes is the IPv4 it embeds.
  for (const prefix of ['64:ff9b::/96', Nat64Prefix.wellKnown()]) {
    const [step] = plan.lookup('64:ff9b::c633:6401', { nat64Prefixes: [prefix] })
    assert.equal(step.child, '198.51.100.1/32')
    assert.equal(step.allocation.customer, '42')
  }
  // Without the prefix it is just an IPv6 address outside the plan.
  throwsPlan(() => plan.lookup('64:ff9b::c633:6401'), 'not_in_plan', '64:ff9b::c633:6401')
  assert.equal(plan.lookup('2001:db8:4000::/64')[0].status, 'free')
  throwsPlan(() => plan.lookup('2001:db9::1'), 'not_in_plan', '2001:db9::1')
})

// --- exports -------------------------------------------------------------------

test('PTR and forward records, reverse zones', () => {
  const plan = tree()
  const ptr = plan.ptrRecords()
  assert.deepEqual(ptr, [
    { name: '1.100.51.198.in-addr.arpa.', type: 'PTR', data: 'web1.example.com.' },
    {
      name: '1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.',
      type: 'PTR',
      data: 'web1.example.com.'
    }
  ])
  assert.equal(ptr[1].name, sixgate.ptrName('2001:db8::1'))
  const fwd = plan.forwardRecords()
  assert.deepEqual(fwd, [
    { name: 'web1.example.com.', type: 'A', data: '198.51.100.1' },
    { name: 'web1.example.com.', type: 'AAAA', data: '2001:db8::1' }
  ])
  assert.deepEqual(plan.forwardRecords({ within: '2001:db8::/32' }), fwd.slice(1))
  assert.deepEqual(plan.ptrRecords({ within: '203.0.113.0/24' }), [])
  // Prefixes handed out that are neither pools nor single addresses.
  assert.deepEqual(plan.reverseZones(), [])
  plan.alloc('fra1', { customer: '43', now: T0 })
  assert.deepEqual(plan.reverseZones(), [
    {
      prefix: '2001:db8:0:1::/64',
      zones: sixgate.reverseZones('2001:db8:0:1::/64'),
      customer: '43',
      host: null,
      tags: []
    }
  ])
  assert.deepEqual(plan.reverseZones({ within: '2001:db8:0:2::/63' }), [])
})

// --- errors --------------------------------------------------------------------

const REFUSED = [
  [(p) => p.alloc('fra2', { now: T0 }), 'no_pool', 'fra2'],
  [(p) => p.pool('2001:db8:1::/48'), 'no_pool', '2001:db8:1::/48'],
  [(p) => p.addPool('2001:db8:1::/48', { childLen: 64 }), 'pool_overlap', '2001:db8:1::/48'],
  [(p) => p.addPool('2001:db9::/48', { childLen: 64, strategy: 'best-fit' }), 'strategy', 'best-fit'],
  [(p) => p.subdivide('2001:db8:0:1::/64', { childLen: 128, strategy: 'Sparse' }), 'strategy', 'Sparse'],
  [(p) => p.addPool('2001:db9::/48', { childLen: 62 }), 'unaligned', '/62'],
  [(p) => p.addPool('2001:db9::/48', { childLen: 64, name: 'fra1' }), 'duplicate_name', 'fra1'],
  [(p) => p.addPool('2001:db9::/48', { childLen: 64, name: 'a b' }), 'bad_name', 'a b'],
  [(p) => p.alloc('fra1', { at: '2001:db8::/64', now: T0 }), 'taken', '2001:db8::/64'],
  [(p) => p.alloc('c42', { host: 'not a host', now: T0 }), 'bad_host', 'not a host'],
  [(p) => p.subdivide('2001:db8::/64', { childLen: 128 }), 'already_pool', '2001:db8::/64'],
  [(p) => p.release('2001:db8:0:9::/64', { now: T0 }), 'not_allocated', '2001:db8:0:9::/64'],
  [(p) => p.alloc('provider', { at: '2001:db9::/48', now: T0 }), 'not_in_pool', '2001:db9::/48'],
  [(p) => p.removePool('2001:db8::/48'), 'not_root', '2001:db8::/48'],
  [(p) => p.slotForId('fra1', '1'), 'not_deterministic', '2001:db8::/48']
]

test('a refused change throws ERR_SIXGATE_PLAN with kind, quotes the value, changes nothing', () => {
  for (const [call, kind, quoted] of REFUSED) {
    const plan = tree()
    const before = plan.toJson()
    throwsPlan(() => call(plan), kind, quoted)
    assert.equal(plan.toJson(), before)
  }
})

test('wrong types are TypeErrors, bad numbers RangeErrors', () => {
  const plan = tree()
  const before = plan.toJson()
  const typeErrors = [
    () => plan.alloc(48, { now: T0 }),
    () => plan.alloc(['fra1'], { now: T0 }),
    () => plan.alloc({ name: 'fra1' }, { now: T0 }), // an object without a prefix
    () => plan.alloc('fra1', { now: 'now' }),
    () => plan.alloc('fra1', { now: true }),
    () => plan.alloc('fra1', { now: 10n }),
    () => plan.alloc('fra1', {}), // now is required
    () => plan.alloc('fra1'),
    () => plan.alloc('fra1', T0),
    () => plan.alloc('fra1', { now: T0, tags: 'prod' }),
    () => plan.alloc('fra1', { now: T0, tags: ['prod', 1] }),
    () => plan.alloc('fra1', { now: T0, customer: 42 }),
    () => plan.alloc('fra1', { now: T0, index: '1' }),
    () => plan.addPool('2001:db9::/48', {}), // childLen is required
    () => plan.addPool('2001:db9::/48', { childLen: '64' }),
    () => plan.addPool('2001:db9::/48', { childLen: 64, allowUnaligned: 1 }),
    () => plan.addPool('2001:db9::/48', { childLen: 64, strategy: 1 }),
    () => plan.release(Buffer.from('2001:db8::/64'), { now: T0 }),
    () => plan.release('2001:db8::/64'),
    () => plan.expire(),
    () => plan.expire({ now: null }),
    () => plan.lookup(null),
    () => plan.lookup('2001:db8::1', { nat64Prefixes: '64:ff9b::/96' }),
    () => plan.reserve('fra1', '2001:db8:0:ff00::/56', { reason: 1 }),
    () => plan.free('fra1', { limit: 'all' }),
    () => plan.equals('plan'),
    () => plan.equals({}),
    () => plan.ptrRecords({ within: 1 }),
    () => plan.heldBy(42),
    () => Plan.fromJson(Buffer.from('{}')),
    () => Plan.load(42),
    () => Plan.edit(42, () => {}),
    () => Plan.edit('plan.json', 'not a function')
  ]
  for (const call of typeErrors) {
    assert.throws(call, (e) => e instanceof TypeError && e.code === 'ERR_INVALID_ARG_TYPE', String(call))
  }
  // At most one of at, index and id.
  assert.throws(
    () => plan.alloc('fra1', { index: 1, at: '2001:db8:0:1::/64', now: T0 }),
    (e) => e instanceof TypeError && e.code === 'ERR_INCOMPATIBLE_OPTION_PAIR'
  )
  for (const bad of [-1, NaN, Infinity, -Infinity, 2 ** 64]) {
    assert.throws(
      () => plan.alloc('fra1', { now: bad }),
      (e) => e instanceof RangeError && e.code === 'ERR_OUT_OF_RANGE',
      String(bad)
    )
  }
  for (const call of [
    () => plan.alloc('fra1', { now: T0, index: -1 }),
    () => plan.alloc('fra1', { now: T0, index: 1.5 }),
    () => plan.alloc('fra1', { now: T0, index: 2n ** 64n }),
    () => plan.addPool('2001:db9::/48', { childLen: 256 }),
    () => plan.addPool('2001:db9::/48', { childLen: 64, holdDown: -1 }),
    () => plan.free('fra1', { limit: -1 })
  ]) {
    assert.throws(call, (e) => e instanceof RangeError && e.code === 'ERR_OUT_OF_RANGE', String(call))
  }
  // Text with host bits set is refused, never truncated; garbage is not an address.
  assert.throws(
    () => plan.addPool('2001:db9::1/48', { childLen: 64 }),
    (e) => e.code === 'ERR_SIXGATE_PREFIX'
  )
  assert.throws(() => plan.lookup('web1.example.com'), (e) => e.code === 'ERR_SIXGATE_ADDRESS')
  assert.equal(plan.toJson(), before)
})

// --- JSON and files ------------------------------------------------------------

test('JSON round trip, byte for byte; save and load', (t) => {
  const plan = tree()
  plan.reserve('fra1', '2001:db8:0:ff00::/56', { reason: 'infra' })
  plan.release('198.51.100.1/32', { now: T0 })
  const text = plan.toJson()
  assert.ok(text.endsWith('\n'))
  const doc = JSON.parse(text)
  assert.equal(doc.version, 1)
  assert.deepEqual(
    doc.pools.map((p) => p.prefix),
    ['198.51.100.0/24', '2001:db8::/32']
  )
  const again = Plan.fromJson(text)
  assert.ok(again.equals(plan) && plan.equals(again))
  assert.equal(again.toJson(), text)
  const copy = plan.clone()
  assert.ok(copy !== plan && copy.equals(plan))
  copy.alloc('fra1', { now: T0 })
  assert.ok(!copy.equals(plan)) // a deep copy
  assert.ok(!new Plan().equals(plan))

  const dir = tmpdir(t)
  const file = path.join(dir, 'plan.json')
  plan.save(file)
  assert.equal(fs.readFileSync(file, 'utf8'), text)
  assert.ok(Plan.load(file).equals(plan))
  assert.deepEqual(fs.readdirSync(dir), ['plan.json']) // no temporary left
  plan.save(file) // over an existing file
  assert.deepEqual(fs.readdirSync(dir), ['plan.json'])

  assert.throws(
    () => Plan.load(path.join(dir, 'missing.json')),
    (e) =>
      e.code === 'ENOENT' && e.errno === -2 && e.syscall === 'open' &&
      e.path === path.join(dir, 'missing.json') && e.message.includes('missing.json')
  )
  assert.throws(
    () => plan.save(path.join(dir, 'no-such-dir', 'plan.json')),
    (e) => e.code === 'ENOENT' && e.message.includes('no-such-dir')
  )
  assert.throws(() => Plan.load(dir), (e) => e.code === 'EISDIR' && e.path === dir)
  for (const notAFile of ['', '/', `${dir}/..`]) {
    assert.throws(
      () => plan.save(notAFile),
      (e) => e instanceof TypeError && e.code === 'ERR_INVALID_ARG_VALUE',
      notAFile
    )
  }
  assert.deepEqual(fs.readdirSync(dir), ['plan.json'])

  throwsPlan(() => Plan.fromJson('{"version": 2, "pools": []}'), 'version')
  const e = throwsPlan(() => Plan.fromJson('{"version": 1, "pools": ['), 'json')
  assert.ok(e.message.includes('line 1 column'), e.message)
  const damaged = text.replace('"2001:db8::/64"', '"2001:db8::1/64"')
  assert.notEqual(damaged, text)
  assert.throws(() => Plan.fromJson(damaged), (e) => e.code === 'ERR_SIXGATE_PLAN')
  // A bad file names itself in the message.
  fs.writeFileSync(path.join(dir, 'bad.json'), '{"version": 2, "pools": []}')
  const bad = throwsPlan(() => Plan.load(path.join(dir, 'bad.json')), 'version')
  assert.ok(bad.message.startsWith(path.join(dir, 'bad.json')), bad.message)
  fs.writeFileSync(path.join(dir, 'binary.json'), Buffer.from([0x7b, 0xff, 0x7d]))
  throwsPlan(() => Plan.load(path.join(dir, 'binary.json')), 'json', 'UTF-8')
})

// --- the same file as `sixgate plan` -------------------------------------------

/** The `sixgate` binary: $SIXGATE, else target/debug/sixgate of this
 * checkout. Missing is a failure, not a skip. */
function cli () {
  const bin = process.env.SIXGATE || path.join(__dirname, '..', '..', 'target', 'debug', 'sixgate')
  assert.ok(
    fs.existsSync(bin),
    `no sixgate binary at ${bin}: build it with \`cargo build -p sixgate-servers\` or set $SIXGATE`
  )
  return bin
}

/** Runs `sixgate plan --json ARGS` on `file` (via --file, or via
 * $SIXGATE_PLAN when `viaEnv`), asserts success, returns the parsed JSON. */
function runCli (file, args, { viaEnv = false } = {}) {
  const env = { ...process.env }
  delete env.SIXGATE_PLAN
  const argv = ['plan', '--json']
  if (viaEnv) env.SIXGATE_PLAN = file
  else argv.push('--file', file)
  const out = spawnSync(cli(), [...argv, ...args], { encoding: 'utf8', env })
  assert.equal(out.status, 0, `sixgate plan ${args.join(' ')}: ${out.stderr}`)
  return JSON.parse(out.stdout)
}

test('a plan saved by Node is read by sixgate plan', (t) => {
  const file = path.join(tmpdir(t), 'plan.json')
  tree().save(file)
  const shown = runCli(file, ['--now', String(T0), 'show'], { viaEnv: true })
  const rows = Object.fromEntries(shown.pools.map((p) => [p.prefix, p]))
  assert.deepEqual(Object.keys(rows), [
    '198.51.100.0/24',
    '2001:db8::/32',
    '2001:db8::/48',
    '2001:db8::/64'
  ])
  assert.equal(rows['2001:db8::/48'].name, 'fra1')
  assert.equal(rows['2001:db8::/48'].usage.allocated, 1)
  assert.equal(rows['2001:db8::/32'].strategy, 'sparse')
  assert.equal(rows['198.51.100.0/24'].hold_down, 0)
  let [found] = runCli(file, ['--now', String(T0), 'lookup', '::ffff:198.51.100.1'])
  assert.equal(found.prefix, '198.51.100.1/32')
  assert.equal(found.path.length, 1)
  const [step] = found.path
  assert.deepEqual([step.status, step.customer, step.host], ['allocated', '42', 'web1.example.com'])
  ;[found] = runCli(file, ['--now', String(T0), 'lookup', '2001:db8::1'], { viaEnv: true })
  assert.deepEqual(found.path.map((s) => s.pool_name), ['provider', 'fra1', 'c42'])
  assert.deepEqual(found.path[2].tags, ['prod'])
  ;[found] = runCli(file, ['--now', String(T0), 'lookup', '--nat64-prefix', '64:ff9b::/96', '64:ff9b::c633:6401'])
  assert.equal(found.path[0].host, 'web1.example.com')
  // The CLI's write of the same plan is byte for byte what Node writes.
  const before = fs.readFileSync(file, 'utf8')
  runCli(file, ['--now', String(T0), 'reserve', '-p', 'fra1', '2001:db8:0:ff00::/56'])
  runCli(file, ['--now', String(T0), 'unreserve', '2001:db8:0:ff00::/56'])
  assert.equal(fs.readFileSync(file, 'utf8'), before)
})

test('a plan changed by sixgate plan is read by Node', (t) => {
  const file = path.join(tmpdir(t), 'plan.json')
  runCli(file, ['init', '--pool', '2001:db8:100::/48', '--child', '64',
    '--strategy', 'deterministic-decimal', '--name', 'cust'])
  const made = runCli(file, ['--now', String(T0), 'alloc', '-p', 'cust', '--customer', '4711',
    '--subdivide', '128', '--name', 'c4711'])
  assert.equal(made.prefix, '2001:db8:100:4711::/64')
  runCli(file, ['--now', String(T0), 'alloc', '-p', 'c4711', '--customer', '4711',
    '--host', 'db.example.net', '--tag', 'db'], { viaEnv: true })
  const plan = Plan.load(file)
  assert.equal(plan.toJson(), fs.readFileSync(file, 'utf8'))
  const [cust, host] = plan.heldBy('4711')
  assert.equal(cust.prefix, '2001:db8:100:4711::/64')
  assert.ok(cust.isPool)
  assert.equal(cust.since, T0)
  assert.equal(cust.pool.name, 'c4711')
  assert.equal(host.prefix, '2001:db8:100:4711::1/128')
  assert.deepEqual(host.tags, ['db'])
  assert.deepEqual(plan.forwardRecords(), [
    { name: 'db.example.net.', type: 'AAAA', data: '2001:db8:100:4711::1' }
  ])
  // Node changes it; the CLI sees the change.
  plan.releaseCustomer('4711', { now: T0 + 5 })
  plan.save(file)
  assert.deepEqual(runCli(file, ['show', '--customer', '4711']), [])
  const shown = runCli(file, ['--now', String(T0 + 6), 'show', 'cust'])
  assert.deepEqual(shown.held, [{ prefix: '2001:db8:100:4711::/64', until: T0 + 5 + WEEK }])
})

test('Plan.edit shares the writer lock of sixgate plan', async (t) => {
  const file = path.join(tmpdir(t), 'plan.json')
  runCli(file, ['init', '--pool', '2001:db8::/48', '--child', '64'])
  // While Node holds the lock, a CLI writer waits and then gives up…
  const mine = Plan.edit(file, (plan) => {
    const net = plan.alloc('2001:db8::/48', { customer: 'node', now: T0 })
    const out = spawnSync(cli(), ['plan', '--file', file, '--wait', '1s', 'alloc', '-p', '2001:db8::/48'],
      { encoding: 'utf8' })
    assert.equal(out.status, 1, out.stderr)
    assert.ok(out.stderr.includes('locked'), out.stderr)
    return net
  })
  assert.equal(mine, '2001:db8::/64')
  // …or waits and then writes after Node's save, so nothing is lost.
  let cliDone
  Plan.edit(file, (plan) => {
    cliDone = runAsync(cli(), ['plan', '--file', file, '--json', '--wait', '10s', 'alloc',
      '-p', '2001:db8::/48', '--customer', 'cli'])
    sleepSync(300)
    // Still running (not a zombie) 300 ms on: it is waiting for the lock.
    const state = fs.readFileSync(`/proc/${cliDone.pid}/stat`, 'utf8').split(') ')[1][0]
    assert.notEqual(state, 'Z')
    plan.alloc('2001:db8::/48', { customer: 'node', now: T0 })
  })
  const { code, stdout, stderr } = await cliDone
  assert.equal(code, 0, stderr)
  assert.equal(JSON.parse(stdout).prefix, '2001:db8:0:2::/64')
  assert.deepEqual(
    Plan.load(file).allocations().map((a) => [a.prefix, a.customer]),
    [['2001:db8::/64', 'node'], ['2001:db8:0:1::/64', 'node'], ['2001:db8:0:2::/64', 'cli']]
  )
  // The lock is released after each edit: the CLI gets it at once.
  runCli(file, ['--wait', '0', 'reserve', '-p', '2001:db8::/48', '2001:db8:0:ff00::/56'])
})

test('Plan.edit saves nothing when fn throws, and throws what fn threw', (t) => {
  const file = path.join(tmpdir(t), 'plan.json')
  runCli(file, ['init', '--pool', '2001:db8::/48', '--child', '64'])
  const before = fs.readFileSync(file, 'utf8')
  // A plan error from inside fn comes out as it was.
  throwsPlan(() => Plan.edit(file, (plan) => {
    plan.alloc('2001:db8::/48', { now: T0 })
    plan.alloc('nope', { now: T0 })
  }), 'no_pool', 'nope')
  // The very object thrown, or a primitive, is thrown again.
  const mine = new Error('panel says no')
  assert.throws(() => Plan.edit(file, (plan) => {
    plan.alloc('2001:db8::/48', { now: T0 })
    throw mine
  }), (e) => e === mine)
  assert.throws(() => Plan.edit(file, () => { throw 42 }), (e) => e === 42)
  // An async fn would change the plan after the save: refused, nothing saved.
  assert.throws(
    () => Plan.edit(file, async (plan) => plan.alloc('2001:db8::/48', { now: T0 })),
    (e) => e instanceof TypeError && e.code === 'ERR_INVALID_RETURN_VALUE'
  )
  assert.equal(fs.readFileSync(file, 'utf8'), before)
  assert.deepEqual(fs.readdirSync(path.dirname(file)).sort(), ['plan.json', 'plan.json.lock'])
  // Each failure released the lock: the CLI writes at once.
  runCli(file, ['--wait', '0', 'alloc', '-p', '2001:db8::/48'])
  // Returning normally saves, and edit returns what fn returned.
  assert.deepEqual(Plan.edit(file, (plan) => plan.pools().length), 1)
  assert.equal(Plan.edit(file, (plan) => plan.alloc('2001:db8::/48', { now: T0 })), '2001:db8:0:1::/64')
  assert.equal(Plan.load(file).allocations().length, 2)
  // An edit of the same file inside fn waits for its own lock and gives up;
  // the outer edit goes on and saves.
  assert.equal(Plan.edit(file, (plan) => {
    assert.throws(() => Plan.edit(file, () => {}, { wait: 50 }), (e) => e.code === 'ERR_SIXGATE_LOCKED')
    return plan.alloc('2001:db8::/48', { now: T0 })
  }), '2001:db8:0:2::/64')
  assert.equal(Plan.load(file).allocations().length, 3)
  // A missing file: ENOENT naming it, and the lock is released.
  const missing = path.join(path.dirname(file), 'missing.json')
  assert.throws(() => Plan.edit(missing, () => {}), (e) => e.code === 'ENOENT' && e.path === missing)
  assert.throws(() => Plan.edit(missing, () => {}), (e) => e.code === 'ENOENT')
})

test('Plan.edit waits for another writer, then gives up with ERR_SIXGATE_LOCKED', async (t) => {
  const file = path.join(tmpdir(t), 'plan.json')
  runCli(file, ['init', '--pool', '2001:db8::/48', '--child', '64'])
  // Another Node process holds the lock for a while inside its own edit.
  const holder = spawn(process.execPath, ['-e', `
    const { Plan } = require(${JSON.stringify(INDEX)})
    Plan.edit(${JSON.stringify(file)}, (plan) => {
      plan.alloc('2001:db8::/48', { customer: 'other', now: ${T0} })
      process.stdout.write('locked\\n')
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1500)
    })
  `], { stdio: ['ignore', 'pipe', 'inherit'] })
  const exited = new Promise((resolve) => holder.on('exit', resolve))
  await new Promise((resolve) => holder.stdout.once('data', resolve))
  const started = Date.now()
  assert.throws(
    () => Plan.edit(file, () => assert.fail('fn must not run without the lock'), { wait: 200 }),
    (e) => e.code === 'ERR_SIXGATE_LOCKED' && e.kind === 'locked' &&
      e.message.includes(`${file}.lock`) && e.message.includes('200 ms')
  )
  assert.ok(Date.now() - started >= 190)
  // With time enough it gets the lock after the other writer's save.
  const got = Plan.edit(file, (plan) => plan.alloc('2001:db8::/48', { customer: 'me', now: T0 }), { wait: 10_000 })
  assert.equal(await exited, 0)
  assert.equal(got, '2001:db8:0:1::/64')
  assert.deepEqual(
    Plan.load(file).allocations().map((a) => a.customer),
    ['other', 'me']
  )
})

/** Runs a command; resolves to its exit code and output (`.pid` is its
 * process id). */
function runAsync (cmd, args) {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] })
  const done = new Promise((resolve, reject) => {
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => { stdout += d })
    child.stderr.on('data', (d) => { stderr += d })
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, stdout, stderr }))
  })
  done.pid = child.pid
  return done
}
