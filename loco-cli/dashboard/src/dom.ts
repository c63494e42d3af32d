/**
 * Building the page's nodes. Text from the API reaches the page only as text nodes or through
 * `textContent`, never as markup: deployment fields are user input. Nothing here (or anywhere in
 * the dashboard) uses `innerHTML`.
 */

export type Child = Node | string | number | null | undefined | false;
export type Attrs = Record<string, string | number | boolean | null | undefined>;

const SVG_NS = "http://www.w3.org/2000/svg";

function fill(element: Element, attrs: Attrs, children: Child[]): void {
  for (const [name, value] of Object.entries(attrs)) {
    // Inline styles and handlers are refused by the Content-Security-Policy; never write them.
    if (name === "style" || name.startsWith("on")) {
      throw new Error(`attribute '${name}' is not allowed`);
    }
    if (value === null || value === undefined || value === false) continue;
    element.setAttribute(name, value === true ? "" : String(value));
  }
  append(element, ...children);
}

/** Appends children; strings become text nodes. */
export function append(element: Element, ...children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    element.append(typeof child === "object" ? child : document.createTextNode(String(child)));
  }
}

/** An HTML element with attributes and children. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  fill(element, attrs, children);
  return element;
}

/** An SVG element with attributes and children. */
export function svg<K extends keyof SVGElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: Child[]
): SVGElementTagNameMap[K] {
  const element = document.createElementNS(SVG_NS, tag);
  fill(element, attrs, children);
  return element;
}

/** Replaces an element's children. */
export function replace(element: Element, ...children: Child[]): void {
  element.replaceChildren();
  append(element, ...children);
}

/** A class name made of a value from the API: letters, digits, `_` and `-` only. */
export function token(value: string): string {
  return value.replace(/[^A-Za-z0-9_-]/g, "_");
}

/** A status or state badge. */
export function badge(value: string): HTMLSpanElement {
  return h("span", { class: `badge s-${token(value)}`, "data-status": value }, value);
}

/** An RFC 3339 timestamp as `YYYY-MM-DD HH:MM:SS` UTC. */
export function when(at: string | null | undefined): string {
  if (!at) return "—";
  return `${at.slice(0, 10)} ${at.slice(11, 19)}`;
}

/** A number with at most `digits` decimals, or `—`. */
export function num(value: number | null | undefined, digits = 1): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return "—";
  return String(Number(value.toFixed(digits)));
}

/** An error message element: the API's `code` and message. */
export function errorBox(code: string, message: string): HTMLParagraphElement {
  return h("p", { class: "error", role: "alert", "data-code": code }, h("strong", {}, code), `: ${message}`);
}
