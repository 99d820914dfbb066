/**
 * Summarises a V8 heap snapshot: self size and count by constructor (objects) or by node type
 * (strings, code, arrays...), largest first; with `--retainers <name>`, what holds the nodes of
 * that name (parent name and edge), to see which structure keeps them.
 *
 *   node test/bench/heap-summary.ts <file.heapsnapshot> [--top 25] [--retainers <name>]
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { top: { type: 'string', default: '25' }, retainers: { type: 'string' } },
});
const file = positionals[0];
if (!file) {
  process.stderr.write('usage: heap-summary.ts <file.heapsnapshot> [--top N] [--retainers name]\n');
  process.exit(2);
}

interface Snapshot {
  snapshot: {
    meta: {
      node_fields: string[];
      node_types: [string[], ...unknown[]];
      edge_fields: string[];
      edge_types: [string[], ...unknown[]];
    };
  };
  nodes: number[];
  edges: number[];
  strings: string[];
}

const snap = JSON.parse(readFileSync(file, 'utf8')) as Snapshot;
const { meta } = snap.snapshot;
const nf = meta.node_fields.length;
const ef = meta.edge_fields.length;
const nodeTypes = meta.node_types[0];
const edgeTypes = meta.edge_types[0];
const N_TYPE = meta.node_fields.indexOf('type');
const N_NAME = meta.node_fields.indexOf('name');
const N_SIZE = meta.node_fields.indexOf('self_size');
const N_EDGES = meta.node_fields.indexOf('edge_count');
const E_TYPE = meta.edge_fields.indexOf('type');
const E_NAME = meta.edge_fields.indexOf('name_or_index');
const E_TO = meta.edge_fields.indexOf('to_node');
const nodes = snap.nodes;
const count = nodes.length / nf;

/** Objects by constructor name; everything else by its node type. */
function label(n: number): string {
  const type = nodeTypes[nodes[n * nf + N_TYPE] as number] as string;
  if (type === 'object' || type === 'closure' || type === 'native') {
    const name = snap.strings[nodes[n * nf + N_NAME] as number] as string;
    return type === 'object' ? name : `(${type}) ${name.slice(0, 60)}`;
  }
  return `(${type})`;
}

const bySize = new Map<string, { size: number; count: number }>();
let total = 0;
for (let n = 0; n < count; n++) {
  const size = nodes[n * nf + N_SIZE] as number;
  total += size;
  const key = label(n);
  const entry = bySize.get(key) ?? { size: 0, count: 0 };
  entry.size += size;
  entry.count++;
  bySize.set(key, entry);
}
const mb = (b: number) => `${(b / 1048576).toFixed(1)} MiB`;
process.stdout.write(`${file}: ${count} nodes, self sizes total ${mb(total)}\n`);
const top = [...bySize.entries()]
  .sort((a, b) => b[1].size - a[1].size)
  .slice(0, Number(values.top));
for (const [name, { size, count: c }] of top) {
  process.stdout.write(`${mb(size).padStart(11)} ${String(c).padStart(9)}  ${name}\n`);
}

if (values.retainers) {
  const wanted = values.retainers;
  const holders = new Map<string, number>();
  let edge = 0;
  for (let n = 0; n < count; n++) {
    const edges = nodes[n * nf + N_EDGES] as number;
    for (let e = 0; e < edges; e++, edge++) {
      const base = edge * ef;
      const to = (snap.edges[base + E_TO] as number) / nf;
      if (label(to) !== wanted) continue;
      const type = edgeTypes[snap.edges[base + E_TYPE] as number] as string;
      if (type === 'weak') continue;
      const nameOrIndex = snap.edges[base + E_NAME] as number;
      const edgeName =
        type === 'element' || type === 'hidden' ? `[${type}]` : snap.strings[nameOrIndex];
      // Every object points at its prototype; that says nothing about who keeps it.
      if (edgeName === '__proto__') continue;
      const key = `${label(n)} .${edgeName}`;
      holders.set(key, (holders.get(key) ?? 0) + 1);
    }
  }
  process.stdout.write(`\nwhat holds "${wanted}":\n`);
  for (const [k, c] of [...holders.entries()].sort((a, b) => b[1] - a[1]).slice(0, 20)) {
    process.stdout.write(`${String(c).padStart(9)}  ${k}\n`);
  }
}
