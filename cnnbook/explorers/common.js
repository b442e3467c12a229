// cnnbook explorers: helpers shared by every explorer. Plain JavaScript, no library.
// Each HTML output inlines this file and its explorer's file, so an output works on its own
// (Colab shows every output in its own iframe; the book's site works from disk, offline).
var cnnbook = window.cnnbook = window.cnnbook || {};
// The test hook: window.cnnbookExplorers[id] is the API of the explorer with that element id.
window.cnnbookExplorers = window.cnnbookExplorers || {};

// The JSON the Python side embedded in <script type="application/json"> inside root.
cnnbook.data = function (root) {
  return JSON.parse(root.querySelector("script.cnnbook-data").textContent);
};

// base64 -> bytes; float32 little-endian base64 -> Float32Array (exact, as torch stored them).
cnnbook.bytes = function (b64) {
  var s = atob(b64), out = new Uint8Array(s.length);
  for (var i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
};
cnnbook.floats = function (b64) {
  var bytes = cnnbook.bytes(b64), view = new DataView(bytes.buffer);
  var out = new Float32Array(bytes.length / 4);
  for (var i = 0; i < out.length; i++) out[i] = view.getFloat32(4 * i, true);
  return out;
};

// The [row, column] step of an arrow key, or undefined for any other key.
cnnbook.arrowStep = function (key) {
  return { ArrowUp: [-1, 0], ArrowDown: [1, 0], ArrowLeft: [0, -1], ArrowRight: [0, 1] }[key];
};

// Draw an h x w array of numbers as grey cells of `cell` pixels: lo is black, hi is white.
// tint(i, j) may return an [r, g, b] multiplier for a cell (used to mark padding).
cnnbook.drawGrey = function (canvas, values, h, w, cell, lo, hi, tint) {
  canvas.width = w * cell;
  canvas.height = h * cell;
  var ctx = canvas.getContext("2d"), range = hi > lo ? hi - lo : 1;
  for (var i = 0; i < h; i++) {
    for (var j = 0; j < w; j++) {
      var v = values[i * w + j], g;
      if (v === Infinity || v === -Infinity) { ctx.fillStyle = "#c9d3df"; }  // never wins
      else {
        g = Math.round(255 * Math.min(1, Math.max(0, (v - lo) / range)));
        var t = tint ? tint(i, j) : null;
        ctx.fillStyle = t ? "rgb(" + Math.round(g * t[0]) + "," + Math.round(g * t[1]) + "," +
          Math.round(g * t[2] + (255 - g) * 0.35) + ")" : "rgb(" + g + "," + g + "," + g + ")";
      }
      ctx.fillRect(j * cell, i * cell, cell, cell);
    }
  }
  return ctx;
};
