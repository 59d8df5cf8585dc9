// A virtualized list of items of varying, changing heights: only the items in view (and a margin around it) are in
// the DOM, each positioned at the sum of the heights before it. Heights start as estimates and become exact once an
// item has been drawn; the sums live in a Fenwick tree, so finding the item at a scroll offset, or the offset of an
// item, costs O(log n) among 100,000 items. When the view is at the bottom it follows new items; otherwise the item
// at the top of the view stays put while heights above it are corrected.

/** Sums of item heights: point updates, prefix sums and "which item holds offset y", each O(log n). */
class HeightTree {
  constructor() {
    this.n = 0;
    this.capacity = 1024;
    this.tree = new Float64Array(this.capacity + 1);
    this.values = new Float64Array(this.capacity);
  }

  push(value) {
    if (this.n === this.capacity) this.grow();
    this.values[this.n] = value;
    this.add(this.n, value);
    this.n++;
  }

  get(i) { return this.values[i]; }

  set(i, value) {
    const delta = value - this.values[i];
    if (delta !== 0) {
      this.values[i] = value;
      this.add(i, delta);
    }
  }

  add(i, delta) {
    for (let j = i + 1; j <= this.capacity; j += j & -j) this.tree[j] += delta;
  }

  /** The sum of heights of items [0, i). */
  offset(i) {
    let sum = 0;
    for (let j = i; j > 0; j -= j & -j) sum += this.tree[j];
    return sum;
  }

  total() { return this.offset(this.n); }

  /** The index of the item at offset y (clamped to the list). */
  indexAt(y) {
    let pos = 0;
    let rest = y;
    for (let step = this.capacity; step > 0; step >>= 1) {
      const next = pos + step;
      if (next <= this.capacity && this.tree[next] <= rest) {
        pos = next;
        rest -= this.tree[next];
      }
    }
    return Math.max(0, Math.min(pos, this.n - 1));
  }

  grow() {
    this.capacity *= 2;
    const values = new Float64Array(this.capacity);
    values.set(this.values.subarray(0, this.n));
    this.values = values;
    this.tree = new Float64Array(this.capacity + 1);
    for (let i = 1; i <= this.n; i++) {
      this.tree[i] += this.values[i - 1];
      const parent = i + (i & -i);
      if (parent <= this.capacity) this.tree[parent] += this.tree[i];
    }
  }
}

export class VirtualList {
  /**
   * @param {HTMLElement} scroller  the scrolling element (its height set by CSS)
   * @param {object} options  render(index) → Node; version(index) → number (a change redraws the item);
   *                          estimate(index, width) → a height in px before the item is measured
   */
  constructor(scroller, { render, version, estimate, overscan = 600 }) {
    this.scroller = scroller;
    this.render = render;
    this.version = version;
    this.estimate = estimate;
    this.overscan = overscan;
    this.sizes = new HeightTree();
    this.mounted = new Map(); // index → { node, version }
    this.follow = true;
    this.frame = 0;
    this.content = document.createElement('div');
    this.content.className = 'vlist-content';
    scroller.appendChild(this.content);
    scroller.addEventListener('scroll', () => {
      this.follow = this.scroller.scrollTop + this.scroller.clientHeight >= this.scroller.scrollHeight - 48;
      this.schedule();
    }, { passive: true });
    this.resizes = new ResizeObserver(() => this.schedule());
    this.resizes.observe(scroller);
    this.width = scroller.clientWidth;
    this.onDraw = null;
  }

  /** The list now has `count` items; `changed` holds the indexes whose content changed. Drawn at the next draw(). */
  sync(count, changed) {
    const width = this.scroller.clientWidth || 800;
    for (let i = this.sizes.n; i < count; i++) {
      this.sizes.push(this.estimate(i, width));
    }
    for (const index of changed) {
      const mounted = this.mounted.get(index);
      if (mounted) mounted.version = -1;
    }
  }

  /** Follows the end of the list from now on (as when a prompt is sent). */
  toBottom() {
    this.follow = true;
    this.schedule();
  }

  /** Shows item `index` at the top of the view. */
  scrollToIndex(index) {
    this.follow = false;
    this.scroller.scrollTop = this.sizes.offset(Math.max(0, Math.min(index, this.sizes.n - 1)));
    this.schedule();
  }

  schedule() {
    if (!this.frame) this.frame = requestAnimationFrame(() => { this.frame = 0; this.draw(); });
  }

  destroy() {
    if (this.frame) cancelAnimationFrame(this.frame);
    this.resizes.disconnect();
    this.content.remove();
  }

  draw() {
    const scroller = this.scroller;
    if (scroller.clientWidth !== this.width) {
      this.width = scroller.clientWidth;
      // Wrapping changed: every drawn item is measured again below, as it is on every frame.
    }
    for (let pass = 0; pass < 3; pass++) {
      const total = this.sizes.total();
      this.content.style.height = `${total}px`;
      if (this.follow) scroller.scrollTop = Math.max(0, total - scroller.clientHeight);
      const top = scroller.scrollTop;
      const anchor = this.sizes.indexAt(top);
      const anchorShift = top - this.sizes.offset(anchor);
      const first = this.sizes.indexAt(Math.max(0, top - this.overscan));
      const last = this.sizes.indexAt(top + scroller.clientHeight + this.overscan);
      const count = this.sizes.n;

      for (const [index, mounted] of this.mounted) {
        if (index < first || index > last || index >= count) {
          this.resizes.unobserve(mounted.node);
          mounted.node.remove();
          this.mounted.delete(index);
        }
      }
      for (let index = first; index <= last && index < count; index++) {
        let mounted = this.mounted.get(index);
        const version = this.version(index);
        if (!mounted) {
          const node = document.createElement('div');
          node.className = 'vitem';
          node.dataset.index = String(index);
          mounted = { node, version: -1 };
          this.mounted.set(index, mounted);
          this.content.appendChild(node);
          this.resizes.observe(node);
        }
        if (mounted.version !== version) {
          mounted.node.replaceChildren(this.render(index));
          mounted.version = version;
        }
      }
      // Every node is a child of this.content; measure them all after the writes above (one layout).
      let changed = false;
      for (const [index, mounted] of this.mounted) {
        const height = mounted.node.offsetHeight;
        if (height > 0 && height !== this.sizes.get(index)) {
          this.sizes.set(index, height);
          changed = true;
        }
      }
      for (const [index, mounted] of this.mounted) {
        mounted.node.style.transform = `translateY(${this.sizes.offset(index)}px)`;
      }
      if (!changed) break;
      const newTotal = this.sizes.total();
      this.content.style.height = `${newTotal}px`;
      if (this.follow) scroller.scrollTop = Math.max(0, newTotal - scroller.clientHeight);
      else if (count > 0) scroller.scrollTop = this.sizes.offset(anchor) + anchorShift;
    }
    this.onDraw?.();
  }

  /** How many items are in the DOM now (the point of the list: a few dozen, however long the transcript). */
  get mountedCount() { return this.mounted.size; }
}
