/**
 * ELK, the layout engine (elkjs: the Eclipse Layout Kernel compiled to JavaScript), run in a Web Worker so that
 * laying out a large graph never freezes the page. The worker is started from a Blob holding elkjs's worker
 * script (bundled as text); where workers cannot start, ELK runs on the page instead (loaded on demand).
 */
import ELKApi from 'elkjs/lib/elk-api.js';
import type { ELK, ElkNode } from 'elkjs/lib/elk-api';
import workerSource from 'elkjs/lib/elk-worker.min.js?raw';

let engine: Promise<ELK> | null = null;

async function start(): Promise<ELK> {
  try {
    const url = URL.createObjectURL(new Blob([workerSource], { type: 'application/javascript' }));
    const elk = new ELKApi({ workerFactory: () => new Worker(url) });
    await elk.knownLayoutAlgorithms(); // fails here when the worker cannot run
    return elk;
  } catch (err) {
    console.warn('mindlab: ELK layout worker unavailable, laying out on the page instead', err);
    const { default: ELKBundled } = await import('elkjs/lib/elk.bundled.js');
    return new ELKBundled();
  }
}

/** Lay out an ELK graph (one shared worker for every view). */
export async function layout(graph: ElkNode): Promise<ElkNode> {
  if (engine === null) {
    engine = start();
  }
  return (await engine).layout(graph);
}
