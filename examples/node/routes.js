#!/usr/bin/env node
'use strict'
// Writes the `sixgate proxy` config (listeners and one [[route]] per site)
// from a small JSON of customer sites, the way a Node panel would.
//
//   node routes.js sites.json > /etc/sixgate/proxy.toml
//   node routes.js --self-test        (checks the output with `sixgate proxy --check`)
//
// Every backend must lie inside its customer's prefix (a HostIndex of the
// customers' prefixes says whose an address is), a name may belong to one
// site only, and addresses are written with sixgate's own formatter, so
// `[2001:db8:1::10]:8443` is never written as the ambiguous
// `2001:db8:1::10:8443`.
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { execFileSync } = require('node:child_process')

const sg = require('../../bindings-node/index.js')

/** The TOML text for `sites` (the parsed JSON); throws on a bad site. */
function routesToml(sites) {
  const owners = new sg.HostIndex()
  for (const c of sites.customers) owners.set(c.prefix, c.id)
  const seen = new Map()
  const out = ['# Written by examples/node/routes.js: sites of ' + sites.customers.length + ' customers.', '']
  for (const [mode, listen] of Object.entries(sites.listen)) {
    out.push('[[listener]]', `name = ${q(mode)}`, `mode = ${q(mode)}`, `listen = [${listen.map(q).join(', ')}]`, '')
  }
  for (const c of sites.customers) {
    for (const site of c.sites) {
      const backend = sg.canonical(site.backend)
      const owner = owners.owner(backend)
      if (owner !== c.id) {
        throw new Error(`${c.id}: backend ${backend} is not in ${c.prefix}` + (owner ? ` (it is ${owner}'s)` : ''))
      }
      for (const name of site.names) {
        const key = name.toLowerCase()
        if (seen.has(key)) throw new Error(`${c.id}: ${name} is already ${seen.get(key)}'s`)
        seen.set(key, c.id)
      }
      const written = site.port === undefined ? sg.formatAddress('url', backend) : sg.hostPort(backend, site.port)
      out.push(`# ${c.id}`, '[[route]]', `names = [${site.names.map(q).join(', ')}]`, `backends = [${q(written)}]`)
      if (site.proxyProtocol) out.push(`proxy_protocol = ${q(site.proxyProtocol)}`)
      out.push('')
    }
  }
  return out.join('\n')
}

/** A TOML basic string (JSON's escapes are TOML's). */
function q(s) {
  return JSON.stringify(String(s))
}

function selfTest() {
  const assert = require('node:assert/strict')
  const sixgate = process.env.SIXGATE || path.join(__dirname, '..', '..', 'target', 'debug', 'sixgate')
  if (!fs.existsSync(sixgate)) throw new Error(`${sixgate} is missing: build it with 'cargo build'`)
  const sites = JSON.parse(fs.readFileSync(path.join(__dirname, 'sites.json'), 'utf8'))
  const toml = routesToml(sites)
  assert.match(toml, /backends = \["\[2001:db8:1::10\]"\]/)
  assert.match(toml, /backends = \["\[2001:db8:2::21\]:8443"\]/)
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sixgate-routes-'))
  try {
    const file = path.join(dir, 'proxy.toml')
    fs.writeFileSync(file, toml)
    const report = execFileSync(sixgate, ['proxy', '--check', '--config', file], { encoding: 'utf8' })
    assert.match(report, /: ok/)
    assert.match(report, /listener tls \(tls\) on 0\.0\.0\.0:443, \[::\]:443: 4 names/)
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
  // A backend outside the customer's prefix, and a name taken twice, are refused.
  const stray = structuredClone(sites)
  stray.customers[0].sites[0].backend = '2001:db8:2::99'
  assert.throws(() => routesToml(stray), /alice: backend 2001:db8:2::99 is not in 2001:db8:1::\/64 \(it is bob's\)/)
  const twice = structuredClone(sites)
  twice.customers[1].sites[0].names.push('ALICE.example')
  assert.throws(() => routesToml(twice), /ALICE.example is already alice's/)
  console.log('routes.js: self-test passed')
}

if (require.main === module) {
  const arg = process.argv[2]
  if (arg === '--self-test') {
    selfTest()
  } else if (arg) {
    process.stdout.write(routesToml(JSON.parse(fs.readFileSync(arg, 'utf8'))))
  } else {
    console.error('usage: node routes.js SITES.json | --self-test')
    process.exit(2)
  }
}

module.exports = { routesToml }
