// A small writer of MaxMind DB (.mmdb) files, so tests build City databases with known networks
// instead of downloading GeoLite2. Follows the MaxMind DB format spec v2.0: a binary search tree
// of 24-bit records over 128-bit addresses (IPv4 lives at ::/96), 16 zero bytes, the data
// section, then the metadata map after the "\xAB\xCD\xEFMaxMind.com" marker.
import { isIPv4, isIPv6 } from 'node:net';

type Value = string | number | boolean | Value[] | { [key: string]: Value };

interface TrieNode {
  children: [TrieNode | Leaf | undefined, TrieNode | Leaf | undefined];
}
interface Leaf {
  data: Value;
}

export interface MmdbOptions {
  databaseType?: string;
  buildEpoch?: number;
}

/** Builds a database from CIDR networks ("1.2.3.0/24", "2001:db8::/32") to records. */
export function writeMmdb(networks: Record<string, Value>, options: MmdbOptions = {}): Buffer {
  const root: TrieNode = { children: [undefined, undefined] };
  for (const [cidr, data] of Object.entries(networks)) insert(root, cidr, { data });

  // Number the nodes breadth-first; encode each distinct record once.
  const nodes: TrieNode[] = [];
  const queue: TrieNode[] = [root];
  while (queue.length > 0) {
    const node = queue.shift()!;
    nodes.push(node);
    for (const child of node.children) if (child !== undefined && 'children' in child) queue.push(child);
  }
  const index = new Map(nodes.map((n, i) => [n, i]));
  const dataParts: Buffer[] = [];
  const dataOffsets = new Map<string, number>();
  let dataSize = 0;
  const dataOffset = (value: Value): number => {
    const key = JSON.stringify(value);
    let offset = dataOffsets.get(key);
    if (offset === undefined) {
      const encoded = encode(value);
      offset = dataSize;
      dataOffsets.set(key, offset);
      dataParts.push(encoded);
      dataSize += encoded.length;
    }
    return offset;
  };

  const nodeCount = nodes.length;
  const tree = Buffer.alloc(nodeCount * 6);
  nodes.forEach((node, i) => {
    node.children.forEach((child, bit) => {
      let record = nodeCount; // "no data"
      if (child !== undefined) record = 'children' in child ? index.get(child)! : nodeCount + 16 + dataOffset(child.data);
      tree.writeUIntBE(record, i * 6 + bit * 3, 3);
    });
  });

  const metadata = encode({
    node_count: nodeCount,
    record_size: 24,
    ip_version: 6,
    database_type: options.databaseType ?? 'GeoLite2-City',
    languages: ['en'],
    binary_format_major_version: 2,
    binary_format_minor_version: 0,
    build_epoch: options.buildEpoch ?? Math.floor(Date.now() / 1000),
    description: { en: 'Lean Capture test database' },
  });
  return Buffer.concat([tree, Buffer.alloc(16), ...dataParts, Buffer.from('abcdef4d61784d696e642e636f6d', 'hex'), metadata]);
}

function insert(root: TrieNode, cidr: string, leaf: Leaf): void {
  const [address, prefixText] = cidr.split('/');
  const bits = addressBits(address!);
  const prefix = Number(prefixText) + (isIPv4(address!) ? 96 : 0);
  let node = root;
  for (let depth = 0; depth < prefix - 1; depth++) {
    const bit = bits[depth]!;
    let next = node.children[bit];
    if (next === undefined || !('children' in next)) {
      next = { children: [next, next] }; // split a wider network, keeping its data on both sides
      node.children[bit] = next;
    }
    node = next;
  }
  node.children[bits[prefix - 1]!] = leaf;
}

function addressBits(address: string): number[] {
  let bytes: number[];
  if (isIPv4(address)) {
    bytes = [...new Array(12).fill(0), ...address.split('.').map(Number)];
  } else if (isIPv6(address)) {
    const [head, tail] = address.split('::') as [string, string | undefined];
    const h = head ? head.split(':') : [];
    const t = tail ? tail.split(':') : [];
    const groups = [...h, ...new Array(8 - h.length - t.length).fill('0'), ...t].map((g) => parseInt(g || '0', 16));
    bytes = groups.flatMap((g) => [g >> 8, g & 255]);
  } else {
    throw new Error(`not an IP address: ${address}`);
  }
  return bytes.flatMap((byte) => [7, 6, 5, 4, 3, 2, 1, 0].map((shift) => (byte >> shift) & 1));
}

// Data section types (spec "Output Data Section"): 2 string, 3 double, 5 uint16, 6 uint32,
// 7 map; extended (type 0 + next byte = type - 7): 9 uint64, 11 array, 14 boolean.
function encode(value: Value): Buffer {
  if (typeof value === 'string') {
    const bytes = Buffer.from(value, 'utf8');
    return Buffer.concat([control(2, bytes.length), bytes]);
  }
  if (typeof value === 'boolean') return control(14, value ? 1 : 0);
  if (typeof value === 'number') {
    if (Number.isInteger(value) && value >= 0) {
      const bytes = unsigned(BigInt(value));
      return Buffer.concat([control(value < 2 ** 32 ? 6 : 9, bytes.length), bytes]);
    }
    const bytes = Buffer.alloc(8);
    bytes.writeDoubleBE(value);
    return Buffer.concat([control(3, 8), bytes]);
  }
  if (Array.isArray(value)) return Buffer.concat([control(11, value.length), ...value.map(encode)]);
  const entries = Object.entries(value);
  return Buffer.concat([control(7, entries.length), ...entries.flatMap(([k, v]) => [encode(k), encode(v)])]);
}

function control(type: number, size: number): Buffer {
  let sizeBits: number;
  let extra: number[] = [];
  if (size < 29) sizeBits = size;
  else if (size < 285) [sizeBits, extra] = [29, [size - 29]];
  else if (size < 65821) [sizeBits, extra] = [30, [(size - 285) >> 8, (size - 285) & 255]];
  else [sizeBits, extra] = [31, [(size - 65821) >> 16, ((size - 65821) >> 8) & 255, (size - 65821) & 255]];
  const head = type <= 7 ? [(type << 5) | sizeBits] : [sizeBits, type - 7];
  return Buffer.from([...head, ...extra]);
}

function unsigned(n: bigint): Buffer {
  const bytes: number[] = [];
  while (n > 0n) {
    bytes.unshift(Number(n & 255n));
    n >>= 8n;
  }
  return Buffer.from(bytes);
}

/** A City-schema record as GeoLite2 City has it (the fields Lean Capture reads, and a few more). */
export function cityRecord(country: string, region: string, city: string): Value {
  return {
    city: { geoname_id: 1, names: { en: city } },
    country: { geoname_id: 2, iso_code: country, names: { en: country } },
    subdivisions: [{ geoname_id: 3, iso_code: region.slice(0, 2).toUpperCase(), names: { en: region } }],
    location: { latitude: 41.0082, longitude: 28.9784, time_zone: 'Europe/Istanbul', accuracy_radius: 20 },
  };
}
