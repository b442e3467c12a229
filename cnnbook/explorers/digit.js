// Draw a digit for LeNet-5: the forward pass of cb.LeNet5 in plain JavaScript, over the weights the
// Python side exported (float32, as trained), on a drawing preprocessed the way MNIST's digits were.

// Convolution without padding: x (C, H, W) and weights (O, C, K, K) -> (O, H-K+1, W-K+1).
cnnbook.conv = function (x, C, H, W, w, b, O, K) {
  var oh = H - K + 1, ow = W - K + 1, out = new Float64Array(O * oh * ow);
  for (var o = 0; o < O; o++)
    for (var i = 0; i < oh; i++)
      for (var j = 0; j < ow; j++) {
        var acc = b[o];
        for (var c = 0; c < C; c++)
          for (var u = 0; u < K; u++)
            for (var v = 0; v < K; v++) acc += w[((o * C + c) * K + u) * K + v] * x[(c * H + i + u) * W + j + v];
        out[(o * oh + i) * ow + j] = acc;
      }
  return out;
};

// 2x2 pooling with stride 2 (max or average) over (C, H, W).
cnnbook.pool2 = function (x, C, H, W, mode) {
  var oh = H >> 1, ow = W >> 1, out = new Float64Array(C * oh * ow);
  for (var c = 0; c < C; c++)
    for (var i = 0; i < oh; i++)
      for (var j = 0; j < ow; j++) {
        var at = function (u, v) { return x[(c * H + 2 * i + u) * W + 2 * j + v]; };
        var a = at(0, 0), b = at(0, 1), d = at(1, 0), e = at(1, 1);
        out[(c * oh + i) * ow + j] = mode === "max" ? Math.max(a, b, d, e) : (a + b + d + e) / 4;
      }
  return out;
};

// A fully connected layer: w (O, I) row-major, as nn.Linear stores it.
cnnbook.linear = function (x, w, b, O, I) {
  var out = new Float64Array(O);
  for (var o = 0; o < O; o++) {
    var acc = b[o];
    for (var i = 0; i < I; i++) acc += w[o * I + i] * x[i];
    out[o] = acc;
  }
  return out;
};

cnnbook.activations = {
  relu: function (v) { return v > 0 ? v : 0; },
  sigmoid: function (v) { return 1 / (1 + Math.exp(-v)); },
  tanh: Math.tanh,
};

// LeNet5.forward on one 28x28 image already normalised: conv 6@5x5, act, pool, conv 16@5x5, act,
// pool, flatten (channel, row, column), 256 -> 120 -> 84 -> classes. Returns every stage.
cnnbook.lenet = function (net, x) {
  var act = function (a) { return a.map(cnnbook.activations[net.activation]); }, p = net.params;
  var c1 = act(cnnbook.conv(x, 1, 28, 28, p.c1w, p.c1b, 6, 5));          // (6, 24, 24)
  var s2 = cnnbook.pool2(c1, 6, 24, 24, net.pool);                        // (6, 12, 12)
  var c3 = act(cnnbook.conv(s2, 6, 12, 12, p.c3w, p.c3b, 16, 5));         // (16, 8, 8)
  var s4 = cnnbook.pool2(c3, 16, 8, 8, net.pool);                         // (16, 4, 4) = 256
  var f5 = act(cnnbook.linear(s4, p.f5w, p.f5b, 120, 256));
  var f6 = act(cnnbook.linear(f5, p.f6w, p.f6b, 84, 120));
  var logits = cnnbook.linear(f6, p.outw, p.outb, net.classes.length, 84);
  var top = Math.max.apply(null, logits), e = logits.map(function (v) { return Math.exp(v - top); });
  var sum = e.reduce(function (a, b) { return a + b; }, 0);
  return { c1: c1, s2: s2, c3: c3, logits: logits, probs: e.map(function (v) { return v / sum; }) };
};

// MNIST's preprocessing of a drawing (ink in [0, 1], side x side): scale the ink's bounding box
// to fit a 20x20 box (keeping its aspect ratio, averaging the pixels each new pixel covers), then
// place it in 28x28 so that its centre of mass falls on pixel (14, 14). Returns 784 values.
cnnbook.mnistify = function (ink, side) {
  var top = side, left = side, bottom = -1, right = -1, out = new Float64Array(784);
  for (var i = 0; i < side; i++)
    for (var j = 0; j < side; j++)
      if (ink[i * side + j] > 0) { top = Math.min(top, i); bottom = Math.max(bottom, i); left = Math.min(left, j); right = Math.max(right, j); }
  if (bottom < 0) return out;  // nothing drawn
  var bh = bottom - top + 1, bw = right - left + 1, f = 20 / Math.max(bh, bw);
  var th = Math.max(1, Math.round(bh * f)), tw = Math.max(1, Math.round(bw * f)), small = new Float64Array(th * tw);
  var sum = 0, cy = 0, cx = 0;
  for (var y = 0; y < th; y++)
    for (var x = 0; x < tw; x++) {  // average the drawing pixels whose centres fall in this pixel
      var y0 = top + Math.floor(y * bh / th), y1 = top + Math.max(Math.floor((y + 1) * bh / th), Math.floor(y * bh / th) + 1);
      var x0 = left + Math.floor(x * bw / tw), x1 = left + Math.max(Math.floor((x + 1) * bw / tw), Math.floor(x * bw / tw) + 1);
      var acc = 0;
      for (var u = y0; u < y1; u++) for (var v = x0; v < x1; v++) acc += ink[u * side + v];
      var m = acc / ((y1 - y0) * (x1 - x0));
      small[y * tw + x] = m; sum += m; cy += m * y; cx += m * x;
    }
  var dy = Math.round(14 - cy / sum), dx = Math.round(14 - cx / sum);
  for (y = 0; y < th; y++)
    for (x = 0; x < tw; x++)
      if (y + dy >= 0 && y + dy < 28 && x + dx >= 0 && x + dx < 28) out[(y + dy) * 28 + x + dx] = small[y * tw + x];
  return out;
};

cnnbook.digitMarkup = function (id) {
  return '<div class="cbx-views"><figure><canvas class="cbx-pad" width="280" height="280" tabindex="0" ' +
    'aria-label="drawing area: draw with the mouse or a finger; or arrow keys move the pen, Space lifts or lowers it" ' +
    'aria-describedby="' + id + '-pred"></canvas><figcaption>draw a digit here ' +
    '(keyboard: arrows move, Space lowers or lifts the pen)</figcaption>' +
    '<div class="cbx-buttons"><button type="button" data-a="clear">clear</button>' +
    '<button type="button" data-a="example">load a test digit</button></div></figure>' +
    '<figure><canvas class="cbx-seen"></canvas><figcaption>what the network sees (28 x 28, MNIST-style)</figcaption>' +
    '<p class="cbx-pred" id="' + id + '-pred" aria-live="polite"></p><p class="cbx-label"></p><div class="cbx-probs"></div></figure></div>' +
    '<div class="cbx-maps"></div>';
};

cnnbook.digit = function (root) {
  var data = cnnbook.data(root), all = cnnbook.floats(data.weights), params = {};
  Object.keys(data.layout).forEach(function (name) {  // name: [offset, length] into the weights
    params[name] = all.subarray(data.layout[name][0], data.layout[name][0] + data.layout[name][1]);
  });
  var net = { params: params, activation: data.activation, pool: data.pool, classes: data.classes };
  var examples = cnnbook.bytes(data.examples), nExamples = examples.length / 784, nextExample = 0;
  root.querySelector(".cbx-body").innerHTML = cnnbook.digitMarkup(root.id);
  var pad = root.querySelector(".cbx-pad"), SIDE = 280, ink = document.createElement("canvas");
  ink.width = ink.height = SIDE;  // the drawing itself; pad shows it with the keyboard cursor
  var ictx = ink.getContext("2d"), cursor = [14, 14], penDown = false, state = null, pending = false;
  var probs = root.querySelector(".cbx-probs");
  net.classes.forEach(function (name) {
    probs.insertAdjacentHTML("beforeend", '<div class="cbx-prob"><span></span><span class="cbx-bar"><span></span></span><span></span></div>');
    probs.lastChild.firstChild.textContent = name;
  });
  var mapRows = [["C1: 6 maps after the first convolution", "c1", 6, 24], ["S2: after pooling", "s2", 6, 12],
    ["C3: 16 maps after the second convolution", "c3", 16, 8]];
  mapRows.forEach(function (row) {
    var div = document.createElement("div");
    div.innerHTML = "<p></p>";
    div.firstChild.textContent = row[0];
    for (var c = 0; c < row[2]; c++) div.appendChild(document.createElement("canvas"));
    root.querySelector(".cbx-maps").appendChild(div);
  });

  function show(x) {  // x: 784 values in [0, 1]; run the network and draw everything
    var normed = x.map(function (v) { return (v - data.mean) / data.std; });
    state = { input: x, out: cnnbook.lenet(net, normed) };
    cnnbook.drawGrey(root.querySelector(".cbx-seen"), x, 28, 28, 5, 0, 1);
    var best = 0, out = state.out;
    out.probs.forEach(function (p, i) {
      if (p > out.probs[best]) best = i;
      var row = probs.children[i];
      row.children[1].firstChild.style.width = (100 * p).toFixed(1) + "%";
      row.children[2].textContent = (100 * p).toFixed(1) + "%";
    });
    root.querySelector(".cbx-pred").textContent = x.some(function (v) { return v > 0; }) ?
      "prediction: " + net.classes[best] + " (" + (100 * out.probs[best]).toFixed(1) + "%)" : "draw a digit";
    root.querySelectorAll(".cbx-maps > div").forEach(function (div, r) {
      var key = mapRows[r][1], n = mapRows[r][3], maps = out[key], hi = Math.max.apply(null, maps);
      var lo = Math.min.apply(null, maps);
      div.querySelectorAll("canvas").forEach(function (canvas, c) {
        cnnbook.drawGrey(canvas, maps.subarray(c * n * n, (c + 1) * n * n), n, n, Math.max(2, 48 / n), lo, hi);
      });
    });
  }
  function redraw() {  // the drawing, plus the keyboard cursor while the pad has the focus
    var ctx = pad.getContext("2d");
    ctx.fillStyle = "#000"; ctx.fillRect(0, 0, SIDE, SIDE); ctx.drawImage(ink, 0, 0);
    if (document.activeElement === pad) {
      ctx.strokeStyle = penDown ? "#f56565" : "#63b3ed"; ctx.lineWidth = 2;
      ctx.strokeRect(cursor[1] * 10 - 10, cursor[0] * 10 - 10, 20, 20);
    }
  }
  function fromDrawing() {  // preprocess the drawing as MNIST was, then predict
    pending = false;
    root.querySelector(".cbx-label").textContent = "";
    var pixels = ictx.getImageData(0, 0, SIDE, SIDE).data, values = new Float64Array(SIDE * SIDE);
    for (var i = 0; i < values.length; i++) values[i] = pixels[4 * i + 3] / 255;  // alpha = ink
    show(cnnbook.mnistify(values, SIDE));
    redraw();
  }
  function later() { if (!pending) { pending = true; requestAnimationFrame(fromDrawing); } }
  function stroke(from, to) {  // points in drawing pixels
    ictx.strokeStyle = "#fff"; ictx.lineWidth = 22; ictx.lineCap = ictx.lineJoin = "round";
    ictx.beginPath(); ictx.moveTo(from[0], from[1]); ictx.lineTo(to[0], to[1]); ictx.stroke();
    later();
  }
  function clear() { ictx.clearRect(0, 0, SIDE, SIDE); fromDrawing(); }
  function load(x) {  // a 28x28 digit: the network gets it as it is; the pad shows it enlarged
    ictx.clearRect(0, 0, SIDE, SIDE);
    root.querySelector(".cbx-label").textContent = "";
    for (var i = 0; i < 784; i++) {
      if (x[i] > 0) { ictx.fillStyle = "rgba(255,255,255," + x[i] + ")"; ictx.fillRect((i % 28) * 10, Math.floor(i / 28) * 10, 10, 10); }
    }
    show(Float64Array.from(x));
    redraw();
  }

  var last = null, at = function (e) {
    var r = pad.getBoundingClientRect();
    return [(e.clientX - r.left) / r.width * SIDE, (e.clientY - r.top) / r.height * SIDE];
  };
  pad.addEventListener("pointerdown", function (e) { last = at(e); pad.setPointerCapture(e.pointerId); stroke(last, last); });
  pad.addEventListener("pointermove", function (e) { if (last) { var p = at(e); stroke(last, p); last = p; } });
  ["pointerup", "pointercancel"].forEach(function (t) { pad.addEventListener(t, function () { last = null; }); });
  pad.addEventListener("keydown", function (e) {
    var step = cnnbook.arrowStep(e.key);
    if (e.key === " " || e.key === "Enter") penDown = !penDown;
    else if (!step) return;
    e.preventDefault();
    var from = [cursor[1] * 10, cursor[0] * 10];
    if (step) cursor = [Math.min(27, Math.max(1, cursor[0] + step[0])), Math.min(27, Math.max(1, cursor[1] + step[1]))];
    if (penDown) stroke(from, [cursor[1] * 10, cursor[0] * 10]); else redraw();
  });
  pad.addEventListener("focus", redraw);
  pad.addEventListener("blur", redraw);
  root.querySelector("[data-a=clear]").addEventListener("click", clear);
  function loadExample() {  // the next of the test digits the Python side embedded
    load(Array.from(examples.subarray(784 * nextExample, 784 * (nextExample + 1)), function (v) { return v / 255; }));
    root.querySelector(".cbx-label").textContent = "test digit " + (nextExample + 1) + " of " + nExamples +
      ", labelled " + net.classes[data.labels[nextExample]];
    nextExample = (nextExample + 1) % nExamples;
  }
  root.querySelector("[data-a=example]").addEventListener("click", loadExample);
  loadExample();

  // For tests and curious readers: window.cnnbookExplorers[root.id]
  window.cnnbookExplorers[root.id] = {
    setImage: load,  // 784 values in [0, 1], row-major; used as they are (no preprocessing)
    logits: function () { return Array.from(state.out.logits); },
    probabilities: function () { return Array.from(state.out.probs); },
    input: function () { return Array.from(state.input); },
    classify: function (images) {  // many 784-value images at once -> their logits
      return images.map(function (x) { load(x); return Array.from(state.out.logits); });
    },
  };
};
