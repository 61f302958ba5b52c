// Waveforms on a canvas: peaks as drawn bars, and the editor's view — the clips of the shown source as
// regions, the selected clip's start and end as handles dragged with a pointer (mouse or touch).

export function drawPeaks(canvas, peaks, regions = [], selected = -1) {
  const ratio = window.devicePixelRatio || 1;
  const width = canvas.clientWidth || 300;
  const height = canvas.clientHeight || Number(canvas.getAttribute("height")) || 60;
  canvas.width = Math.round(width * ratio);
  canvas.height = Math.round(height * ratio);
  const g = canvas.getContext("2d");
  g.scale(ratio, ratio);
  g.clearRect(0, 0, width, height);
  for (const [i, r] of regions.entries()) {
    g.fillStyle = i === selected ? "rgba(255,140,40,0.28)" : "rgba(255,255,255,0.10)";
    g.fillRect(r.x0 * width, 0, (r.x1 - r.x0) * width, height);
  }
  g.fillStyle = "#ffb347";
  const n = peaks?.length ?? 0;
  for (let x = 0; x < width && n; x++) {
    const from = Math.floor((x / width) * n);
    const to = Math.max(from + 1, Math.floor(((x + 1) / width) * n));
    let lo = 0, hi = 0;
    for (let i = from; i < to && i < n; i++) { lo = Math.min(lo, peaks[i][0]); hi = Math.max(hi, peaks[i][1]); }
    const top = ((1 - hi) / 2) * height;
    g.fillRect(x, top, 1, Math.max(1, ((hi - lo) / 2) * height));
  }
  const sel = regions[selected];
  if (sel) {
    g.fillStyle = "#fff";
    for (const x of [sel.x0, sel.x1]) g.fillRect(Math.round(x * width) - 2, 0, 4, height);
  }
}

/** Lets the selected region's edges be dragged: `onDrag(edge, fraction)` with edge "start" or "end". */
export function dragEdges(canvas, getSelected, onDrag) {
  let edge = null;
  const fraction = (e) => {
    const box = canvas.getBoundingClientRect();
    return Math.min(1, Math.max(0, (e.clientX - box.left) / box.width));
  };
  canvas.addEventListener("pointerdown", (e) => {
    const sel = getSelected();
    if (!sel) return;
    const f = fraction(e);
    edge = Math.abs(f - sel.x0) <= Math.abs(f - sel.x1) ? "start" : "end";
    canvas.setPointerCapture(e.pointerId);
    onDrag(edge, f);
  });
  canvas.addEventListener("pointermove", (e) => edge && onDrag(edge, fraction(e)));
  const stop = () => (edge = null);
  canvas.addEventListener("pointerup", stop);
  canvas.addEventListener("pointercancel", stop);
}
