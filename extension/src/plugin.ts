/**
 * The mindlab Inspector: a right-sidebar panel listing, as they happen, every compile, gradient transform and
 * pass pipeline run in the current notebook's kernel (after `%load_ext mindlab` and `%mindlab inspect on`), with
 * each one's pass table; a record's graph (as parsed or optimized) opens in the panel's graph view.
 *
 * The kernel opens a comm with target `mindlab.inspector` (see mindlab/jupyter/inspector.py); this plugin accepts
 * it for every notebook kernel and answers `ready`, after which the kernel sends the records here instead of
 * printing them into cell outputs. Records are compiles, gradient transforms, auto-parallel plans and compile
 * errors (with the user's source line); the list is newest first and filterable; the status line shows the
 * kernel's execution mode and follows kernel restarts (feed.ts).
 */
import { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { IStatusBar } from '@jupyterlab/statusbar';
import type { Kernel } from '@jupyterlab/services';
import type { IRenderMime } from '@jupyterlab/rendermime-interfaces';
import { Panel, Widget } from '@lumino/widgets';

import { basename, button, el, fmtBytes, fmtSeconds, row, table } from './dom';
import {
  CompileSummary,
  ErrorSummary,
  InspectorRecord,
  KernelFeed,
  PlanSummary,
  ProfileSummary,
  findSourceCell,
  matches,
  recordTitle
} from './feed';
import { GRAPH_MIME } from './graphmodel';
import { GraphWidget, SOURCE_EVENT, SourceEventDetail } from './graphview';
import { PLAN_MIME, PlanWidget } from './planview';

export const COMM_TARGET = 'mindlab.inspector';

class InspectorPanel extends Panel {
  private feeds = new Map<string, KernelFeed>();
  private current: NotebookPanel | null = null;
  private filter = '';
  private readonly status: HTMLDivElement;
  private readonly list: HTMLDivElement;
  private readonly viewer: GraphWidget;
  private readonly planViewer: PlanWidget;
  private readonly viewerTitle: HTMLDivElement;
  /** The status bar item showing the current notebook kernel's execution mode (when a status bar exists). */
  readonly modeItem = new Widget();

  constructor() {
    super();
    this.id = 'mindlab-inspector';
    this.addClass('mindlab-inspector');
    this.title.label = 'mindlab';
    this.title.caption = 'mindlab Inspector: compiles, gradient transforms, passes, plans and errors as they happen';
    const header = el('div', 'mindlab-inspector-header');
    header.appendChild(el('span', 'mindlab-inspector-title', 'mindlab Inspector'));
    header.appendChild(button('Clear', 'Forget the records so far', () => this.feed()?.request({ request: 'clear' })));
    const filter = el('input', 'mindlab-inspector-filter');
    filter.type = 'search';
    filter.placeholder = 'filter: kind or name (e.g. "error", "grad loss")';
    filter.addEventListener('input', () => {
      this.filter = filter.value;
      this.render();
    });
    this.status = el('div', 'mindlab-inspector-status');
    this.list = el('div', 'mindlab-inspector-list');
    this.viewerTitle = el('div', 'mindlab-inspector-viewer-title');
    this.viewer = new GraphWidget();
    this.viewer.hide();
    this.planViewer = new PlanWidget();
    this.planViewer.hide();
    const top = new Widget();
    top.addClass('mindlab-inspector-top');
    top.node.append(header, filter, this.status, this.list, this.viewerTitle);
    this.addWidget(top);
    this.addWidget(this.viewer);
    this.addWidget(this.planViewer);
    this.render();
  }

  /** The feed of a kernel (created on first use). */
  feedFor(kernelId: string): KernelFeed {
    let f = this.feeds.get(kernelId);
    if (!f) {
      const feed = new KernelFeed(kernelId, () => {
        if (this.feed() === feed) {
          this.render();
        }
      });
      this.feeds.set(kernelId, feed);
      f = feed;
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
      : !feed
        ? `${nb}: not connected. Run %load_ext mindlab and %mindlab inspect on in the notebook.`
        : feed.statusText(nb);
    this.node.dataset.connected = feed?.comm ? 'true' : 'false';
    this.node.dataset.connection = feed?.connection ?? 'none';
    this.node.dataset.mode = feed?.mode ?? '';
    this.modeItem.node.textContent = feed?.mode ? `mindlab: ${feed.mode}` : '';
    this.modeItem.node.title = feed?.mode ? 'mindlab execution mode of this kernel (%mindlab graph | pynative)' : '';
    this.list.textContent = '';
    if (!feed) {
      return;
    }
    this.list.classList.toggle('mindlab-stale', feed.stale);
    for (const r of [...feed.records].reverse()) {
      if (matches(r, this.filter)) {
        this.list.appendChild(this.recordView(feed, r));
      }
    }
  }

  private recordView(feed: KernelFeed, r: InspectorRecord): HTMLElement {
    const box = el('div', `mindlab-record mindlab-record-${r.kind}`);
    box.dataset.seq = String(r.seq);
    box.appendChild(el('div', 'mindlab-record-title', recordTitle(r)));
    const when = new Date(r.time * 1000).toLocaleTimeString();
    if (r.kind === 'error') {
      const s = r.summary as ErrorSummary;
      box.appendChild(el('div', 'mindlab-record-message', s.message));
      if (s.source) {
        box.appendChild(el('div', 'mindlab-record-source', `${basename(s.source.file)}:${s.source.line}: ${s.source.text}`));
      }
      box.appendChild(el('div', 'mindlab-record-facts', when));
      return box;
    }
    if (r.kind === 'profile') {
      const s = r.summary as ProfileSummary;
      const busiest = Math.max(1, ...Object.values(s.pipes));
      box.appendChild(
        el('div', 'mindlab-record-facts', `${s.kernels} kernel(s), ${Math.round(s.cycles)} cycles on ${s.profile} · ${when}`)
      );
      const [pt, pbody] = table('mindlab-profile-pipes', ['pipe', 'busy cycles', '']);
      for (const [pipe, busy] of Object.entries(s.pipes)) {
        const bar = el('div', 'mindlab-profile-bar');
        bar.style.width = `${Math.round((100 * busy) / busiest)}%`;
        row(pbody, [pipe, String(Math.round(busy)), bar]);
      }
      box.appendChild(pt);
      const ops = el('details', 'mindlab-record-passes');
      ops.appendChild(el('summary', undefined, `ops (${s.ops.length + s.more_ops})`));
      const [ot, obody] = table('mindlab-profile-ops', ['op', 'calls', 'cycles', 'time']);
      for (const o of s.ops) {
        row(obody, [o.op, String(o.calls), String(Math.round(o.cycles)), fmtSeconds(o.seconds)]);
      }
      ops.appendChild(ot);
      box.appendChild(ops);
      return box;
    }
    if (r.kind === 'plan') {
      const s = r.summary as PlanSummary;
      const c = s.cost;
      box.appendChild(
        el(
          'div',
          'mindlab-record-facts',
          `${s.ops} ops; modelled step ${fmtSeconds(c.total)} (compute ${fmtSeconds(c.compute)}, communication ` +
            `${fmtSeconds(c.communication)}), ${fmtBytes(c.memory)} per device · ${when}`
        )
      );
      const buttons = el('div', 'mindlab-record-buttons');
      buttons.appendChild(button('plan', 'Show the plan below', () => void this.showPlan(feed, r)));
      box.appendChild(buttons);
      return box;
    }
    const s = r.summary as CompileSummary;
    const changed = s.passes.filter(p => p.changed).map(p => p.name);
    box.appendChild(
      el(
        'div',
        'mindlab-record-facts',
        `${s.nodes} nodes as parsed → ${s.optimized_nodes} after ${s.passes.length} passes` +
          (changed.length ? ` (changed: ${changed.join(', ')})` : '') +
          (s.weights ? `; ${s.weights} weight(s)` : '') +
          ` · ${when}`
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
    if (doc === null) {
      this.viewerTitle.textContent = `#${r.seq} ${r.summary.name}: the kernel is gone (restarted?)`;
      return;
    }
    this.viewerTitle.textContent = `#${r.seq} ${r.summary.name} (${stage === 'graph' ? 'IR as parsed' : 'optimized'})`;
    this.planViewer.hide();
    this.viewer.show();
    const model = { data: { [GRAPH_MIME]: doc }, metadata: {}, trusted: false } as unknown as IRenderMime.IMimeModel;
    await this.viewer.renderModel(model);
  }

  private async showPlan(feed: KernelFeed, r: InspectorRecord): Promise<void> {
    this.viewerTitle.textContent = `#${r.seq} plan for ${r.summary.name}: loading…`;
    const doc = await feed.plan(r.seq);
    if (doc === null) {
      this.viewerTitle.textContent = `#${r.seq} plan for ${r.summary.name}: the kernel is gone (restarted?)`;
      return;
    }
    this.viewerTitle.textContent = `#${r.seq} plan for ${r.summary.name}`;
    this.viewer.hide();
    this.planViewer.show();
    const model = { data: { [PLAN_MIME]: doc }, metadata: {}, trusted: false } as unknown as IRenderMime.IMimeModel;
    await this.planViewer.renderModel(model);
  }
}

/** Select line `detail.line` of the cell of `nb` it came from, scroll to it and mark the cell. */
function highlightSource(nb: NotebookPanel, detail: SourceEventDetail): void {
  const widgets = nb.content.widgets;
  const found = findSourceCell(
    widgets.map(c => c.model.sharedModel.getSource()),
    detail.line,
    detail.text
  );
  widgets.forEach(c => delete c.node.dataset.mindlabSourceLine);
  if (!found) {
    return;
  }
  const cell = widgets[found.cell];
  const text = cell.model.sharedModel.getSource().split('\n')[found.line];
  cell.node.dataset.mindlabSourceLine = String(found.line + 1);
  nb.content.activeCellIndex = found.cell;
  const editor = cell.editor;
  if (editor) {
    editor.setSelection({ start: { line: found.line, column: 0 }, end: { line: found.line, column: text.length } });
  }
  void nb.content.scrollToCell(cell);
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'mindlab-jupyter:inspector',
  description: 'The mindlab Inspector side panel: compiles, gradient transforms and passes as they happen',
  autoStart: true,
  requires: [INotebookTracker],
  optional: [IStatusBar],
  activate: (app: JupyterFrontEnd, tracker: INotebookTracker, statusBar: IStatusBar | null) => {
    const panel = new InspectorPanel();
    app.shell.add(panel, 'right', { rank: 900 });
    if (statusBar) {
      panel.modeItem.addClass('mindlab-mode-status');
      statusBar.registerStatusItem('mindlab-jupyter:mode', { item: panel.modeItem, align: 'left', rank: 5 });
    }
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
      // A restart keeps the connection (and this comm target) but ends the comm: say so, and accept the restarted
      // kernel's new comm when the notebook opens it again.
      kernel.statusChanged.connect((_, status) => {
        if (status === 'restarting' || status === 'autorestarting' || status === 'dead') {
          panel.feedFor(kernel.id).kernelRestarting();
        } else if (status === 'idle') {
          panel.feedFor(kernel.id).kernelReady();
        }
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
    // A graph node selected in an output: highlight its source line in the notebook cell it came from.
    document.addEventListener(SOURCE_EVENT, event => {
      const detail = (event as CustomEvent<SourceEventDetail>).detail;
      const target = event.target as Node;
      const nb = tracker.find(p => p.node.contains(target)) ?? tracker.currentWidget;
      if (nb) {
        highlightSource(nb, detail);
      }
    });
    tracker.forEach(nb => watch(nb.sessionContext.session?.kernel));
    panel.setCurrent(tracker.currentWidget);
  }
};

export default plugin;
