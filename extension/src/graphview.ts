/**
 * The renderer of `application/vnd.mindlab.graph+json`: the program's graphs laid out by ELK (layered, top to
 * bottom) and drawn as SVG. Subgraphs (if branches, loop conditions and bodies, called functions) are clusters
 * drawn next to the node that runs them; each can be collapsed to one box and expanded again. Wheel zooms about
 * the pointer, dragging the background pans; hovering a node shows its op, shapes, dtypes, cost, attributes and
 * source line; clicking it selects it and highlights its line in the source listing below the drawing.
 */
import { Widget } from '@lumino/widgets';
import type { IRenderMime } from '@jupyterlab/rendermime-interfaces';
import type { ElkNode } from 'elkjs/lib/elk-api';

import { basename, button, el, fmtBytes, fmtCount, svg, valueText } from './dom';
import {
  CLUSTER_HEADER,
  GRAPH_MIME,
  GraphModel,
  GraphNode,
  VisibleEdge,
  checkGraphDoc,
  clip,
  clusterId,
  clusterLabel,
  clusterTitle,
  elkGraph,
  nodeLabel,
  typeText
} from './graphmodel';
import { layout } from './layout';

/** Above this many nodes, clusters start collapsed. */
const COLLAPSE_ABOVE = 250;
/** Above this many visible boxes, ELK runs with quicker settings. */
const FAST_ABOVE = 300;
/** Above this many boxes (after collapsing every subgraph) the browser would freeze laying them out: say so. */
export const MAX_DRAWN = 3000;

function countElk(n: ElkNode): number {
  return (n.children ?? []).reduce((k, c) => k + (c.children && c.children.length ? countElk(c) : 1), 0);
}
const MAX_HEIGHT = 560;
const MIN_HEIGHT = 160;

let instances = 0;

const KIND_LABEL: { [k: string]: string } = {
  forward: 'IR as parsed',
  grad: 'gradient graph',
  optimized: 'optimized graph'
};

interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** Rows of the description of a node (tooltip and details panel). */
export function describe(model: GraphModel, n: GraphNode): [string, string][] {
  const rows: [string, string][] = [['op', `${n.op} (${n.kind})`]];
  if (n.name !== undefined) {
    rows.push(['name', n.name + (n.is_weight ? ' (weight)' : '')]);
  }
  const type = typeText(n.shape, n.dtype);
  if (type) {
    rows.push(['type', type]);
  }
  if (Array.isArray(n.shape)) {
    rows.push(['shape', valueText(n.shape)]);
  }
  if (n.dtype !== null && n.dtype !== undefined) {
    rows.push(['dtype', Array.isArray(n.dtype) ? valueText(n.dtype) : String(n.dtype)]);
  }
  if ('value' in n) {
    rows.push(['value', valueText(n.value, 120)]);
  }
  if (n.cost) {
    rows.push(['cost', `${fmtCount(n.cost.flops)}FLOP, ${fmtBytes(n.cost.bytes)} moved`]);
  }
  for (const [k, v] of Object.entries(n.attrs || {})) {
    rows.push([`attr ${k}`, valueText(v)]);
  }
  if (n.inputs.length) {
    rows.push(['inputs', n.inputs.map(i => inputName(model, i)).join(', ')]);
  }
  if (n.subgraphs.length) {
    rows.push(['runs', n.subgraphs.map(g => model.graphs.get(g)?.name ?? g).join(', ')]);
  }
  const g = model.graphs.get(n.graph);
  rows.push(['graph', g ? `${g.name} (${g.kind})` : n.graph]);
  rows.push(['id', n.id]);
  if (n.source) {
    rows.push(['source', `${basename(n.source.file)}:${n.source.line}  ${n.source.text.trim()}`]);
  }
  return rows;
}

function inputName(model: GraphModel, id: string): string {
  const n = model.nodes.get(id);
  if (!n) {
    return id;
  }
  if (n.kind === 'param') {
    return `${id} ${n.name ?? ''}`.trim();
  }
  if (n.kind === 'constant' && 'value' in n) {
    return valueText(n.value, 20);
  }
  return `${id} ${n.op}`;
}

/** Dispatched (bubbling) by a graph view when a node with a source line is selected. */
export const SOURCE_EVENT = 'mindlab-source-selected';

export interface SourceEventDetail {
  file: string;
  line: number;
  text: string;
}

export class GraphWidget extends Widget implements IRenderMime.IRenderer {
  private model: GraphModel | null = null;
  private collapsed = new Set<string>();
  private selected: string | null = null;
  private selectedLine: string | null = null;
  private readonly uid = ++instances;
  private readonly toolbar: HTMLDivElement;
  private readonly info: HTMLSpanElement;
  private readonly busy: HTMLSpanElement;
  private readonly canvas: HTMLDivElement;
  private readonly svgRoot: SVGSVGElement;
  private readonly viewport: SVGGElement;
  private readonly tooltip: HTMLDivElement;
  private readonly details: HTMLDivElement;
  private readonly sourcePanel: HTMLDivElement;
  private transform = { x: 0, y: 0, k: 1 };
  private bounds: Box = { x: 0, y: 0, width: 1, height: 1 };
  private layoutRun = 0;
  private fitted = false;

  constructor() {
    super();
    this.addClass('mindlab-graph-view');
    this.node.dataset.status = 'empty';
    this.toolbar = el('div', 'mindlab-toolbar');
    this.info = el('span', 'mindlab-info');
    this.busy = el('span', 'mindlab-busy');
    this.toolbar.append(
      this.info,
      button('Fit', 'Fit the whole graph in view', () => this.fit()),
      button('+', 'Zoom in', () => this.zoomBy(1.25)),
      button('−', 'Zoom out', () => this.zoomBy(0.8)),
      button('Expand all', 'Expand every subgraph', () => this.setCollapsed(new Set())),
      button('Collapse all', 'Collapse every subgraph', () =>
        this.setCollapsed(new Set(this.model ? this.model.clusters() : []))
      ),
      this.busy
    );
    this.canvas = el('div', 'mindlab-canvas');
    this.svgRoot = svg('svg', { class: 'mindlab-svg', width: '100%', height: '100%' });
    const defs = svg('defs');
    for (const kind of ['data', 'runs']) {
      const marker = svg('marker', {
        id: this.markerId(kind),
        viewBox: '0 0 10 10',
        refX: 9,
        refY: 5,
        markerWidth: 7,
        markerHeight: 7,
        orient: 'auto-start-reverse',
        class: `mindlab-arrow-${kind}`
      });
      marker.appendChild(svg('path', { d: 'M 0 0 L 10 5 L 0 10 z' }));
      defs.appendChild(marker);
    }
    this.svgRoot.appendChild(defs);
    this.viewport = svg('g', { class: 'mindlab-viewport' });
    this.svgRoot.appendChild(this.viewport);
    this.tooltip = el('div', 'mindlab-tooltip');
    this.tooltip.style.display = 'none';
    this.canvas.append(this.svgRoot, this.tooltip);
    const lower = el('div', 'mindlab-lower');
    this.details = el('div', 'mindlab-details');
    this.details.appendChild(el('div', 'mindlab-hint', 'Click a node to select it; hover for details.'));
    this.sourcePanel = el('div', 'mindlab-source');
    lower.append(this.sourcePanel, this.details);
    this.node.append(this.toolbar, this.canvas, lower);
    this.installPanZoom();
  }

  private markerId(kind: string): string {
    return `mindlab-arrow-${kind}-${this.uid}`;
  }

  async renderModel(mimeModel: IRenderMime.IMimeModel): Promise<void> {
    const data = mimeModel.data[GRAPH_MIME];
    let model: GraphModel;
    try {
      model = new GraphModel(checkGraphDoc(data));
    } catch (err) {
      this.showError(String((err as Error).message || err));
      return;
    }
    this.model = model;
    this.selected = null;
    this.selectedLine = null;
    this.fitted = false;
    const total = model.doc.nodes.length;
    this.collapsed = new Set(total > COLLAPSE_ABOVE ? model.clusters() : []);
    this.info.textContent = `${KIND_LABEL[model.doc.kind] ?? model.doc.kind} · ${model.doc.title} · ${total} nodes in ${
      model.doc.graphs.length
    } graph${model.doc.graphs.length === 1 ? '' : 's'}`;
    this.buildSource(model);
    await this.relayout();
  }

  private showError(message: string): void {
    this.node.dataset.status = 'error';
    this.viewport.textContent = '';
    const err = el('div', 'mindlab-error', `Cannot draw this mindlab graph: ${message}`);
    this.node.insertBefore(err, this.canvas);
  }

  private setCollapsed(collapsed: Set<string>): void {
    this.collapsed = collapsed;
    void this.relayout();
  }

  /** Collapse or expand graph `g`'s cluster. */
  toggle(g: string): void {
    const next = new Set(this.collapsed);
    if (next.has(g)) {
      next.delete(g);
    } else {
      next.add(g);
    }
    this.setCollapsed(next);
  }

  private async relayout(): Promise<void> {
    const model = this.model!;
    const run = ++this.layoutRun;
    this.node.dataset.status = 'layout';
    const edges = model.visibleEdges(this.collapsed);
    const graph = elkGraph(model, this.collapsed, edges);
    const visible = graph.children ? countElk(graph) : 0;
    if (visible > MAX_DRAWN) {
      this.busy.textContent = '';
      this.showError(
        `${visible} boxes are too many to lay out in the browser (the limit is ${MAX_DRAWN}); ` +
          'collapse subgraphs, or read the text dump (%mindlab ir F prints it)'
      );
      return;
    }
    if (visible > FAST_ABOVE) {
      // large graphs: a quicker crossing minimisation and straight edge routes (minutes become seconds)
      Object.assign(graph.layoutOptions!, {
        'elk.layered.thoroughness': '1',
        'elk.layered.crossingMinimization.greedySwitch.type': 'OFF',
        'elk.edgeRouting': 'POLYLINE'
      });
    }
    this.busy.textContent = `laying out ${visible} boxes…`;
    let laid: ElkNode;
    try {
      laid = await layout(graph);
    } catch (err) {
      this.showError(`layout failed: ${String((err as Error).message || err)}`);
      return;
    }
    if (run !== this.layoutRun) {
      return; // a newer layout was started meanwhile
    }
    this.busy.textContent = '';
    this.draw(model, laid, edges);
    if (!this.fitted) {
      this.fitted = true;
      this.fit();
    }
    this.node.dataset.status = 'ready';
  }

  // ------------------------------------------------------------------------------------------- drawing
  private draw(model: GraphModel, laid: ElkNode, edges: VisibleEdge[]): void {
    this.viewport.textContent = '';
    this.bounds = { x: 0, y: 0, width: laid.width ?? 1, height: laid.height ?? 1 };
    const clusterLayer = svg('g', { class: 'mindlab-clusters' });
    const edgeLayer = svg('g', { class: 'mindlab-edges' });
    const nodeLayer = svg('g', { class: 'mindlab-nodes' });
    this.viewport.append(clusterLayer, edgeLayer, nodeLayer);
    const edgeInfo = new Map(edges.map(e => [e.id, e]));
    const visit = (n: ElkNode, depth: number) => {
      for (const c of n.children ?? []) {
        const box = { x: c.x ?? 0, y: c.y ?? 0, width: c.width ?? 0, height: c.height ?? 0 };
        if (c.id.startsWith('cluster:')) {
          const g = c.id.slice('cluster:'.length);
          if (this.collapsed.has(g)) {
            nodeLayer.appendChild(this.drawCollapsed(model, g, box));
          } else {
            clusterLayer.appendChild(this.drawCluster(model, g, box, depth));
            visit(c, depth + 1);
          }
        } else {
          nodeLayer.appendChild(this.drawNode(model, model.nodes.get(c.id)!, box));
        }
      }
      for (const e of n.edges ?? []) {
        const info = edgeInfo.get(e.id)!;
        for (const s of (e as { sections?: { startPoint: any; endPoint: any; bendPoints?: any[] }[] }).sections ??
          []) {
          const pts = [s.startPoint, ...(s.bendPoints ?? []), s.endPoint];
          const d = pts.map((p, k) => `${k ? 'L' : 'M'} ${p.x} ${p.y}`).join(' ');
          const path = svg('path', {
            d,
            class: `mindlab-edge mindlab-edge-${info.kind}`,
            'marker-end': `url(#${this.markerId(info.kind)})`,
            'data-src': info.src,
            'data-dst': info.dst
          });
          if (info.count > 1) {
            path.appendChild(svg('title', {}, `${info.count} edges`));
          }
          edgeLayer.appendChild(path);
        }
      }
    };
    visit(laid, 0);
    this.applySelection();
  }

  private drawNode(model: GraphModel, n: GraphNode, box: Box): SVGGElement {
    const weight = n.kind === 'param' && n.is_weight;
    const cls = ['mindlab-node', `mindlab-kind-${n.kind}`];
    if (weight) {
      cls.push('mindlab-weight');
    }
    if (model.outputs.has(n.id)) {
      cls.push('mindlab-output');
    }
    const g = svg('g', {
      class: cls.join(' '),
      'data-id': n.id,
      transform: `translate(${box.x},${box.y})`
    });
    const rx = n.kind === 'param' ? box.height / 2 : n.kind === 'constant' ? 2 : 5;
    g.appendChild(svg('rect', { width: box.width, height: box.height, rx, ry: rx }));
    const [head, type] = nodeLabel(n).map(clip);
    if (type) {
      g.appendChild(svg('text', { x: box.width / 2, y: 14, class: 'mindlab-label' }, head));
      g.appendChild(svg('text', { x: box.width / 2, y: 28, class: 'mindlab-type' }, type));
    } else {
      g.appendChild(svg('text', { x: box.width / 2, y: 15, class: 'mindlab-label' }, head));
    }
    g.addEventListener('mouseenter', ev => this.showTooltip(n, ev));
    g.addEventListener('mousemove', ev => this.moveTooltip(ev));
    g.addEventListener('mouseleave', () => this.hideTooltip());
    g.addEventListener('click', ev => {
      ev.stopPropagation();
      this.select(n.id);
    });
    return g;
  }

  private drawCluster(model: GraphModel, graph: string, box: Box, depth: number): SVGGElement {
    const info = model.graphs.get(graph)!;
    const g = svg('g', {
      class: `mindlab-cluster mindlab-cluster-${info.kind} mindlab-depth-${depth % 4}`,
      'data-graph': graph,
      transform: `translate(${box.x},${box.y})`
    });
    g.appendChild(svg('rect', { width: box.width, height: box.height, rx: 6, ry: 6 }));
    const header = svg('g', { class: 'mindlab-cluster-toggle', 'data-graph': graph });
    header.appendChild(svg('rect', { x: 4, y: 4, width: 16, height: 16, rx: 3, ry: 3 }));
    header.appendChild(svg('text', { x: 12, y: 16.5, class: 'mindlab-toggle-sign' }, '−'));
    header.appendChild(svg('title', {}, 'Collapse this subgraph'));
    header.addEventListener('click', ev => {
      ev.stopPropagation();
      this.toggle(graph);
    });
    g.appendChild(header);
    g.appendChild(
      svg(
        'text',
        { x: 26, y: CLUSTER_HEADER / 2 + 4, class: 'mindlab-cluster-title' },
        clusterTitle(model, graph)
      )
    );
    return g;
  }

  private drawCollapsed(model: GraphModel, graph: string, box: Box): SVGGElement {
    const info = model.graphs.get(graph)!;
    const g = svg('g', {
      class: `mindlab-collapsed mindlab-cluster-${info.kind}`,
      'data-graph': graph,
      'data-id': clusterId(graph),
      transform: `translate(${box.x},${box.y})`
    });
    g.appendChild(svg('rect', { width: box.width, height: box.height, rx: 6, ry: 6 }));
    const [head, sub] = clusterLabel(model, graph).map(clip);
    g.appendChild(svg('text', { x: box.width / 2, y: 14, class: 'mindlab-label' }, head));
    g.appendChild(svg('text', { x: box.width / 2, y: 28, class: 'mindlab-type' }, sub));
    g.appendChild(svg('title', {}, 'Click to expand this subgraph'));
    g.addEventListener('click', ev => {
      ev.stopPropagation();
      this.toggle(graph);
    });
    return g;
  }

  // ------------------------------------------------------------------------------------------- tooltip
  private showTooltip(n: GraphNode, ev: MouseEvent): void {
    const tip = this.tooltip;
    tip.textContent = '';
    tip.dataset.id = n.id;
    tip.appendChild(this.describeTable(n));
    tip.style.display = 'block';
    this.moveTooltip(ev);
  }

  private moveTooltip(ev: MouseEvent): void {
    const r = this.canvas.getBoundingClientRect();
    const x = ev.clientX - r.left + 14;
    const y = ev.clientY - r.top + 14;
    const w = this.tooltip.offsetWidth;
    const h = this.tooltip.offsetHeight;
    this.tooltip.style.left = `${Math.max(0, Math.min(x, r.width - w - 4))}px`;
    // below the pointer, or above it when it would run past the canvas's bottom edge
    this.tooltip.style.top = `${y + h > r.height ? Math.max(0, y - h - 24) : y}px`;
  }

  private hideTooltip(): void {
    this.tooltip.style.display = 'none';
  }

  private describeTable(n: GraphNode): HTMLTableElement {
    const t = el('table', 'mindlab-describe');
    for (const [k, v] of describe(this.model!, n)) {
      const r = t.insertRow();
      r.insertCell().textContent = k;
      r.insertCell().textContent = v;
    }
    return t;
  }

  // ------------------------------------------------------------------------------------------- selection
  /** Select node `id` (null: nothing): highlight it, its source line, and show its details. */
  select(id: string | null): void {
    this.selected = id;
    this.selectedLine = null;
    this.applySelection();
    const n = id && this.model ? this.model.nodes.get(id) : null;
    if (n && n.source) {
      // the Inspector plugin (plugin.ts) highlights this line in the notebook cell it came from
      const detail: SourceEventDetail = { file: n.source.file, line: n.source.line, text: n.source.text };
      this.node.dispatchEvent(new CustomEvent(SOURCE_EVENT, { bubbles: true, detail }));
    }
  }

  private lineKey(n: GraphNode): string | null {
    return n.source ? `${n.source.file}:${n.source.line}` : null;
  }

  private applySelection(): void {
    const model = this.model;
    if (!model) {
      return;
    }
    const n = this.selected ? model.nodes.get(this.selected) ?? null : null;
    const line = n ? this.lineKey(n) : this.selectedLine;
    this.viewport.querySelectorAll('.mindlab-node').forEach(e => {
      const id = (e as SVGGElement).dataset.id!;
      e.classList.toggle('mindlab-selected', id === this.selected);
      const other = model.nodes.get(id)!;
      e.classList.toggle('mindlab-same-line', line !== null && id !== this.selected && this.lineKey(other) === line);
    });
    this.viewport.querySelectorAll('.mindlab-edge').forEach(e => {
      const d = (e as SVGPathElement).dataset;
      e.classList.toggle('mindlab-edge-selected', this.selected !== null && (d.src === this.selected || d.dst === this.selected));
    });
    let current: HTMLElement | null = null;
    this.sourcePanel.querySelectorAll('.mindlab-src-line').forEach(e => {
      const on = (e as HTMLElement).dataset.key === line;
      e.classList.toggle('mindlab-src-current', on);
      if (on) {
        current = e as HTMLElement;
      }
    });
    if (current) {
      const c = current as HTMLElement;
      const panel = this.sourcePanel;
      panel.scrollTop = Math.max(0, c.offsetTop - panel.clientHeight / 2);
    }
    this.details.textContent = '';
    if (n) {
      this.details.appendChild(el('div', 'mindlab-details-title', `Selected: ${n.id} ${n.op}`));
      this.details.appendChild(this.describeTable(n));
    } else if (line) {
      const count = model.doc.nodes.filter(m => this.lineKey(m) === line).length;
      this.details.appendChild(el('div', 'mindlab-details-title', `${count} node(s) from this line`));
    } else {
      this.details.appendChild(el('div', 'mindlab-hint', 'Click a node to select it; hover for details.'));
    }
  }

  /** The source listing: every distinct source line the graph's nodes came from, in file and line order. */
  private buildSource(model: GraphModel): void {
    const panel = this.sourcePanel;
    panel.textContent = '';
    const lines = new Map<string, { file: string; line: number; text: string; count: number }>();
    for (const n of model.doc.nodes) {
      if (n.source && n.source.text) {
        const key = this.lineKey(n)!;
        const entry = lines.get(key);
        if (entry) {
          entry.count++;
        } else {
          lines.set(key, { file: n.source.file, line: n.source.line, text: n.source.text, count: 1 });
        }
      }
    }
    // the file of the compiled function first (the user's code), then library files; by line within a file
    const rootGraph = model.graphs.get(model.doc.root);
    const main = rootGraph?.source?.file ?? model.doc.nodes.find(n => n.source)?.source?.file ?? '';
    const rank = (f: string) => (f === main ? 0 : 1);
    const sorted = [...lines.entries()].sort(([, a], [, b]) =>
      a.file === b.file ? a.line - b.line : rank(a.file) - rank(b.file) || (a.file < b.file ? -1 : 1)
    );
    panel.appendChild(el('div', 'mindlab-source-title', sorted.length ? 'Source lines' : 'No source lines'));
    for (const [key, s] of sorted) {
      const r = el('div', 'mindlab-src-line');
      r.dataset.key = key;
      r.title = `${s.file}:${s.line} (${s.count} node${s.count === 1 ? '' : 's'})`;
      r.append(el('span', 'mindlab-src-lineno', `${basename(s.file)}:${s.line}`), el('span', 'mindlab-src-text', s.text));
      r.addEventListener('click', () => {
        this.selected = null;
        this.selectedLine = key;
        this.applySelection();
      });
      panel.appendChild(r);
    }
  }

  // ------------------------------------------------------------------------------------------- pan / zoom
  private installPanZoom(): void {
    const canvas = this.canvas;
    canvas.addEventListener(
      'wheel',
      ev => {
        ev.preventDefault();
        const r = canvas.getBoundingClientRect();
        const scale = Math.exp(-ev.deltaY * (ev.deltaMode === 1 ? 0.05 : 0.0015));
        this.zoomAt(ev.clientX - r.left, ev.clientY - r.top, scale);
      },
      { passive: false }
    );
    let drag: { x: number; y: number; tx: number; ty: number; id: number } | null = null;
    canvas.addEventListener('pointerdown', ev => {
      if (ev.button !== 0 || (ev.target as Element).closest('.mindlab-node, .mindlab-collapsed, .mindlab-cluster-toggle')) {
        return;
      }
      drag = { x: ev.clientX, y: ev.clientY, tx: this.transform.x, ty: this.transform.y, id: ev.pointerId };
      canvas.setPointerCapture(ev.pointerId);
      canvas.classList.add('mindlab-dragging');
    });
    canvas.addEventListener('pointermove', ev => {
      if (drag && ev.pointerId === drag.id) {
        this.transform.x = drag.tx + ev.clientX - drag.x;
        this.transform.y = drag.ty + ev.clientY - drag.y;
        this.applyTransform();
      }
    });
    const end = (ev: PointerEvent) => {
      if (drag && ev.pointerId === drag.id) {
        const moved = Math.abs(ev.clientX - drag.x) + Math.abs(ev.clientY - drag.y);
        drag = null;
        canvas.classList.remove('mindlab-dragging');
        if (moved < 3 && ev.type === 'pointerup') {
          this.select(null); // a click on the background clears the selection
        }
      }
    };
    canvas.addEventListener('pointerup', end);
    canvas.addEventListener('pointercancel', end);
  }

  private zoomAt(px: number, py: number, scale: number): void {
    const t = this.transform;
    const k = Math.min(4, Math.max(0.05, t.k * scale));
    const f = k / t.k;
    t.x = px - (px - t.x) * f;
    t.y = py - (py - t.y) * f;
    t.k = k;
    this.applyTransform();
  }

  private zoomBy(scale: number): void {
    this.zoomAt(this.canvas.clientWidth / 2, this.canvas.clientHeight / 2, scale);
  }

  /** Scale (at most 1:1) and centre the drawing in the canvas, sizing the canvas to it within limits. */
  fit(): void {
    const b = this.bounds;
    const width = this.canvas.clientWidth || 800;
    const k = Math.min(1, (width - 16) / b.width, (MAX_HEIGHT - 16) / b.height);
    const height = Math.max(MIN_HEIGHT, Math.min(MAX_HEIGHT, b.height * k + 16));
    this.canvas.style.height = `${Math.round(height)}px`;
    this.transform = { k, x: (width - b.width * k) / 2, y: (height - b.height * k) / 2 };
    this.applyTransform();
  }

  private applyTransform(): void {
    const t = this.transform;
    this.viewport.setAttribute('transform', `translate(${t.x},${t.y}) scale(${t.k})`);
    this.node.dataset.zoom = t.k.toFixed(4);
  }
}
