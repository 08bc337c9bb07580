'use strict'
// core/testdata/vectors.json through the Node API: every language agrees
// bit for bit with the Rust core.
const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')

const sg = require('../index.js')

const vectors = JSON.parse(
  fs.readFileSync(path.join(__dirname, '..', '..', 'core', 'testdata', 'vectors.json'), 'utf8'),
)

/** Asserts that `fn` throws a sixgate Error with `code` and `kind`. */
function throwsSixgate(fn, code, kind, text) {
  assert.throws(fn, (e) => {
    assert.ok(e instanceof Error, 'an Error')
    assert.equal(e.code, code)
    if (kind !== undefined) assert.equal(e.kind, kind)
    if (text !== undefined) assert.ok(e.message.includes(text), `${e.message} names ${text}`)
    return true
  })
}

test('RFC 6052 embed table', () => {
  const rows = vectors.rfc6052.embed
  assert.ok(rows.length >= 7)
  for (const row of rows) {
    const prefix = new sg.Nat64Prefix(row.prefix)
    const got = prefix.embed(row.ipv4)
    assert.equal(got, row.ipv6, row.prefix)
    // The RFC's own spelling is the same address.
    assert.equal(sg.canonical(row.ipv6_rfc), row.ipv6)
    assert.equal(prefix.extract(got), row.ipv4)
    assert.equal(prefix.network, row.prefix)
    assert.equal(String(prefix), row.prefix)
    const allow = !prefix.isWellKnown || sg.nonGlobalRange(row.ipv4) !== null
    assert.equal(sg.synthesize(row.ipv4, { prefix: row.prefix, allowNonGlobal: allow }), got)
    assert.equal(sg.extract(got, { prefix }), row.ipv4)
    assert.equal(prefix.contains(got), true)
  }
})

test('RFC 6052 bad prefixes', () => {
  for (const row of vectors.rfc6052.bad_prefixes) {
    throwsSixgate(() => new sg.Nat64Prefix(row.prefix), 'ERR_SIXGATE_PREFIX', row.error)
  }
})

test('RFC 6052 extract errors', () => {
  for (const row of vectors.rfc6052.extract_errors) {
    const prefix = new sg.Nat64Prefix(row.prefix)
    throwsSixgate(() => prefix.extract(row.ipv6), 'ERR_SIXGATE_NAT64', row.error, sg.canonical(row.ipv6))
  }
})

test('RFC 6052 §3.1: non-global IPv4 under the well-known prefix', () => {
  const wkp = sg.Nat64Prefix.wellKnown()
  for (const row of vectors.rfc6052.non_global) {
    throwsSixgate(() => wkp.synthesize(row.ipv4), 'ERR_SIXGATE_NAT64', 'non_global', row.range)
    throwsSixgate(() => sg.synthesize(row.ipv4), 'ERR_SIXGATE_NAT64', 'non_global', row.ipv4)
    const range = sg.nonGlobalRange(row.ipv4)
    assert.deepEqual([range.network, range.name], [row.range, row.name])
    assert.match(range.rfc, /^RFC \d+/)
    const embedded = wkp.embed(row.ipv4)
    assert.equal(wkp.synthesize(row.ipv4, { allowNonGlobal: true }), embedded)
    throwsSixgate(() => wkp.extractChecked(embedded), 'ERR_SIXGATE_NAT64', 'non_global')
    assert.equal(wkp.extractChecked(embedded, { allowNonGlobal: true }), row.ipv4)
    assert.equal(wkp.extract(embedded), row.ipv4)
  }
  for (const g of vectors.rfc6052.global) {
    assert.equal(sg.synthesize(g), wkp.embed(g))
    assert.equal(sg.nonGlobalRange(g), null)
  }
})

test('RFC 7050 discovery', () => {
  for (const row of vectors.rfc6052.discover) {
    if (row.prefixes) {
      assert.deepEqual(sg.discover(row.answers).map(String), row.prefixes)
    } else {
      throwsSixgate(() => sg.discover(row.answers), 'ERR_SIXGATE_NAT64', row.error)
    }
  }
})

test('canonical text and bad addresses', () => {
  for (const row of vectors.text.canonical) {
    assert.equal(sg.canonical(row.input), row.output)
  }
  for (const bad of vectors.text.bad_addresses) {
    throwsSixgate(() => sg.canonical(bad), 'ERR_SIXGATE_ADDRESS', 'addr', bad)
  }
})

test('host:port, URL hosts, PTR names', () => {
  for (const row of vectors.text.host_port) {
    assert.equal(sg.hostPort(row.address, row.port), row.output)
  }
  for (const row of vectors.text.url_host) {
    assert.equal(sg.urlHost(row.address), row.output)
  }
  for (const row of vectors.text.ptr) {
    assert.equal(sg.ptrName(row.address), row.ptr)
  }
})

test('reverse zones and bad prefixes', () => {
  for (const row of vectors.text.reverse_zones) {
    assert.deepEqual(sg.reverseZones(row.prefix), row.zones)
  }
  for (const bad of vectors.text.bad_prefixes) {
    throwsSixgate(() => sg.canonicalNetwork(bad), 'ERR_SIXGATE_PREFIX', 'prefix')
  }
})

test('munin-node lines', () => {
  for (const row of vectors.text.munin_allow) {
    assert.equal(sg.muninAllow(row.address), row.line)
    assert.equal(sg.formatAddress('munin-allow', row.address), row.line)
    assert.equal(row.line, 'allow ' + sg.muninAllowRegex(row.address))
  }
  for (const row of vectors.text.munin_cidr) {
    assert.equal(sg.muninCidrAllow(row.input), row.line)
    assert.equal(sg.formatAddress('munin-cidr', row.input), row.line)
  }
})

test('normalize', () => {
  for (const row of vectors.text.normalize) {
    assert.equal(sg.normalize(row.address, { nat64Prefixes: row.nat64_prefixes }), row.output)
  }
})

test('config styles', () => {
  const rows = vectors.text.fmt
  for (const style of sg.styles()) {
    assert.ok(rows.some((r) => r.style === style), style)
    assert.ok(sg.stylePitfall(style).length > 20)
  }
  for (const row of rows) {
    const options = row.port === null ? undefined : { port: row.port }
    if ('output' in row) {
      assert.equal(sg.formatAddress(row.style, row.address, options), row.output)
    } else {
      assert.throws(
        () => sg.formatAddress(row.style, row.address, options),
        (e) => e.code.startsWith('ERR_SIXGATE_') && e.kind === row.error,
      )
    }
  }
})
