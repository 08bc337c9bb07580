#!/usr/bin/env node
'use strict'
// Which of these hosts would an IPv6-only server reach only through NAT64?
// For each name, asks for its AAAA through sixgate's DNS64 engine (a
// Dns64Resolution driven over UDP to your recursive resolver) and reports
// whether the answer is native IPv6, synthesised under the NAT64 prefix
// (so the traffic goes through NAT64), or nothing at all. The talk's case:
// `npm install` on an IPv6-only VM reaches registry.npmjs.org only through
// NAT64, because the registry had no AAAA of its own.
//
//   node synthesis-check.js [--prefix 64:ff9b::/96] [--server 127.0.0.1:53] NAME...
//   node synthesis-check.js --self-test     (a small DNS server on 127.0.0.1)
//
// --server defaults to the first nameserver in /etc/resolv.conf.
const dgram = require('node:dgram')
const fs = require('node:fs')

const sg = require('../../bindings-node/index.js')

const AAAA = 28
const A = 1

/** A DNS query for `name`/`qtype` with ID `id` (RD set). */
function query(name, qtype, id) {
  const labels = name.replace(/\.$/, '').split('.').map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)]))
  const h = Buffer.alloc(12)
  h.writeUInt16BE(id, 0)
  h.writeUInt16BE(0x0100, 2)
  h.writeUInt16BE(1, 4)
  const tail = Buffer.alloc(4)
  tail.writeUInt16BE(qtype, 0)
  tail.writeUInt16BE(1, 2)
  return Buffer.concat([h, ...labels, Buffer.from([0]), tail])
}

/** The offset after the (possibly compressed) name at `off`. */
function skipName(m, off) {
  for (let hops = 0; off < m.length && hops < 128; hops++) {
    const len = m[off]
    if (len === 0) return off + 1
    if ((len & 0xc0) === 0xc0) return off + 2
    off += len + 1
  }
  throw new Error('malformed name')
}

/** RCODE and the AAAA addresses in the answer section of `m`. */
function aaaaAnswers(m) {
  const rcode = m[3] & 0x0f
  let off = 12
  for (let i = m.readUInt16BE(4); i > 0; i--) off = skipName(m, off) + 4
  const found = []
  for (let i = m.readUInt16BE(6); i > 0; i--) {
    off = skipName(m, off)
    const type = m.readUInt16BE(off)
    const len = m.readUInt16BE(off + 8)
    const rdata = m.subarray(off + 10, off + 10 + len)
    if (type === AAAA && len === 16) {
      const groups = []
      for (let g = 0; g < 16; g += 2) groups.push(rdata.readUInt16BE(g).toString(16))
      found.push(sg.canonical(groups.join(':')))
    }
    off += 10 + len
  }
  return { rcode, found }
}

/** Sends `message` to `server` over UDP; the answer with its ID, or null. */
function ask(server, message, timeoutMs = 2000) {
  return new Promise((resolve) => {
    const family = server.address.includes(':') ? 'udp6' : 'udp4'
    const sock = dgram.createSocket(family)
    const id = message.readUInt16BE(0)
    const timer = setTimeout(() => finish(null), timeoutMs)
    function finish(answer) {
      clearTimeout(timer)
      sock.close()
      resolve(answer)
    }
    sock.on('message', (m) => { if (m.length >= 12 && m.readUInt16BE(0) === id) finish(m) })
    sock.on('error', () => finish(null))
    sock.send(message, server.port, server.address)
  })
}

/** What `name`'s AAAA answer is, through DNS64 with `config`. */
async function check(name, config, prefixes, server) {
  const q = query(name, AAAA, Math.floor(Math.random() * 0x10000))
  const r = new sg.Dns64Resolution(q, config)
  // A resolution takes at most two upstream exchanges (AAAA, then A).
  for (let steps = 0; steps < 8; steps++) {
    const step = r.poll()
    if (step.action === 'upstream') {
      const answer = await ask(server, step.message)
      if (answer) r.handleResponse(answer)
      else r.handleFailure()
    } else if (step.action === 'respond') {
      const { rcode, found } = aaaaAnswers(step.message)
      if (rcode !== 0) return { name, kind: 'error', detail: rcode === 3 ? 'NXDOMAIN' : `RCODE ${rcode}` }
      if (found.length === 0) return { name, kind: 'none', detail: 'no AAAA and no A' }
      const synthesised = found.filter((a) => prefixes.some((p) => p.contains(a)))
      if (synthesised.length === found.length) {
        const via = synthesised.map((a) => `${a} (from ${prefixes.find((p) => p.contains(a)).extract(a)})`)
        return { name, kind: 'synthesised', detail: via.join(', ') }
      }
      return { name, kind: 'native', detail: found.filter((a) => !synthesised.includes(a)).join(', ') }
    } else if (step.action !== 'wait') {
      break
    }
  }
  return { name, kind: 'error', detail: 'no answer' }
}

/** `host:port` or `[v6]:port` (port default 53). */
function parseServer(text) {
  const m = /^\[(.+)\](?::(\d+))?$/.exec(text) || /^([^:]+)(?::(\d+))?$/.exec(text) || [text, text]
  return { address: sg.canonical(m[1]), port: m[2] ? Number(m[2]) : 53 }
}

function resolvConfServer() {
  const text = fs.readFileSync('/etc/resolv.conf', 'utf8')
  const m = /^\s*nameserver\s+(\S+)/m.exec(text)
  if (!m) throw new Error('no nameserver in /etc/resolv.conf: give --server')
  return { address: sg.canonical(m[1].replace(/%.*/, '')), port: 53 }
}

async function main(argv, out = console.log) {
  let prefix = '64:ff9b::/96'
  let server = null
  const names = []
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--prefix') prefix = argv[++i]
    else if (argv[i] === '--server') server = parseServer(argv[++i])
    else names.push(argv[i])
  }
  if (names.length === 0) throw new Error('usage: node synthesis-check.js [--prefix P] [--server ADDR[:PORT]] NAME...')
  const config = new sg.Dns64Config({ prefixes: [prefix] })
  const results = []
  for (const name of names) {
    const r = await check(name, config, config.prefixes, server || resolvConfServer())
    out(`${r.name.padEnd(28)} ${r.kind.padEnd(12)} ${r.detail}`)
    results.push(r)
  }
  return results
}

/** A DNS server on 127.0.0.1 for a fixed zone (documentation addresses). */
function zoneServer() {
  const zone = {
    'registry.npmjs.test': { [A]: [[192, 0, 2, 34]] },
    'dual.example.test': { [A]: [[192, 0, 2, 10]], [AAAA]: ['2001:db8::10'] },
    'mapped.example.test': { [A]: [[192, 0, 2, 5]], [AAAA]: ['::ffff:192.0.2.5'] },
    'v6only.example.test': { [AAAA]: ['2001:db8::6'] },
  }
  const sock = dgram.createSocket('udp4')
  sock.on('message', (q, peer) => {
    const end = skipName(q, 12)
    const labels = []
    for (let off = 12; q[off] !== 0; off += q[off] + 1) labels.push(q.subarray(off + 1, off + 1 + q[off]).toString())
    const name = labels.join('.').toLowerCase()
    const qtype = q.readUInt16BE(end)
    const rrs = ((zone[name] || {})[qtype] || []).map((rd) => {
      const data = typeof rd === 'string' ? Buffer.from(sg.ptrName(rd).split('.').slice(0, 32).reverse().join(''), 'hex') : Buffer.from(rd)
      const rr = Buffer.alloc(12)
      rr.writeUInt16BE(0xc00c, 0)
      rr.writeUInt16BE(qtype, 2)
      rr.writeUInt16BE(1, 4)
      rr.writeUInt32BE(300, 6)
      rr.writeUInt16BE(data.length, 10)
      return Buffer.concat([rr, data])
    })
    const h = Buffer.from(q.subarray(0, 12))
    h.writeUInt16BE(0x8180 | (name in zone ? 0 : 3), 2)
    h.writeUInt16BE(rrs.length, 6)
    h.writeUInt16BE(0, 10) // the client's OPT is not echoed: no EDNS here
    sock.send(Buffer.concat([h, q.subarray(12, end + 4), ...rrs]), peer.port, peer.address)
  })
  return new Promise((resolve) => sock.bind(0, '127.0.0.1', () => resolve(sock)))
}

async function selfTest() {
  const assert = require('node:assert/strict')
  const server = await zoneServer()
  try {
    const lines = []
    const results = await main(
      ['--prefix', '2001:db8:64::/96', '--server', `127.0.0.1:${server.address().port}`,
        'registry.npmjs.test', 'dual.example.test', 'mapped.example.test', 'v6only.example.test', 'missing.example.test'],
      (l) => lines.push(l),
    )
    const by = Object.fromEntries(results.map((r) => [r.name, r]))
    assert.deepEqual(by['registry.npmjs.test'], { name: 'registry.npmjs.test', kind: 'synthesised', detail: '2001:db8:64::c000:222 (from 192.0.2.34)' })
    assert.deepEqual(by['dual.example.test'], { name: 'dual.example.test', kind: 'native', detail: '2001:db8::10' })
    // An IPv4-mapped AAAA is excluded (RFC 6147 §5.1.4): synthesised from the A.
    assert.equal(by['mapped.example.test'].kind, 'synthesised')
    assert.equal(by['v6only.example.test'].detail, '2001:db8::6')
    assert.deepEqual(by['missing.example.test'], { name: 'missing.example.test', kind: 'error', detail: 'NXDOMAIN' })
    assert.equal(lines.length, 5)
    console.log(lines.join('\n'))
    console.log('synthesis-check.js: self-test passed')
  } finally {
    server.close()
  }
}

if (require.main === module) {
  const run = process.argv[2] === '--self-test' ? selfTest() : main(process.argv.slice(2))
  run.catch((e) => {
    console.error(`synthesis-check.js: ${e.message}`)
    process.exit(1)
  })
}
