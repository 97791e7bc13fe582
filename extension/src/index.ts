/**
 * mindlab's MIME renderers for JupyterLab: graph JSON (`application/vnd.mindlab.graph+json`) and parallel-plan
 * JSON (`application/vnd.mindlab.plan+json`). Both are `safe`: they render every string from the document as
 * text, so they run in untrusted notebooks too.
 */
import type { IRenderMime } from '@jupyterlab/rendermime-interfaces';

import { GraphWidget } from './graphview';
import { GRAPH_MIME } from './graphmodel';
import { PLAN_MIME, PlanWidget } from './planview';

export { GRAPH_MIME, PLAN_MIME };

const graphRenderer: IRenderMime.IRendererFactory = {
  safe: true,
  mimeTypes: [GRAPH_MIME],
  defaultRank: 40, // before HTML (50), SVG (80) and text (120): the interactive view wins when this extension is installed
  createRenderer: () => new GraphWidget()
};

const planRenderer: IRenderMime.IRendererFactory = {
  safe: true,
  mimeTypes: [PLAN_MIME],
  defaultRank: 40,
  createRenderer: () => new PlanWidget()
};

const extensions: IRenderMime.IExtension[] = [
  {
    id: 'mindlab-jupyter:graph',
    description: 'Interactive view of mindlab graph JSON (compiled programs, gradient graphs, passes)',
    rendererFactory: graphRenderer,
    rank: 40,
    dataType: 'json'
  },
  {
    id: 'mindlab-jupyter:plan',
    description: 'View of mindlab parallel plans (mesh, strategies, layouts, collectives, costs)',
    rendererFactory: planRenderer,
    rank: 40,
    dataType: 'json'
  }
];

export default extensions;
