// Preparing a track: clips cut from the library's tracks (start and end dragged on the waveform or
// typed), reordered, with gain and fades; a loudness target, format and rate (edit-options.js: the
// server's choices and limits); a preview to listen to; and a save that makes the asset's prepared
// audio (its waveform then shows in the library and here).

import { api, follow, describe, el, duration, assetDetail, cachedDetail } from "./api.js";
import { showError } from "./ui.js";
import { assets, loadLibrary, onLibrary } from "./library.js";
import { drawPeaks, dragEdges } from "./waveform.js";
import { editLimits, editSettings, loadEditOptions, showEditSettings } from "./edit-options.js";

const $ = (id) => document.getElementById(id);
const state = { asset: null, clips: [], selected: 0, busy: false };

export function initPrepare() {
  $("add-clip").addEventListener("click", () => {
    if (state.clips.length >= editLimits().maxClips) return;
    const last = state.clips[state.clips.length - 1];
    const source = last?.sourceAssetId ?? state.asset.assetId;
    const length = cachedDetail(source)?.audio.durationSec ?? 1;
    state.clips.push(clip(source, 0, length));
    state.selected = state.clips.length - 1;
    render();
  });
  $("preview-btn").addEventListener("click", () => run("preview").catch(showError));
  $("save-btn").addEventListener("click", () => run("save").catch(showError));
  dragEdges($("prepare-wave"), () => region(state.selected), (edge, f) => {
    const c = state.clips[state.selected];
    const length = cachedDetail(c.sourceAssetId)?.audio.durationSec ?? 0;
    const t = round(f * length);
    const shortest = editLimits().minClipSec;
    if (edge === "start") c.startTime = Math.min(t, c.endTime - shortest);
    else c.endTime = Math.max(t, c.startTime + shortest);
    render();
  });
  window.addEventListener("resize", () => state.asset && drawWave());
  onLibrary(() => state.asset && render());
}

const round = (t) => Math.round(t * 100) / 100;

/** A new clip, with an id no clip of the recipe has (a saved recipe brings its own ids). */
function clip(sourceAssetId, startTime, endTime) {
  let n = state.clips.length + 1;
  while (state.clips.some((c) => c.id === `clip${n}`)) n++;
  return { id: `clip${n}`, sourceAssetId, startTime: round(startTime), endTime: round(endTime), volume: 1, fadeIn: 0, fadeOut: 0 };
}

export async function openPrepare(assetId) {
  const [asset] = await Promise.all([assetDetail(assetId, true), loadEditOptions()]);
  state.asset = asset;
  const last = asset.lastRecipe;
  state.clips = [];
  state.clips = last ? last.clips.map((c) => ({ ...c })) : [clip(asset.assetId, 0, asset.audio.durationSec)];
  await Promise.all(state.clips.map((c) => assetDetail(c.sourceAssetId).catch(() => null)));
  state.selected = 0;
  showEditSettings(last);
  $("prepare-empty").hidden = true;
  $("prepare").hidden = false;
  const audio = $("preview-audio");
  audio.pause();
  audio.removeAttribute("src");
  audio.hidden = true;
  $("edit-status").textContent = "";
  $("edit-progress").hidden = true;
  render();
}

function region(index) {
  const c = state.clips[index];
  const length = c && cachedDetail(c.sourceAssetId)?.audio.durationSec;
  return length ? { x0: c.startTime / length, x1: c.endTime / length } : null;
}

function drawWave() {
  const sel = state.clips[state.selected];
  const source = sel ? cachedDetail(sel.sourceAssetId) : null;
  // Every clip of the shown source as a region; the selected one with handles.
  const regions = [];
  let selectedRegion = -1;
  state.clips.forEach((c, i) => {
    if (c.sourceAssetId !== sel?.sourceAssetId) return;
    if (i === state.selected) selectedRegion = regions.length;
    regions.push(region(i));
  });
  drawPeaks($("prepare-wave"), source?.peaks ?? [], regions, selectedRegion);
}

/** Rebuilds the editor, keeping keyboard focus on the same control of the same clip. */
function render() {
  const active = document.activeElement;
  const focusClip = active?.closest?.("[data-clip]")?.dataset.clip;
  const focusField = active?.dataset?.field;
  renderEditor();
  if (focusClip && focusField) {
    const target = document.querySelector(`[data-clip="${CSS.escape(focusClip)}"] [data-field="${focusField}"]`);
    (target && !target.disabled ? target : document.querySelector(`[data-clip="${CSS.escape(focusClip)}"] [data-field="select"]`))?.focus();
  }
}

function renderEditor() {
  const asset = state.asset;
  $("prepare-name").textContent = asset.filename;
  $("prepared-row").hidden = !asset.prepared;
  if (asset.prepared) drawPeaks($("prepared-wave"), asset.prepared.peaks);
  $("prepare-variants").replaceChildren(...asset.variants.map((v) => el("span", { class: "badge" }, v)));
  const list = $("clips");
  list.replaceChildren(...state.clips.map(row));
  $("add-clip").disabled = state.clips.length >= editLimits().maxClips;
  drawWave();
}

function number(label, value, attrs, onChange) {
  return el("label", {}, label,
    el("input", { type: "number", value: String(value), inputmode: "decimal", "data-field": attrs.name, ...attrs,
      onchange: (e) => { const v = Number(e.target.value); if (Number.isFinite(v)) onChange(v); render(); } }));
}

function row(c, i) {
  const { volume, fadeSec } = editLimits();
  const length = cachedDetail(c.sourceAssetId)?.audio.durationSec ?? 0;
  const sources = assets.length ? assets : [{ assetId: state.asset.assetId, filename: state.asset.filename }];
  const move = (to) => {
    const [moved] = state.clips.splice(i, 1);
    state.clips.splice(to, 0, moved);
    state.selected = to;
    render();
  };
  return el("li", { class: i === state.selected ? "clip selected" : "clip", "data-clip": c.id },
    el("div", { class: "row" },
      el("button", { type: "button", class: "link", "data-field": "select", "aria-pressed": String(i === state.selected),
        onclick: () => { state.selected = i; render(); } }, `Clip ${i + 1} · ${duration(c.endTime - c.startTime)}`),
      el("span", { class: "actions" },
        el("button", { type: "button", "data-field": "up", disabled: i === 0, "aria-label": `Move clip ${i + 1} up`, onclick: () => move(i - 1) }, "↑"),
        el("button", { type: "button", "data-field": "down", disabled: i === state.clips.length - 1, "aria-label": `Move clip ${i + 1} down`, onclick: () => move(i + 1) }, "↓"),
        el("button", { type: "button", "data-field": "remove", disabled: state.clips.length === 1, "aria-label": `Remove clip ${i + 1}`,
          onclick: () => { state.clips.splice(i, 1); state.selected = 0; render(); } }, "✕"))),
    el("div", { class: "grid" },
      el("label", {}, "Source",
        el("select", { "data-field": "source", onchange: async (e) => {
          c.sourceAssetId = e.target.value;
          const d = await assetDetail(c.sourceAssetId).catch(showError);
          if (d) { c.startTime = 0; c.endTime = round(d.audio.durationSec); }
          render();
        } }, ...sources.map((a) => el("option", { value: a.assetId, selected: a.assetId === c.sourceAssetId }, a.filename)))),
      number("Start (s)", c.startTime, { min: "0", max: String(length), step: "0.01", name: "start" }, (v) => (c.startTime = v)),
      number("End (s)", c.endTime, { min: "0", max: String(length), step: "0.01", name: "end" }, (v) => (c.endTime = v)),
      number("Fade in (s)", c.fadeIn, { min: String(fadeSec.min), max: String(fadeSec.max), step: "0.1", name: "fadeIn" }, (v) => (c.fadeIn = v)),
      number("Fade out (s)", c.fadeOut, { min: String(fadeSec.min), max: String(fadeSec.max), step: "0.1", name: "fadeOut" }, (v) => (c.fadeOut = v)),
      el("label", {}, `Gain ×${c.volume.toFixed(2)}`,
        el("input", { type: "range", min: String(volume.min), max: String(volume.max), step: "0.05", value: String(c.volume), name: "gain", "data-field": "gain",
          onchange: (e) => { c.volume = Number(e.target.value); render(); } }))));
}

function recipe() {
  return { version: 1, assetId: state.asset.assetId, clips: state.clips, ...editSettings() };
}

async function run(kind) {
  if (state.busy) return;
  state.busy = true;
  const assetId = state.asset.assetId;
  const current = () => state.asset?.assetId === assetId;
  const bar = $("edit-progress");
  const status = $("edit-status");
  for (const id of ["preview-btn", "save-btn"]) $(id).disabled = true;
  try {
    const accepted = await api.create(`/api/audio/edit/${kind}`, { recipe: recipe() });
    bar.hidden = false;
    status.textContent = accepted.cached ? "Preview ready (cached)" : "Queued";
    const job = await follow(accepted.jobId, (j) => {
      if (!current()) return;
      bar.value = j.progress;
      status.textContent = `${kind === "preview" ? "Preview" : "Save"}: ${describe(j)}`;
    });
    // Another track was opened meanwhile: this edit's result is not what the editor shows.
    if (job.status !== "complete" || !current()) return;
    if (kind === "preview") {
      const audio = $("preview-audio");
      audio.src = job.downloadUrl;
      audio.hidden = false;
      status.textContent = "Preview ready";
    } else {
      await openPrepare(state.asset.assetId); // fetches the asset afresh: its prepared waveform
      status.textContent = "Saved: renders now use the prepared audio";
      await loadLibrary();
    }
  } finally {
    state.busy = false;
    for (const id of ["preview-btn", "save-btn"]) $(id).disabled = false;
  }
}
