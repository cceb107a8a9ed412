// The guard that keeps webhooks from becoming a way into our own network
// (server-side request forgery). A URL is checked when it is saved, and every
// delivery checks again the address it actually connects to: the HTTP request
// resolves the host through `guardedLookup`, so a name that resolved to a
// public address when saved and to 10.0.0.1 now (DNS rebinding) is refused.
//
// Refused: loopback, private (RFC 1918, fc00::/7), link-local, CGNAT,
// "this network", multicast, reserved and documentation ranges, IPv4-mapped
// or translated IPv6 forms of those, and cloud metadata services. The
// setting WEBHOOK_ALLOW_PRIVATE=true lifts the address check (and the https
// requirement in production), never the metadata refusal.
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { BlockList, isIP } from 'node:net';
import type { Config } from '../config.js';

const blocked = new BlockList();
for (const [net, bits] of [
  ['0.0.0.0', 8], // "this network"
  ['10.0.0.0', 8],
  ['100.64.0.0', 10], // carrier-grade NAT
  ['127.0.0.0', 8],
  ['169.254.0.0', 16], // link-local, cloud metadata
  ['172.16.0.0', 12],
  ['192.0.0.0', 24], // IETF protocol assignments
  ['192.0.2.0', 24], // documentation
  ['192.88.99.0', 24], // 6to4 relay
  ['192.168.0.0', 16],
  ['198.18.0.0', 15], // benchmarking
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, broadcast
] as const) {
  blocked.addSubnet(net, bits, 'ipv4');
}
for (const [net, bits] of [
  ['::', 96], // unspecified, loopback (::1) and IPv4-compatible forms
  ['::ffff:0:0:0', 96], // IPv4-translated (SIIT)
  ['64:ff9b::', 96], // NAT64: reaches IPv4 addresses
  ['64:ff9b:1::', 48],
  ['100::', 64], // discard
  ['2001::', 32], // Teredo
  ['2001:db8::', 32], // documentation
  ['2002::', 16], // 6to4: embeds an IPv4 address
  ['fc00::', 7], // unique local (fd00:ec2::254, AWS metadata, is in here)
  ['fe80::', 10], // link-local
  ['fec0::', 10], // site-local (deprecated)
  ['ff00::', 8], // multicast
] as const) {
  blocked.addSubnet(net, bits, 'ipv6');
}

/** Never a webhook target, whatever the settings: the cloud's instance metadata services. */
const METADATA_ADDRESSES = new Set(['169.254.169.254', 'fd00:ec2::254', '100.100.100.200']);
const METADATA_HOSTS = new Set(['metadata.google.internal', 'metadata.goog', 'metadata']);

/** The eight 16-bit groups of an IPv6 address (with an embedded dotted IPv4 tail, if any). */
function ipv6Groups(address: string): number[] | undefined {
  let a = address.toLowerCase().replace(/%.*$/, '');
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(a);
  if (v4) {
    const [p, q, r, s] = v4[1].split('.').map(Number);
    a = `${a.slice(0, -v4[1].length)}${((p << 8) | q).toString(16)}:${((r << 8) | s).toString(16)}`;
  }
  const [head, tail] = a.split('::');
  const parts = (x: string | undefined) => (x ? x.split(':').map((h) => parseInt(h, 16)) : []);
  const h = parts(head);
  const t = parts(tail);
  const groups = a.includes('::') ? [...h, ...Array(8 - h.length - t.length).fill(0), ...t] : h;
  return groups.length === 8 && groups.every((g) => Number.isInteger(g) && g >= 0 && g <= 0xffff) ? groups : undefined;
}

const dotted = (hi: number, lo: number) => [hi >> 8, hi & 255, lo >> 8, lo & 255].join('.');

/** The IPv4 address an IPv4-mapped (::ffff:a.b.c.d) or IPv4-translated (::ffff:0:a.b.c.d) IPv6 address stands for. */
function mappedIpv4(address: string): string | undefined {
  const g = ipv6Groups(address);
  if (!g) return undefined;
  if (g.slice(0, 5).every((x) => x === 0) && g[5] === 0xffff) return dotted(g[6], g[7]);
  if (g.slice(0, 4).every((x) => x === 0) && g[4] === 0xffff && g[5] === 0) return dotted(g[6], g[7]);
  return undefined;
}

/** The IPv4 address a NAT64 (64:ff9b::a.b.c.d) or 6to4 (2002:aabb:ccdd::) address leads to. */
function tunnelledIpv4(address: string): string | undefined {
  const g = ipv6Groups(address);
  if (!g) return undefined;
  if (g[0] === 0x64 && g[1] === 0xff9b && g.slice(2, 6).every((x) => x === 0)) return dotted(g[6], g[7]);
  if (g[0] === 0x2002) return dotted(g[1], g[2]);
  return undefined;
}

/** Why this address must not be called, or undefined when it may. */
export function refusedAddress(address: string, allowPrivate: boolean): string | undefined {
  const family = isIP(address);
  if (family === 0) return `${address} is not an IP address`;
  const mapped = family === 6 ? mappedIpv4(address) : undefined;
  if (mapped) return refusedAddress(mapped, allowPrivate);
  const normal = family === 6 ? (ipv6Groups(address) ?? []).map((g) => g.toString(16)).join(':') : address;
  const tunnelled = family === 6 ? tunnelledIpv4(address) : undefined;
  if (METADATA_ADDRESSES.has(address) || (tunnelled && METADATA_ADDRESSES.has(tunnelled)) || normal === 'fd00:ec2:0:0:0:0:0:254') {
    return `${address} is a cloud metadata address`;
  }
  if (allowPrivate) return undefined;
  if (blocked.check(address, family === 6 ? 'ipv6' : 'ipv4')) return `${address} is a private, loopback, link-local or reserved address`;
  return undefined;
}

export class RefusedUrl extends Error {
  constructor(readonly reason: string) {
    super(reason);
  }
}

type Resolve = (host: string) => Promise<string[]>;

const resolveAll: Resolve = (host) =>
  new Promise((resolve, reject) => dnsLookup(host, { all: true, verbatim: true }, (err, addresses) => (err ? reject(err) : resolve(addresses.map((a) => a.address)))));

/** The host as a lookup takes it: brackets dropped from an IPv6 literal, a trailing dot dropped from a name. */
const bareHost = (url: URL) =>
  url.hostname
    .replace(/^\[(.*)\]$/, '$1')
    .replace(/\.$/, '')
    .toLowerCase();

/**
 * Checks a webhook URL: http(s) without credentials, https in production (unless private targets are allowed),
 * not a metadata host, and every address its host resolves to allowed. Resolves to the URL, or throws RefusedUrl
 * saying why (in words a person can act on).
 */
export async function checkWebhookUrl(raw: string, config: Pick<Config, 'NODE_ENV' | 'WEBHOOK_ALLOW_PRIVATE'>, resolve: Resolve = resolveAll): Promise<URL> {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new RefusedUrl('must be a full web address, such as https://example.com/hooks');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new RefusedUrl('must start with https:// (or http://)');
  if (url.username || url.password) throw new RefusedUrl('must not contain a user name or password');
  if (url.protocol === 'http:' && config.NODE_ENV === 'production' && !config.WEBHOOK_ALLOW_PRIVATE) throw new RefusedUrl('must use https://');
  const host = bareHost(url);
  if (METADATA_HOSTS.has(host)) throw new RefusedUrl(`${host} is a cloud metadata service`);
  let addresses: string[];
  if (isIP(host)) addresses = [host];
  else {
    try {
      addresses = await resolve(host);
    } catch {
      throw new RefusedUrl(`${host} could not be resolved`);
    }
  }
  if (addresses.length === 0) throw new RefusedUrl(`${host} could not be resolved`);
  for (const address of addresses) {
    const why = refusedAddress(address, config.WEBHOOK_ALLOW_PRIVATE);
    if (why) throw new RefusedUrl(`${host} is not allowed: ${why}`);
  }
  return url;
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/**
 * A `lookup` for http.request that refuses what checkWebhookUrl refuses, on the addresses the request will
 * actually connect to (so a name cannot resolve to a public address when saved and a private one when sent).
 */
export function guardedLookup(allowPrivate: boolean) {
  return (hostname: string, options: { all?: boolean; family?: number | string }, callback: LookupCallback): void => {
    dnsLookup(hostname, { all: true, verbatim: true, family: typeof options.family === 'number' ? options.family : undefined }, (err, addresses) => {
      if (err) return callback(err, []);
      for (const a of addresses) {
        const why = refusedAddress(a.address, allowPrivate);
        if (why) return callback(Object.assign(new RefusedUrl(`refused: ${why}`), { code: 'EREFUSEDADDRESS' }), []);
      }
      if (addresses.length === 0) return callback(Object.assign(new Error(`${hostname} could not be resolved`), { code: 'ENOTFOUND' }), []);
      if (options.all) return callback(null, addresses);
      return callback(null, addresses[0].address, addresses[0].family);
    });
  };
}
