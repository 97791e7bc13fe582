// The Inspector's kernel feed (src/feed.ts): the comm protocol of mindlab/jupyter/inspector.py, the filter, and
// what happens across a kernel restart.
import { describe, expect, it } from 'vitest';

import { FeedComm, InspectorRecord, KernelFeed, findSourceCell, matches, recordTitle } from '../src/feed';

class Comm implements FeedComm {
  sent: any[] = [];
  closed = false;
  onMsg: ((msg: any) => unknown) | null = null;
  onClose: ((msg: any) => unknown) | null = null;
  send(data: any) {
    this.sent.push(data);
  }
  close() {
    this.closed = true;
  }
  deliver(data: any) {
    this.onMsg!({ content: { data } });
  }
}

const compile = (seq: number, name = 'construct_1'): InspectorRecord => ({
  seq, kind: 'compile', function: null, time: 0,
  summary: { name, inputs: [{ name: 'arg0', type: 'Float32[2, 4]' }], weights: 2, nodes: 12, optimized_nodes: 9, passes: [] }
});
const error: InspectorRecord = {
  seq: 3, kind: 'error', function: null, time: 0,
  summary: { name: 'uses_try', error: 'GraphModeSyntaxError', message: 'no try', source: { file: 'a.py', line: 3, text: 'try:' } }
};
const plan: InspectorRecord = {
  seq: 4, kind: 'plan', function: null, time: 0,
  summary: { name: 'MLP', parallel_mode: 'auto_parallel', search_mode: 'dynamic_programming', mesh: [2, 4], cost: { total: 1e-3 }, ops: 7 }
};

describe('KernelFeed', () => {
  it('says ready, takes the hello, events, updates, mode and clear', () => {
    let changes = 0;
    const feed = new KernelFeed('k1', () => changes++);
    const comm = new Comm();
    feed.accept(comm);
    expect(comm.sent).toEqual([{ request: 'ready' }]);
    expect(feed.connection).toBe('connected');
    comm.deliver({ type: 'hello', on: true, mode: 'PYNATIVE_MODE', records: [compile(1)] });
    comm.deliver({ type: 'event', record: compile(2) });
    comm.deliver({ type: 'update', record: { ...compile(2), kind: 'grad', function: 'loss' } });
    comm.deliver({ type: 'mode', mode: 'GRAPH_MODE' });
    expect(feed.on).toBe(true);
    expect(feed.mode).toBe('GRAPH_MODE');
    expect(feed.records.map(r => r.kind)).toEqual(['compile', 'grad']);
    expect(feed.statusText('nb')).toBe('nb: connected, GRAPH_MODE, inspector on, 2 record(s).');
    comm.deliver({ type: 'cleared' });
    expect(feed.records).toEqual([]);
    expect(changes).toBeGreaterThanOrEqual(6);
  });

  it('answers graph and plan requests by sequence number', async () => {
    const feed = new KernelFeed('k1', () => undefined);
    const comm = new Comm();
    feed.accept(comm);
    const g = feed.graph(2, 'optimized');
    const p = feed.plan(4);
    expect(comm.sent.slice(1)).toEqual([{ request: 'graph', seq: 2, stage: 'optimized' }, { request: 'plan', seq: 4 }]);
    comm.deliver({ type: 'plan', seq: 4, doc: { mesh: 'P' } });
    comm.deliver({ type: 'graph', seq: 2, stage: 'optimized', doc: { nodes: 'G' } });
    expect(await g).toEqual({ nodes: 'G' });
    expect(await p).toEqual({ mesh: 'P' });
  });

  it('keeps the records, marked stale, across a restart until the new kernel says hello', async () => {
    const feed = new KernelFeed('k1', () => undefined);
    const old = new Comm();
    feed.accept(old);
    old.deliver({ type: 'hello', on: true, mode: 'GRAPH_MODE', records: [compile(1), compile(2)] });
    const waiting = feed.graph(1, 'graph');
    feed.kernelRestarting();
    expect(await waiting).toBeNull();                       // a request in flight is answered, not left hanging
    expect(feed.connection).toBe('restarting');
    expect(feed.comm).toBeNull();
    expect(feed.stale).toBe(true);
    expect(feed.records).toHaveLength(2);
    feed.kernelReady();
    expect(feed.connection).toBe('restarted');
    expect(feed.statusText('nb')).toContain('the kernel restarted (1×)');
    expect(await feed.graph(1, 'graph')).toBeNull();        // nothing to ask while disconnected
    const fresh = new Comm();
    feed.accept(fresh);
    expect(feed.connection).toBe('connected');
    fresh.deliver({ type: 'hello', on: true, mode: 'PYNATIVE_MODE', records: [] });
    expect(feed.stale).toBe(false);
    expect(feed.records).toEqual([]);
    fresh.deliver({ type: 'event', record: compile(1, 'again') });
    expect(feed.records.map(r => r.summary.name)).toEqual(['again']);
  });

  it('a closed comm disconnects; a second comm replaces the first', () => {
    const feed = new KernelFeed('k1', () => undefined);
    const a = new Comm();
    const b = new Comm();
    feed.accept(a);
    feed.accept(b);
    expect(a.closed).toBe(true);
    a.onClose!({});
    expect(feed.comm).toBe(b);                              // the old comm's close does not disconnect the new one
    b.onClose!({});
    expect(feed.comm).toBeNull();
    expect(feed.connection).toBe('none');
  });
});

describe('titles and the filter', () => {
  it('titles every kind of record', () => {
    expect(recordTitle(compile(1))).toBe('#1 compiled construct_1(arg0: Float32[2, 4])');
    expect(recordTitle({ ...compile(2), kind: 'grad', function: 'loss' })).toBe('#2 gradient of loss construct_1(arg0: Float32[2, 4])');
    expect(recordTitle(error)).toBe('#3 could not compile uses_try: GraphModeSyntaxError');
    expect(recordTitle(plan)).toBe('#4 plan for MLP on mesh 2×4 (auto_parallel, dynamic_programming)');
    const profile: InspectorRecord = {
      seq: 5, kind: 'profile', function: null, time: 0,
      summary: { name: 'Ascend (ascend910)', profile: 'ascend910', ops: [], more_ops: 0, kernels: 4, calls: 3,
                 cycles: 1234, seconds: 1.5e-6, pipes: { Cube: 10 } }
    };
    expect(recordTitle(profile)).toBe('#5 Ascend (ascend910): 3 op(s), 1.5 µs simulated');
    expect(matches(profile, 'profile ascend')).toBe(true);
  });
  it('matches every word of the filter against kind and title', () => {
    expect(matches(error, 'error')).toBe(true);
    expect(matches(error, 'ERROR uses_try')).toBe(true);
    expect(matches(compile(1), 'error')).toBe(false);
    expect(matches(plan, 'plan mlp')).toBe(true);
    expect(matches(plan, '')).toBe(true);
  });
});

describe('findSourceCell', () => {
  const cells = ['import x', 'def f(v):\n    y = v * 2\n    return y', 'f(1)', 'def f(v):\n    y = v * 2\n    return y + 1'];
  it('finds the cell whose line has the text, the latest definition first', () => {
    expect(findSourceCell(cells, 2, 'y = v * 2')).toEqual({ cell: 3, line: 1 });
    expect(findSourceCell(cells, 3, 'return y')).toEqual({ cell: 1, line: 2 });
  });
  it('returns null when no cell has that text at that line', () => {
    expect(findSourceCell(cells, 1, 'y = v * 2')).toBeNull();
    expect(findSourceCell(cells, 9, 'return y')).toBeNull();
    expect(findSourceCell(cells, 1, '')).toBeNull();
  });
});
