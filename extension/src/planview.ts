/**
 * The renderer of `application/vnd.mindlab.plan+json` (see mindlab/parallel/schema/plan.schema.json): how a
 * network is split over a device mesh. It draws the mesh (selecting a tensor shows the slice each device holds),
 * per-device compute / communication / memory bars, per-op time bars, and tables of the ops (strategy, cost, the
 * alternatives the search weighed), the tensors (layouts) and the collectives (bytes, time, why).
 */
import { Widget } from '@lumino/widgets';
import type { IRenderMime } from '@jupyterlab/rendermime-interfaces';

import { el, fmtBytes, fmtSeconds, row, svg, table, toNumber, valueText } from './dom';

import {
  PLAN_MIME,
  PlanDoc,
  checkPlanDoc,
  layoutText,
  meshCoords,
  sliceText,
  strategyText
} from './planmodel';

export { PLAN_MIME };

export class PlanWidget extends Widget implements IRenderMime.IRenderer {
  private doc: PlanDoc | null = null;
  private meshBox: HTMLDivElement;
  private selectedTensor: string | null = null;

  constructor() {
    super();
    this.addClass('mindlab-plan-view');
    this.meshBox = el('div', 'mindlab-mesh');
  }

  async renderModel(mimeModel: IRenderMime.IMimeModel): Promise<void> {
    this.node.textContent = '';
    let doc: PlanDoc;
    try {
      doc = checkPlanDoc(mimeModel.data[PLAN_MIME]);
    } catch (err) {
      this.node.dataset.status = 'error';
      this.node.appendChild(el('div', 'mindlab-error', `Cannot draw this mindlab plan: ${(err as Error).message}`));
      return;
    }
    this.doc = doc;
    this.selectedTensor = null;
    const n = this.node;
    n.appendChild(this.header(doc));
    const top = el('div', 'mindlab-plan-top');
    const meshSection = el('div', 'mindlab-section');
    meshSection.append(el('h4', undefined, 'Device mesh'), this.meshBox);
    const barsSection = el('div', 'mindlab-section');
    barsSection.append(el('h4', undefined, 'Per device'), this.deviceBars(doc));
    top.append(meshSection, barsSection);
    n.appendChild(top);
    this.drawMesh();
    n.append(el('h4', undefined, 'Time per op'), this.opBars(doc));
    n.append(el('h4', undefined, `Operators (${doc.ops.length})`), this.opsTable(doc));
    n.append(
      el('h4', undefined, `Tensors (${doc.tensors.length}) — click one to see its slices on the mesh`),
      this.tensorsTable(doc)
    );
    n.append(el('h4', undefined, `Collectives (${doc.collectives.length})`), this.collectivesTable(doc));
    n.dataset.status = 'ready';
  }

  private header(doc: PlanDoc): HTMLElement {
    const h = el('div', 'mindlab-plan-header');
    h.appendChild(el('div', 'mindlab-plan-title', `Parallel plan${doc.title ? ': ' + doc.title : ''}`));
    const mesh = doc.mesh.shape.map((s, k) => `${doc.mesh.axis_names[k]}=${s}`).join(' × ');
    const c = doc.cost;
    const mem = `${fmtBytes(c.memory_per_device)} per device` +
      (c.memory_limit !== null ? ` of ${fmtBytes(c.memory_limit)} (${c.fits_memory ? 'fits' : 'OVER THE LIMIT'})` : '');
    const facts: [string, string][] = [
      ['mode', doc.parallel_mode + (doc.search_mode ? ` / ${doc.search_mode}` : '')],
      ['mesh', `${mesh} (${doc.mesh.device_ids.length} devices)`],
      ['profile', doc.profile?.name ?? ''],
      ['compute', fmtSeconds(c.compute)],
      ['communication', fmtSeconds(c.communication)],
      ['total', fmtSeconds(c.total)],
      ['memory', mem]
    ];
    const dl = el('div', 'mindlab-facts');
    for (const [k, v] of facts) {
      const f = el('span', 'mindlab-fact');
      f.append(el('b', undefined, k + ': '), document.createTextNode(v));
      dl.appendChild(f);
    }
    h.appendChild(dl);
    if (!c.fits_memory) {
      h.classList.add('mindlab-over-memory');
    }
    return h;
  }

  // --------------------------------------------------------------------------------------------- mesh
  private drawMesh(): void {
    const doc = this.doc!;
    const box = this.meshBox;
    box.textContent = '';
    const shape = doc.mesh.shape;
    const names = doc.mesh.axis_names;
    // rows: every axis but the last (flattened); columns: the last axis
    const cols = shape[shape.length - 1];
    const rows = shape.slice(0, -1).reduce((a, b) => a * b, 1);
    const tensor = doc.tensors.find(t => t.id === this.selectedTensor) ?? null;
    const coords = meshCoords(shape);
    const slices = tensor ? coords.map(c => `[${sliceText(tensor.layout, doc.mesh, c)}]`) : [];
    const cw = Math.max(64, ...slices.map(t => t.length * 6.6 + 12));
    const ch = tensor ? 52 : 40;
    const left = 64;
    const topPad = 26;
    const s = svg('svg', {
      class: 'mindlab-mesh-svg',
      width: left + cols * (cw + 6) + 4,
      height: topPad + rows * (ch + 6) + 4
    });
    s.appendChild(svg('text', { x: left, y: 14, class: 'mindlab-axis-label' }, `${names[names.length - 1]} →`));
    if (shape.length > 1) {
      s.appendChild(
        svg('text', { x: 2, y: topPad + 12, class: 'mindlab-axis-label' }, `${names.slice(0, -1).join('·')} ↓`)
      );
    }
    coords.forEach((coord, flat) => {
      const r = Math.floor(flat / cols);
      const c = flat % cols;
      const x = left + c * (cw + 6);
      const y = topPad + r * (ch + 6);
      const dev = doc.mesh.device_ids[flat];
      const g = svg('g', { class: 'mindlab-device', 'data-device': dev, transform: `translate(${x},${y})` });
      g.appendChild(svg('rect', { width: cw, height: ch, rx: 4, ry: 4 }));
      g.appendChild(svg('text', { x: cw / 2, y: 15, class: 'mindlab-device-id' }, `dev ${dev}`));
      g.appendChild(svg('text', { x: cw / 2, y: 29, class: 'mindlab-device-coord' }, `(${coord.join(', ')})`));
      if (tensor) {
        g.appendChild(svg('text', { x: cw / 2, y: 44, class: 'mindlab-device-slice' }, slices[flat]));
      }
      g.appendChild(svg('title', {}, `device ${dev} at mesh position (${coord.map((v, k) => `${names[k]}=${v}`).join(', ')})`));
      s.appendChild(g);
    });
    if (shape.length > 1) {
      for (let r = 0; r < rows; r++) {
        const coord = coords[r * cols].slice(0, -1);
        s.appendChild(svg('text', { x: left - 6, y: topPad + r * (ch + 6) + ch / 2 + 4, class: 'mindlab-row-label' }, coord.join(',')));
      }
    }
    box.appendChild(s);
    box.appendChild(
      el(
        'div',
        'mindlab-mesh-caption',
        tensor
          ? `Slices of ${tensor.name} ${JSON.stringify(tensor.shape)}: layout ${layoutText(tensor.layout, names)}`
          : 'Select a tensor below to see the slice each device holds.'
      )
    );
  }

  // --------------------------------------------------------------------------------------------- bars
  /** Each device's compute time, communication time (collectives whose groups it belongs to) and memory. */
  private deviceBars(doc: PlanDoc): HTMLElement {
    const shape = doc.mesh.shape;
    const coords = meshCoords(shape);
    const compute = toNumber(doc.cost.compute);
    const memory = toNumber(doc.cost.memory_per_device);
    const comm = coords.map(() => 0);
    for (const c of doc.collectives) {
      // a collective over mesh axes runs in every group along those axes: every device takes part once
      coords.forEach((_, k) => (comm[k] += toNumber(c.time)));
    }
    const maxTime = Math.max(1e-30, compute, ...comm);
    const memScale = Math.max(1, memory, doc.cost.memory_limit ?? 0);
    const wrap = el('div', 'mindlab-bars');
    const legend = el('div', 'mindlab-legend');
    for (const [cls, label] of [
      ['compute', 'compute'],
      ['comm', 'communication'],
      ['memory', 'memory']
    ]) {
      const item = el('span', 'mindlab-legend-item');
      item.append(el('span', `mindlab-swatch mindlab-bar-${cls}`), document.createTextNode(label));
      legend.appendChild(item);
    }
    wrap.appendChild(legend);
    const width = 220;
    coords.forEach((coord, k) => {
      const dev = doc.mesh.device_ids[k];
      const r = el('div', 'mindlab-bar-row');
      r.dataset.device = String(dev);
      r.appendChild(el('span', 'mindlab-bar-label', `dev ${dev}`));
      const s = svg('svg', { width: width + 4, height: 28, class: 'mindlab-bar-svg' });
      const bars: [string, number, number, string][] = [
        ['compute', compute / maxTime, 0, `compute ${fmtSeconds(compute)}`],
        ['comm', comm[k] / maxTime, 9, `communication ${fmtSeconds(comm[k])}`],
        ['memory', memory / memScale, 18, `memory ${fmtBytes(memory)}`]
      ];
      for (const [cls, frac, y, title] of bars) {
        const rect = svg('rect', { x: 0, y, width: Math.max(1, frac * width), height: 7, class: `mindlab-bar-${cls}` });
        rect.appendChild(svg('title', {}, title));
        s.appendChild(rect);
      }
      if (doc.cost.memory_limit !== null) {
        const x = (doc.cost.memory_limit / memScale) * width;
        s.appendChild(svg('line', { x1: x, x2: x, y1: 16, y2: 27, class: 'mindlab-limit' }));
      }
      r.appendChild(s);
      r.appendChild(
        el('span', 'mindlab-bar-text', `${fmtSeconds(compute)} + ${fmtSeconds(comm[k])}, ${fmtBytes(memory)}`)
      );
      wrap.appendChild(r);
    });
    return wrap;
  }

  /** Per op: its compute time and the time of the collectives attached to it, stacked. */
  private opBars(doc: PlanDoc): HTMLElement {
    const commOf = new Map<string, number>();
    for (const c of doc.collectives) {
      if (c.op !== null) {
        commOf.set(c.op, (commOf.get(c.op) ?? 0) + toNumber(c.time));
      }
    }
    const finite = (x: number) => (isFinite(x) ? x : 0);
    const totals = doc.ops.map(o => finite(toNumber(o.cost.compute)) + finite(commOf.get(o.id) ?? 0));
    const max = Math.max(1e-30, ...totals);
    const width = 320;
    const wrap = el('div', 'mindlab-bars');
    doc.ops.forEach(o => {
      const r = el('div', 'mindlab-bar-row');
      r.appendChild(el('span', 'mindlab-bar-label', `${o.id} ${o.name}`));
      const s = svg('svg', { width: width + 4, height: 12, class: 'mindlab-bar-svg' });
      const cw = (finite(toNumber(o.cost.compute)) / max) * width;
      const mw = (finite(commOf.get(o.id) ?? 0) / max) * width;
      s.appendChild(svg('rect', { x: 0, y: 2, width: Math.max(cw, 0.5), height: 8, class: 'mindlab-bar-compute' }));
      s.appendChild(svg('rect', { x: cw, y: 2, width: mw, height: 8, class: 'mindlab-bar-comm' }));
      r.appendChild(s);
      r.appendChild(
        el('span', 'mindlab-bar-text', `${fmtSeconds(o.cost.compute)} + ${fmtSeconds(commOf.get(o.id) ?? 0)} communication`)
      );
      wrap.appendChild(r);
    });
    return wrap;
  }

  // --------------------------------------------------------------------------------------------- tables
  private tensorName(id: string): string {
    const t = this.doc!.tensors.find(x => x.id === id);
    return t ? `${t.name} (${id})` : id;
  }

  private opsTable(doc: PlanDoc): HTMLElement {
    const [t, body] = table('mindlab-ops', [
      'op', 'name', 'source', 'inputs → outputs', 'strategy', 'compute', 'communication', 'memory', 'why',
      'alternatives'
    ]);
    for (const o of doc.ops) {
      const alts = el('details', 'mindlab-alternatives');
      alts.appendChild(el('summary', undefined, `${o.alternatives.length} weighed`));
      if (o.alternatives.length) {
        const [at, ab] = table('mindlab-alt-table', ['strategy', 'compute', 'communication', 'memory', 'total', '', 'reason']);
        for (const a of o.alternatives) {
          row(
            ab,
            [
              strategyText(a.strategy),
              fmtSeconds(a.cost.compute),
              fmtSeconds(a.cost.communication),
              fmtBytes(a.cost.memory),
              fmtSeconds(a.cost.total),
              a.chosen ? 'chosen' : '',
              a.reason
            ],
            a.chosen ? 'mindlab-chosen' : undefined
          );
        }
        alts.appendChild(at);
      }
      const src = o.source ? `${o.source.line}: ${o.source.text.trim()}` : '';
      const r = row(body, [
        o.id,
        o.name,
        src,
        `${o.inputs.map(i => this.tensorName(i)).join(', ')} → ${o.outputs.map(i => this.tensorName(i)).join(', ')}`,
        strategyText(o.strategy),
        fmtSeconds(o.cost.compute),
        fmtSeconds(o.cost.communication),
        fmtBytes(o.cost.memory),
        o.reason,
        alts
      ]);
      r.dataset.op = o.id;
    }
    return t;
  }

  private tensorsTable(doc: PlanDoc): HTMLElement {
    const [t, body] = table('mindlab-tensors', [
      'tensor', 'name', 'role', 'shape', 'dtype', 'layout', 'tensor map', 'slice', 'bytes / device', 'producer'
    ]);
    for (const x of doc.tensors) {
      const r = row(body, [
        x.id,
        x.name,
        x.role,
        JSON.stringify(x.shape),
        x.dtype,
        layoutText(x.layout, doc.mesh.axis_names),
        valueText(x.layout.tensor_map),
        JSON.stringify(x.layout.slice_shape),
        fmtBytes(x.bytes_per_device),
        x.producer ?? ''
      ]);
      r.dataset.tensor = x.id;
      r.classList.add('mindlab-clickable');
      r.addEventListener('click', () => {
        this.selectedTensor = this.selectedTensor === x.id ? null : x.id;
        body.querySelectorAll('tr').forEach(tr => tr.classList.toggle('mindlab-selected-row', tr.dataset.tensor === this.selectedTensor));
        this.drawMesh();
      });
    }
    return t;
  }

  private collectivesTable(doc: PlanDoc): HTMLElement {
    const [t, body] = table('mindlab-collectives', [
      'id', 'kind', 'tensor', 'mesh axes', 'group', 'bytes / device', 'time', 'algorithm', 'at', 'from → to', 'why'
    ]);
    const names = doc.mesh.axis_names;
    for (const c of doc.collectives) {
      const change =
        c.from_layout && c.to_layout ? `${layoutText(c.from_layout, names)} → ${layoutText(c.to_layout, names)}` : '';
      const r = row(body, [
        c.id,
        c.kind,
        this.tensorName(c.tensor),
        c.mesh_axes.join(', '),
        String(c.group_size),
        fmtBytes(c.bytes_per_device),
        fmtSeconds(c.time),
        c.algorithm,
        c.op ? `${c.where} ${c.index} of ${c.op}` : '',
        change,
        c.reason
      ]);
      r.dataset.collective = c.id;
    }
    return t;
  }
}
