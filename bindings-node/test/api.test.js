'use strict'
// The Node surface beyond the shared vectors: error classes and codes,
// Nat64Prefix, HostIndex, the ClientHello / HTTP / PROXY readers on real
// captures, and DNS64 on wire messages.
const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')

const sg = require('../index.js')

function throwsWith(fn, Class, code, kind) {
  assert.throws(fn, (e) => {
    assert.equal(e.constructor, Class, `${e.constructor.name}: ${e.message}`)
    assert.equal(e.code, code, e.message)
    if (kind !== undefined) assert.equal(e.kind, kind, e.message)
    return true
  })
}

test('wrong types are TypeErrors, out-of-range numbers RangeErrors', () => {
  const T = (fn) => throwsWith(fn, TypeError, 'ERR_INVALID_ARG_TYPE')
  T(() => sg.synthesize(3232235521))
  T(() => sg.synthesize())
  T(() => sg.synthesize('192.0.2.1', 'prefix'))
  T(() => sg.synthesize('192.0.2.1', [1]))
  T(() => sg.synthesize('192.0.2.1', { allowNonGlobal: 'yes' }))
  T(() => sg.synthesize('192.0.2.1', { prefix: 96 }))
  T(() => sg.normalize('::1', { nat64Prefixes: '64:ff9b::/96' }))
  T(() => sg.discover(['64:ff9b::c000:aa', 7]))
  T(() => sg.discover([, '64:ff9b::c000:aa'])) // a hole
  T(() => sg.hostPort('::1', '443'))
  T(() => sg.readClientHello('hello'))
  T(() => sg.readClientHello(new Float32Array(4)))
  T(() => new sg.HostIndex().set('192.0.2.0/24', undefined))
  T(() => sg.encodeProxyHeader({ command: 'proxy' }))
  T(() => sg.encodeProxyHeader({ command: 'local', source: { address: '::1', port: 1 } }))
  const R = (fn) => throwsWith(fn, RangeError, 'ERR_OUT_OF_RANGE')
  R(() => sg.hostPort('::1', 65536))
  R(() => sg.hostPort('::1', -1))
  R(() => sg.hostPort('::1', 80.5))
  R(() => sg.hostPort('::1', NaN))
  R(() => sg.formatAddress('nginx', '::1', { port: 1e6 }))
  R(() => sg.encodeProxyHeader({ command: 'local' }, { version: 3 }))
  R(() => sg.readRequestHead(Buffer.from('GET'), { maxHead: -5 }))
  R(() => sg.errorReply(Buffer.alloc(12), 4096))
})

test('bad values are Errors with a stable code, the core kind and the value quoted', () => {
  const cases = [
    [() => new sg.Nat64Prefix('2001:db8::/44'), 'ERR_SIXGATE_PREFIX', 'length', '44'],
    [() => new sg.Nat64Prefix('2001:db8::1/96'), 'ERR_SIXGATE_PREFIX', 'host_bits', '2001:db8::1/96'],
    [() => sg.synthesize('10.1.2.3'), 'ERR_SIXGATE_NAT64', 'non_global', '10.0.0.0/8'],
    [() => sg.synthesize('2001:db8::1'), 'ERR_SIXGATE_ADDRESS', 'version', '2001:db8::1'],
    [() => sg.extract('192.0.2.1'), 'ERR_SIXGATE_ADDRESS', 'version', '192.0.2.1'],
    [() => sg.canonical('192.0.2.256'), 'ERR_SIXGATE_ADDRESS', 'addr', '192.0.2.256'],
    [() => sg.urlHost('192.0.2.1%eth0'), 'ERR_SIXGATE_ADDRESS', 'zone', 'eth0'],
    [() => sg.formatAddress('lighttpd', '::1'), 'ERR_SIXGATE_FORMAT', 'style', 'lighttpd'],
    [() => sg.formatAddress('hostport', '::1'), 'ERR_SIXGATE_FORMAT', 'port_required', undefined],
    [() => sg.stylePitfall('nope'), 'ERR_SIXGATE_FORMAT', 'style', 'nope'],
    [() => sg.parseAuthority('exa mple.com'), 'ERR_SIXGATE_HTTP', undefined, undefined],
    [() => sg.encodeProxyHeader({ command: 'pass' }), 'ERR_SIXGATE_PROXY_PROTOCOL', 'command', 'pass'],
  ]
  for (const [fn, code, kind, text] of cases) {
    assert.throws(fn, (e) => {
      assert.equal(e.constructor, Error, e.message)
      assert.equal(e.code, code, e.message)
      if (kind !== undefined) assert.equal(e.kind, kind, e.message)
      else assert.equal(typeof e.kind, 'string')
      if (text !== undefined) assert.ok(e.message.includes(text), e.message)
      return true
    })
  }
})

test('Nat64Prefix', () => {
  const wkp = sg.Nat64Prefix.wellKnown()
  assert.equal(wkp.network, '64:ff9b::/96')
  assert.equal(wkp.address, '64:ff9b::')
  assert.equal(wkp.prefixLen, 96)
  assert.equal(wkp.isWellKnown, true)
  assert.equal(wkp.isLocalUse, false)
  const local = sg.Nat64Prefix.localUse()
  assert.equal(String(local), '64:ff9b:1::/48')
  assert.equal(local.isLocalUse, true)
  // A copy, equality with text or another prefix, JSON.
  assert.ok(new sg.Nat64Prefix(wkp).equals('64:FF9B::/96'))
  assert.ok(!wkp.equals(local))
  assert.equal(JSON.stringify({ p: wkp }), '{"p":"64:ff9b::/96"}')
  assert.equal(wkp.contains('64:ff9b::c000:221'), true)
  assert.equal(wkp.contains('2001:db8::1'), false)
  assert.equal(wkp.contains('192.0.2.33'), false)
  assert.deepEqual(wkp.ipv4onlyAnswers(), ['64:ff9b::c000:aa', '64:ff9b::c000:ab'])
  assert.deepEqual(sg.discover(local.ipv4onlyAnswers()).map(String), ['64:ff9b:1::/48'])
  // Mixed-case input, canonical output; a Nat64Prefix as an option.
  assert.equal(sg.synthesize('198.51.100.7', { prefix: new sg.Nat64Prefix('2001:DB8:64::/96') }), '2001:db8:64::c633:6407')
  assert.equal(sg.canonical('::FFFF:C000:0201'), '::ffff:192.0.2.1')
})

test('HostIndex: any form of an address finds its owner', () => {
  const owners = new sg.HostIndex({ nat64Prefixes: ['64:ff9b::/96', sg.Nat64Prefix.localUse()] })
  assert.deepEqual(owners.nat64Prefixes.map(String), ['64:ff9b::/96', '64:ff9b:1::/48'])
  assert.equal(owners.set('192.0.2.0/24', 'carol'), null)
  assert.equal(owners.set('192.0.2.0/24', { name: 'carol', id: 7 }), 'carol')
  owners.set('2001:db8:1::/48', 'dave')
  owners.set('2001:db8:1:2::/64', ['erin', 2])
  owners.set('::ffff:198.51.100.0/120', 'frank') // stored as IPv4
  assert.equal(owners.size, 4)
  assert.deepEqual(owners.lookup('::ffff:192.0.2.7'), { network: '192.0.2.0/24', owner: { name: 'carol', id: 7 } })
  assert.deepEqual(owners.owner('64:ff9b::c000:207'), { name: 'carol', id: 7 })
  assert.deepEqual(owners.owner('64:ff9b:1:c000:2:700::'), { name: 'carol', id: 7 })
  assert.deepEqual(owners.owner('2001:db8:1:2::9'), ['erin', 2])
  assert.equal(owners.owner('2001:db8:1:3::9'), 'dave')
  assert.equal(owners.owner('198.51.100.9'), 'frank')
  assert.equal(owners.has('198.51.100.0/24'), true)
  assert.equal(owners.owner('2001:db8:2::1'), null)
  assert.equal(owners.lookup('203.0.113.1'), null)
  assert.equal(owners.get('2001:db8:1:2::/64')[0], 'erin')
  assert.equal(owners.get('2001:db8:1:2::/63'), null)
  assert.deepEqual(owners.closest('2001:db8:1:2::/80'), { network: '2001:db8:1:2::/64', owner: ['erin', 2] })
  assert.equal(owners.fold('::ffff:192.0.2.1'), '192.0.2.1')
  assert.equal(owners.fold('64:ff9b::c000:201'), '192.0.2.1')
  // What comes back is a copy.
  owners.owner('192.0.2.1').name = 'mallory'
  assert.equal(owners.owner('192.0.2.1').name, 'carol')
  assert.deepEqual(
    owners.entries().map((e) => e.network),
    ['192.0.2.0/24', '198.51.100.0/24', '2001:db8:1::/48', '2001:db8:1:2::/64'],
  )
  assert.equal(owners.delete('2001:db8:1:2::/64'), true)
  assert.equal(owners.delete('2001:db8:1:2::/64'), false)
  assert.equal(owners.owner('2001:db8:1:2::9'), 'dave')
  owners.clear()
  assert.equal(owners.size, 0)
  assert.equal(owners.nat64Prefixes.length, 2)
})

const hellos = path.join(__dirname, '..', '..', 'core', 'testdata', 'hellos')

test('readClientHello on real captures, whole and cut', () => {
  const files = fs.readdirSync(hellos).filter((f) => f.endsWith('.bin'))
  assert.ok(files.length >= 3, files.join(' '))
  for (const f of files) {
    const data = fs.readFileSync(path.join(hellos, f))
    const hello = sg.readClientHello(data)
    assert.ok(hello && !('needMore' in hello), f)
    assert.ok(hello.length <= data.length)
    assert.ok(['hostName', 'ipLiteral', 'invalid', 'absent'].includes(hello.serverNameKind))
    if (hello.serverNameKind === 'hostName') {
      assert.equal(hello.serverName, hello.serverName.toLowerCase())
      assert.equal(hello.serverNameIp, null)
    }
    assert.ok(hello.alpn.every((p) => Buffer.isBuffer(p)))
    assert.ok(hello.recordCount >= 1)
    // A Uint8Array view works as a Buffer does.
    const view = new Uint8Array(data.buffer, data.byteOffset, data.length)
    assert.deepEqual(sg.readClientHello(view), hello)
    // Every strict prefix asks for more, never for less than one byte.
    for (const cut of [0, 1, 5, 6, 40, hello.length - 1]) {
      const r = sg.readClientHello(data.subarray(0, cut))
      assert.ok(r && r.needMore >= 1, `${f} cut at ${cut}`)
    }
  }
  const curl = sg.readClientHello(fs.readFileSync(path.join(hellos, 'curl.bin')))
  assert.deepEqual(curl.alpn.map(String), ['h2', 'http/1.1'])
  assert.equal(curl.serverName, 'capture.example.test')
  assert.equal(curl.legacyVersion, 0x0303)
  assert.ok(curl.supportedVersions.includes(0x0304))
  assert.equal(sg.readClientHello(Buffer.from('GET / HTTP/1.1\r\n')), null)
  assert.throws(() => sg.readClientHello(Buffer.from([0x16, 0x03, 0x01, 0x00, 0x00])), { code: 'ERR_SIXGATE_TLS' })
})

test('readRequestHead and parseAuthority', () => {
  const buf = Buffer.from('GET http://[2001:DB8::1]:8080/x HTTP/1.1\r\nHost: [2001:db8::1]:8080\r\n\r\nbody')
  const head = sg.readRequestHead(buf)
  assert.equal(head.method, 'GET')
  assert.equal(head.form, 'absolute')
  assert.equal(head.version, 'HTTP/1.1')
  assert.equal(head.length, buf.length - 4)
  assert.deepEqual(head.authority, { host: '[2001:db8::1]', hostName: null, ip: '2001:db8::1', port: 8080, text: '[2001:db8::1]:8080' })
  assert.deepEqual(sg.readRequestHead(buf.subarray(0, 20)), { needMore: 1 })
  assert.throws(() => sg.readRequestHead(Buffer.from('GET / HTTP/1.1\r\n'), { maxHead: 10 }), { code: 'ERR_SIXGATE_HTTP', kind: 'too_large' })
  assert.throws(() => sg.readRequestHead(Buffer.from('GET / HTTP/1.1\r\n\r\n')), { code: 'ERR_SIXGATE_HTTP', kind: 'missing_host' })
  const old = sg.readRequestHead(Buffer.from('GET / HTTP/1.0\r\n\r\n'))
  assert.equal(old.authority, null)
  assert.deepEqual(sg.parseAuthority('WWW.Example.TEST.'), { host: 'www.example.test', hostName: 'www.example.test', ip: null, port: null, text: 'www.example.test' })
})

test('PROXY protocol v1 and v2 round trips', () => {
  const header = {
    command: 'proxy',
    source: { address: '::ffff:192.0.2.1', port: 56324 },
    destination: { address: '::FFFF:192.0.2.11', port: 443 },
  }
  const v1 = sg.encodeProxyHeader(header)
  assert.ok(Buffer.isBuffer(v1))
  assert.equal(v1.toString('latin1'), 'PROXY TCP4 192.0.2.1 192.0.2.11 56324 443\r\n')
  for (const version of [1, 2]) {
    const data = Buffer.concat([sg.encodeProxyHeader(header, { version }), Buffer.from('payload')])
    const d = sg.decodeProxyHeader(data)
    assert.equal(d.version, version)
    assert.deepEqual(d.header, {
      command: 'proxy',
      source: { address: '192.0.2.1', port: 56324 },
      destination: { address: '192.0.2.11', port: 443 },
    })
    assert.equal(data.subarray(d.length).toString(), 'payload')
    assert.deepEqual(d.tlvs, [])
    // What decode returns encodes again to the same bytes.
    assert.deepEqual(sg.encodeProxyHeader(d.header, { version }), data.subarray(0, d.length))
  }
  const v6 = { command: 'proxy', source: { address: '2001:db8::1', port: 1 }, destination: { address: '2001:db8::2', port: 2 } }
  assert.equal(sg.encodeProxyHeader(v6).toString(), 'PROXY TCP6 2001:db8::1 2001:db8::2 1 2\r\n')
  assert.deepEqual([...sg.encodeProxyHeader({ command: 'local' }, { version: 2 }).subarray(12)], [0x20, 0x00, 0x00, 0x00])
  assert.equal(sg.encodeProxyHeader({ command: 'unknown' }).toString(), 'PROXY UNKNOWN\r\n')
  assert.deepEqual(sg.decodeProxyHeader(Buffer.from('PROXY UNKNOWN\r\n')).header, { command: 'unknown', source: null, destination: null })
  assert.equal(sg.decodeProxyHeader(Buffer.from('GET / HTTP/1.1\r\n')), null)
  assert.ok(sg.decodeProxyHeader(v1.subarray(0, 10)).needMore >= 1)
  // v2 with a TLV (PP2_TYPE_AUTHORITY) after the addresses.
  const tlv = Buffer.from([0x02, 0x00, 0x04, ...Buffer.from('a.b.')])
  const len = Buffer.alloc(2)
  len.writeUInt16BE(12 + tlv.length)
  const v2 = Buffer.concat([
    Buffer.from('\r\n\r\n\0\r\nQUIT\n', 'latin1'),
    Buffer.from([0x21, 0x11]),
    len,
    Buffer.from([0xc0, 0x00, 0x02, 0x01, 0xc0, 0x00, 0x02, 0x02, 0xdc, 0x04, 0x01, 0xbb]),
    tlv,
  ])
  const d = sg.decodeProxyHeader(v2)
  assert.equal(d.tlvs.length, 1)
  assert.equal(d.tlvs[0].type, 2)
  assert.equal(d.tlvs[0].value.toString(), 'a.b.')
  assert.throws(() => sg.decodeProxyHeader(Buffer.from('PROXY TCP4 300.0.0.1 1.2.3.4 1 2\r\n')), { code: 'ERR_SIXGATE_PROXY_PROTOCOL' })
})

// --- DNS64 on wire-format messages -----------------------------------------

const A = 1
const AAAA = 28

function qname(name) {
  const parts = name.replace(/\.$/, '').split('.')
  return Buffer.concat([...parts.map((p) => Buffer.concat([Buffer.from([p.length]), Buffer.from(p)])), Buffer.from([0])])
}

function query(name, qtype, id = 0x1234) {
  const h = Buffer.alloc(12)
  h.writeUInt16BE(id, 0)
  h.writeUInt16BE(0x0100, 2)
  h.writeUInt16BE(1, 4)
  const tail = Buffer.alloc(4)
  tail.writeUInt16BE(qtype, 0)
  tail.writeUInt16BE(1, 2)
  return Buffer.concat([h, qname(name), tail])
}

function qtypeOf(q) {
  let end = 12
  while (q[end] !== 0) end += q[end] + 1
  return q.readUInt16BE(end + 1)
}

/** A response to `q` (ID and question copied) with `records` [type, rdata]. */
function answer(q, records, ttl = 300) {
  let end = 12
  while (q[end] !== 0) end += q[end] + 1
  const question = q.subarray(12, end + 5)
  const h = Buffer.alloc(12)
  h.writeUInt16BE(q.readUInt16BE(0), 0)
  h.writeUInt16BE(0x8000 | (q.readUInt16BE(2) & 0x0110), 2)
  h.writeUInt16BE(1, 4)
  h.writeUInt16BE(records.length, 6)
  const rrs = records.map(([t, rd]) => {
    const rr = Buffer.alloc(12)
    rr.writeUInt16BE(0xc00c, 0)
    rr.writeUInt16BE(t, 2)
    rr.writeUInt16BE(1, 4)
    rr.writeUInt32BE(ttl, 6)
    rr.writeUInt16BE(rd.length, 10)
    return Buffer.concat([rr, Buffer.from(rd)])
  })
  return Buffer.concat([h, question, ...rrs])
}

const packed = (v6) => {
  // The 16 bytes of an IPv6 address, from its full text.
  const full = sg.ptrName(v6).split('.').slice(0, 32).reverse().join('')
  return Buffer.from(full, 'hex')
}

test('Dns64Resolution step by step', () => {
  const r = new sg.Dns64Resolution(query('v4only.example.', AAAA))
  assert.equal(r.queryName, 'v4only.example.')
  assert.equal(r.queryType, AAAA)
  const up = r.poll()
  assert.equal(up.action, 'upstream')
  assert.ok(Buffer.isBuffer(up.message))
  assert.equal(qtypeOf(up.message), AAAA)
  assert.deepEqual(r.poll(), { action: 'wait', message: null })
  r.handleResponse(answer(up.message, [])) // NODATA
  const upA = r.poll()
  assert.equal(upA.action, 'upstream')
  assert.equal(qtypeOf(upA.message), A)
  r.handleResponse(answer(upA.message, [[A, [198, 252, 206, 16]]]))
  const resp = r.poll()
  assert.equal(resp.action, 'respond')
  assert.equal(resp.message.readUInt16BE(0), 0x1234)
  assert.ok(resp.message.includes(packed('64:ff9b::c6fc:ce10')))
  assert.deepEqual(r.poll(), { action: 'done', message: null })
})

test('resolve with an upstream function; config', () => {
  const config = new sg.Dns64Config({ prefixes: ['2001:db8:64::/96'], extendedError: true })
  assert.deepEqual(config.prefixes.map(String), ['2001:db8:64::/96'])
  assert.deepEqual(config.excludeAaaa, ['::ffff:0.0.0.0/96'])
  assert.equal(config.extendedError, true)
  assert.equal(config.synthesizeOnError, true)
  const asked = []
  const upstream = (q) => {
    asked.push(q)
    return answer(q, qtypeOf(q) === A ? [[A, [192, 0, 2, 33]]] : [])
  }
  const resp = sg.resolve(query('v4only.example.', AAAA), upstream, config)
  assert.equal(asked.length, 2)
  assert.ok(resp.includes(packed('2001:db8:64::c000:221')))
  // MX is not DNS64's business: forwarded, the upstream's answer returned.
  const mx = query('example.test.', 15)
  assert.deepEqual(sg.resolve(mx, (q) => answer(q, [])), answer(mx, []))
  // No answer to a forwarded query: SERVFAIL.
  assert.equal(sg.resolve(mx, () => null)[3] & 0x0f, 2)
  assert.equal(sg.resolve(mx, () => undefined)[3] & 0x0f, 2)
  // Garbage gets FORMERR; a response (QR set) gets nothing.
  assert.equal(sg.resolve(Buffer.from([0x12, 0x34, 0x01, 0x00, 0xff]), upstream)[3] & 0x0f, 1)
  assert.equal(sg.resolve(answer(mx, []), upstream), null)
  // The upstream's exception propagates; a wrong return type is a TypeError.
  assert.throws(() => sg.resolve(query('x.test.', AAAA), () => { throw new Error('boom') }), /boom/)
  assert.throws(() => sg.resolve(query('x.test.', AAAA), () => 'text'), TypeError)
})

test('ipv4only.arpa, DNS errors with rcode, errorReply', () => {
  const r = new sg.Dns64Resolution(query('ipv4only.arpa.', AAAA))
  const resp = r.poll()
  assert.equal(resp.action, 'respond')
  for (const a of sg.Nat64Prefix.wellKnown().ipv4onlyAnswers()) {
    assert.ok(resp.message.includes(packed(a)))
  }
  const one = query('a.test.', AAAA)
  const two = Buffer.concat([one.subarray(0, 4), Buffer.from([0, 2]), one.subarray(6), qname('b.test.'), Buffer.from([0, AAAA, 0, 1])])
  assert.throws(() => new sg.Dns64Resolution(two), { code: 'ERR_SIXGATE_DNS', kind: 'question_count', rcode: 1 })
  assert.throws(() => new sg.Dns64Resolution(Buffer.from([0])), { code: 'ERR_SIXGATE_DNS', kind: 'malformed', rcode: 1 })
  assert.throws(() => new sg.Dns64Config({ prefixes: [] }), { code: 'ERR_SIXGATE_DNS', kind: 'no_prefix' })
  assert.throws(() => new sg.Dns64Config({ neverMap: ['2001:db8::/32'] }), { code: 'ERR_SIXGATE_PREFIX', kind: 'version' })
  assert.throws(() => new sg.Dns64Config({ excludeNames: ['bad..name'] }), { code: 'ERR_SIXGATE_DNS', kind: 'name' })
  const reply = sg.errorReply(two, 1)
  assert.deepEqual(reply.subarray(0, 2), two.subarray(0, 2))
  assert.equal(reply[3] & 0x0f, 1)
  assert.equal(sg.errorReply(Buffer.from([0x12]), 2), null)
})
