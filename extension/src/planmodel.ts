/**
 * The parallel-plan JSON document (`application/vnd.mindlab.plan+json`, see mindlab/ir/schema/plan.schema.json)
 * and the text the plan view derives from it: strategies, layouts and the slice of a tensor each device holds.
 * No DOM here, so the unit tests (test/planmodel.test.ts) run in plain Node.
 */
import type { DocNumber } from './dom';

export const PLAN_MIME = 'application/vnd.mindlab.plan+json';

export interface Layout {
  device_matrix: number[];
  tensor_map: (number | number[])[];
  partial: number[];
  dim_axes: string[][];
  slice_shape: number[];
}

export interface OpCost {
  compute: DocNumber;
  communication: DocNumber;
  memory: DocNumber;
  total: DocNumber;
}

export interface PlanTensor {
  id: string;
  name: string;
  shape: number[];
  dtype: string;
  role: string;
  producer: string | null;
  layout: Layout;
  bytes_per_device: number;
}

export interface PlanOp {
  id: string;
  name: string;
  node: string | null;
  source: { file: string; line: number; text: string } | null;
  inputs: string[];
  outputs: string[];
  strategy: number[][];
  output_layouts: Layout[];
  cost: OpCost;
  alternatives: { strategy: number[][]; cost: OpCost; chosen: boolean; reason: string }[];
  reason: string;
}

export interface PlanCollective {
  id: string;
  kind: string;
  tensor: string;
  mesh_axes: string[];
  group_size: number;
  bytes_per_device: DocNumber;
  time: DocNumber;
  algorithm: string;
  op: string | null;
  where: string;
  index: number;
  reason: string;
  from_layout: Layout | null;
  to_layout: Layout | null;
}

export interface PlanDoc {
  title: string;
  parallel_mode: string;
  search_mode: string | null;
  mesh: { shape: number[]; axis_names: string[]; device_ids: number[] };
  profile: { name: string };
  memory_limit: number | null;
  tensors: PlanTensor[];
  ops: PlanOp[];
  collectives: PlanCollective[];
  cost: {
    compute: DocNumber;
    communication: DocNumber;
    total: DocNumber;
    memory_per_device: DocNumber;
    memory_limit: number | null;
    fits_memory: boolean;
  };
  search: { [k: string]: unknown };
}

export function checkPlanDoc(data: unknown): PlanDoc {
  const d = data as PlanDoc;
  if (!d || typeof d !== 'object') {
    throw new Error('plan document is not an object');
  }
  if (!d.mesh || !Array.isArray(d.mesh.shape) || !Array.isArray(d.mesh.device_ids)) {
    throw new Error('plan document has no mesh');
  }
  for (const key of ['tensors', 'ops', 'collectives'] as const) {
    if (!Array.isArray(d[key])) {
      throw new Error(`plan document has no "${key}" list`);
    }
  }
  if (!d.cost) {
    throw new Error('plan document has no cost');
  }
  return d;
}

/** `(2, 1) × (1, 4)`: a strategy as text. */
export function strategyText(s: number[][]): string {
  return s.length ? s.map(dims => `(${dims.join(', ')})`).join(' × ') : '—';
}

/** `[dp, –] (16×64 per device)`: which mesh axes split each dimension, plus partial sums. */
export function layoutText(lay: Layout, meshNames: string[]): string {
  const dims = lay.dim_axes.map(a => (a.length ? a.join('·') : '–'));
  let s = `[${dims.join(', ')}]`;
  if (lay.partial.length) {
    const nd = meshNames.length;
    s += ` partial(${lay.partial.map(x => meshNames[nd - 1 - x] ?? String(x)).join(', ')})`;
  }
  return s;
}

/** The mesh coordinates of each device, row-major as in the mesh's device_ids. */
export function meshCoords(shape: number[]): number[][] {
  const out: number[][] = [];
  const total = shape.reduce((a, b) => a * b, 1);
  for (let flat = 0; flat < total; flat++) {
    const c: number[] = [];
    let rest = flat;
    for (let a = shape.length - 1; a >= 0; a--) {
      c.unshift(rest % shape[a]);
      rest = Math.floor(rest / shape[a]);
    }
    out.push(c);
  }
  return out;
}

/** The index ranges of the slice of a tensor with layout `lay` that the device at mesh coordinate `coord` holds,
 * as text (`0:16, :`). */
export function sliceText(lay: Layout, mesh: { shape: number[]; axis_names: string[] }, coord: number[]): string {
  return lay.dim_axes
    .map((axes, d) => {
      if (!axes.length) {
        return ':';
      }
      let idx = 0;
      for (const name of axes) {
        const a = mesh.axis_names.indexOf(name);
        idx = idx * mesh.shape[a] + coord[a];
      }
      const size = lay.slice_shape[d];
      return `${idx * size}:${(idx + 1) * size}`;
    })
    .join(', ');
}
