/**
 * DOM helpers shared by the renderers.
 *
 * Every string that comes from a document (op names, source lines, tensor names, reasons...) reaches the page
 * through `textContent` or an SVG text node, never through `innerHTML`: a document can never inject markup.
 */

const SVG_NS = 'http://www.w3.org/2000/svg';

/** An HTML element with optional class list and text content. */
export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  cls?: string,
  text?: string
): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (cls) {
    e.className = cls;
  }
  if (text !== undefined) {
    e.textContent = text;
  }
  return e;
}

/** An SVG element with attributes (set one by one with setAttribute, so values are never parsed as markup). */
export function svg<K extends keyof SVGElementTagNameMap>(
  tag: K,
  attrs: { [name: string]: string | number } = {},
  text?: string
): SVGElementTagNameMap[K] {
  const e = document.createElementNS(SVG_NS, tag) as SVGElementTagNameMap[K];
  for (const [k, v] of Object.entries(attrs)) {
    e.setAttribute(k, String(v));
  }
  if (text !== undefined) {
    e.textContent = text;
  }
  return e;
}

/** A button with a text label and a tooltip. */
export function button(label: string, title: string, onClick: () => void): HTMLButtonElement {
  const b = el('button', 'mindlab-button', label);
  b.type = 'button';
  b.title = title;
  b.addEventListener('click', ev => {
    ev.stopPropagation();
    onClick();
  });
  return b;
}

/** A table with a header row; returns the table and its body. */
export function table(cls: string, headers: string[]): [HTMLTableElement, HTMLTableSectionElement] {
  const t = el('table', `mindlab-table ${cls}`);
  const head = t.createTHead().insertRow();
  for (const h of headers) {
    head.appendChild(el('th', undefined, h));
  }
  return [t, t.createTBody()];
}

/** Append a row of text cells to a table body. */
export function row(body: HTMLTableSectionElement, cells: (string | Node)[], cls?: string): HTMLTableRowElement {
  const r = body.insertRow();
  if (cls) {
    r.className = cls;
  }
  for (const c of cells) {
    const td = r.insertCell();
    if (typeof c === 'string') {
      td.textContent = c;
    } else {
      td.appendChild(c);
    }
  }
  return r;
}

/** A document number: a JSON number, or one of the strings "inf", "-inf", "nan" (JSON has no Infinity). */
export type DocNumber = number | string;

function toNumber(x: DocNumber | null | undefined): number {
  if (x === null || x === undefined) {
    return NaN;
  }
  if (typeof x === 'number') {
    return x;
  }
  return x === 'inf' ? Infinity : x === '-inf' ? -Infinity : NaN;
}

/** A number in engineering form with a unit prefix (12.3 k, 4.56 M). */
export function fmtCount(x: DocNumber | null | undefined): string {
  const v = toNumber(x);
  if (!isFinite(v)) {
    return isNaN(v) ? '—' : '∞';
  }
  const units = ['', ' k', ' M', ' G', ' T', ' P'];
  let k = 0;
  let a = Math.abs(v);
  while (a >= 1000 && k < units.length - 1) {
    a /= 1000;
    k++;
  }
  const s = k === 0 && Number.isInteger(v) ? String(v) : (Math.sign(v) * a).toPrecision(3);
  return s + units[k];
}

/** Bytes with a binary prefix. */
export function fmtBytes(x: DocNumber | null | undefined): string {
  const v = toNumber(x);
  if (!isFinite(v)) {
    return isNaN(v) ? '—' : '∞';
  }
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let k = 0;
  let a = v;
  while (a >= 1024 && k < units.length - 1) {
    a /= 1024;
    k++;
  }
  return k === 0 ? `${v} B` : `${a.toPrecision(3)} ${units[k]}`;
}

/** Seconds with a fitting unit. */
export function fmtSeconds(x: DocNumber | null | undefined): string {
  const v = toNumber(x);
  if (!isFinite(v)) {
    return isNaN(v) ? '—' : '∞';
  }
  if (v === 0) {
    return '0 s';
  }
  const a = Math.abs(v);
  if (a >= 1) {
    return `${v.toPrecision(3)} s`;
  }
  if (a >= 1e-3) {
    return `${(v * 1e3).toPrecision(3)} ms`;
  }
  if (a >= 1e-6) {
    return `${(v * 1e6).toPrecision(3)} µs`;
  }
  return `${(v * 1e9).toPrecision(3)} ns`;
}

export { toNumber };

/** The last path component of a file name. */
export function basename(path: string): string {
  const parts = path.split(/[\\/]/);
  return parts[parts.length - 1] || path;
}

/** A short text for an arbitrary JSON value (attributes, constants): compact JSON, cut at `max` characters. */
export function valueText(v: unknown, max = 80): string {
  let s: string;
  try {
    s = JSON.stringify(v);
  } catch {
    s = String(v);
  }
  if (s === undefined) {
    s = String(v);
  }
  return s.length > max ? s.slice(0, max - 1) + '…' : s;
}
