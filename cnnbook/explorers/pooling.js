// The pooling and padding explorer. Every rule it states comes from Python, embedded when the
// explorer was rendered (cnnbook/explorers/pooling.py): for each setting the controls offer, the
// output shape cb.pad2d and cb.pool2d give on each image, or the error message they raise, word for
// word; which input pixel each padded position copies, read off cb.pad2d; and the output-size
// formula as text. This file looks them up, draws, and takes the max, min or mean of each window.

import { arrowStep, drawGrey, fillIn, floats, readData } from "./common.js";

// What the pool's own padding holds: a value that never wins (max, min), or 0 (average).
const POOL_FILL = { max: Number.NEGATIVE_INFINITY, min: Number.POSITIVE_INFINITY, avg: 0 };
const PAD_LABELS = { pool: "the pool's own (-inf, +inf or 0)" };

// What cnnbook computed for setting st on image im: { h, w } or { refusedBy, message }.
function lookUp(rules, im, st) {
  const grid = rules.grid;
  let index = 0;
  for (const key of ["padMode", "ceil", "kernel", "stride", "padding"]) {
    index = index * grid[key].length + grid[key].indexOf(st[key]);
  }
  const entry = rules.outcomes[`${im.h}x${im.w}`][index];
  if (typeof entry === "number") return { refusedBy: rules.messages[entry][0], message: rules.messages[entry][1] };
  return { h: entry[0], w: entry[1] };
}

// The input pixel each padded position copies along an axis of n pixels (-1: the constant border).
// Where cb.pad2d refuses this padding, the constant border is drawn instead.
function sourceRow(rules, n, st) {
  const modes = rules.sources[String(n)];
  const mode = st.padMode === "pool" ? "zeros" : st.padMode;
  return modes[mode][st.padding] || modes.zeros[st.padding];
}

// The padded image, row-major, with its height and width.
function pad(rules, im, st) {
  const rows = sourceRow(rules, im.h, st);
  const cols = sourceRow(rules, im.w, st);
  const fill = st.padMode === "pool" ? POOL_FILL[st.mode] : 0;
  const out = new Float64Array(rows.length * cols.length);
  rows.forEach((r, i) => {
    cols.forEach((c, j) => {
      out[i * cols.length + j] = r < 0 || c < 0 ? fill : im.values[r * im.w + c];
    });
  });
  return { h: rows.length, w: cols.length, values: out };
}

// The window of output unit (oy, ox): padded rows y0..y1-1, columns x0..x1-1, cut at the padded
// border (ceil_mode's last windows), as PyTorch does.
function windowOf(padded, st, oy, ox) {
  const y0 = oy * st.stride;
  const x0 = ox * st.stride;
  return { y0, x0, y1: Math.min(y0 + st.kernel, padded.h), x1: Math.min(x0 + st.kernel, padded.w) };
}

// Pool the padded image into an oh x ow output (its size looked up); an average divides by the
// part of the window inside the padded image.
function pool(padded, st, oh, ow) {
  const out = new Float64Array(oh * ow);
  for (let oy = 0; oy < oh; oy++) {
    for (let ox = 0; ox < ow; ox++) {
      const win = windowOf(padded, st, oy, ox);
      let acc = st.mode === "avg" ? 0 : POOL_FILL[st.mode];
      for (let y = win.y0; y < win.y1; y++) {
        for (let x = win.x0; x < win.x1; x++) {
          const v = padded.values[y * padded.w + x];
          if (st.mode === "max") acc = Math.max(acc, v);
          else if (st.mode === "min") acc = Math.min(acc, v);
          else acc += v;
        }
      }
      out[oy * ow + ox] = st.mode === "avg" ? acc / ((win.y1 - win.y0) * (win.x1 - win.x0)) : acc;
    }
  }
  return { h: oh, w: ow, values: out };
}

// The explorer's markup: native controls, so Tab, arrow keys and Space work everywhere.
function markup(id, grid) {
  const options = (values) => values.map((v) => `<option value="${v}">${PAD_LABELS[v] || v}</option>`).join("");
  const range = (key, label) =>
    `<label>${label} <input type="range" data-k="${key}" min="${grid[key][0]}" max="${grid[key].at(-1)}"><output></output></label>`;
  return (
    '<p class="cbx-try"></p><div class="cbx-controls">' +
    '<label>image <select data-k="image"></select></label>' +
    `<label>mode <select data-k="mode">${options(grid.mode)}</select></label>` +
    range("kernel", "kernel_size") +
    range("stride", "stride") +
    range("padding", "padding") +
    `<label>padding mode <select data-k="padMode">${options(grid.padMode)}</select></label>` +
    '<label><input type="checkbox" data-k="ceil"> ceil_mode</label></div>' +
    '<p class="cbx-code"><code></code></p><p class="cbx-shape" aria-live="polite"></p>' +
    '<p class="cbx-error" role="alert"></p><div class="cbx-views">' +
    '<figure><canvas class="cbx-in" role="img" aria-label="the input image"></canvas><figcaption>input with its padding (blue): ' +
    "the chosen window (orange) and the next one (dashed)</figcaption></figure>" +
    `<figure><canvas class="cbx-out" tabindex="0" aria-describedby="${id}-unit"></canvas>` +
    "<figcaption>output: click a unit or use the arrow keys</figcaption></figure></div>" +
    `<p class="cbx-unit" id="${id}-unit"></p>`
  );
}

// The Python call that computes the same output.
function code(st) {
  const x = st.padMode === "pool" ? "x" : `cb.pad2d(x, ${st.padding}, "${st.padMode}")`;
  const padding = st.padMode === "pool" && st.padding ? `, padding=${st.padding}` : "";
  return `cb.pool2d(${x}, ${st.kernel}, stride=${st.stride}${padding}, mode="${st.mode}"${st.ceil ? ", ceil_mode=True" : ""})`;
}

// The output-size formula (Python's text) for an axis of n pixels, with the looked-up size.
function formula(rules, n, st, out) {
  const f = rules.formulas;
  const beyond = f.beyond[st.padMode === "pool" ? "pool" : "explicit"];
  return fillIn(st.ceil ? f.ceil : f.floor, {
    n,
    padding: st.padding,
    kernel_size: st.kernel,
    stride: st.stride,
    out,
    beyond,
  });
}

function box(ctx, y, x, h, w, size, colour, dash) {
  ctx.strokeStyle = colour;
  ctx.lineWidth = 2;
  ctx.setLineDash(dash ? [4, 3] : []);
  ctx.strokeRect(x * size + 1, y * size + 1, w * size - 2, h * size - 2);
}

// Draw the padded input with the image outlined, the chosen window and the next one.
function drawInput(root, padded, im, st, unit, result) {
  const p = st.padding;
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (const v of im.values) {
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  const cell = Math.max(3, Math.floor(300 / Math.max(padded.h, padded.w)));
  const tint = (i, j) => (i < p || j < p || i >= padded.h - p || j >= padded.w - p ? [0.75, 0.85, 1] : null);
  const canvas = root.querySelector(".cbx-in");
  const ctx = drawGrey(canvas, padded.values, padded.h, padded.w, cell, lo, hi, tint);
  box(ctx, p, p, im.h, im.w, cell, "#2b6cb0", false); // the input itself, inside its padding
  // what the picture shows, for a screen reader (role="img" needs a name)
  const shows = `input ${im.name}, ${im.h} x ${im.w}, padded to ${padded.h} x ${padded.w}`;
  if (!result) {
    canvas.setAttribute("aria-label", shows);
    return { cell, lo, hi };
  }
  const win = windowOf(padded, st, unit[0], unit[1]);
  canvas.setAttribute(
    "aria-label",
    `${shows}; the chosen window: padded rows ${win.y0} to ${win.y1 - 1}, columns ${win.x0} to ${win.x1 - 1}`,
  );
  if (unit[1] + 1 < result.w) {
    const next = windowOf(padded, st, unit[0], unit[1] + 1);
    box(ctx, next.y0, next.x0, next.y1 - next.y0, next.x1 - next.x0, cell, "#f6ad55", true);
  }
  box(ctx, win.y0, win.x0, win.y1 - win.y0, win.x1 - win.x0, cell, "#dd6b20", false);
  return { cell, lo, hi };
}

// Build the explorer inside root, from the images and rules the Python side embedded.
export function pooling(root) {
  const data = readData(root);
  const rules = data.rules;
  const images = data.images.map((im) => ({ name: im.name, h: im.h, w: im.w, values: floats(im.values) }));
  root.querySelector(".cbx-body").innerHTML = markup(root.id, rules.grid);
  root.querySelector(".cbx-try").textContent = data.prompt;
  const controls = {};
  for (const el of root.querySelectorAll("[data-k]")) controls[el.dataset.k] = el;
  images.forEach((im, i) => {
    controls.image.add(new Option(im.name, String(i)));
  });
  let unit = [0, 0];
  let result = null;
  let refusal = null;

  const settings = () => ({
    image: +controls.image.value,
    mode: controls.mode.value,
    kernel: +controls.kernel.value,
    stride: +controls.stride.value,
    padding: +controls.padding.value,
    padMode: controls.padMode.value,
    ceil: controls.ceil.checked,
  });

  function showOutput(im, st, looked, padded, drawn) {
    const outCanvas = root.querySelector(".cbx-out");
    if (refusal) {
      outCanvas.width = 0;
      outCanvas.height = 0;
      root.querySelector(".cbx-shape").textContent = `input ${im.h} x ${im.w}: no output`;
      root.querySelector(".cbx-unit").textContent = "";
      return;
    }
    root.querySelector(".cbx-shape").textContent =
      `input ${im.h} x ${im.w} -> output ${result.h} x ${result.w}: height ${formula(rules, im.h, st, looked.h)}, ` +
      `width ${formula(rules, im.w, st, looked.w)}`;
    const outCell = Math.max(drawn.cell, 8);
    const octx = drawGrey(outCanvas, result.values, result.h, result.w, outCell, drawn.lo, drawn.hi);
    box(octx, unit[0], unit[1], 1, 1, outCell, "#dd6b20", false);
    const win = windowOf(padded, st, unit[0], unit[1]);
    root.querySelector(".cbx-unit").textContent =
      `output unit (row ${unit[0]}, column ${unit[1]}) = ${result.values[unit[0] * result.w + unit[1]].toFixed(3)}: ` +
      `the ${st.mode} of padded rows ${win.y0} to ${win.y1 - 1}, columns ${win.x0} to ${win.x1 - 1}`;
  }

  function update() {
    const st = settings();
    const im = images[st.image];
    for (const el of root.querySelectorAll("input[type=range]")) el.nextElementSibling.value = el.value;
    root.querySelector(".cbx-code code").textContent = code(st);
    const looked = lookUp(rules, im, st);
    refusal = looked.message ? looked : null;
    root.querySelector(".cbx-error").textContent = refusal ? `${refusal.refusedBy} refuses: ${refusal.message}` : "";
    const padded = pad(rules, im, st);
    result = refusal ? null : pool(padded, st, looked.h, looked.w);
    if (result) unit = [Math.min(unit[0], result.h - 1), Math.min(unit[1], result.w - 1)];
    const drawn = drawInput(root, padded, im, st, unit, result);
    showOutput(im, st, looked, padded, drawn);
  }

  const set = (st) => {
    // st: some of the keys of settings()
    for (const key of Object.keys(st)) {
      if (key === "ceil") controls.ceil.checked = !!st.ceil;
      else controls[key].value = String(st[key]);
    }
    update();
  };

  root.querySelector(".cbx-controls").addEventListener("input", update);
  root.querySelector(".cbx-controls").addEventListener("change", update);
  const outCanvas = root.querySelector(".cbx-out");
  outCanvas.addEventListener("click", (e) => {
    const r = outCanvas.getBoundingClientRect();
    if (!result) return;
    unit = [
      Math.floor(((e.clientY - r.top) / r.height) * result.h),
      Math.floor(((e.clientX - r.left) / r.width) * result.w),
    ];
    update();
  });
  outCanvas.addEventListener("keydown", (e) => {
    const step = arrowStep(e.key);
    if (!step || !result) return;
    e.preventDefault();
    unit = [Math.max(0, unit[0] + step[0]), Math.max(0, unit[1] + step[1])];
    update();
  });
  set(data.settings);

  // For tests and curious readers: the element's cnnbookExplorer property.
  root.cnnbookExplorer = {
    settings,
    set,
    output: () => {
      if (!result) return { error: refusal.message, refusedBy: refusal.refusedBy, shape: null, values: null };
      const rows = [];
      for (let i = 0; i < result.h; i++) rows.push(Array.from(result.values.subarray(i * result.w, (i + 1) * result.w)));
      return { error: null, shape: [result.h, result.w], values: rows };
    },
  };
}
