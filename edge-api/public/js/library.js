// The creator's tracks: duration, waveform (from the stored peaks), variants, size, and delete — with
// the server's "used by another recipe" answer shown as it is, and a way to delete anyway.

import { api, el, duration, bytes, assetDetail } from "./api.js";
import { showError } from "./ui.js";
import { drawPeaks } from "./waveform.js";

const $ = (id) => document.getElementById(id);
let cursor = null;
export let assets = [];
const listeners = [];

/** Calls `fn(assets)` whenever the library changes. */
export function onLibrary(fn) {
  listeners.push(fn);
}

let trackActions = { prepare: async () => {}, render: () => {} };

/** What the Prepare and Render buttons of a track do (wired by the page's entry). */
export function setLibraryActions(given) {
  trackActions = given;
}

export function initLibrary() {
  $("library-more").addEventListener("click", () => loadLibrary(true).catch(showError));
}

export async function loadLibrary(more = false) {
  const query = more && cursor ? `?limit=20&cursor=${encodeURIComponent(cursor)}` : "?limit=20";
  const page = await api.get(`/api/assets${query}`);
  assets = more ? assets.concat(page.assets) : page.assets;
  cursor = page.nextCursor;
  $("library-more").hidden = !cursor;
  const usage = page.usage;
  $("library-usage").textContent = `${assets.length} track${assets.length === 1 ? "" : "s"} · ${bytes(usage.bytes)} of ${bytes(usage.quotaBytes)} used`;
  const list = $("library");
  if (!more) list.replaceChildren();
  for (const asset of more ? page.assets : assets) list.append(item(asset));
  if (!assets.length) list.append(el("li", { class: "status" }, "No tracks yet: bring some audio in."));
  for (const fn of listeners) fn(assets);
}

function item(asset) {
  const canvas = el("canvas", { class: "wave small", height: "48", role: "img", "aria-label": `Waveform of ${asset.filename}` });
  const message = el("p", { class: "error", role: "alert" });
  const actions = el("div", { class: "actions" },
    el("button", { type: "button", onclick: () => trackActions.prepare(asset.assetId).catch(showError) }, "Prepare"),
    el("button", { type: "button", onclick: () => trackActions.render(asset.assetId) }, "Render"),
    el("button", { type: "button", class: "danger", onclick: () => remove(asset, false, message) }, "Delete"));
  const li = el("li", { "data-asset": asset.assetId },
    el("div", { class: "row" }, el("strong", {}, asset.filename),
      el("span", { class: "badges" }, ...asset.variants.map((v) => el("span", { class: "badge" }, v)))),
    el("p", { class: "status" }, `${duration(asset.durationSec)} · ${bytes(asset.sizeBytes)}`),
    canvas, actions, message);
  // The prepared waveform replaces the original's once a recipe was saved (a save refetches the asset).
  assetDetail(asset.assetId).then((full) => drawPeaks(canvas, (full.prepared ?? full).peaks), () => {});
  return li;
}

async function remove(asset, force, message) {
  message.replaceChildren();
  try {
    await api.del(`/api/assets/${encodeURIComponent(asset.assetId)}${force ? "?force=true" : ""}`);
    await loadLibrary();
  } catch (error) {
    if (error.code !== "asset_referenced") return showError(error);
    message.append(error.message, " ",
      el("button", { type: "button", class: "danger", onclick: () => remove(asset, true, message) }, "Delete anyway"));
  }
}
