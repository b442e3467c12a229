// The padding explorer. Every rule it states comes from Python, embedded when the explorer was
// rendered (cnnbook/explorers/padding.py): for each setting the controls offer, the output size
// cb.conv_output_size gives and the padding before and after the input, or its error message, word
// for word; the padded positions each window covers; the formula and the sentences as text. This
// file looks them up and draws one row of the input, its padding and every window.

import { fillIn, readData } from "./common.js";

const COLOURS = { input: "#d6e6f5", pad: "#ececec", unused: "#f6d5d0", tap: "#f28e2b", out: "#1f4e79" };
const CELL = 22;

// What cnnbook computed for setting st: { out, before, after, windows } or { message }.
function lookUp(rules, st) {
  const grid = rules.grid;
  let index = 0;
  for (const key of ["n", "kernel", "stride", "padding", "dilation"]) {
    index = index * grid[key].length + grid[key].indexOf(st[key]);
  }
  const entry = rules.outcomes[index];
  if (typeof entry === "number") return { message: rules.messages[entry] };
  return { out: entry[0], before: entry[1], after: entry[2], windows: rules.windows[entry[3]] };
}

// The explorer's markup: native controls, so Tab, arrow keys and Space work everywhere.
function markup(grid) {
  const range = (key, label) =>
    `<label>${label} <input type="range" data-k="${key}" min="${grid[key][0]}" max="${grid[key].at(-1)}"><output></output></label>`;
  const options = grid.padding.map((v) => `<option>${v}</option>`).join("");
  return (
    '<p class="cbx-try"></p><div class="cbx-controls">' +
    range("n", "n") +
    range("kernel", "kernel_size") +
    range("stride", "stride") +
    `<label>padding <select data-k="padding">${options}</select></label>` +
    range("dilation", "dilation") +
    "</div>" +
    '<p class="cbx-code"><code></code></p><p class="cbx-shape" aria-live="polite"></p>' +
    '<p class="cbx-error" role="alert"></p>' +
    '<figure><canvas class="cbx-row" role="img"></canvas><figcaption>top: one row of the input (blue, numbered) ' +
    "with its padding (grey zeros; red where no window reaches); below: one line per window, its taps " +
    "in orange, and the output it fills on the right</figcaption></figure>"
  );
}

// The Python call whose answer the page shows.
function code(st) {
  const padding = typeof st.padding === "string" ? `"${st.padding}"` : st.padding;
  return `cb.conv_output_size(${st.n}, ${st.kernel}, stride=${st.stride}, padding=${padding}, dilation=${st.dilation})`;
}

function cell(ctx, x, y, fill, text) {
  ctx.fillStyle = fill;
  ctx.fillRect(x * CELL + 1, y * CELL + 1, CELL - 2, CELL - 2);
  if (text === undefined) return;
  ctx.fillStyle = "#333";
  ctx.fillText(String(text), x * CELL + CELL / 2, y * CELL + CELL / 2 + 1);
}

// The padded row on top, then one line per window: its taps, and on the right the output it fills.
function draw(canvas, st, looked) {
  const width = looked.before + st.n + looked.after;
  const reached = new Set(looked.windows.flat());
  canvas.width = (width + 2) * CELL;
  canvas.height = (looked.windows.length + 1) * CELL;
  const ctx = canvas.getContext("2d");
  ctx.font = "10px system-ui,sans-serif";
  ctx.textAlign = "center";
  ctx.textBaseline = "middle";
  for (let x = 0; x < width; x++) {
    const inside = x >= looked.before && x < looked.before + st.n;
    const fill = reached.has(x) ? (inside ? COLOURS.input : COLOURS.pad) : COLOURS.unused;
    cell(ctx, x, 0, fill, inside ? x - looked.before : 0); // an input pixel's index, or a zero of padding
  }
  ctx.strokeStyle = COLOURS.out;
  ctx.lineWidth = 2;
  ctx.strokeRect(looked.before * CELL, 0, st.n * CELL, CELL);
  looked.windows.forEach((taps, o) => {
    for (const x of taps) cell(ctx, x, o + 1, COLOURS.tap);
    cell(ctx, width + 1, o + 1, COLOURS.input, o);
  });
}

// Build the explorer inside root, from the rules the Python side embedded.
export function padding(root) {
  const data = readData(root);
  const rules = data.rules;
  root.querySelector(".cbx-body").innerHTML = markup(rules.grid);
  root.querySelector(".cbx-try").textContent = data.prompt;
  const controls = {};
  for (const el of root.querySelectorAll("[data-k]")) controls[el.dataset.k] = el;
  let looked = null;

  const settings = () => ({
    n: +controls.n.value,
    kernel: +controls.kernel.value,
    stride: +controls.stride.value,
    padding: rules.grid.padding[controls.padding.selectedIndex],
    dilation: +controls.dilation.value,
  });

  function update() {
    const st = settings();
    for (const el of root.querySelectorAll("input[type=range]")) el.nextElementSibling.value = el.value;
    root.querySelector(".cbx-code code").textContent = code(st);
    looked = lookUp(rules, st);
    const canvas = root.querySelector(".cbx-row");
    root.querySelector(".cbx-error").textContent = looked.message ? `cb.conv_output_size refuses: ${looked.message}` : "";
    if (looked.message) {
      canvas.width = 0;
      canvas.height = 0;
      root.querySelector(".cbx-shape").textContent = `a ${st.n}-wide input: no output`;
      canvas.setAttribute("aria-label", "no diagram: the setting is refused");
      return;
    }
    const sides = { before: looked.before, after: looked.after };
    const pad = fillIn(rules.padText[looked.before === looked.after ? "equal" : "unequal"], sides);
    const values = { ...st, ...sides, pad, out: looked.out };
    const result = fillIn(rules.result, values);
    root.querySelector(".cbx-shape").textContent = `${fillIn(rules.formula, values)}: ${result}`;
    canvas.setAttribute("aria-label", result);
    draw(canvas, st, looked);
  }

  const set = (st) => {
    // st: some of the keys of settings()
    for (const key of Object.keys(st)) {
      if (key === "padding") controls.padding.selectedIndex = rules.grid.padding.indexOf(st.padding);
      else controls[key].value = String(st[key]);
    }
    update();
  };

  root.querySelector(".cbx-controls").addEventListener("input", update);
  root.querySelector(".cbx-controls").addEventListener("change", update);
  set(data.settings);

  // For tests and curious readers: the element's cnnbookExplorer property.
  root.cnnbookExplorer = {
    settings,
    set,
    output: () => {
      if (looked.message) return { error: looked.message, out: null };
      return { error: null, out: looked.out, before: looked.before, after: looked.after, windows: looked.windows };
    },
  };
}
