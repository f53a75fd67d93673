/**
 * The rate-limit key of requests without a usable `CF-Connecting-IP`. Cloudflare always sets
 * the header in production, so this shows up only in local runs and tests, where all such
 * requests share one bucket (and the widget's aggregate cap still applies).
 */
export const UNKNOWN_IP_KEY = "unknown";

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;
const HEXTET = /^[0-9a-f]{1,4}$/;

/**
 * The rate-limit identity of the client: its IPv4 address, or the /64 of its IPv6 address
 * (one subscriber usually holds a whole /64), from `CF-Connecting-IP`.
 *
 * - IPv4: dotted quad without leading zeros, e.g. `203.0.113.7`.
 * - IPv6: the first four hextets, zero-padded and lowercased, e.g. `2001:0db8:0000:0001::/64`;
 *   IPv4-mapped addresses (`::ffff:203.0.113.7`) count as their IPv4 address.
 * - Missing or malformed header: {@link UNKNOWN_IP_KEY}.
 */
export function clientIpKey(request: Request): string {
  const raw = request.headers.get("CF-Connecting-IP")?.trim();
  if (!raw) return UNKNOWN_IP_KEY;
  if (raw.includes(":")) {
    const hextets = parseIpv6(raw);
    if (!hextets) return UNKNOWN_IP_KEY;
    if (isIpv4Mapped(hextets)) {
      const [high = 0, low = 0] = hextets.slice(6);
      return [high >> 8, high & 0xff, low >> 8, low & 0xff].join(".");
    }
    return `${hextets
      .slice(0, 4)
      .map((hextet) => hextet.toString(16).padStart(4, "0"))
      .join(":")}::/64`;
  }
  return normaliseIpv4(raw) ?? UNKNOWN_IP_KEY;
}

function normaliseIpv4(text: string): string | null {
  const match = IPV4.exec(text);
  if (!match) return null;
  const octets = match.slice(1).map(Number);
  return octets.every((octet) => octet <= 255) ? octets.join(".") : null;
}

/** The eight 16-bit groups of an IPv6 address (RFC 4291 §2.2 text forms), or null. */
function parseIpv6(text: string): number[] | null {
  // A zone index (`fe80::1%eth0`) names a local interface, not part of the address.
  const address = text.split("%", 1)[0]!.toLowerCase();
  const halves = address.split("::");
  if (halves.length > 2) return null;
  const head = parseGroups(halves[0]!);
  const tail = halves.length === 2 ? parseGroups(halves[1]!) : [];
  if (!head || !tail) return null;
  if (halves.length === 1) return head.length === 8 ? head : null;
  const missing = 8 - head.length - tail.length;
  return missing >= 1 ? [...head, ...new Array<number>(missing).fill(0), ...tail] : null;
}

/** Colon-separated hextets; the last may be a dotted IPv4 tail (two groups). */
function parseGroups(text: string): number[] | null {
  if (text === "") return [];
  const parts = text.split(":");
  const groups: number[] = [];
  for (const [index, part] of parts.entries()) {
    if (index === parts.length - 1 && part.includes(".")) {
      const ipv4 = normaliseIpv4(part);
      if (!ipv4) return null;
      const [a = 0, b = 0, c = 0, d = 0] = ipv4.split(".").map(Number);
      groups.push((a << 8) | b, (c << 8) | d);
    } else if (HEXTET.test(part)) {
      groups.push(Number.parseInt(part, 16));
    } else {
      return null;
    }
  }
  return groups;
}

/** `::ffff:0:0/96` (RFC 4291 §2.5.5.2). */
function isIpv4Mapped(hextets: number[]): boolean {
  return hextets.slice(0, 5).every((hextet) => hextet === 0) && hextets[5] === 0xffff;
}
