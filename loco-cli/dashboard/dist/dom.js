const SVG_NS = "http://www.w3.org/2000/svg";
function fill(element, attrs, children) {
    for (const [name, value] of Object.entries(attrs)) {
        if (name === "style" || name.startsWith("on")) {
            throw new Error(`attribute '${name}' is not allowed`);
        }
        if (value === null || value === undefined || value === false)
            continue;
        element.setAttribute(name, value === true ? "" : String(value));
    }
    append(element, ...children);
}
export function append(element, ...children) {
    for (const child of children) {
        if (child === null || child === undefined || child === false)
            continue;
        element.append(typeof child === "object" ? child : document.createTextNode(String(child)));
    }
}
export function h(tag, attrs = {}, ...children) {
    const element = document.createElement(tag);
    fill(element, attrs, children);
    return element;
}
export function svg(tag, attrs = {}, ...children) {
    const element = document.createElementNS(SVG_NS, tag);
    fill(element, attrs, children);
    return element;
}
export function replace(element, ...children) {
    element.replaceChildren();
    append(element, ...children);
}
export function token(value) {
    return value.replace(/[^A-Za-z0-9_-]/g, "_");
}
export function badge(value) {
    return h("span", { class: `badge s-${token(value)}`, "data-status": value }, value);
}
export function when(at) {
    if (!at)
        return "—";
    return `${at.slice(0, 10)} ${at.slice(11, 19)}`;
}
export function num(value, digits = 1) {
    if (value === null || value === undefined || !Number.isFinite(value))
        return "—";
    return String(Number(value.toFixed(digits)));
}
export function errorBox(code, message) {
    return h("p", { class: "error", role: "alert", "data-code": code }, h("strong", {}, code), `: ${message}`);
}
