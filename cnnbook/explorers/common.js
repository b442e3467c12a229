// cnnbook explorers: helpers shared by every explorer. Plain JavaScript, no library.
// An ES module for the linter and the reader; cnnbook/explorers/html.py inlines it with the
// explorer's own module into one script, so an output works on its own (Colab shows every output
// in its own iframe; the book's site works from disk, offline).

// The JSON the Python side embedded in <script type="application/json"> inside root.
export function readData(root) {
  return JSON.parse(root.querySelector("script.cnnbook-data").textContent);
}

// base64 -> bytes; float32 little-endian base64 -> Float32Array (exact, as torch stored them).
export function bytes(b64) {
  const s = atob(b64);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

export function floats(b64) {
  const raw = bytes(b64);
  const view = new DataView(raw.buffer);
  const out = new Float32Array(raw.length / 4);
  for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(4 * i, true);
  return out;
}

// A text from the Python side with its {name} fields filled in from values.
export function fillIn(template, values) {
  return template.replace(/\{(\w+)\}/g, (whole, name) => (name in values ? String(values[name]) : whole));
}

// The [row, column] step of an arrow key, or undefined for any other key.
export function arrowStep(key) {
  return { ArrowUp: [-1, 0], ArrowDown: [1, 0], ArrowLeft: [0, -1], ArrowRight: [0, 1] }[key];
}

// The colour of one cell: grey level g (0..255), tinted by t = [r, g, b] multipliers or not.
function cellColour(g, t) {
  if (!t) return `rgb(${g},${g},${g})`;
  return `rgb(${Math.round(g * t[0])},${Math.round(g * t[1])},${Math.round(g * t[2] + (255 - g) * 0.35)})`;
}

// Draw an h x w array of numbers as grey cells of `cell` pixels: lo is black, hi is white.
// tint(i, j) may return an [r, g, b] multiplier for a cell (used to mark padding).
export function drawGrey(canvas, values, h, w, cell, lo, hi, tint) {
  canvas.width = w * cell;
  canvas.height = h * cell;
  const ctx = canvas.getContext("2d");
  const range = hi > lo ? hi - lo : 1;
  for (let i = 0; i < h; i++) {
    for (let j = 0; j < w; j++) {
      const v = values[i * w + j];
      if (v === Number.POSITIVE_INFINITY || v === Number.NEGATIVE_INFINITY) {
        ctx.fillStyle = "#c9d3df"; // padding that never wins
      } else {
        const g = Math.round(255 * Math.min(1, Math.max(0, (v - lo) / range)));
        ctx.fillStyle = cellColour(g, tint ? tint(i, j) : null);
      }
      ctx.fillRect(j * cell, i * cell, cell, cell);
    }
  }
  return ctx;
}
