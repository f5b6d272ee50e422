// DigitCanvas's view (anywidget ESM): draw with a mouse, a pen or a finger; the strokes are
// painted here, in the browser, and only when a stroke ends are the canvas's grey levels
// (one byte per pixel, row-major) sent to the kernel as the widget's `value`.
// The kernel may set `value` too (e.g. to show a test digit): the canvas then repaints it.
// A `value` of zero length is a blank canvas.

function render({ model, el }) {
  const size = model.get("size");
  const canvas = document.createElement("canvas");
  canvas.width = size;
  canvas.height = size;
  canvas.className = "course-digit-canvas";
  canvas.setAttribute("role", "img");
  canvas.setAttribute("aria-label", "drawing canvas: draw one digit with the mouse or a finger");
  canvas.style.cssText = `width: ${size}px; height: ${size}px; background: #000; ` +
    "touch-action: none; cursor: crosshair; border: 2px solid #888; border-radius: 4px; " +
    "display: block;";
  const ctx = canvas.getContext("2d", { willReadFrequently: true });

  const clear = document.createElement("button");
  clear.textContent = "Clear";
  clear.title = "wipe the canvas";
  clear.className = "jupyter-widgets jupyter-button widget-button course-digit-clear";
  clear.style.cssText = "margin-top: 6px; width: 100%;";

  const box = document.createElement("div");
  box.className = "course-digit-box";
  box.style.cssText = `display: inline-flex; flex-direction: column; width: ${size + 4}px;`;
  box.append(canvas, clear);
  el.append(box);

  let sending = false;          // our own `value` change: nothing to repaint
  function paint() {
    const bytes = model.get("value");
    const n = bytes ? bytes.byteLength : 0;
    const image = ctx.createImageData(size, size);
    for (let i = 0; i < size * size; i++) {
      const v = i < n ? bytes.getUint8(i) : 0;
      image.data[4 * i] = v;
      image.data[4 * i + 1] = v;
      image.data[4 * i + 2] = v;
      image.data[4 * i + 3] = 255;
    }
    ctx.putImageData(image, 0, 0);
  }
  function send() {
    const rgba = ctx.getImageData(0, 0, size, size).data;
    const grey = new Uint8Array(size * size);
    for (let i = 0; i < grey.length; i++) grey[i] = rgba[4 * i];
    sending = true;
    try {
      model.set("value", new DataView(grey.buffer));
      model.save_changes();
    } finally {
      sending = false;
    }
  }

  let last = null;              // the stroke's previous point, null between strokes
  function point(event) {
    const rect = canvas.getBoundingClientRect();
    return [(event.clientX - rect.left) * size / rect.width,
            (event.clientY - rect.top) * size / rect.height];
  }
  function segment(from, to) {
    ctx.strokeStyle = "#fff";
    ctx.lineWidth = model.get("brush");
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    ctx.beginPath();
    ctx.moveTo(...from);
    ctx.lineTo(...to);
    ctx.stroke();
  }
  canvas.addEventListener("pointerdown", (event) => {
    event.preventDefault();
    canvas.setPointerCapture(event.pointerId);
    last = point(event);
    segment(last, last);        // a click leaves a dot
  });
  canvas.addEventListener("pointermove", (event) => {
    if (last === null) return;
    const p = point(event);
    segment(last, p);
    last = p;
  });
  const end = () => {
    if (last === null) return;
    last = null;
    send();
  };
  canvas.addEventListener("pointerup", end);
  canvas.addEventListener("pointercancel", end);
  clear.addEventListener("click", () => {
    ctx.fillStyle = "#000";
    ctx.fillRect(0, 0, size, size);
    send();
  });

  const repaint = () => { if (!sending) paint(); };
  model.on("change:value", repaint);
  paint();
  return () => model.off("change:value", repaint);
}

export default { render };
