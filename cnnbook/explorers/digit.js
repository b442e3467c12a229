// Draw a digit for LeNet-5: the network's forward pass in plain JavaScript. The Python side
// (cnnbook/explorers/digit.py) embeds the model's layers in order, each with its kind, sizes and
// output shape, measured on the model itself, and its weights (float32, as trained); the input
// shape and MNIST's preprocessing box come from there too. This file runs the layers it is given.

import { arrowStep, bytes, drawGrey, floats, readData } from "./common.js";

const ACTIVATIONS = {
  relu: (v) => Math.max(v, 0),
  sigmoid: (v) => 1 / (1 + Math.exp(-v)),
  tanh: Math.tanh,
};

// A convolution: x of shape [C, H, W], weights (O, C, kH, kW) -> layer.shape [O, oh, ow].
function conv(x, [C, H, W], layer, w, b) {
  const [O, oh, ow] = layer.shape;
  const [kh, kw] = layer.kernel;
  const [sh, sw] = layer.stride;
  const [ph, pw] = layer.padding;
  const out = new Float64Array(O * oh * ow);
  for (let o = 0; o < O; o++) {
    for (let i = 0; i < oh; i++) {
      for (let j = 0; j < ow; j++) {
        let acc = b[o];
        for (let c = 0; c < C; c++) {
          for (let u = 0; u < kh; u++) {
            const y = i * sh + u - ph;
            if (y < 0 || y >= H) continue;
            for (let v = 0; v < kw; v++) {
              const xx = j * sw + v - pw;
              if (xx >= 0 && xx < W) acc += w[((o * C + c) * kh + u) * kw + v] * x[(c * H + y) * W + xx];
            }
          }
        }
        out[(o * oh + i) * ow + j] = acc;
      }
    }
  }
  return out;
}

// Max or average pooling without padding: x [C, H, W] -> layer.shape [C, oh, ow].
function pool(x, [, H, W], layer) {
  const [C, oh, ow] = layer.shape;
  const [kh, kw] = layer.kernel;
  const [sh, sw] = layer.stride;
  const out = new Float64Array(C * oh * ow);
  for (let c = 0; c < C; c++) {
    for (let i = 0; i < oh; i++) {
      for (let j = 0; j < ow; j++) {
        let acc = layer.mode === "max" ? Number.NEGATIVE_INFINITY : 0;
        for (let u = 0; u < kh; u++) {
          for (let v = 0; v < kw; v++) {
            const value = x[(c * H + i * sh + u) * W + j * sw + v];
            acc = layer.mode === "max" ? Math.max(acc, value) : acc + value;
          }
        }
        out[(c * oh + i) * ow + j] = layer.mode === "max" ? acc : acc / (kh * kw);
      }
    }
  }
  return out;
}

// A fully connected layer: w (O, I) row-major, as nn.Linear stores it.
function linear(x, layer, w, b) {
  const [O] = layer.shape;
  const I = x.length;
  const out = new Float64Array(O);
  for (let o = 0; o < O; o++) {
    let acc = b[o];
    for (let i = 0; i < I; i++) acc += w[o * I + i] * x[i];
    out[o] = acc;
  }
  return out;
}

// One layer of the embedded list on x, whose shape is `shape`.
function runLayer(layer, x, shape, params) {
  const w = params[layer.weight];
  const b = params[layer.bias];
  if (layer.op === "conv") return conv(x, shape, layer, w, b);
  if (layer.op === "linear") return linear(x, layer, w, b);
  if (layer.op === "pool") return pool(x, shape, layer);
  if (layer.op === "flatten") return x;
  return x.map(ACTIVATIONS[layer.op]);
}

// The model's forward pass on one normalised image; returns every layer's output, logits and
// probabilities.
function forward(net, x) {
  const outputs = [];
  let shape = net.input;
  for (const layer of net.layers) {
    x = runLayer(layer, x, shape, net.params);
    shape = layer.shape;
    outputs.push(x);
  }
  const top = Math.max(...x);
  const e = x.map((v) => Math.exp(v - top));
  const sum = e.reduce((a, v) => a + v, 0);
  return { outputs, logits: x, probs: e.map((v) => v / sum) };
}

// The drawing's ink (side x side, values in [0, 1]) as MNIST prepared its digits: the ink's bounding
// box scaled to fit a box x box square (keeping its aspect ratio, averaging the pixels each new
// pixel covers), then placed in a size x size image so that its centre of mass falls in the middle.
function mnistify(ink, side, size, box) {
  let top = side;
  let left = side;
  let bottom = -1;
  let right = -1;
  for (let i = 0; i < side; i++) {
    for (let j = 0; j < side; j++) {
      if (ink[i * side + j] > 0) {
        top = Math.min(top, i);
        bottom = Math.max(bottom, i);
        left = Math.min(left, j);
        right = Math.max(right, j);
      }
    }
  }
  const out = new Float64Array(size * size);
  if (bottom < 0) return out; // nothing drawn
  const bh = bottom - top + 1;
  const bw = right - left + 1;
  const f = box / Math.max(bh, bw);
  const th = Math.max(1, Math.round(bh * f));
  const tw = Math.max(1, Math.round(bw * f));
  const small = new Float64Array(th * tw);
  let sum = 0;
  let cy = 0;
  let cx = 0;
  const span = (k, n, t) => [Math.floor((k * n) / t), Math.max(Math.floor(((k + 1) * n) / t), Math.floor((k * n) / t) + 1)];
  for (let y = 0; y < th; y++) {
    for (let x = 0; x < tw; x++) {
      // average the drawing pixels whose centres fall in this pixel
      const [y0, y1] = span(y, bh, th);
      const [x0, x1] = span(x, bw, tw);
      let acc = 0;
      for (let u = top + y0; u < top + y1; u++) for (let v = left + x0; v < left + x1; v++) acc += ink[u * side + v];
      const m = acc / ((y1 - y0) * (x1 - x0));
      small[y * tw + x] = m;
      sum += m;
      cy += m * y;
      cx += m * x;
    }
  }
  const dy = Math.round(size / 2 - cy / sum);
  const dx = Math.round(size / 2 - cx / sum);
  for (let y = 0; y < th; y++) {
    for (let x = 0; x < tw; x++) {
      if (y + dy >= 0 && y + dy < size && x + dx >= 0 && x + dx < size) out[(y + dy) * size + x + dx] = small[y * tw + x];
    }
  }
  return out;
}

function markup(id, size) {
  return (
    '<p class="cbx-try"></p><div class="cbx-views"><figure><canvas class="cbx-pad" width="280" height="280" tabindex="0" ' +
    'aria-label="drawing area: draw with the mouse or a finger; or arrow keys move the pen, Space lifts or lowers it" ' +
    `aria-describedby="${id}-pred"></canvas><figcaption>draw a digit here ` +
    "(keyboard: arrows move, Space lowers or lifts the pen)</figcaption>" +
    '<div class="cbx-buttons"><button type="button" data-a="clear">clear</button>' +
    '<button type="button" data-a="example">load a test digit</button></div></figure>' +
    `<figure><canvas class="cbx-seen"></canvas><figcaption>what the network sees (${size} x ${size}, MNIST-style)</figcaption>` +
    `<p class="cbx-pred" id="${id}-pred" aria-live="polite"></p><p class="cbx-label"></p><div class="cbx-probs"></div></figure></div>` +
    '<div class="cbx-maps"></div>'
  );
}

// The rows of feature maps the Python side chose: a label and one canvas per channel.
function buildMaps(root, maps) {
  for (const row of maps) {
    const div = document.createElement("div");
    div.innerHTML = "<p></p>";
    div.firstChild.textContent = row.label;
    for (let c = 0; c < row.shape[0]; c++) div.appendChild(document.createElement("canvas"));
    root.querySelector(".cbx-maps").appendChild(div);
  }
}

function buildBars(probs, classes) {
  for (const name of classes) {
    probs.insertAdjacentHTML(
      "beforeend",
      '<div class="cbx-prob"><span></span><span class="cbx-bar"><span></span></span><span></span></div>',
    );
    probs.lastChild.firstChild.textContent = name;
  }
}

function drawMaps(root, maps, out) {
  root.querySelectorAll(".cbx-maps > div").forEach((div, r) => {
    const [, h, w] = maps[r].shape;
    const values = out.outputs[maps[r].layer];
    const hi = Math.max(...values);
    const lo = Math.min(...values);
    div.querySelectorAll("canvas").forEach((canvas, c) => {
      drawGrey(canvas, values.subarray(c * h * w, (c + 1) * h * w), h, w, Math.max(2, 48 / Math.max(h, w)), lo, hi);
    });
  });
}

// The weights, cut into the arrays the layers name.
function network(data) {
  const all = floats(data.weights);
  const params = {};
  for (const [name, [offset, length]] of Object.entries(data.layout)) params[name] = all.subarray(offset, offset + length);
  return { params, layers: data.layers, input: data.input, classes: data.classes };
}

export function digit(root) {
  const data = readData(root);
  const net = network(data);
  const size = data.input[1];
  const pixels = size * size;
  const examples = bytes(data.examples);
  const nExamples = examples.length / pixels;
  let nextExample = 0;
  root.querySelector(".cbx-body").innerHTML = markup(root.id, size);
  root.querySelector(".cbx-try").textContent = data.prompt;
  const pad = root.querySelector(".cbx-pad");
  const SIDE = 280;
  const cellOf = SIDE / size; // drawing pixels per image pixel
  const ink = document.createElement("canvas");
  ink.width = SIDE;
  ink.height = SIDE; // the drawing itself; pad shows it with the keyboard cursor
  const ictx = ink.getContext("2d");
  let cursor = [size / 2, size / 2];
  let penDown = false;
  let state = null;
  let pending = false;
  const probs = root.querySelector(".cbx-probs");
  buildBars(probs, net.classes);
  buildMaps(root, data.maps);

  function show(x) {
    // x: the image in [0, 1]; run the network and draw everything
    const normed = x.map((v) => (v - data.mean) / data.std);
    state = { input: x, out: forward(net, normed) };
    drawGrey(root.querySelector(".cbx-seen"), x, size, size, 5, 0, 1);
    const out = state.out;
    let best = 0;
    out.probs.forEach((p, i) => {
      if (p > out.probs[best]) best = i;
      const row = probs.children[i];
      row.children[1].firstChild.style.width = `${(100 * p).toFixed(1)}%`;
      row.children[2].textContent = `${(100 * p).toFixed(1)}%`;
    });
    root.querySelector(".cbx-pred").textContent = x.some((v) => v > 0)
      ? `prediction: ${net.classes[best]} (${(100 * out.probs[best]).toFixed(1)}%)`
      : "draw a digit";
    drawMaps(root, data.maps, out);
  }
  function redraw() {
    // the drawing, plus the keyboard cursor while the pad has the focus
    const ctx = pad.getContext("2d");
    ctx.fillStyle = "#000";
    ctx.fillRect(0, 0, SIDE, SIDE);
    ctx.drawImage(ink, 0, 0);
    if (document.activeElement === pad) {
      ctx.strokeStyle = penDown ? "#f56565" : "#63b3ed";
      ctx.lineWidth = 2;
      ctx.strokeRect(cursor[1] * cellOf - cellOf, cursor[0] * cellOf - cellOf, 2 * cellOf, 2 * cellOf);
    }
  }
  function fromDrawing() {
    // preprocess the drawing as MNIST was, then predict
    pending = false;
    root.querySelector(".cbx-label").textContent = "";
    const rgba = ictx.getImageData(0, 0, SIDE, SIDE).data;
    const values = new Float64Array(SIDE * SIDE);
    for (let i = 0; i < values.length; i++) values[i] = rgba[4 * i + 3] / 255; // alpha = ink
    show(mnistify(values, SIDE, size, data.box));
    redraw();
  }
  function later() {
    if (!pending) {
      pending = true;
      requestAnimationFrame(fromDrawing);
    }
  }
  function stroke(from, to) {
    // points in drawing pixels
    ictx.strokeStyle = "#fff";
    ictx.lineWidth = 22;
    ictx.lineCap = "round";
    ictx.lineJoin = "round";
    ictx.beginPath();
    ictx.moveTo(from[0], from[1]);
    ictx.lineTo(to[0], to[1]);
    ictx.stroke();
    later();
  }
  function clear() {
    ictx.clearRect(0, 0, SIDE, SIDE);
    fromDrawing();
  }
  function load(x) {
    // an image of the model's input size: the network gets it as it is; the pad shows it enlarged
    ictx.clearRect(0, 0, SIDE, SIDE);
    root.querySelector(".cbx-label").textContent = "";
    for (let i = 0; i < pixels; i++) {
      if (x[i] > 0) {
        ictx.fillStyle = `rgba(255,255,255,${x[i]})`;
        ictx.fillRect((i % size) * cellOf, Math.floor(i / size) * cellOf, cellOf, cellOf);
      }
    }
    show(Float64Array.from(x));
    redraw();
  }

  let last = null;
  const at = (e) => {
    const r = pad.getBoundingClientRect();
    return [((e.clientX - r.left) / r.width) * SIDE, ((e.clientY - r.top) / r.height) * SIDE];
  };
  pad.addEventListener("pointerdown", (e) => {
    last = at(e);
    pad.setPointerCapture(e.pointerId);
    stroke(last, last);
  });
  pad.addEventListener("pointermove", (e) => {
    if (last) {
      const p = at(e);
      stroke(last, p);
      last = p;
    }
  });
  for (const t of ["pointerup", "pointercancel"]) {
    pad.addEventListener(t, () => {
      last = null;
    });
  }
  pad.addEventListener("keydown", (e) => {
    const step = arrowStep(e.key);
    if (e.key === " " || e.key === "Enter") penDown = !penDown;
    else if (!step) return;
    e.preventDefault();
    const from = [cursor[1] * cellOf, cursor[0] * cellOf];
    if (step) {
      cursor = [Math.min(size - 1, Math.max(1, cursor[0] + step[0])), Math.min(size - 1, Math.max(1, cursor[1] + step[1]))];
    }
    if (penDown) stroke(from, [cursor[1] * cellOf, cursor[0] * cellOf]);
    else redraw();
  });
  pad.addEventListener("focus", redraw);
  pad.addEventListener("blur", redraw);
  root.querySelector("[data-a=clear]").addEventListener("click", clear);
  function loadExample() {
    // the next of the test digits the Python side embedded
    load(Array.from(examples.subarray(pixels * nextExample, pixels * (nextExample + 1)), (v) => v / 255));
    root.querySelector(".cbx-label").textContent =
      `test digit ${nextExample + 1} of ${nExamples}, labelled ${net.classes[data.labels[nextExample]]}`;
    nextExample = (nextExample + 1) % nExamples;
  }
  root.querySelector("[data-a=example]").addEventListener("click", loadExample);
  loadExample();

  // For tests and curious readers: the element's cnnbookExplorer property.
  root.cnnbookExplorer = {
    setImage: load, // the image's values in [0, 1], row-major; used as they are (no preprocessing)
    logits: () => Array.from(state.out.logits),
    probabilities: () => Array.from(state.out.probs),
    input: () => Array.from(state.input),
    classify: (images) =>
      images.map((x) => {
        load(x);
        return Array.from(state.out.logits);
      }),
  };
}
