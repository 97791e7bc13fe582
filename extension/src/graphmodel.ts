/**
 * The graph JSON document (`application/vnd.mindlab.graph+json`, see mindlab/ir/schema/graph.schema.json) and
 * what the renderer derives from it: where each subgraph is drawn (as a cluster inside the graph that runs it),
 * and, for a set of collapsed clusters, which elements are visible and which edges connect them.
 */
import type { ElkExtendedEdge, ElkNode } from 'elkjs/lib/elk-api';

import { valueText } from './dom';

export const GRAPH_MIME = 'application/vnd.mindlab.graph+json';

export interface SourceInfo {
  file: string;
  line: number;
  text: string;
  function: string;
}

export interface GraphNode {
  id: string;
  graph: string;
  op: string;
  kind: 'primitive' | 'builtin' | 'call' | 'constant' | 'param';
  inputs: string[];
  attrs: { [key: string]: unknown };
  shape: unknown;
  dtype: unknown;
  source: SourceInfo | null;
  subgraphs: string[];
  cost: { flops: number; bytes: number } | null;
  name?: string;
  is_weight?: boolean;
  value?: unknown;
}

export interface GraphInfo {
  id: string;
  name: string;
  kind: string;
  parent: string | null;
  source: SourceInfo | null;
  params: { id: string; name: string; shape: unknown; dtype: unknown; is_weight: boolean }[];
  outputs: string[];
  effects: string[];
}

export interface GraphDoc {
  format: string;
  version: number;
  kind: 'forward' | 'grad' | 'optimized';
  title: string;
  root: string;
  graphs: GraphInfo[];
  nodes: GraphNode[];
  edges: { src: string; dst: string; index: number }[];
}

/** Throws an Error naming what is wrong when `data` is not shaped like a graph document. */
export function checkGraphDoc(data: unknown): GraphDoc {
  const d = data as GraphDoc;
  if (!d || typeof d !== 'object') {
    throw new Error('graph document is not an object');
  }
  for (const key of ['graphs', 'nodes', 'edges'] as const) {
    if (!Array.isArray(d[key])) {
      throw new Error(`graph document has no "${key}" list`);
    }
  }
  const graphIds = new Set(d.graphs.map(g => g.id));
  if (!graphIds.has(d.root)) {
    throw new Error(`graph document's root ${String(d.root)} is not one of its graphs`);
  }
  const nodeIds = new Set<string>();
  for (const n of d.nodes) {
    if (typeof n.id !== 'string' || !graphIds.has(n.graph) || !Array.isArray(n.inputs)) {
      throw new Error(`graph document: node ${valueText(n.id)} is malformed`);
    }
    nodeIds.add(n.id);
  }
  for (const e of d.edges) {
    if (!nodeIds.has(e.src) || !nodeIds.has(e.dst)) {
      throw new Error(`graph document: edge ${valueText(e.src)} -> ${valueText(e.dst)} refers to an unknown node`);
    }
  }
  return d;
}

/** Text of a shape + dtype: `Float32[2, 4]`, a tuple as `(Float32[2, 4], Float32[])`. */
export function typeText(shape: unknown, dtype: unknown): string {
  if (Array.isArray(dtype)) {
    const shapes = Array.isArray(shape) ? shape : [];
    return '(' + dtype.map((d, k) => typeText(shapes[k] ?? null, d)).join(', ') + ')';
  }
  if (dtype === null || dtype === undefined) {
    return '';
  }
  const dt = String(dtype);
  return Array.isArray(shape) ? `${dt}[${shape.join(', ')}]` : dt;
}

/** The label of a node box: first line (op / name / value) and second line (type). */
export function nodeLabel(n: GraphNode): [string, string] {
  let head: string;
  if (n.kind === 'param') {
    head = n.name ?? n.op;
  } else if (n.kind === 'constant') {
    head = 'value' in n ? valueText(n.value, 24) : 'const';
  } else {
    head = n.op;
  }
  return [head, typeText(n.shape, n.dtype)];
}

/** The id of the ELK element drawn for a (non-root) graph's cluster. */
export function clusterId(graph: string): string {
  return `cluster:${graph}`;
}

/** An edge between visible elements. `data`: a value flows src -> dst; `runs`: cluster src is run by node dst. */
export interface VisibleEdge {
  id: string;
  src: string;
  dst: string;
  kind: 'data' | 'runs';
  count: number;
}

export class GraphModel {
  readonly doc: GraphDoc;
  readonly nodes = new Map<string, GraphNode>();
  readonly graphs = new Map<string, GraphInfo>();
  /** graph id -> the graph whose area it is drawn in (null for the root). */
  readonly container = new Map<string, string | null>();
  /** graph id -> the graphs drawn inside it, in document order. */
  readonly children = new Map<string, string[]>();
  /** graph id -> its nodes, in document order. */
  readonly nodesOf = new Map<string, GraphNode[]>();
  /** graph id -> the node that runs it (first one in document order), when there is one. */
  readonly owner = new Map<string, string>();
  /** Ids of graph outputs and effects (drawn with a heavier outline). */
  readonly outputs = new Set<string>();

  constructor(doc: GraphDoc) {
    this.doc = doc;
    for (const g of doc.graphs) {
      this.graphs.set(g.id, g);
      this.nodesOf.set(g.id, []);
      this.children.set(g.id, []);
      g.outputs.forEach(o => this.outputs.add(o));
      g.effects.forEach(o => this.outputs.add(o));
    }
    for (const n of doc.nodes) {
      this.nodes.set(n.id, n);
      this.nodesOf.get(n.graph)!.push(n);
    }
    this.container.set(doc.root, null);
    // A subgraph is drawn inside the graph of the first node that runs it (an if's branches next to the if, a
    // loop body next to the while), unless that would put a graph inside itself (recursion).
    for (const n of doc.nodes) {
      for (const sg of n.subgraphs) {
        if (!this.container.has(sg) && this.graphs.has(sg) && !this.isWithin(n.graph, sg)) {
          this.container.set(sg, n.graph);
          this.owner.set(sg, n.id);
        }
      }
    }
    for (const g of doc.graphs) {
      if (!this.container.has(g.id)) {
        const p = g.parent;
        this.container.set(g.id, p !== null && this.graphs.has(p) && !this.isWithin(p, g.id) ? p : doc.root);
      }
    }
    for (const g of doc.graphs) {
      const c = this.container.get(g.id);
      if (c !== null && c !== undefined) {
        this.children.get(c)!.push(g.id);
      }
    }
  }

  /** Whether graph `g` is `ancestor` or drawn (transitively) inside it, by the placements made so far. */
  isWithin(g: string, ancestor: string): boolean {
    let cur: string | null | undefined = g;
    const seen = new Set<string>();
    while (cur !== null && cur !== undefined && !seen.has(cur)) {
      if (cur === ancestor) {
        return true;
      }
      seen.add(cur);
      cur = this.container.get(cur);
    }
    return false;
  }

  /** The chain of graphs from the root down to `g` (both included). */
  chain(g: string): string[] {
    const out: string[] = [];
    let cur: string | null | undefined = g;
    while (cur !== null && cur !== undefined) {
      out.unshift(cur);
      cur = this.container.get(cur);
    }
    return out;
  }

  /** Number of nodes drawn in `g`'s cluster, its nested clusters included. */
  size(g: string): number {
    let n = this.nodesOf.get(g)!.length;
    for (const c of this.children.get(g)!) {
      n += this.size(c);
    }
    return n;
  }

  /** Graphs that can be collapsed: every graph but the root. */
  clusters(): string[] {
    return this.doc.graphs.map(g => g.id).filter(g => g !== this.doc.root);
  }

  /** The outermost collapsed graph among `g` and its containers, or null when all are expanded. */
  collapsedAncestor(g: string, collapsed: Set<string>): string | null {
    for (const c of this.chain(g)) {
      if (collapsed.has(c)) {
        return c;
      }
    }
    return null;
  }

  /** The visible element standing for node `id`: the node itself, or the collapsed cluster that hides it. */
  rep(id: string, collapsed: Set<string>): string {
    const c = this.collapsedAncestor(this.nodes.get(id)!.graph, collapsed);
    return c === null ? id : clusterId(c);
  }

  /** The visible element standing for graph `g`'s cluster. */
  clusterRep(g: string, collapsed: Set<string>): string {
    const c = this.collapsedAncestor(g, collapsed);
    return clusterId(c === null ? g : c);
  }

  /** Edges between visible elements (duplicates merged, edges inside a collapsed cluster dropped). */
  visibleEdges(collapsed: Set<string>): VisibleEdge[] {
    const byKey = new Map<string, VisibleEdge>();
    const add = (src: string, dst: string, kind: 'data' | 'runs') => {
      if (src === dst) {
        return;
      }
      const key = `${kind}|${src}|${dst}`;
      const e = byKey.get(key);
      if (e) {
        e.count++;
      } else {
        byKey.set(key, { id: `e${byKey.size}`, src, dst, kind, count: 1 });
      }
    };
    for (const e of this.doc.edges) {
      add(this.rep(e.src, collapsed), this.rep(e.dst, collapsed), 'data');
    }
    for (const [g, nodeId] of this.owner) {
      add(this.clusterRep(g, collapsed), this.rep(nodeId, collapsed), 'runs');
    }
    return [...byKey.values()];
  }

  /** The graph whose area holds visible element `id` (a node's graph, or a cluster's container). */
  areaOf(id: string): string {
    if (id.startsWith('cluster:')) {
      return this.container.get(id.slice('cluster:'.length)) ?? this.doc.root;
    }
    return this.nodes.get(id)!.graph;
  }
}

/** Size of a node box for its label (monospace 11px text: about 6.7 px a character). */
export function boxSize(lines: string[]): { width: number; height: number } {
  const chars = Math.max(4, ...lines.filter(l => l).map(l => Math.min(l.length, MAX_LABEL)));
  return { width: Math.ceil(chars * 6.7 + 16), height: lines.filter(l => l).length > 1 ? 34 : 22 };
}

export const MAX_LABEL = 30;
export const CLUSTER_HEADER = 24;

/** Cut a label to MAX_LABEL characters. */
export function clip(s: string): string {
  return s.length > MAX_LABEL ? s.slice(0, MAX_LABEL - 1) + '…' : s;
}

/** The title of an expanded cluster. */
export function clusterTitle(model: GraphModel, g: string): string {
  const info = model.graphs.get(g)!;
  return `${clip(`${info.kind} ${info.name}`)}  (${model.size(g)} nodes)`;
}

/** Text of a collapsed cluster's box. */
export function clusterLabel(model: GraphModel, g: string): [string, string] {
  const info = model.graphs.get(g)!;
  return [`▸ ${info.kind} ${info.name}`, `${model.size(g)} nodes`];
}

/** The ELK graph for the visible elements: nodes, clusters (expanded: compound ELK nodes; collapsed: boxes) and
 * edges, every edge stored in the lowest ELK node containing both ends (as ELK expects). */
export function elkGraph(model: GraphModel, collapsed: Set<string>, edges: VisibleEdge[]): ElkNode {
  const root = model.doc.root;
  const elkOf = new Map<string, ElkNode>();
  const build = (g: string, elk: ElkNode) => {
    elkOf.set(g, elk);
    elk.children = [];
    elk.edges = [];
    for (const n of model.nodesOf.get(g)!) {
      elk.children.push({ id: n.id, ...boxSize(nodeLabel(n).map(clip)) });
    }
    for (const c of model.children.get(g)!) {
      if (collapsed.has(c)) {
        elk.children.push({ id: clusterId(c), ...boxSize(clusterLabel(model, c)) });
      } else {
        // wide enough for its title (toggle box + text)
        const titleWidth = Math.ceil(clusterTitle(model, c).length * 6.7 + 40);
        const child: ElkNode = {
          id: clusterId(c),
          layoutOptions: {
            'elk.padding': `[top=${CLUSTER_HEADER + 8},left=10,bottom=10,right=10]`,
            'elk.nodeSize.constraints': 'MINIMUM_SIZE',
            // (height, width): ELK layered applies a compound node's minimum size in its rotated frame when the
            // direction is DOWN (measured with elkjs 0.11: "(w, h)" made clusters w tall)
            'elk.nodeSize.minimum': `(${CLUSTER_HEADER + 30}, ${titleWidth})`
          }
        };
        elk.children.push(child);
        build(c, child);
      }
    }
  };
  const top: ElkNode = {
    id: 'root',
    layoutOptions: {
      'elk.algorithm': 'layered',
      'elk.direction': 'DOWN',
      'elk.hierarchyHandling': 'INCLUDE_CHILDREN',
      'elk.layered.spacing.nodeNodeBetweenLayers': '26',
      'elk.spacing.nodeNode': '16',
      'elk.layered.nodePlacement.strategy': 'BRANDES_KOEPF',
      'elk.padding': '[top=12,left=12,bottom=12,right=12]',
      'elk.json.edgeCoords': 'ROOT',
      'elk.json.shapeCoords': 'ROOT'
    }
  };
  build(root, top);
  const lca = (a: string, b: string): string => {
    const ca = model.chain(a);
    const cb = model.chain(b);
    let k = 0;
    while (k < ca.length && k < cb.length && ca[k] === cb[k]) {
      k++;
    }
    // an expanded cluster's area must exist as an ELK node; collapsed areas are never edge ends' areas
    return ca[k - 1];
  };
  for (const e of edges) {
    const area = lca(model.areaOf(e.src), model.areaOf(e.dst));
    const holder = elkOf.get(area) ?? top;
    const edge: ElkExtendedEdge = { id: e.id, sources: [e.src], targets: [e.dst] };
    holder.edges!.push(edge);
  }
  return top;
}
