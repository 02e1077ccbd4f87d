// The folder graph of src/ as docs/architecture.md writes it down, checked against the import
// lines: no folder imports one it may not, no import cycle between folders or between files, and
// only src/db/ touches SQLite.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const SRC = join(ROOT, 'src');

/** Every .ts file under src/, relative to it. */
function sources(dir = SRC): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [relative(SRC, join(dir, e.name))] : []));
}

/** Static imports, re-exports and dynamic imports of a file: relative ones resolved to src/ paths, packages by name. */
function importsOf(file: string): { local: string[]; packages: string[] } {
  const text = readFileSync(join(SRC, file), 'utf8');
  const specifiers = [...text.matchAll(/(?:^|\n)\s*(?:import|export)\b[^'";]*?\bfrom\s*'([^']+)'|(?:^|\n)\s*import\s*'([^']+)'|\bimport\(\s*'([^']+)'\s*\)/g)].map((m) => m[1] ?? m[2] ?? m[3]!);
  return {
    local: specifiers.filter((s) => s.startsWith('.')).map((s) => relative(SRC, resolve(SRC, dirname(file), s))),
    packages: specifiers.filter((s) => !s.startsWith('.')),
  };
}

/** A file's room: its folder under src/, or for a file at the top, its name. */
const roomOf = (file: string) => (file.includes('/') ? file.split('/')[0]! : file.replace(/\.ts$/, ''));

/** The graph in docs/architecture.md: the ```text block after "Who may import whom", one `room: rooms…` per line. */
function allowedGraph(): Map<string, Set<string>> {
  const doc = readFileSync(join(ROOT, 'docs/architecture.md'), 'utf8');
  const block = /## Who may import whom[\s\S]*?```text\n([\s\S]*?)```/.exec(doc)?.[1];
  assert.ok(block, 'docs/architecture.md has a "Who may import whom" section with a ```text block');
  const graph = new Map<string, Set<string>>();
  for (const line of block.split('\n')) {
    const m = /^([\w-]+)\s*(?:→|->)\s*(.*)$/.exec(line.trim());
    if (m) graph.set(m[1]!, new Set(m[2]!.split(/[\s,]+/).filter((r) => r !== '' && r !== '—')));
  }
  return graph;
}

/** Strongly connected components with more than one member (or a self-loop): the cycles. */
function cycles(graph: Map<string, Set<string>>): string[][] {
  let index = 0;
  const order = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string) => {
    order.set(v, index);
    low.set(v, index++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!order.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, order.get(w)!));
    }
    if (low.get(v) === order.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1 || graph.get(v)?.has(v)) found.push(component.sort());
    }
  };
  for (const v of graph.keys()) if (!order.has(v)) visit(v);
  return found;
}

const files = sources();
const imports = new Map(files.map((f) => [f, importsOf(f)]));

test('every import between rooms of src/ is one docs/architecture.md allows', () => {
  const allowed = allowedGraph();
  const rooms = new Set(files.map(roomOf));
  assert.deepEqual([...rooms].filter((r) => !allowed.has(r)).sort(), [], 'every room of src/ is in the documented graph');
  assert.deepEqual([...allowed.keys()].filter((r) => !rooms.has(r)).sort(), [], 'the documented graph names no room that does not exist');
  const broken: string[] = [];
  for (const [file, { local }] of imports) {
    for (const target of local) {
      const from = roomOf(file);
      const to = roomOf(target);
      if (from !== to && !allowed.get(from)!.has(to)) broken.push(`${file} imports ${target} (${from} → ${to})`);
    }
  }
  assert.deepEqual(broken, []);
});

test('no import cycle between rooms, nor between files', () => {
  const rooms = new Map<string, Set<string>>();
  const fileGraph = new Map<string, Set<string>>();
  for (const [file, { local }] of imports) {
    fileGraph.set(file, new Set(local));
    const edges = rooms.get(roomOf(file)) ?? new Set<string>();
    for (const target of local) if (roomOf(target) !== roomOf(file)) edges.add(roomOf(target));
    rooms.set(roomOf(file), edges);
  }
  assert.deepEqual(cycles(rooms), [], 'rooms');
  assert.deepEqual(cycles(fileGraph), [], 'files');
});

test('only src/db/ opens SQLite, and only it imports the connection', () => {
  const outside = [...imports].filter(([file]) => roomOf(file) !== 'db');
  assert.deepEqual(outside.filter(([, i]) => i.packages.includes('better-sqlite3')).map(([f]) => f), []);
  assert.deepEqual(outside.filter(([, i]) => i.local.includes('db/database.ts')).map(([f]) => f), [], 'the connection stays inside src/db/ (storage.ts is its door)');
});
