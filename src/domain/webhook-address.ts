/**
 * Which addresses a merchant's webhook URL may reach: pure rules, no I/O. Used when an endpoint is
 * registered (its URL's host) and at every delivery (each address its name resolves to, right
 * before the connection is made to exactly that address).
 *
 * The rule is an allow-list, not a list of bad ranges: only what ipaddr.js classifies as `unicast`
 * (globally routable) is allowed. Every other class it knows is refused: loopback, private,
 * carrier-grade NAT, link-local (cloud metadata at 169.254.169.254), multicast, broadcast,
 * unspecified, the documentation and benchmarking ranges, reserved, unique-local, discard-only
 * (100::/64), Teredo, ORCHID, and so on. IPv6 forms that carry an IPv4 address inside
 * (IPv4-mapped ::ffff:a.b.c.d, IPv4-compatible ::a.b.c.d, 6to4 2002:AABB:CCDD::/48, NAT64
 * 64:ff9b::/96) are judged by that embedded IPv4 address: `[::ffff:7f00:1]`, `[::127.0.0.1]` and
 * `[2002:7f00:1::]` all reach 127.0.0.1 somewhere and are refused like it.
 */
import ipaddr from 'ipaddr.js';

export type AddressVerdict =
  | { allowed: true; address: string }
  | { allowed: false; address: string; range: string };

type IPv4 = ipaddr.IPv4;
type IPv6 = ipaddr.IPv6;

/** The IPv4 address an IPv6 form carries, if it is one of the forms that embed one. */
export function embeddedIPv4(address: IPv6): IPv4 | undefined {
  const [p0, p1, p2, p3, p4, p5, p6, p7] = address.parts as [number, number, number, number, number, number, number, number];
  const fromParts = (high: number, low: number) => new ipaddr.IPv4([high >> 8, high & 0xff, low >> 8, low & 0xff]);
  if (address.isIPv4MappedAddress()) return address.toIPv4Address();
  // 6to4 (RFC 3056): 2002:AABB:CCDD::/48 is the site behind IPv4 AA.BB.CC.DD.
  if (address.range() === '6to4') return fromParts(p1, p2);
  // NAT64 well-known prefix (RFC 6052): 64:ff9b::/96 + IPv4.
  if (p0 === 0x64 && p1 === 0xff9b && p2 === 0 && p3 === 0 && p4 === 0 && p5 === 0) return fromParts(p6, p7);
  // IPv4-compatible (deprecated, RFC 4291 2.5.5.1): ::a.b.c.d. `::` and `::1` land here too and
  // come out as 0.0.0.0 and 0.0.0.1: unspecified, refused, as they should be.
  if (p0 === 0 && p1 === 0 && p2 === 0 && p3 === 0 && p4 === 0 && p5 === 0) return fromParts(p6, p7);
  return undefined;
}

/** Judges one IP address (IPv4 or IPv6, without brackets). Anything that does not parse is refused. */
export function classifyAddress(raw: string): AddressVerdict {
  let parsed: IPv4 | IPv6;
  try {
    parsed = ipaddr.parse(raw);
  } catch {
    return { allowed: false, address: raw, range: 'invalid' };
  }
  if (parsed.kind() === 'ipv6') {
    const own = parsed.range();
    // `::1` and `::` also have the IPv4-compatible shape; they are named for what they are.
    if (own === 'loopback' || own === 'unspecified') return { allowed: false, address: raw, range: own };
    const inner = embeddedIPv4(parsed as IPv6);
    if (inner) {
      const range = inner.range();
      return range === 'unicast' ? { allowed: true, address: raw } : { allowed: false, address: raw, range: `${range} (embedded ${inner.toString()})` };
    }
  }
  const range = parsed.range();
  return range === 'unicast' ? { allowed: true, address: raw } : { allowed: false, address: raw, range };
}

export function isPublicAddress(raw: string): boolean {
  return classifyAddress(raw).allowed;
}

/** Is this host (as `URL.hostname` gives it) an IP literal? Brackets of IPv6 literals removed. */
export function ipLiteral(hostname: string): string | undefined {
  const bare = hostname.replace(/^\[(.*)\]$/, '$1');
  return ipaddr.isValid(bare) ? bare : undefined;
}

/** Names every resolver maps to loopback, with or without the root's trailing dot (RFC 6761). */
export function isLocalhostName(hostname: string): boolean {
  const name = hostname.toLowerCase().replace(/\.+$/, '');
  return name === 'localhost' || name.endsWith('.localhost');
}

export type UrlVerdict = { allowed: true } | { allowed: false; reason: string };

/**
 * What can be told about a webhook URL without resolving it: an IP literal must be public, a
 * localhost name is refused, and port 0 (no service can listen there; some stacks treat it as
 * "any") is refused. A name that resolves to a private address is caught at delivery, where the
 * resolved address is checked and pinned.
 */
export function checkUrlTarget(url: URL): UrlVerdict {
  if (url.port === '0') return { allowed: false, reason: 'port 0 cannot receive webhooks' };
  if (isLocalhostName(url.hostname)) return { allowed: false, reason: `${url.hostname} is a loopback name` };
  const literal = ipLiteral(url.hostname);
  if (literal !== undefined) {
    const verdict = classifyAddress(literal);
    if (!verdict.allowed) return { allowed: false, reason: `${literal} is not a public address (${verdict.range})` };
  }
  return { allowed: true };
}
