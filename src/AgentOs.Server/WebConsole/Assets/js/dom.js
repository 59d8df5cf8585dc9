// DOM building without HTML strings. Every text goes in as a text node (textContent), so nothing an agent, a server
// or a user wrote can become markup or script; the page's Content-Security-Policy (no inline script, Trusted Types
// required with no policy) would refuse it anyway. There is no innerHTML anywhere in the console.

/**
 * Creates an element.
 * props: class, text, title, and any other DOM property (value, type, disabled, href…, set as properties);
 * `on: { click: fn }` for listeners; `dataset: {…}`; `attrs: {…}` for plain attributes (never on* or style).
 * children: nodes, strings (as text), arrays, null/undefined/false (skipped).
 */
export function h(tag, props, ...children) {
  const element = document.createElement(tag);
  if (props) {
    for (const [key, value] of Object.entries(props)) {
      if (value === undefined || value === null) continue;
      switch (key) {
        case 'class': element.className = value; break;
        case 'text': element.textContent = value; break;
        case 'on': for (const [type, fn] of Object.entries(value)) element.addEventListener(type, fn); break;
        case 'dataset': Object.assign(element.dataset, value); break;
        case 'attrs':
          for (const [name, v] of Object.entries(value)) {
            if (/^on/i.test(name) || name.toLowerCase() === 'style') throw new Error(`refused attribute ${name}`);
            element.setAttribute(name, String(v));
          }
          break;
        default:
          if (/^on/i.test(key) || key === 'innerHTML' || key === 'outerHTML') throw new Error(`refused property ${key}`);
          element[key] = value;
      }
    }
  }
  append(element, children);
  return element;
}

/** Appends children (nodes, strings as text, nested arrays; null, undefined and false skipped). */
export function append(parent, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(parent, child);
    else if (child instanceof Node) parent.appendChild(child);
    else parent.appendChild(document.createTextNode(String(child)));
  }
  return parent;
}

/** Replaces every child of `parent`. */
export function replaceChildren(parent, ...children) {
  parent.replaceChildren();
  return append(parent, children);
}

/** A short message at the bottom of the page; errors stay longer. */
export function toast(message, kind = 'info') {
  const host = document.getElementById('toasts');
  if (!host) return;
  const node = h('div', { class: `toast ${kind}`, text: message, attrs: { role: kind === 'error' ? 'alert' : 'status' } });
  node.addEventListener('click', () => node.remove());
  host.appendChild(node);
  setTimeout(() => node.remove(), kind === 'error' ? 10000 : 4000);
}
