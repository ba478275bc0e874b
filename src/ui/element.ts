/** Children a view may pass: nodes, text, or nothing (skipped). */
export type Child = Node | string | number | null | undefined | false;

/**
 * Builds a DOM element. Text goes in as text nodes, never as HTML, so values read from
 * config files or adapters cannot inject markup.
 */
export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string> = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, value);
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    node.append(typeof child === 'number' ? String(child) : child);
  }
  return node;
}

/** A two-column table of label/value rows, the shape every status panel uses. */
export function factTable(rows: ReadonlyArray<readonly [string, Child]>): HTMLTableElement {
  return el(
    'table',
    { class: 'facts' },
    el('tbody', {}, ...rows.map(([label, value]) => el('tr', {}, el('th', { scope: 'row' }, label), el('td', {}, value)))),
  );
}

/** A titled card that later fills itself; returns the card and its body. */
export function card(title: string): { root: HTMLElement; body: HTMLElement } {
  const body = el('div', { class: 'card-body' }, el('p', { class: 'muted' }, 'Checking…'));
  const root = el('section', { class: 'card' }, el('h2', {}, title), body);
  return { root, body };
}
