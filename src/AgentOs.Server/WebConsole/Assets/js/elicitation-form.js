// The form of an elicitation (ACP `elicitation/create`, mode "form"): inputs built from its `requestedSchema`, a
// restricted JSON Schema whose properties are strings (an `enum` or `oneOf` as a select; `format` email, uri or date),
// numbers and integers, booleans and arrays of strings (checkboxes when the items list their values, else one per line),
// with `required` ones marked. Everything in the schema (titles, descriptions, values) goes in as text or as an input's
// value. The form does not judge the answer: the server checks it against the schema and its 400 is shown as it says.

import { h } from './dom.js';

/** One of an enum's choices: { value, label }, from `enum` (with `enumNames`) or `oneOf`/`anyOf` of `{ const, title }`. */
function choices(schema) {
  if (Array.isArray(schema?.enum)) {
    return schema.enum.map((value, i) => ({ value: String(value), label: String(schema.enumNames?.[i] ?? value) }));
  }
  const list = Array.isArray(schema?.oneOf) ? schema.oneOf : Array.isArray(schema?.anyOf) ? schema.anyOf : null;
  return list?.filter((o) => o && o.const !== undefined).map((o) => ({ value: String(o.const), label: String(o.title ?? o.const) })) ?? null;
}

const INPUT_TYPES = { email: 'email', uri: 'url', date: 'date' };

/** Builds the field's input and the function that reads its value (undefined: leave the field out). */
function field(name, schema, required, id) {
  const type = schema?.type;
  const options = choices(schema);
  if (type === 'boolean') {
    const input = h('input', { type: 'checkbox', id, checked: schema.default === true });
    return { input, read: () => input.checked };
  }
  if (type === 'number' || type === 'integer') {
    const input = h('input', { type: 'number', id, step: type === 'integer' ? '1' : 'any', inputMode: type === 'integer' ? 'numeric' : 'decimal' });
    if (typeof schema.minimum === 'number') input.min = String(schema.minimum);
    if (typeof schema.maximum === 'number') input.max = String(schema.maximum);
    if (typeof schema.default === 'number') input.value = String(schema.default);
    return {
      input,
      read: () => {
        if (input.validity.badInput) throw new FieldError(name, 'is not a number');
        return input.value === '' ? undefined : Number(input.value);
      },
    };
  }
  if (type === 'array') {
    const items = choices(schema.items);
    if (items) {
      const boxes = items.map((c) => h('input', { type: 'checkbox', value: c.value, checked: Array.isArray(schema.default) && schema.default.includes(c.value) }));
      const group = h('div', { class: 'choices', id }, boxes.map((box, i) => h('label', { class: 'choice' }, box, ` ${items[i].label}`)));
      return { input: group, read: () => { const picked = boxes.filter((b) => b.checked).map((b) => b.value); return picked.length || required ? picked : undefined; } };
    }
    const input = h('textarea', { id, rows: 2, placeholder: 'One per line' });
    if (Array.isArray(schema.default)) input.value = schema.default.join('\n');
    return { input, read: () => { const lines = input.value.split('\n').map((l) => l.trim()).filter(Boolean); return lines.length || required ? lines : undefined; } };
  }
  if (options) {
    const select = h('select', { id }, required ? null : h('option', { value: '', text: '—' }), options.map((c) => h('option', { value: c.value, text: c.label })));
    if (typeof schema.default === 'string') select.value = schema.default;
    else if (required) select.selectedIndex = -1; // nothing chosen until the user chooses
    return { input: select, read: () => (select.value === '' ? undefined : select.value) };
  }
  const input = h('input', { type: INPUT_TYPES[schema?.format] ?? 'text', id, autocomplete: 'off' });
  if (typeof schema?.maxLength === 'number') input.maxLength = schema.maxLength;
  if (typeof schema?.default === 'string') input.value = schema.default;
  return { input, read: () => (input.value === '' ? undefined : input.value) };
}

/** A value the browser itself could not read (a number field holding text). */
export class FieldError extends Error {
  constructor(name, problem) {
    super(`${name} ${problem}`);
    this.field = name;
  }
}

let forms = 0;

/**
 * The form of `schema`. Returns { node, read, showProblem }: read() → the content object to accept with (fields left
 * empty are left out; throws FieldError for an unreadable number); showProblem(message) marks the fields it names.
 */
export function elicitationForm(schema) {
  const form = ++forms;
  const properties = schema && typeof schema.properties === 'object' && schema.properties !== null ? schema.properties : {};
  const required = new Set(Array.isArray(schema?.required) ? schema.required : []);
  const fields = new Map();
  const rows = Object.entries(properties).map(([name, property], i) => {
    const id = `elicit-${form}-${i}`;
    const isRequired = required.has(name);
    const { input, read } = field(name, property, isRequired, id);
    input.dataset.field = name;
    if (isRequired) input.setAttribute('aria-required', 'true');
    fields.set(name, { input, read });
    const title = typeof property?.title === 'string' && property.title ? property.title : name;
    const group = property?.type === 'array' && choices(property.items);
    const label = h(group ? 'span' : 'label', { class: 'field-label', htmlFor: group ? undefined : id },
      title, isRequired ? h('span', { class: 'required', text: ' *', title: 'required' }) : null);
    return h('div', { class: 'field', dataset: { fieldName: name } },
      label,
      input,
      typeof property?.description === 'string' && property.description ? h('div', { class: 'hint', text: property.description }) : null);
  });
  const node = h('div', { class: 'elicit-form' }, rows.length ? rows : h('div', { class: 'muted', text: 'The form has no fields.' }));
  return {
    node,
    read() {
      const content = Object.create(null); // a field named __proto__ stays a field
      for (const [name, { read }] of fields) {
        const value = read();
        if (value !== undefined) content[name] = value;
      }
      return content;
    },
    /** Marks the fields the server's message names (`field 'age' …`, `requires name, tags`); clears the others. */
    showProblem(message) {
      const named = new Set();
      for (const m of String(message ?? '').matchAll(/field '([^']+)'/g)) named.add(m[1]);
      const requires = /requires ([^.]+)\./.exec(String(message ?? ''));
      if (requires) for (const name of requires[1].split(',')) named.add(name.trim());
      for (const [name, { input }] of fields) {
        if (named.has(name)) input.setAttribute('aria-invalid', 'true');
        else input.removeAttribute('aria-invalid');
      }
    },
  };
}
