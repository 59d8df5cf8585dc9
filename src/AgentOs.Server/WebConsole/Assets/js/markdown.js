// A small markdown renderer that builds DOM nodes, never HTML: every piece of text becomes a text node, so markup in
// an agent's message (<script>, <img onerror=…>, raw HTML of any kind) shows as the characters it is. It knows what
// agents write in practice: paragraphs with line breaks, headings, fenced and indented code, block quotes, lists,
// rules, **strong**, *emphasis*, ~~strike~~, `code`, and links. A link becomes a link only when its URL is absolute
// http: or https: (checked with the URL parser, so "java\tscript:" or " javascript:" tricks fail too); any other
// link, images included, stays text.

/** Past this many characters a message is shown as plain text: cheap to render at any size. */
export const MAX_MARKDOWN_CHARS = 100_000;

/** The URL as the browser will use it, if it is absolute http(s); else null. */
export function safeUrl(raw) {
  try {
    const url = new URL(raw);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.href : null;
  } catch {
    return null;
  }
}

/** Renders `text` into a DocumentFragment. */
export function renderMarkdown(text) {
  const fragment = document.createDocumentFragment();
  if (text.length > MAX_MARKDOWN_CHARS) {
    const pre = document.createElement('div');
    pre.className = 'plain';
    pre.textContent = text;
    fragment.appendChild(pre);
    return fragment;
  }
  renderBlocks(text.split('\n'), fragment, 0);
  return fragment;
}

const FENCE = /^ {0,3}(`{3,}|~{3,})\s*([\w+#.-]*)/;
const HEADING = /^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$/;
const RULE = /^ {0,3}([-*_])(?:\s*\1){2,}\s*$/;
const QUOTE = /^ {0,3}>\s?/;
const LIST_ITEM = /^( {0,3})([-*+]|\d{1,9}[.)])\s+(.*)$/;
const INDENTED = /^( {4}|\t)/;

function isBlockStart(line) {
  return FENCE.test(line) || HEADING.test(line) || RULE.test(line) || QUOTE.test(line) || LIST_ITEM.test(line);
}

function renderBlocks(lines, parent, depth) {
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    if (line.trim() === '') { i++; continue; }

    let m;
    if ((m = FENCE.exec(line))) {
      const marker = m[1];
      const body = [];
      i++;
      while (i < lines.length && !(lines[i].trimStart().startsWith(marker[0].repeat(marker.length)) && lines[i].trim().replaceAll(marker[0], '') === '')) {
        body.push(lines[i]);
        i++;
      }
      i++; // the closing fence (or the end)
      parent.appendChild(codeBlock(body.join('\n'), m[2]));
      continue;
    }
    if (INDENTED.test(line) && depth < 8) {
      const body = [];
      while (i < lines.length && (INDENTED.test(lines[i]) || (lines[i].trim() === '' && i + 1 < lines.length && INDENTED.test(lines[i + 1])))) {
        body.push(lines[i].replace(INDENTED, ''));
        i++;
      }
      parent.appendChild(codeBlock(body.join('\n'), ''));
      continue;
    }
    if ((m = HEADING.exec(line))) {
      const heading = document.createElement(`h${Math.min(6, m[1].length + 2)}`);
      renderInline(m[2], heading, 0);
      parent.appendChild(heading);
      i++;
      continue;
    }
    if (RULE.test(line)) {
      parent.appendChild(document.createElement('hr'));
      i++;
      continue;
    }
    if (QUOTE.test(line) && depth < 8) {
      const body = [];
      while (i < lines.length && QUOTE.test(lines[i])) {
        body.push(lines[i].replace(QUOTE, ''));
        i++;
      }
      const quote = document.createElement('blockquote');
      renderBlocks(body, quote, depth + 1);
      parent.appendChild(quote);
      continue;
    }
    if ((m = LIST_ITEM.exec(line)) && depth < 8) {
      const ordered = /\d/.test(m[2]);
      const list = document.createElement(ordered ? 'ol' : 'ul');
      if (ordered && parseInt(m[2], 10) !== 1) list.start = parseInt(m[2], 10);
      while (i < lines.length) {
        const item = LIST_ITEM.exec(lines[i]);
        if (!item || /\d/.test(item[2]) !== ordered) break;
        const body = [item[3]];
        i++;
        // Continuation: indented lines (a nested list, more text), blank lines between indented ones.
        while (i < lines.length && (/^\s{2,}\S/.test(lines[i]) || (lines[i].trim() === '' && i + 1 < lines.length && /^\s{2,}\S/.test(lines[i + 1])))) {
          body.push(lines[i].replace(/^\s{2,4}/, ''));
          i++;
        }
        const li = document.createElement('li');
        if (body.length === 1) renderInline(body[0], li, 0);
        else renderBlocks(body, li, depth + 1);
        list.appendChild(li);
        if (i < lines.length && lines[i].trim() === '' && i + 1 < lines.length && LIST_ITEM.test(lines[i + 1])) i++;
      }
      parent.appendChild(list);
      continue;
    }

    // A paragraph: until a blank line or another block; single line breaks are kept.
    const paragraph = document.createElement('p');
    let first = true;
    while (i < lines.length && lines[i].trim() !== '' && (first || !isBlockStart(lines[i]))) {
      if (!first) paragraph.appendChild(document.createElement('br'));
      renderInline(lines[i], paragraph, 0);
      first = false;
      i++;
    }
    parent.appendChild(paragraph);
  }
}

function codeBlock(text, language) {
  const pre = document.createElement('pre');
  const code = document.createElement('code');
  code.textContent = text;
  if (language) code.dataset.lang = language;
  pre.appendChild(code);
  return pre;
}

const ESCAPABLE = '\\`*_{}[]()#+-.!~<>|"\'';

/** Inline markdown of `text` appended to `parent`. */
function renderInline(text, parent, depth) {
  let plain = '';
  const flush = () => {
    if (plain) { parent.appendChild(document.createTextNode(plain)); plain = ''; }
  };
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c === '\\' && i + 1 < text.length && ESCAPABLE.includes(text[i + 1])) {
      plain += text[i + 1];
      i += 2;
      continue;
    }
    if (c === '`') {
      let run = 1;
      while (text[i + run] === '`') run++;
      const fence = '`'.repeat(run);
      const close = near(text, fence, i + run);
      if (close > i) {
        flush();
        const code = document.createElement('code');
        code.textContent = text.slice(i + run, close).replace(/^ (.+) $/, '$1');
        parent.appendChild(code);
        i = close + run;
        continue;
      }
      plain += fence;
      i += run;
      continue;
    }
    if (depth < 6 && (c === '[' || (c === '!' && text[i + 1] === '['))) {
      const link = parseLink(text, c === '!' ? i + 1 : i);
      if (link) {
        const href = c === '!' ? null : safeUrl(link.url);
        if (href) {
          flush();
          const a = document.createElement('a');
          a.href = href;
          a.rel = 'noopener noreferrer nofollow';
          a.target = '_blank';
          a.title = href;
          renderInline(link.label, a, depth + 1);
          parent.appendChild(a);
        } else {
          plain += text.slice(i, link.end); // not a link: the characters as written
        }
        i = link.end;
        continue;
      }
    }
    if (c === '<') {
      const close = near(text, '>', i + 1, 2048);
      const href = close > i ? safeUrl(text.slice(i + 1, close)) : null;
      if (href && !/\s/.test(text.slice(i + 1, close))) {
        flush();
        const a = document.createElement('a');
        a.href = href;
        a.rel = 'noopener noreferrer nofollow';
        a.target = '_blank';
        a.textContent = text.slice(i + 1, close);
        parent.appendChild(a);
        i = close + 1;
        continue;
      }
    }
    if (depth < 6 && (c === '*' || c === '_' || c === '~')) {
      const span = parseEmphasis(text, i);
      if (span) {
        flush();
        const element = document.createElement(span.tag);
        renderInline(span.inner, element, depth + 1);
        parent.appendChild(element);
        i = span.end;
        continue;
      }
    }
    plain += c;
    i++;
  }
  flush();
}

/** The index of `sub` in `text` from `from`, looking at most `span` characters ahead (so no line costs more than that); -1 when not there. */
function near(text, sub, from, span = 10_000) {
  const found = text.slice(from, from + span).indexOf(sub);
  return found < 0 ? -1 : from + found;
}

/** `[label](url "title")` starting at `start` (the `[`): { label, url, end } or null. */
function parseLink(text, start) {
  let depth = 0;
  let close = -1;
  for (let j = start; j < text.length && j < start + 2000; j++) {
    const c = text[j];
    if (c === '\\') { j++; continue; }
    if (c === '[') depth++;
    else if (c === ']' && --depth === 0) { close = j; break; }
  }
  if (close < 0 || text[close + 1] !== '(') return null;
  const end = near(text, ')', close + 2, 4096);
  if (end < 0) return null;
  const target = text.slice(close + 2, end).trim();
  const url = target.replace(/\s+(".*"|'.*')$/, '').replace(/^<(.*)>$/, '$1');
  return { label: text.slice(start + 1, close), url, end: end + 1 };
}

/** `**strong**`, `__strong__`, `*em*`, `_em_` (not inside a word), `~~del~~` at `start`: { tag, inner, end } or null. */
function parseEmphasis(text, start) {
  const c = text[start];
  const double = text[start + 1] === c;
  if (c === '~' && !double) return null;
  const marker = double ? c + c : c;
  const from = start + marker.length;
  if (from >= text.length || /\s/.test(text[from])) return null;
  if (c === '_' && start > 0 && /\w/.test(text[start - 1])) return null;
  let close = near(text, marker, from + 1);
  for (let tries = 0; close > 0 && (/\s/.test(text[close - 1]) || (!double && text[close + 1] === c)); tries++) {
    if (tries > 20 || close - from > 10_000) return null;
    close = near(text, marker, close + 1);
  }
  if (close < 0 || close - from > 10_000) return null;
  if (c === '_' && /\w/.test(text[close + marker.length] ?? '')) return null;
  const tag = c === '~' ? 'del' : double ? 'strong' : 'em';
  return { tag, inner: text.slice(from, close), end: close + marker.length };
}
