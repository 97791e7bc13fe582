/**
 * The mindlab Inspector: a right-sidebar panel listing, as they happen, every compile, gradient transform and
 * pass pipeline run in the current notebook's kernel (after `%load_ext mindlab` and `%mindlab inspect on`), with
 * each one's pass table; a record's graph (as parsed or optimized) opens in the panel's graph view.
 *
 * The kernel opens a comm with target `mindlab.inspector` (see mindlab/jupyter/inspector.py); this plugin accepts
 * it for every notebook kernel and answers `ready`, after which the kernel sends the records here instead of
 * printing them into cell outputs.
 */
import { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import type { Kernel, KernelMessage } from '@jupyterlab/services';
import type { IRenderMime } from '@jupyterlab/rendermime-interfaces';
import { Panel, Widget } from '@lumino/widgets';

import { button, el, row, table } from './dom';
import { GRAPH_MIME } from './graphmodel';
import { GraphWidget } from './graphview';

export const COMM_TARGET = 'mindlab.inspector';

interface PassRow {
  name: string;
  nodes_before: number;
  nodes_after: number;
  changed: boolean;
}

interface RecordSummary {
  name: string;
  inputs: { name: string; type: string }[];
  weights: number;
  nodes: number;
  optimized_nodes: number;
  passes: PassRow[];
}

interface InspectorRecord {
  seq: number;
  kind: 'compile' | 'grad';
  function: string | null;
  time: number;
  summary: RecordSummary;
}

/** What the panel knows about one kernel. */
class KernelFeed {
  comm: Kernel.IComm | null = null;
  on = false;
  records: InspectorRecord[] = [];
  pending = new Map<string, (doc: unknown) => void>();

  constructor(readonly kernelId: string, readonly changed: () => void) {}

  accept(comm: Kernel.IComm): void {
    if (this.comm && this.comm !== comm) {
      this.comm.close();
    }
    this.comm = comm;
    comm.onMsg = (msg: KernelMessage.ICommMsgMsg) => this.receive(msg.content.data as any);
    comm.onClose = () => {
      if (this.comm === comm) {
        this.comm = null;
        this.changed();
      }
    };
    comm.send({ request: 'ready' });
    this.changed();
  }

  private receive(data: any): void {
    switch (data?.type) {
      case 'hello':
        this.on = !!data.on;
        this.records = data.records ?? [];
        break;
      case 'status':
        this.on = !!data.on;
        break;
      case 'event':
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
        break;
      case 'graph': {
        const key = `${data.seq}:${data.stage}`;
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

  /** Ask the kernel for a record's graph JSON. */
  graph(seq: number, stage: 'graph' | 'optimized'): Promise<unknown> {
    return new Promise(resolve => {
      this.pending.set(`${seq}:${stage}`, resolve);
      this.request({ request: 'graph', seq, stage });
    });
  }
}

class InspectorPanel extends Panel {
  private feeds = new Map<string, KernelFeed>();
  private current: NotebookPanel | null = null;
  private readonly status: HTMLDivElement;
  private readonly list: HTMLDivElement;
  private readonly viewer: GraphWidget;
  private readonly viewerTitle: HTMLDivElement;

  constructor() {
    super();
    this.id = 'mindlab-inspector';
    this.addClass('mindlab-inspector');
    this.title.label = 'mindlab';
    this.title.caption = 'mindlab Inspector: compiles, gradient transforms and passes as they happen';
    const header = el('div', 'mindlab-inspector-header');
    header.appendChild(el('span', 'mindlab-inspector-title', 'mindlab Inspector'));
    header.appendChild(button('Clear', 'Forget the records so far', () => this.feed()?.request({ request: 'clear' })));
    this.status = el('div', 'mindlab-inspector-status');
    this.list = el('div', 'mindlab-inspector-list');
    this.viewerTitle = el('div', 'mindlab-inspector-viewer-title');
    this.viewer = new GraphWidget();
    this.viewer.hide();
    const top = new Widget();
    top.addClass('mindlab-inspector-top');
    top.node.append(header, this.status, this.list, this.viewerTitle);
    this.addWidget(top);
    this.addWidget(this.viewer);
    this.render();
  }

  /** The feed of a kernel (created on first use). */
  feedFor(kernelId: string): KernelFeed {
    let f = this.feeds.get(kernelId);
    if (!f) {
      f = new KernelFeed(kernelId, () => {
        if (this.feed() === f) {
          this.render();
        }
      });
      this.feeds.set(kernelId, f);
    }
    return f;
  }

  private feed(): KernelFeed | null {
    const id = this.current?.sessionContext.session?.kernel?.id;
    return id ? this.feeds.get(id) ?? null : null;
  }

  setCurrent(panel: NotebookPanel | null): void {
    this.current = panel;
    this.render();
  }

  render(): void {
    const feed = this.feed();
    const nb = this.current ? this.current.title.label : null;
    this.status.textContent = !nb
      ? 'No notebook is open.'
      : !feed || !feed.comm
        ? `${nb}: not connected. Run %load_ext mindlab and %mindlab inspect on in the notebook.`
        : `${nb}: connected, inspector ${feed.on ? 'on' : 'off'}, ${feed.records.length} record(s).`;
    this.node.dataset.connected = feed?.comm ? 'true' : 'false';
    this.list.textContent = '';
    if (!feed) {
      return;
    }
    for (const r of [...feed.records].reverse()) {
      this.list.appendChild(this.recordView(feed, r));
    }
  }

  private recordView(feed: KernelFeed, r: InspectorRecord): HTMLElement {
    const s = r.summary;
    const box = el('div', `mindlab-record mindlab-record-${r.kind}`);
    box.dataset.seq = String(r.seq);
    const args = s.inputs.map(i => `${i.name}: ${i.type}`).join(', ');
    const what = r.kind === 'grad' ? `gradient of ${r.function}` : 'compiled';
    box.appendChild(el('div', 'mindlab-record-title', `#${r.seq} ${what} ${s.name}(${args})`));
    const changed = s.passes.filter(p => p.changed).map(p => p.name);
    box.appendChild(
      el(
        'div',
        'mindlab-record-facts',
        `${s.nodes} nodes as parsed → ${s.optimized_nodes} after ${s.passes.length} passes` +
          (changed.length ? ` (changed: ${changed.join(', ')})` : '') +
          (s.weights ? `; ${s.weights} weight(s)` : '') +
          ` · ${new Date(r.time * 1000).toLocaleTimeString()}`
      )
    );
    const passes = el('details', 'mindlab-record-passes');
    passes.appendChild(el('summary', undefined, 'passes'));
    const [t, body] = table('mindlab-pass-table', ['pass', 'before', 'after', 'changed']);
    for (const p of s.passes) {
      row(body, [p.name, String(p.nodes_before), String(p.nodes_after), p.changed ? 'yes' : '–'], p.changed ? 'mindlab-chosen' : undefined);
    }
    passes.appendChild(t);
    box.appendChild(passes);
    const buttons = el('div', 'mindlab-record-buttons');
    for (const [stage, label] of [
      ['graph', 'IR as parsed'],
      ['optimized', 'optimized']
    ] as const) {
      const b = button(label, `Show the ${label} graph below`, () => void this.showGraph(feed, r, stage));
      b.dataset.stage = stage;
      buttons.appendChild(b);
    }
    box.appendChild(buttons);
    return box;
  }

  private async showGraph(feed: KernelFeed, r: InspectorRecord, stage: 'graph' | 'optimized'): Promise<void> {
    this.viewerTitle.textContent = `#${r.seq} ${r.summary.name}: loading…`;
    const doc = await feed.graph(r.seq, stage);
    this.viewerTitle.textContent = `#${r.seq} ${r.summary.name} (${stage === 'graph' ? 'IR as parsed' : 'optimized'})`;
    this.viewer.show();
    const model = { data: { [GRAPH_MIME]: doc }, metadata: {}, trusted: false } as unknown as IRenderMime.IMimeModel;
    await this.viewer.renderModel(model);
  }
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'mindlab-jupyter:inspector',
  description: 'The mindlab Inspector side panel: compiles, gradient transforms and passes as they happen',
  autoStart: true,
  requires: [INotebookTracker],
  activate: (app: JupyterFrontEnd, tracker: INotebookTracker) => {
    const panel = new InspectorPanel();
    app.shell.add(panel, 'right', { rank: 900 });
    const registered = new WeakSet<Kernel.IKernelConnection>();
    const watch = (kernel: Kernel.IKernelConnection | null | undefined) => {
      if (!kernel || registered.has(kernel)) {
        return;
      }
      registered.add(kernel);
      kernel.registerCommTarget(COMM_TARGET, comm => {
        panel.feedFor(kernel.id).accept(comm);
        panel.render();
      });
    };
    tracker.widgetAdded.connect((_, nb) => {
      watch(nb.sessionContext.session?.kernel);
      nb.sessionContext.kernelChanged.connect((_, change) => {
        watch(change.newValue);
        panel.render();
      });
    });
    tracker.currentChanged.connect((_, nb) => panel.setCurrent(nb));
    tracker.forEach(nb => watch(nb.sessionContext.session?.kernel));
    panel.setCurrent(tracker.currentWidget);
  }
};

export default plugin;
