// The pooling and padding explorer. It pads and pools exactly as cb.pad2d and cb.pool2d do, checks
// a setting with cb.pool2d's own error messages, and sizes the output by cb.conv_output_size's rule.

// Output size along one axis: floor((n + 2p - k) / s) + 1, or ceil(...) with ceil_mode; then, as
// in PyTorch, the last window must start inside the input or the left padding, not in the right padding.
cnnbook.poolSize = function (n, k, s, p, ceil) {
  var steps = (n + 2 * p - k) / s, out = (ceil ? Math.ceil(steps) : Math.floor(steps)) + 1;
  if (ceil && (out - 1) * s >= n + p) out -= 1;
  return out;
};

// The output size along an axis of n pixels. With an explicit padding mode, cb.pad2d's border is
// part of the pool's input, and the pool itself pads nothing (that matters for ceil_mode).
cnnbook.outSize = function (n, st) {
  var own = st.padMode === "pool" ? st.padding : 0;
  return cnnbook.poolSize(n + 2 * (st.padding - own), st.kernel, st.stride, own, st.ceil);
};

// Which input pixel the padded position i (i < 0: before the input) copies, as cb.pad2d does;
// -1 for a constant: zeros, or the pool's own padding (-inf for max, +inf for min, 0 for avg).
cnnbook.padIndex = function (i, n, mode) {
  if (i >= 0 && i < n) return i;
  if (mode === "replicate") return Math.min(n - 1, Math.max(0, i));   // a a | a b c | c c
  if (mode === "circular") return ((i % n) + n) % n;                  // b c | a b c | a b
  if (mode === "reflect") { i = Math.abs(i); return i > n - 1 ? 2 * (n - 1) - i : i; } // c b | a b c | b a
  return -1;
};

// The message cb.pad2d or cb.pool2d raises for this setting on an h x w image, or null.
cnnbook.poolError = function (h, w, st) {
  var k = st.kernel, p = st.padding, m = st.padMode;
  if (m === "pool" && 2 * p > k) {
    return "padding must be at most half of kernel_size (" + (k >> 1) + ", " + (k >> 1) + "), got " + p;
  }
  var axes = [["W", "width", "left, right", w], ["H", "height", "top, bottom", h]];  // cb.pad2d's order
  for (var i = 0; i < 2 && (m === "reflect" || m === "circular"); i++) {
    var a = axes[i], where = "padding (" + a[2] + ") on an input of " + a[1] + " " + a[0] + "=" + a[3] + ": ";
    if (m === "reflect" && p >= a[3]) {
      return where + "reflect padding must be < the input " + a[1] + " " + a[0] +
        " (the mirror image of the input is only n - 1 pixels long)";
    }
    if (m === "circular" && p > a[3]) {
      return where + "circular padding must be <= the " + a[1] + " " + a[0] + " left after cropping (" +
        a[3] + "); the input may wrap around only once";
    }
  }
  var own = m === "pool" ? p : 0;  // after cb.pad2d, the pool pads nothing
  for (i = 1; i >= 0; i--) {       // cb.pool2d checks the height, then the width
    var n = axes[i][3] + 2 * (p - own), tooBig = st.ceil ? cnnbook.poolSize(n, k, st.stride, own, true) < 1
      : n + 2 * own - k < 0;
    if (tooBig) {
      return "kernel_size: the window covers dilation*(kernel_size-1)+1 = " + k + " pixels, more than the " +
        "padded input has (" + (n + 2 * own) + " = n " + n + " + padding " + 2 * own + ", axis " + axes[i][0] + ")";
    }
  }
  return null;
};

// The padded image, (h + 2p) x (w + 2p), row-major.
cnnbook.pad = function (img, h, w, st) {
  var p = st.padding, H = h + 2 * p, W = w + 2 * p, out = new Float64Array(H * W);
  var fill = st.padMode !== "pool" ? 0 : { max: -Infinity, min: Infinity, avg: 0 }[st.mode];
  for (var i = 0; i < H; i++) {
    var r = cnnbook.padIndex(i - p, h, st.padMode);
    for (var j = 0; j < W; j++) {
      var c = cnnbook.padIndex(j - p, w, st.padMode);
      out[i * W + j] = r < 0 || c < 0 ? fill : img[r * w + c];
    }
  }
  return out;
};

// Pool the padded image: every window is cut at the padded border (ceil_mode's last windows), and
// an average divides by the part of the window inside the padded image, as PyTorch does.
cnnbook.pool = function (padded, H, W, st) {
  var k = st.kernel, s = st.stride, p = st.padding;
  var oh = cnnbook.outSize(H - 2 * p, st), ow = cnnbook.outSize(W - 2 * p, st);
  var out = new Float64Array(oh * ow);
  for (var oy = 0; oy < oh; oy++) {
    for (var ox = 0; ox < ow; ox++) {
      var y1 = Math.min(oy * s + k, H), x1 = Math.min(ox * s + k, W);
      var acc = st.mode === "max" ? -Infinity : st.mode === "min" ? Infinity : 0;
      for (var y = oy * s; y < y1; y++) {
        for (var x = ox * s; x < x1; x++) {
          var v = padded[y * W + x];
          acc = st.mode === "max" ? Math.max(acc, v) : st.mode === "min" ? Math.min(acc, v) : acc + v;
        }
      }
      out[oy * ow + ox] = st.mode === "avg" ? acc / ((y1 - oy * s) * (x1 - ox * s)) : acc;
    }
  }
  return { h: oh, w: ow, values: out };
};

// The explorer's markup: native controls, so Tab, arrow keys and Space work everywhere.
cnnbook.poolingMarkup = function (id) {
  var range = function (key, label, min, max) {
    return '<label>' + label + ' <input type="range" data-k="' + key + '" min="' + min + '" max="' +
      max + '"><output></output></label>';
  };
  return '<div class="cbx-controls">' +
    '<label>image <select data-k="image"></select></label>' +
    '<label>mode <select data-k="mode"><option>max</option><option>avg</option><option>min</option></select></label>' +
    range("kernel", "kernel_size", 1, 8) + range("stride", "stride", 1, 8) + range("padding", "padding", 0, 4) +
    '<label>padding mode <select data-k="padMode"><option value="pool">the pool\'s own (-inf, +inf or 0)</option>' +
    '<option>zeros</option><option>reflect</option><option>replicate</option><option>circular</option></select></label>' +
    '<label><input type="checkbox" data-k="ceil"> ceil_mode</label></div>' +
    '<p class="cbx-code"><code></code></p><p class="cbx-shape" aria-live="polite"></p>' +
    '<p class="cbx-error" role="alert"></p><div class="cbx-views">' +
    '<figure><canvas class="cbx-in" role="img"></canvas><figcaption>input with its padding (blue): ' +
    'the chosen window (orange) and the next one (dashed)</figcaption></figure>' +
    '<figure><canvas class="cbx-out" tabindex="0" aria-describedby="' + id + '-unit"></canvas>' +
    '<figcaption>output: click a unit or use the arrow keys</figcaption></figure></div>' +
    '<p class="cbx-unit" id="' + id + '-unit"></p>';
};

// Build the explorer inside root, from the images the Python side embedded.
cnnbook.pooling = function (root) {
  var data = cnnbook.data(root), images = data.images.map(function (im) {
    return { name: im.name, h: im.h, w: im.w, values: cnnbook.floats(im.values) };
  });
  root.querySelector(".cbx-body").innerHTML = cnnbook.poolingMarkup(root.id);
  var controls = {}, unit = [0, 0], result = null;
  root.querySelectorAll("[data-k]").forEach(function (el) { controls[el.dataset.k] = el; });
  var addImage = function (im) {
    images.push(im);
    controls.image.add(new Option(im.name, String(images.length - 1)));
  };
  images.splice(0).forEach(addImage);
  var settings = function () {
    return { image: +controls.image.value, mode: controls.mode.value, kernel: +controls.kernel.value,
      stride: +controls.stride.value, padding: +controls.padding.value,
      padMode: controls.padMode.value, ceil: controls.ceil.checked };
  };
  var set = function (st) {  // st: some of the keys of settings()
    Object.keys(st).forEach(function (key) {
      if (key === "ceil") controls.ceil.checked = !!st.ceil; else controls[key].value = String(st[key]);
    });
    update();
  };

  function code(st) {  // the Python call that computes the same output
    var x = st.padMode === "pool" ? "x" : 'cb.pad2d(x, ' + st.padding + ', "' + st.padMode + '")';
    return "cb.pool2d(" + x + ", " + st.kernel + ", stride=" + st.stride +
      (st.padMode === "pool" && st.padding ? ", padding=" + st.padding : "") + ', mode="' + st.mode + '"' +
      (st.ceil ? ", ceil_mode=True" : "") + ")";
  }
  function formula(n, st) {
    var p = st.padding, round = st.ceil ? "ceil" : "floor", out = cnnbook.outSize(n, st);
    var plain = (st.ceil ? Math.ceil : Math.floor)((n + 2 * p - st.kernel) / st.stride) + 1;
    return round + "((" + n + " + 2*" + p + " - " + st.kernel + ") / " + st.stride + ") + 1" +
      (plain !== out ? " - 1 (that window would start in the right padding)" : "") + " = " + out;
  }
  function update() {
    var st = settings(), im = images[st.image], k = st.kernel, s = st.stride, p = st.padding;
    root.querySelectorAll("input[type=range]").forEach(function (el) { el.nextElementSibling.value = el.value; });
    root.querySelector(".cbx-code code").textContent = code(st);
    var error = cnnbook.poolError(im.h, im.w, st);
    root.querySelector(".cbx-error").textContent = error ? "cb.pool2d refuses: " + error : "";
    var H = im.h + 2 * p, W = im.w + 2 * p, padded = cnnbook.pad(im.values, im.h, im.w, st);
    var lo = Infinity, hi = -Infinity;
    im.values.forEach(function (v) { lo = Math.min(lo, v); hi = Math.max(hi, v); });
    var cell = Math.max(3, Math.floor(300 / Math.max(H, W)));
    var padTint = function (i, j) { return i < p || j < p || i >= H - p || j >= W - p ? [0.75, 0.85, 1] : null; };
    var ctx = cnnbook.drawGrey(root.querySelector(".cbx-in"), padded, H, W, cell, lo, hi, padTint);
    var outCanvas = root.querySelector(".cbx-out");
    result = error ? null : cnnbook.pool(padded, H, W, st);
    if (!result) {
      outCanvas.width = outCanvas.height = 0;
      root.querySelector(".cbx-shape").textContent = "input " + im.h + " x " + im.w + ": no output";
      root.querySelector(".cbx-unit").textContent = "";
      return;
    }
    root.querySelector(".cbx-shape").textContent = "input " + im.h + " x " + im.w + " -> output " +
      result.h + " x " + result.w + ": height " + formula(im.h, st) + ", width " + formula(im.w, st);
    unit = [Math.min(unit[0], result.h - 1), Math.min(unit[1], result.w - 1)];
    var outCell = Math.max(cell, 8), octx = cnnbook.drawGrey(outCanvas, result.values, result.h, result.w, outCell, lo, hi);
    var box = function (c, y, x, hh, ww, size, colour, dash) {
      c.strokeStyle = colour; c.lineWidth = 2; c.setLineDash(dash ? [4, 3] : []);
      c.strokeRect(x * size + 1, y * size + 1, ww * size - 2, hh * size - 2);
    };
    box(ctx, p, p, im.h, im.w, cell, "#2b6cb0", false);  // the input itself, inside its padding
    var y0 = unit[0] * s, x0 = unit[1] * s, y1 = Math.min(y0 + k, H), x1 = Math.min(x0 + k, W);
    if (unit[1] + 1 < result.w) box(ctx, y0, x0 + s, y1 - y0, Math.min(x0 + s + k, W) - x0 - s, cell, "#f6ad55", true);
    box(ctx, y0, x0, y1 - y0, x1 - x0, cell, "#dd6b20", false);
    box(octx, unit[0], unit[1], 1, 1, outCell, "#dd6b20", false);
    root.querySelector(".cbx-unit").textContent = "output unit (row " + unit[0] + ", column " + unit[1] +
      ") = " + result.values[unit[0] * result.w + unit[1]].toFixed(3) + ": the " + st.mode + " of padded rows " +
      y0 + " to " + (y1 - 1) + ", columns " + x0 + " to " + (x1 - 1);
  }

  root.querySelector(".cbx-controls").addEventListener("input", update);
  root.querySelector(".cbx-controls").addEventListener("change", update);
  var outCanvas = root.querySelector(".cbx-out");
  outCanvas.addEventListener("click", function (e) {
    var r = outCanvas.getBoundingClientRect();
    if (!result) return;
    unit = [Math.floor((e.clientY - r.top) / r.height * result.h), Math.floor((e.clientX - r.left) / r.width * result.w)];
    update();
  });
  outCanvas.addEventListener("keydown", function (e) {
    var step = cnnbook.arrowStep(e.key);
    if (!step || !result) return;
    e.preventDefault();
    unit = [Math.max(0, unit[0] + step[0]), Math.max(0, unit[1] + step[1])];
    update();
  });
  set(data.settings);

  // For tests and curious readers: window.cnnbookExplorers[root.id]
  window.cnnbookExplorers[root.id] = {
    settings: settings,
    set: set,
    setImage: function (rows, name) {  // rows: an array of equal-length arrays of numbers
      addImage({ name: name || "your image", h: rows.length, w: rows[0].length,
        values: Float64Array.from([].concat.apply([], rows)) });
      set({ image: images.length - 1 });
    },
    output: function () {
      var st = settings(), im = images[st.image];
      if (!result) return { error: cnnbook.poolError(im.h, im.w, st), shape: null, values: null };
      var rows = [];
      for (var i = 0; i < result.h; i++) rows.push(Array.from(result.values.subarray(i * result.w, (i + 1) * result.w)));
      return { error: null, shape: [result.h, result.w], values: rows };
    },
  };
};
