// Type-checked (never run) by `tsc -p test/types`: code a panel author
// writes against index.d.ts. The @ts-expect-error lines are calls the
// types must refuse; tsc fails if any of them type-checks.
import * as sg from '../../index.js'

const prefix: sg.Nat64Prefix = new sg.Nat64Prefix('64:ff9b::/96')
const len: number = prefix.prefixLen
const wk: boolean = sg.Nat64Prefix.wellKnown().isWellKnown
const v6: string = sg.synthesize('192.0.2.1', { prefix, allowNonGlobal: true })
const v4: string = sg.extract(v6, { prefix: '64:ff9b::/96' })
const found: sg.Nat64Prefix[] = sg.discover(prefix.ipv4onlyAnswers())
const range: sg.NonGlobalRange | null = sg.nonGlobalRange('10.0.0.1')
const rangeName: string | undefined = range?.name
const norm: string = sg.normalize('::ffff:192.0.2.1', { nat64Prefixes: [prefix, '64:ff9b:1::/48'] })
const line: string = sg.formatAddress('nginx', '2001:db8::1', { port: 443 })
const styles: string[] = sg.styles()

const owners = new sg.HostIndex({ nat64Prefixes: ['64:ff9b::/96'] })
owners.set('192.0.2.0/24', { customer: 42 })
const hit: sg.HostEntry | null = owners.lookup('::ffff:192.0.2.7')
const net: string | undefined = hit?.network
const size: number = owners.size

const hello = sg.readClientHello(Buffer.alloc(0))
if (hello !== null && !('needMore' in hello)) {
  const sni: string | null = hello.serverName
  const kind: 'hostName' | 'ipLiteral' | 'invalid' | 'absent' = hello.serverNameKind
  const alpn: Buffer[] = hello.alpn
  void [sni, kind, alpn]
} else if (hello !== null) {
  const more: number = hello.needMore
  void more
}
const head = sg.readRequestHead(new Uint8Array(0), { maxHead: 8192 })
if (!('needMore' in head)) {
  const host: string | null = head.authority?.hostName ?? null
  const form: 'origin' | 'absolute' | 'authority' | 'asterisk' = head.form
  void [host, form]
}
const wire: Buffer = sg.encodeProxyHeader(
  { command: 'proxy', source: { address: '192.0.2.1', port: 1 }, destination: { address: '::1', port: 2 } },
  { version: 2 },
)
const decoded = sg.decodeProxyHeader(wire)
if (decoded !== null && !('needMore' in decoded)) {
  const version: 1 | 2 = decoded.version
  const src: sg.SocketAddress | null = decoded.header.source
  // What decode returns is what encode takes.
  sg.encodeProxyHeader(decoded.header)
  void [version, src]
}

const config = new sg.Dns64Config({ prefixes: ['2001:db8:64::/96'], extendedError: true })
const r = new sg.Dns64Resolution(Buffer.alloc(12), config)
const step: sg.Dns64Step = r.poll()
const action: 'upstream' | 'respond' | 'forward' | 'wait' | 'done' = step.action
const answer: Buffer | null = sg.resolve(Buffer.alloc(12), (m: Buffer) => m, config)
const err: Buffer | null = sg.errorReply(Buffer.alloc(12), 2)

const plan = sg.Plan.load('plan.json')
const pool: sg.Pool = plan.addPool('2001:db8::/32', { childLen: 48, strategy: 'sparse', name: 'provider' })
const free: bigint = pool.usage.free
const site: string = plan.alloc('provider', { now: Date.now() / 1000, customer: '42', tags: ['web'] })
const steps: sg.Step[] = plan.lookup('::ffff:192.0.2.1', { nat64Prefixes: ['64:ff9b::/96'] })
const status: 'allocated' | 'reserved' | 'held' | 'free' | undefined = steps[0]?.status
const records: sg.DnsRecord[] = plan.ptrRecords({ within: '2001:db8::/32' })
const edited: string = sg.Plan.edit('plan.json', (p) => p.alloc(site, { now: 0 }), { wait: 500 })

// @ts-expect-error `now` is required: a plan outlives processes, the caller says when
plan.alloc('provider', { customer: '42' })
// @ts-expect-error an unknown strategy
plan.addPool('2001:db8::/32', { childLen: 48, strategy: 'best-fit' })
// @ts-expect-error addresses are strings, not numbers
sg.synthesize(3232235521)
// @ts-expect-error options are objects
sg.synthesize('192.0.2.1', '64:ff9b::/96')
// @ts-expect-error unknown option
sg.synthesize('192.0.2.1', { prefx: '64:ff9b::/96' })
// @ts-expect-error the PROXY command is one of three
sg.encodeProxyHeader({ command: 'pass' })
// @ts-expect-error version 1 or 2
sg.encodeProxyHeader({ command: 'local' }, { version: 3 })
// @ts-expect-error prefixLen is read-only
prefix.prefixLen = 64

void [free, status, records, edited, len, wk, v4, found, rangeName, norm, line, styles, net, size, action, answer, err]
