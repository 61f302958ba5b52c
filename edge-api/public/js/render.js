// Rendering: the look, background, intensity, format (grouped), frame rate, quality and a quick-draft
// switch, all from the render contract (`GET /api/render/options` answers contracts/render.json as it
// is: every id, label, default and range; the page holds none of its own); each render's progress with
// stage and ETA, cancel, download, and inline playback of flat videos; and the list of past renders.

import { api, follow, describe, el, duration, bytes, busy } from "./api.js";
import { showError } from "./ui.js";
import { loadLibrary, onLibrary } from "./library.js";

const $ = (id) => document.getElementById(id);
let rules = null;
let loading = null;
let wantedTrack = null;

const formatOf = (id) => rules?.formats.find((f) => f.id === id);
const projectionOf = (format) => rules?.projections.find((p) => p.id === format.projection);

/** A format's name for people ("Flat 1:1 · 1080p"), or its id if the contract does not know it. */
const formatLabel = (id) => formatOf(id)?.label ?? id;

/** Whether a format is a spherical (360°) video: downloaded, not played inline. */
function spherical(id) {
  const format = formatOf(id);
  return Boolean(format && projectionOf(format)?.spherical);
}

/** The formats as option groups: one per projection, in the contract's order, split by aspect where a
 * projection has several ("Flat 16:9", "Flat 9:16", …, "360° mono"). */
function formatGroups() {
  const projections = [...rules.projections];
  for (const f of rules.formats) {
    if (!projections.some((p) => p.id === f.projection)) projections.push({ id: f.projection, label: f.projection });
  }
  return projections.flatMap((p) => {
    const formats = rules.formats.filter((f) => f.projection === p.id);
    const aspects = [...new Set(formats.map((f) => f.aspect))];
    return aspects.map((aspect) => ({
      label: aspects.length > 1 && aspect ? `${p.label} ${aspect}` : p.label,
      formats: formats.filter((f) => f.aspect === aspect),
    }));
  });
}

/** Sets a number input's bounds from a contract range ({min | minExclusive, max}); an exclusive
 * minimum becomes the first step above it. Keeps the input's value inside. */
function applyRange(input, range) {
  const min = range.min ?? (range.minExclusive != null ? range.minExclusive + (Number(input.step) || 1) : null);
  if (min != null) input.min = String(min);
  if (range.max != null) input.max = String(range.max);
  const value = Number(input.value);
  if (min != null && value < min) input.value = String(min);
  if (range.max != null && value > range.max) input.value = String(range.max);
}

export function setRenderTrack(assetId) {
  wantedTrack = assetId;
  const select = $("render-asset");
  if ([...select.options].some((o) => o.value === assetId)) select.value = assetId;
}

export function initRender() {
  onLibrary((assets) => {
    const select = $("render-asset");
    const current = wantedTrack ?? select.value;
    select.replaceChildren(...assets.map((a) => el("option", { value: a.assetId, selected: a.assetId === current },
      `${a.filename}${a.variants.includes("prepared") ? " (prepared)" : ""}`)));
    if (select.value === wantedTrack) wantedTrack = null;
  });
  $("render-draft").addEventListener("change", syncDraft);
  $("render-form").addEventListener("submit", (event) => {
    event.preventDefault();
    busy(event.target.querySelector('button[type="submit"]'), start).catch(showError);
  });
  $("renders-refresh").addEventListener("click", () => loadRenders().catch(showError));
}

function syncDraft() {
  const draft = $("render-draft").checked;
  for (const id of ["render-seconds", "render-scale"]) $(id).disabled = !draft;
}

/** Fills a select with `{id, label}` choices (or plain values), the contract's default chosen. */
function fill(id, choices, chosen, label = (c) => c.label) {
  $(id).replaceChildren(...choices.map((c) => {
    const value = typeof c === "object" ? c.id : c;
    return el("option", { value: String(value), selected: value === chosen }, label(c));
  }));
}

export async function loadOptions() {
  if (!$("render-asset").options.length) await loadLibrary();
  loading ??= api.get("/api/render/options").then(showOptions, (error) => {
    loading = null; // the next open asks again
    throw error;
  });
  await loading;
}

function showOptions(contract) {
  rules = contract;
  const d = rules.defaults;
  fill("render-mode", rules.modes, d.mode);
  fill("render-sky", rules.skyboxPresets, d.skyboxPreset);
  fill("render-quality", rules.qualities, d.quality);
  fill("render-fps", rules.fps, d.fps, (f) => `${f} fps`);
  const intensity = $("render-intensity");
  applyRange(intensity, rules.intensity);
  intensity.value = String(d.intensity);
  $("render-format").replaceChildren(...formatGroups().map((g) =>
    el("optgroup", { label: g.label }, ...g.formats.map((f) =>
      el("option", { value: f.id }, `${f.label} (${f.width}×${f.height})`)))));
  applyRange($("render-seconds"), rules.previewSeconds);
  applyRange($("render-scale"), rules.scale);
  $("render-seconds").value = String(d.draftSeconds);
  $("render-scale").value = String(d.draftScale);
  syncDraft();
}

async function start() {
  await loadOptions();
  const format = $("render-format").value;
  const body = {
    audio: { assetId: $("render-asset").value },
    format,
    fps: Number($("render-fps").value),
    quality: $("render-quality").value,
    visual: { mode: $("render-mode").value, skyboxPreset: $("render-sky").value, intensity: Number($("render-intensity").value) },
  };
  if ($("render-variant").value) body.audio.variant = $("render-variant").value;
  if ($("render-draft").checked) {
    body.preview = { seconds: Number($("render-seconds").value), scale: Number($("render-scale").value) };
  }
  const accepted = await api.create("/api/render", body);
  watch(accepted.jobId, format);
}

function watch(jobId, format) {
  const bar = el("progress", { max: "100", value: "0", "aria-label": `Render ${formatLabel(format)}` });
  const text = el("span", { class: "status" }, "Queued");
  const cancel = el("button", { type: "button", class: "danger", onclick: (e) =>
    busy(e.target, () => api.post(`/api/jobs/${encodeURIComponent(jobId)}/cancel`)).catch(showError) }, "Cancel");
  const done = el("div", { class: "done" });
  const item = el("li", { "data-job": jobId }, el("strong", {}, formatLabel(format)), bar, text, cancel, done);
  $("render-jobs").prepend(item);
  follow(jobId, (job) => {
    bar.value = job.progress;
    text.textContent = describe(job);
    item.dataset.status = job.status;
  }).then((job) => {
    cancel.remove();
    if (job.status === "complete") done.replaceChildren(...outputOf(job, format));
  }, showError);
}

function outputOf(job, format) {
  const video = job.result?.video ?? {};
  const parts = [el("a", { href: job.downloadUrl, download: `${format}.mp4`, class: "button" },
    `Download MP4 (${bytes(video.sizeBytes)})`)];
  if (!spherical(format)) parts.push(el("video", { src: job.downloadUrl, controls: true, playsinline: true, preload: "metadata" }));
  return parts;
}

export async function loadRenders() {
  await loadOptions();
  const page = await api.get("/api/jobs?type=render&limit=50");
  const list = $("renders");
  list.replaceChildren(...page.jobs.map((job) => {
    const video = job.result?.video;
    const format = job.request?.format ?? "render";
    return el("li", { "data-job": job.jobId, "data-status": job.status },
      el("div", { class: "row" }, el("strong", {}, formatLabel(format)),
        el("span", { class: "badges" }, job.request?.draft ? el("span", { class: "badge" }, "draft") : null,
          el("span", { class: "badge" }, job.status))),
      el("p", { class: "status" }, `${new Date(job.createdAt).toLocaleString()}${video ? ` · ${duration(video.durationSec)} · ${video.width}×${video.height}` : ""}`),
      job.status === "complete" ? el("a", { href: job.downloadUrl, download: `${format}.mp4`, class: "button" }, "Download") : null);
  }));
  if (!page.jobs.length) list.append(el("li", { class: "status" }, "No renders yet."));
}
