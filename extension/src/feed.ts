/**
 * What the Inspector knows about one kernel, and how it follows the kernel's comm messages (the protocol of
 * mindlab/jupyter/inspector.py). Kept free of DOM and JupyterLab classes so its unit tests run in plain Node.
 *
 * A kernel restart ends the comm: the feed keeps the records it had, marked as from the previous session, until
 * the restarted kernel opens a new comm (`%load_ext mindlab` + `%mindlab inspect on`), whose hello replaces them.
 */

export interface PassRow {
  name: string;
  nodes_before: number;
  nodes_after: number;
  changed: boolean;
}

export interface CompileSummary {
  name: string;
  inputs: { name: string; type: string }[];
  weights: number;
  nodes: number;
  optimized_nodes: number;
  passes: PassRow[];
}

export interface ErrorSummary {
  name: string;
  error: string;
  message: string;
  source: { file: string; line: number; text: string } | null;
}

export interface PlanSummary {
  name: string;
  parallel_mode: string;
  search_mode: string;
  mesh: number[];
  cost: { [key: string]: number };
  ops: number;
}

export interface ProfileSummary {
  name: string;
  profile: string;
  ops: { op: string; calls: number; cycles: number; seconds: number }[];
  more_ops: number;
  kernels: number;
  calls: number;
  cycles: number;
  seconds: number;
  pipes: { [pipe: string]: number };
}

export interface InspectorRecord {
  seq: number;
  kind: 'compile' | 'grad' | 'error' | 'plan' | 'profile';
  function: string | null;
  time: number;
  summary: any;
}

/** The smallest comm the feed needs (JupyterLab's Kernel.IComm has more). */
export interface FeedComm {
  send(data: any): unknown;
  close(): unknown;
  onMsg: ((msg: any) => unknown) | null;
  onClose: ((msg: any) => unknown) | null;
}

export type Connection = 'none' | 'connected' | 'restarting' | 'restarted';

/** The title line of a record, as the panel lists it. */
export function recordTitle(r: InspectorRecord): string {
  const s = r.summary ?? {};
  switch (r.kind) {
    case 'error':
      return `#${r.seq} could not compile ${s.name}: ${s.error}`;
    case 'profile':
      return `#${r.seq} ${s.name}: ${s.calls} op(s), ${(s.seconds * 1e6).toFixed(1)} µs simulated`;
    case 'plan':
      return `#${r.seq} plan for ${s.name} on mesh ${(s.mesh ?? []).join('×')} (${s.parallel_mode}${
        s.search_mode ? ', ' + s.search_mode : ''
      })`;
    default: {
      const args = (s.inputs ?? []).map((i: { name: string; type: string }) => `${i.name}: ${i.type}`).join(', ');
      const what = r.kind === 'grad' ? `gradient of ${r.function}` : 'compiled';
      return `#${r.seq} ${what} ${s.name}(${args})`;
    }
  }
}

/** Whether a record matches the panel's filter: every word of it appears in the title or the kind. */
export function matches(r: InspectorRecord, filter: string): boolean {
  const hay = `${r.kind} ${recordTitle(r)}`.toLowerCase();
  return filter
    .toLowerCase()
    .split(/\s+/)
    .filter(w => w)
    .every(w => hay.includes(w));
}

export class KernelFeed {
  comm: FeedComm | null = null;
  on = false;
  mode: string | null = null;
  records: InspectorRecord[] = [];
  /** Records kept from before the last restart (shown greyed until the new kernel says hello). */
  stale = false;
  connection: Connection = 'none';
  restarts = 0;
  pending = new Map<string, (doc: unknown) => void>();

  constructor(
    readonly kernelId: string,
    readonly changed: () => void
  ) {}

  accept(comm: FeedComm): void {
    if (this.comm && this.comm !== comm) {
      this.comm.close();
    }
    this.comm = comm;
    this.connection = 'connected';
    comm.onMsg = (msg: any) => this.receive(msg?.content?.data);
    comm.onClose = () => {
      if (this.comm === comm) {
        this.comm = null;
        this.connection = this.restarts ? 'restarted' : 'none';
        this.changed();
      }
    };
    comm.send({ request: 'ready' });
    this.changed();
  }

  /** The kernel is restarting (or died): the comm is gone; keep the records, marked stale. */
  kernelRestarting(): void {
    this.restarts += 1;
    this.comm = null;
    this.on = false;
    this.stale = this.records.length > 0;
    this.connection = 'restarting';
    for (const resolve of this.pending.values()) {
      resolve(null);
    }
    this.pending.clear();
    this.changed();
  }

  /** The restarted kernel is up (idle) but has not opened a comm yet. */
  kernelReady(): void {
    if (this.connection === 'restarting') {
      this.connection = 'restarted';
      this.changed();
    }
  }

  receive(data: any): void {
    switch (data?.type) {
      case 'hello':
        this.on = !!data.on;
        this.mode = data.mode ?? this.mode;
        this.records = data.records ?? [];
        this.stale = false;
        break;
      case 'status':
        this.on = !!data.on;
        break;
      case 'mode':
        this.mode = String(data.mode);
        break;
      case 'event':
        if (this.stale) {
          this.records = [];
          this.stale = false;
        }
        this.records.push(data.record);
        break;
      case 'update': {
        const k = this.records.findIndex(r => r.seq === data.record.seq);
        if (k >= 0) {
          this.records[k] = data.record;
        } else {
          this.records.push(data.record);
        }
        break;
      }
      case 'cleared':
        this.records = [];
        this.stale = false;
        break;
      case 'graph':
      case 'plan': {
        const key = data.type === 'graph' ? `graph:${data.seq}:${data.stage}` : `plan:${data.seq}`;
        this.pending.get(key)?.(data.doc);
        this.pending.delete(key);
        return;
      }
      default:
        return;
    }
    this.changed();
  }

  request(data: object): void {
    this.comm?.send(data as any);
  }

  private ask(key: string, data: object): Promise<unknown> {
    return new Promise(resolve => {
      if (!this.comm) {
        resolve(null);
        return;
      }
      this.pending.set(key, resolve);
      this.request(data);
    });
  }

  /** A record's graph JSON (null when the kernel is gone). */
  graph(seq: number, stage: 'graph' | 'optimized'): Promise<unknown> {
    return this.ask(`graph:${seq}:${stage}`, { request: 'graph', seq, stage });
  }

  /** A plan record's plan JSON (null when the kernel is gone). */
  plan(seq: number): Promise<unknown> {
    return this.ask(`plan:${seq}`, { request: 'plan', seq });
  }

  /** The panel's status line for this feed. */
  statusText(notebook: string): string {
    const mode = this.mode ? `, ${this.mode}` : '';
    switch (this.connection) {
      case 'connected':
        return `${notebook}: connected${mode}, inspector ${this.on ? 'on' : 'off'}, ${this.records.length} record(s).`;
      case 'restarting':
        return `${notebook}: the kernel is restarting…`;
      case 'restarted':
        return (
          `${notebook}: the kernel restarted (${this.restarts}×); run %load_ext mindlab and %mindlab inspect on ` +
          `to reconnect.` + (this.stale ? ' Records below are from before the restart.' : '')
        );
      default:
        return `${notebook}: not connected. Run %load_ext mindlab and %mindlab inspect on in the notebook.`;
    }
  }
}

/**
 * Which line of which cell a source location (file, 1-based line, text of that line) points to: the cell whose
 * line `line` has exactly that text (ipykernel compiles each cell as its own file, so the line number is the line
 * in the cell). Among several matches the last one (the most recent definition) wins; null when none matches.
 */
export function findSourceCell(cells: string[], line: number, text: string): { cell: number; line: number } | null {
  const want = text.trim();
  for (let c = cells.length - 1; c >= 0; c--) {
    const lines = cells[c].split('\n');
    if (line >= 1 && line <= lines.length && lines[line - 1].trim() === want && want !== '') {
      return { cell: c, line: line - 1 };
    }
  }
  return null;
}
