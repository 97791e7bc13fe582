// The graph JSON -> view model code (src/graphmodel.ts): document checks, labels, clusters and the edges that stay
// visible when subgraphs are collapsed.
import { describe, expect, it } from 'vitest';

import { GraphDoc, GraphModel, checkGraphDoc, clusterId, nodeLabel, typeText } from '../src/graphmodel';

function node(id: string, graph: string, op: string, inputs: string[], extra: object = {}) {
  return {
    id, graph, op, inputs, kind: 'primitive', attrs: {}, shape: [2, 4], dtype: 'Float32', source: null,
    subgraphs: [], cost: { flops: 8, bytes: 64 }, ...extra
  };
}

/** f(x) = if (x > 0) then tanh(x) else x, with the then-branch as subgraph g1. */
function doc(): GraphDoc {
  const graph = (id: string, name: string, parent: string | null) => ({
    id, name, kind: parent ? 'branch' : 'function', parent, source: null, params: [], outputs: [], effects: []
  });
  return {
    format: 'application/vnd.mindlab.graph+json', version: 1, kind: 'forward', title: 'f', root: 'g0',
    graphs: [graph('g0', 'f', null), graph('g1', 'then', 'g0')],
    nodes: [
      node('n0', 'g0', 'param', [], { kind: 'param', name: 'x' }),
      node('n1', 'g0', 'greater', ['n0'], { dtype: 'Bool' }),
      node('n2', 'g1', 'tanh', ['n0']),
      node('n3', 'g1', 'mul', ['n2', 'n0']),
      node('n4', 'g0', 'if', ['n1', 'n0'], { kind: 'builtin', subgraphs: ['g1'] }),
      node('n5', 'g0', 'constant', [], { kind: 'constant', value: 2.5, shape: [], dtype: 'Float32' })
    ] as any,
    edges: [
      { src: 'n0', dst: 'n1', index: 0 },
      { src: 'n0', dst: 'n2', index: 0 },
      { src: 'n2', dst: 'n3', index: 0 },
      { src: 'n0', dst: 'n3', index: 1 },
      { src: 'n1', dst: 'n4', index: 0 }
    ]
  };
}

describe('checkGraphDoc', () => {
  it('accepts a well-formed document', () => {
    expect(checkGraphDoc(doc()).nodes).toHaveLength(6);
  });
  it('names what is wrong with a malformed one', () => {
    expect(() => checkGraphDoc(null)).toThrow('not an object');
    expect(() => checkGraphDoc({ ...doc(), nodes: 'x' })).toThrow('no "nodes" list');
    expect(() => checkGraphDoc({ ...doc(), root: 'g9' })).toThrow('root g9 is not one of its graphs');
    const bad = doc();
    bad.edges.push({ src: 'n0', dst: 'n99', index: 0 });
    expect(() => checkGraphDoc(bad)).toThrow('refers to an unknown node');
    const orphan = doc();
    (orphan.nodes[1] as any).graph = 'nowhere';
    expect(() => checkGraphDoc(orphan)).toThrow('node "n1" is malformed');
  });
});

describe('labels', () => {
  it('writes types like the text dump', () => {
    expect(typeText([2, 4], 'Float32')).toBe('Float32[2, 4]');
    expect(typeText([[2], []], ['Float32', 'Int32'])).toBe('(Float32[2], Int32[])');
    expect(typeText(null, null)).toBe('');
  });
  it('labels params by name, constants by value and ops by op', () => {
    const d = doc();
    expect(nodeLabel(d.nodes[0])).toEqual(['x', 'Float32[2, 4]']);
    expect(nodeLabel(d.nodes[2])).toEqual(['tanh', 'Float32[2, 4]']);
    expect(nodeLabel(d.nodes[5])).toEqual(['2.5', 'Float32[]']);
  });
  it('keeps hostile text as data (no markup is interpreted here)', () => {
    const d = doc();
    (d.nodes[2] as any).op = '<img src=x onerror=alert(1)>';
    expect(nodeLabel(d.nodes[2])[0]).toBe('<img src=x onerror=alert(1)>');
  });
});

describe('GraphModel', () => {
  it('places subgraphs inside the graph that runs them', () => {
    const m = new GraphModel(doc());
    expect(m.clusters()).toEqual(['g1']);
    expect(m.size('g1')).toBe(2);
    expect(m.isWithin('g1', 'g0')).toBe(true);
  });
  it('routes edges to a collapsed cluster and merges duplicates', () => {
    const m = new GraphModel(doc());
    const open = m.visibleEdges(new Set());
    const data = open.filter(e => e.kind === 'data');
    expect(data.map(e => `${e.src}->${e.dst}`).sort()).toEqual(['n0->n1', 'n0->n2', 'n0->n3', 'n1->n4', 'n2->n3']);
    const closed = m.visibleEdges(new Set(['g1']));
    const inside = closed.filter(e => e.kind === 'data').map(e => `${e.src}->${e.dst}`).sort();
    // n0 feeds both members of g1: one merged edge into the collapsed box, which counts both
    expect(inside).toEqual([`n0->${clusterId('g1')}`, 'n0->n1', 'n1->n4']);
    const merged = closed.find(e => e.dst === clusterId('g1') && e.kind === 'data')!;
    expect(merged.count).toBe(2);
    expect(m.rep('n3', new Set(['g1']))).toBe(clusterId('g1'));
  });
});
