// The audio-edit options as the server offers them (`GET /api/audio/edit/options`, fetched once): the
// Prepare tab's loudness, format and sample-rate selects (filled from its presets and choices, set to a
// saved recipe's values) and the limits a recipe's clips keep to. The page holds no copy of them.

import { api, el } from "./api.js";

const $ = (id) => document.getElementById(id);
const SAVED = "(saved)"; // the loudness select's value for a saved target no preset has
let options = null;
let loading = null;
let savedNormalize = null;

/** The options, fetched on first use (a failed fetch is asked again the next time). */
export async function loadEditOptions() {
  loading ??= api.get("/api/audio/edit/options").then((o) => (options = o), (error) => {
    loading = null;
    throw error;
  });
  return loading;
}

/** The recipe's limits: {maxClips, minClipSec, volume: {min, max}, fadeSec: {min, max}, …}. */
export const editLimits = () => options.limits;

/** Whether two `normalize` values level alike: the same target whatever its key order; false and null
 * (a saved recipe's "leave as is") alike. */
function same(a, b) {
  const off = (v) => v == null || v === false;
  if (off(a) || off(b)) return off(a) && off(b);
  if (typeof a !== "object" || typeof b !== "object") return a === b;
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => a[k] === b[k]);
}

const lufs = (n) => (typeof n?.integratedLufs === "number" ? `${String(n.integratedLufs).replace("-", "−")} LUFS` : "Loudness");

/** Fills a select with [value, label] choices and picks `value`, adding it as `savedLabel` if no choice has it. */
function choose(select, choices, value, savedLabel) {
  select.replaceChildren(...choices.map(([v, label]) => el("option", { value: v }, label)));
  if (!choices.some(([v]) => v === value)) select.append(el("option", { value }, savedLabel));
  select.value = value;
}

/** Sets the selects to a saved recipe's settings, or to the defaults when there is none. A saved value
 * the server no longer offers stays, marked "(saved)", so saving again keeps it. */
export function showEditSettings(recipe) {
  const { loudness, outputFormats, sampleRates } = options;
  savedNormalize = recipe?.normalize ?? null;
  const preset = recipe ? loudness.presets.find((p) => same(p.normalize, savedNormalize))?.id ?? SAVED : loudness.default;
  choose($("loudness"), loudness.presets.map((p) => [p.id, p.label]), preset, `${lufs(savedNormalize)} (saved)`);
  const format = recipe?.outputFormat ?? outputFormats.default;
  choose($("out-format"), outputFormats.choices.map((c) => [c.id, c.label]), format, `${format} (saved)`);
  const rate = String(recipe?.outputSampleRate ?? sampleRates.default);
  choose($("out-rate"), sampleRates.choices.map((c) => [String(c.hz), c.label]), rate, `${rate} Hz (saved)`);
}

/** The recipe's `normalize`, `outputFormat` and `outputSampleRate` as the selects say. */
export function editSettings() {
  const id = $("loudness").value;
  const preset = options.loudness.presets.find((p) => p.id === id);
  return {
    normalize: preset ? preset.normalize : savedNormalize,
    outputFormat: $("out-format").value,
    outputSampleRate: Number($("out-rate").value),
  };
}
