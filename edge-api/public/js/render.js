// Rendering: the look, background, intensity, format (all nine, grouped), frame rate and a quick-draft
// switch, from the rules the server checks with (`GET /api/render/options`); each render's progress
// with stage and ETA, cancel, download, and inline playback of flat videos; and the list of past renders.

import { api, follow, describe, el, duration, bytes, busy } from "./api.js";
import { showError } from "./ui.js";
import { loadLibrary, onLibrary } from "./library.js";

const $ = (id) => document.getElementById(id);
let rules = null;
let wantedTrack = null;

const GROUPS = [
  ["Flat 16:9", (f) => f.projection === "perspective" && f.aspect === "16:9"],
  ["Flat 9:16", (f) => f.projection === "perspective" && f.aspect === "9:16"],
  ["Flat 1:1", (f) => f.projection === "perspective" && f.aspect === "1:1"],
  ["360° mono", (f) => f.projection === "equirect"],
  ["360° stereo", (f) => f.projection === "equirect-stereo"],
];
const LABELS = { "flat-1080p-landscape": "1080p", "flat-1080p-portrait": "1080p", "flat-1080p-square": "1080p",
  "flat-4k-landscape": "4K", "flat-4k-portrait": "4K", "360-mono-4k": "4K", "360-mono-6k": "6K", "360-mono-8k": "8K",
  "360-stereo-8k": "8K" };

/** "Flat 1:1 · 1080p" for "flat-1080p-square". */
function formatLabel(id) {
  const group = rules && GROUPS.find(([, test]) => rules.formats.some((f) => f.id === id && test(f)));
  return group ? `${group[0]} · ${LABELS[id]}` : id;
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

export async function loadOptions() {
  if (!$("render-asset").options.length) await loadLibrary();
  if (rules) return;
  rules = await api.get("/api/render/options");
  const fill = (id, values, label = (v) => v) =>
    $(id).replaceChildren(...values.map((v) => el("option", { value: String(v) }, label(v))));
  fill("render-mode", rules.modes, (m) => m[0].toUpperCase() + m.slice(1));
  fill("render-sky", rules.skyboxPresets);
  fill("render-fps", rules.fps, (f) => `${f} fps`);
  const intensity = $("render-intensity");
  intensity.min = rules.intensity.min;
  intensity.max = rules.intensity.max;
  intensity.value = rules.intensity.default ?? 1.7;
  $("render-format").replaceChildren(...GROUPS.map(([name, test]) =>
    el("optgroup", { label: name }, ...rules.formats.filter(test).map((f) =>
      el("option", { value: f.id }, `${name} · ${LABELS[f.id] ?? ""} (${f.width}×${f.height})`)))));
  syncDraft();
}

async function start() {
  await loadOptions();
  const format = $("render-format").value;
  const body = {
    audio: { assetId: $("render-asset").value },
    format,
    fps: Number($("render-fps").value),
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
  const bar = el("progress", { max: "100", value: "0", "aria-label": `Render ${format}` });
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
  if (!format.startsWith("360")) parts.push(el("video", { src: job.downloadUrl, controls: true, playsinline: true, preload: "metadata" }));
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
