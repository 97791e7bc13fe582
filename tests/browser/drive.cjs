/*
 * Drives headless Chromium (playwright-core, the system browser: never a downloaded one) against a running
 * JupyterLab: opens a notebook, runs all its cells, then exercises mindlab's renderers and reports what it saw as
 * one JSON line on stdout. tests/browser/test_renderers.py starts the server, runs this and checks the report.
 *
 * Input (environment): MINDLAB_LAB_URL (server base URL, token off), MINDLAB_NOTEBOOK (path of the notebook under
 * the server root), MINDLAB_SHOTS (folder for screenshots), MINDLAB_PLAYWRIGHT (path of the playwright-core
 * package), MINDLAB_CHROMIUM (the browser executable), MINDLAB_DONE (text the last cell prints when done).
 */
'use strict';

const path = require('path');
const { chromium } = require(process.env.MINDLAB_PLAYWRIGHT);

const BASE = process.env.MINDLAB_LAB_URL;
const NOTEBOOK = process.env.MINDLAB_NOTEBOOK;
const SHOTS = process.env.MINDLAB_SHOTS;
const DONE = process.env.MINDLAB_DONE;

const GRAPH = '.jp-OutputArea-output.mindlab-graph-view';
const PLAN = '.jp-OutputArea-output.mindlab-plan-view';

/** Add a cell below the last one, type one line of code into it and run it (Shift+Enter). */
async function runCell(page, code) {
  const last = page.locator('.jp-Notebook .jp-Cell').last();
  await last.locator('.jp-InputArea-prompt').click();
  await page.keyboard.press('Escape');
  await page.keyboard.press('b');
  await page.keyboard.press('Enter');
  await page.keyboard.insertText(code);
  await page.keyboard.press('Shift+Enter');
}

async function main() {
  const report = { steps: [], pageErrors: [], console: [] };
  const step = name => report.steps.push(name);
  const browser = await chromium.launch({
    executablePath: process.env.MINDLAB_CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run'
    ]
  });
  let page = null;
  try {
    page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    page.on('pageerror', err => report.pageErrors.push(String(err)));
    page.on('console', msg => {
      if (msg.type() === 'error' || msg.text().includes('mindlab')) {
        report.console.push(msg.text());
      }
    });
    await page.goto(`${BASE}/lab/tree/${NOTEBOOK}`, { waitUntil: 'domcontentloaded' });
    await page.locator('.jp-Notebook .jp-Cell').first().waitFor({ timeout: 60000 });
    step('notebook open');
    // a kernel choice dialog, if JupyterLab asks anyway: take the notebook's kernel
    const dialog = page.locator('.jp-Dialog .jp-mod-accept');
    if (await dialog.isVisible({ timeout: 2000 }).catch(() => false)) {
      await dialog.click();
      step('kernel dialog accepted');
    }
    // wait for the kernel, then Run > Run All Cells
    await page.locator('.jp-StatusBar-Item', { hasText: /\| Idle/ }).first().waitFor({ timeout: 60000 });
    step('kernel idle');
    await page.locator('.lm-MenuBar-itemLabel', { hasText: /^Run$/ }).click();
    await page.locator('.lm-Menu-item:not(.lm-mod-disabled) .lm-Menu-itemLabel', { hasText: /^Run All Cells$/ }).click();
    await page.locator('.jp-InputPrompt', { hasText: /\[(\*|\d+)\]/ }).first().waitFor({ timeout: 10000 });
    step('run all');
    await page.locator('.jp-OutputArea-output', { hasText: DONE }).waitFor({ timeout: 90000 });
    step('cells done');
    const graph = page.locator(GRAPH).first();
    await page.locator(`${GRAPH}[data-status="ready"]`).first().waitFor({ timeout: 30000 });
    step('graph ready');
    await graph.scrollIntoViewIfNeeded();

    // ------------------------------------------------------------------------------ what was drawn
    const drawn = await graph.evaluate(root => ({
      nodeIds: [...root.querySelectorAll('.mindlab-node')].map(e => e.getAttribute('data-id')),
      clusters: [...root.querySelectorAll('.mindlab-cluster')].map(e => e.getAttribute('data-graph')),
      edges: root.querySelectorAll('.mindlab-edge').length,
      info: root.querySelector('.mindlab-info').textContent,
      sourceLines: [...root.querySelectorAll('.mindlab-src-text')].map(e => e.textContent),
      scripts: root.querySelectorAll('script').length,
      svgFallback: root.parentElement.querySelectorAll('img, svg:not(.mindlab-svg):not(.mindlab-svg *)').length
    }));
    Object.assign(report, { drawn });
    report.pwnedAfterRender = await page.evaluate(() => window.__mindlab_pwned === undefined ? null : window.__mindlab_pwned);
    await graph.screenshot({ path: path.join(SHOTS, 'graph.png') });
    step('screenshot');

    // ------------------------------------------------------------------------------ tooltip on hover
    const matmul = graph.locator('.mindlab-node.mindlab-kind-primitive', { hasText: 'matmul' }).first();
    await matmul.hover();
    const tooltip = graph.locator('.mindlab-tooltip');
    await tooltip.waitFor({ state: 'visible', timeout: 5000 });
    report.tooltip = { id: await tooltip.getAttribute('data-id'), text: await tooltip.innerText() };
    await graph.screenshot({ path: path.join(SHOTS, 'graph-tooltip.png') });
    // the node whose source line carries a <script> tag: its tooltip shows the tag as text
    const tanh = graph.locator('.mindlab-node', { hasText: 'tanh' }).first();
    await tanh.hover();
    await page.waitForFunction(
      sel => document.querySelector(sel).querySelector('.mindlab-tooltip').innerText.includes('tanh'),
      GRAPH
    );
    report.scriptTooltip = await tooltip.innerText();
    await page.mouse.move(5, 5);
    report.tooltipHidden = await tooltip.isHidden();
    step('tooltip');

    // ------------------------------------------------------------------------------ click selects
    await tanh.click();
    report.selection = await graph.evaluate(root => ({
      selected: [...root.querySelectorAll('.mindlab-node.mindlab-selected')].map(e => e.getAttribute('data-id')),
      currentLine: [...root.querySelectorAll('.mindlab-src-current .mindlab-src-text')].map(e => e.textContent),
      details: root.querySelector('.mindlab-details').innerText,
      scripts: root.querySelectorAll('script').length
    }));
    await page.waitForSelector('.jp-Cell[data-mindlab-source-line]', { timeout: 5000 });
    report.selection.notebook = await page.evaluate(() => {
      const cells = [...document.querySelectorAll('.jp-Notebook .jp-Cell')];
      const marked = cells.filter(c => c.dataset.mindlabSourceLine !== undefined);
      return {
        markedCells: marked.map(c => cells.indexOf(c)),
        line: marked.length ? Number(marked[0].dataset.mindlabSourceLine) : null,
        activeCell: cells.findIndex(c => c.classList.contains('jp-mod-active'))
      };
    });
    await page.screenshot({ path: path.join(SHOTS, 'source-line.png') });
    step('select');

    // ------------------------------------------------------------------------------ zoom and pan
    const zoom0 = await graph.getAttribute('data-zoom');
    const canvas = graph.locator('.mindlab-canvas');
    const box = await canvas.boundingBox();
    await page.mouse.move(box.x + box.width / 2, box.y + 20);
    await page.mouse.wheel(0, -300);
    await page.waitForFunction(([sel, z]) => document.querySelector(sel).dataset.zoom !== z, [GRAPH, zoom0]);
    const zoom1 = await graph.getAttribute('data-zoom');
    const t0 = await graph.locator('.mindlab-viewport').getAttribute('transform');
    await page.mouse.move(box.x + 8, box.y + 8);
    await page.mouse.down();
    await page.mouse.move(box.x + 68, box.y + 48, { steps: 4 });
    await page.mouse.up();
    const t1 = await graph.locator('.mindlab-viewport').getAttribute('transform');
    report.zoom = { before: Number(zoom0), after: Number(zoom1), transformBefore: t0, transformAfter: t1 };
    await graph.locator('.mindlab-button', { hasText: /^Fit$/ }).click();
    step('pan zoom');

    // ------------------------------------------------------------------------------ collapse / expand
    const count = () => graph.locator('.mindlab-node').count();
    const target = drawn.clusters[0];
    const before = await count();
    await graph.locator(`.mindlab-cluster-toggle[data-graph="${target}"]`).click();
    await graph.locator(`.mindlab-collapsed[data-graph="${target}"]`).waitFor({ timeout: 10000 });
    await page.locator(`${GRAPH}[data-status="ready"]`).first().waitFor();
    const collapsedCount = await count();
    const collapsedLabel = await graph.locator(`.mindlab-collapsed[data-graph="${target}"]`).textContent();
    await graph.screenshot({ path: path.join(SHOTS, 'graph-collapsed.png') });
    await graph.locator(`.mindlab-collapsed[data-graph="${target}"]`).click();
    await graph.locator(`.mindlab-cluster[data-graph="${target}"]`).waitFor({ timeout: 10000 });
    const expandedCount = await count();
    await graph.locator('.mindlab-button', { hasText: /^Collapse all$/ }).click();
    await page.waitForFunction(sel => !document.querySelector(sel).querySelector('.mindlab-cluster'), GRAPH);
    const allCollapsed = await count();
    await graph.locator('.mindlab-button', { hasText: /^Expand all$/ }).click();
    await page.waitForFunction(sel => !document.querySelector(sel).querySelector('.mindlab-collapsed'), GRAPH);
    report.collapse = {
      target, before, collapsedCount, collapsedLabel, expandedCount, allCollapsed, allExpanded: await count()
    };
    step('collapse');

    // ------------------------------------------------------------------------------ the plan view
    const plan = page.locator(PLAN).first();
    await page.locator(`${PLAN}[data-status="ready"]`).first().waitFor({ timeout: 10000 });
    await plan.scrollIntoViewIfNeeded();
    const planBefore = await plan.evaluate(root => ({
      title: root.querySelector('.mindlab-plan-title').textContent,
      bold: root.querySelectorAll('.mindlab-plan-title b').length,
      devices: [...root.querySelectorAll('.mindlab-device')].map(e => e.getAttribute('data-device')),
      opRows: root.querySelectorAll('.mindlab-ops > tbody > tr').length,
      tensorRows: root.querySelectorAll('.mindlab-tensors tbody tr').length,
      collectiveRows: [...root.querySelectorAll('.mindlab-collectives tbody tr')].map(r => r.innerText),
      barRows: root.querySelectorAll('.mindlab-bar-row[data-device]').length,
      slices: root.querySelectorAll('.mindlab-device-slice').length
    }));
    await plan.locator('.mindlab-tensors tbody tr').first().click();
    await plan.locator('.mindlab-device-slice').first().waitFor({ timeout: 5000 });
    planBefore.slicesAfterClick = await plan.evaluate(root =>
      [...root.querySelectorAll('.mindlab-device')].map(e => e.querySelector('.mindlab-device-slice').textContent)
    );
    await plan.locator('.mindlab-alternatives summary').first().click();
    planBefore.alternatives = await plan.evaluate(root =>
      [...root.querySelectorAll('.mindlab-alt-table tbody tr')].map(r => r.innerText)
    );
    await plan.screenshot({ path: path.join(SHOTS, 'plan.png') });
    report.plan = planBefore;
    step('plan');

    // ------------------------------------------------------------------------------ the inspector panel
    await page.locator('li.lm-TabBar-tab[data-id="mindlab-inspector"]').click();
    const panel = page.locator('#mindlab-inspector');
    await panel.locator('.mindlab-record').nth(1).waitFor({ timeout: 10000 });
    const ins = await panel.evaluate(root => ({
      connected: root.dataset.connected,
      status: root.querySelector('.mindlab-inspector-status').textContent,
      titles: [...root.querySelectorAll('.mindlab-record-title')].map(e => e.textContent),
      passRows: root.querySelector('.mindlab-record .mindlab-pass-table').querySelectorAll('tbody tr').length
    }));
    await panel.locator('.mindlab-record').first().locator('button[data-stage="optimized"]').click();
    await panel.locator('.mindlab-graph-view[data-status="ready"]').waitFor({ timeout: 20000 });
    Object.assign(ins, await panel.evaluate(root => ({
      viewerTitle: root.querySelector('.mindlab-inspector-viewer-title').textContent,
      viewerNodes: root.querySelectorAll('.mindlab-graph-view .mindlab-node').length,
      viewerInfo: root.querySelector('.mindlab-graph-view .mindlab-info').textContent
    })));
    report.inspector = ins;
    await page.screenshot({ path: path.join(SHOTS, 'inspector.png') });
    step('inspector');

    // ------------------------------------------------------------------------------ hostile documents
    const tHostile = Date.now();
    await page.waitForFunction(() => document.querySelectorAll('.mindlab-graph-view .mindlab-error').length >= 2,
      undefined, { timeout: 20000 });
    report.hostile = await page.evaluate(() => {
      const views = [...document.querySelectorAll('.jp-OutputArea-output.mindlab-graph-view')];
      const img = views.find(v => v.textContent.includes('onerror'));
      return {
        graphErrors: [...document.querySelectorAll('.mindlab-graph-view .mindlab-error')].map(e => e.textContent),
        planError: (document.querySelector('.mindlab-plan-view .mindlab-error') || { textContent: '' }).textContent,
        imgLabel: img ? [...img.querySelectorAll('.mindlab-node text')].map(t => t.textContent)
          .find(t => t.includes('onerror')) : null,
        imgs: document.querySelectorAll('.jp-OutputArea img[onerror], .mindlab-graph-view img').length
      };
    });
    report.hostile.hugeMs = Date.now() - tHostile;
    step('hostile');

    // ------------------------------------------------------------------------------ live: mode, compile, error
    const live = {};
    const state = () => panel.evaluate(root => ({
      connected: root.dataset.connected,
      connection: root.dataset.connection,
      mode: root.dataset.mode,
      status: root.querySelector('.mindlab-inspector-status').textContent,
      titles: [...root.querySelectorAll('.mindlab-record-title')].map(e => e.textContent),
      stale: root.querySelector('.mindlab-inspector-list').classList.contains('mindlab-stale'),
      statusBar: (document.querySelector('.mindlab-mode-status') || { textContent: null }).textContent
    }));
    const waitPanel = (test, arg, timeout = 20000) =>
      page.waitForFunction(test, arg, { timeout }).then(() => state());
    live.modeBefore = (await state()).mode;
    await runCell(page, '%mindlab graph');
    live.afterGraph = await waitPanel(() => document.querySelector('#mindlab-inspector').dataset.mode === 'GRAPH_MODE');
    await runCell(page, '%mindlab pynative');
    live.afterPynative = await waitPanel(
      () => document.querySelector('#mindlab-inspector').dataset.mode === 'PYNATIVE_MODE');
    const n0 = (await state()).titles.length;
    let tLive = Date.now();
    await runCell(page, 'z3 = ms.jit(lambda v: v * 3)(Tensor(np.ones(3, np.float32)))');
    live.afterCompile = await waitPanel(n => document.querySelectorAll('#mindlab-inspector .mindlab-record').length > n, n0);
    live.compileMs = Date.now() - tLive;
    await runCell(page, 'ms.jit(uses_try)(Tensor(np.ones(3, np.float32)))');
    await panel.locator('.mindlab-record-error').first().waitFor({ timeout: 20000 });
    live.error = await panel.locator('.mindlab-record-error').first().evaluate(e => ({
      title: e.querySelector('.mindlab-record-title').textContent,
      message: e.querySelector('.mindlab-record-message').textContent,
      source: e.querySelector('.mindlab-record-source') ? e.querySelector('.mindlab-record-source').textContent : null
    }));
    await runCell(page, 'ms.set_context(device_target="Ascend"); za = ops.relu(Tensor(np.ones((8, 16), np.float32))); ms.set_context(device_target="CPU")');
    await panel.locator('.mindlab-record-profile').first().waitFor({ timeout: 30000 });
    live.profile = await panel.locator('.mindlab-record-profile').first().evaluate(e => ({
      title: e.querySelector('.mindlab-record-title').textContent,
      pipes: [...e.querySelectorAll('.mindlab-profile-pipes tbody tr')].map(r => r.firstChild.textContent),
      ops: [...e.querySelectorAll('.mindlab-profile-ops tbody tr')].map(r => r.firstChild.textContent)
    }));
    await panel.locator('input.mindlab-inspector-filter').fill('error');
    live.filtered = (await state()).titles;
    await panel.locator('input.mindlab-inspector-filter').fill('');
    await page.screenshot({ path: path.join(SHOTS, 'inspector-live.png') });
    step('live');

    // ------------------------------------------------------------------------------ kernel restart
    await page.locator('.lm-MenuBar-itemLabel', { hasText: /^Kernel$/ }).click();
    await page.locator('.lm-Menu-item:not(.lm-mod-disabled) .lm-Menu-itemLabel', { hasText: /^Restart Kernel/ }).first().click();
    const accept = page.locator('.jp-Dialog .jp-mod-accept');
    if (await accept.isVisible({ timeout: 5000 }).catch(() => false)) {
      await accept.click();
    }
    live.afterRestart = await waitPanel(
      () => document.querySelector('#mindlab-inspector').dataset.connection === 'restarted', undefined, 60000);
    await runCell(page, '%load_ext mindlab');
    await runCell(page, '%mindlab inspect on');
    live.reconnected = await waitPanel(() => document.querySelector('#mindlab-inspector').dataset.connected === 'true',
      undefined, 60000);
    await runCell(page, 'import numpy as np, mindlab as ms; from mindlab import Tensor');
    tLive = Date.now();
    await runCell(page, 'w3 = ms.jit(lambda v: v * 3)(Tensor(np.ones(4, np.float32)))');
    live.afterReconnect = await waitPanel(
      () => [...document.querySelectorAll('#mindlab-inspector .mindlab-record-title')].some(e => e.textContent.startsWith('#1 ')),
      undefined, 30000);
    live.reconnectCompileMs = Date.now() - tLive;
    report.live = live;
    await page.screenshot({ path: path.join(SHOTS, 'inspector-restarted.png') });
    step('restart');

    report.pwned = await page.evaluate(() => (window.__mindlab_pwned === undefined ? null : window.__mindlab_pwned));
    await page.screenshot({ path: path.join(SHOTS, 'page.png') });
  } catch (err) {
    report.error = String(err && err.stack ? err.stack : err);
    if (page) {
      await page.screenshot({ path: path.join(SHOTS, 'failure.png') }).catch(() => undefined);
    }
  } finally {
    await browser.close();
  }
  process.stdout.write(JSON.stringify(report) + '\n');
}

main().catch(err => {
  process.stdout.write(JSON.stringify({ error: String(err && err.stack ? err.stack : err) }) + '\n');
  process.exit(1);
});
