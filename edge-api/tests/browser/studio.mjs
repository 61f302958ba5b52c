// The creator's page in a real headless Chromium at phone size, against the real local stack: sign in
// (a wrong key first), upload a generated track and see its waveform, trim it to 2 s with a fade,
// preview, save, render a draft of a flat and a 360 format with the progress bar moving to done,
// download each MP4 and check it is one, cancel a second render, list the renders, and upload a large
// file whose connection drops mid-way (the page resumes with the missing part) — with no console errors.
// The edit and render choices and defaults are checked to be those the server's options name.
// Screenshots of each step go to $SCREENSHOT_DIR (git-ignored). Run by e2e/tests/browser.rs,
// which starts the stack and passes EDGE_URL, API_KEY, TRACK_PATH and BIG_TRACK_PATH.

import puppeteer from "puppeteer-core";
import { mkdirSync } from "node:fs";

const { EDGE_URL, API_KEY, TRACK_PATH, BIG_TRACK_PATH, SCREENSHOT_DIR = ".artifacts/browser" } = process.env;
const CHROMIUM = process.env.CHROMIUM_BIN || "/usr/bin/chromium";
for (const [name, value] of Object.entries({ EDGE_URL, API_KEY, TRACK_PATH, BIG_TRACK_PATH })) {
  if (!value) throw new Error(`${name} is required`);
}
mkdirSync(SCREENSHOT_DIR, { recursive: true });

const browser = await puppeteer.launch({
  executablePath: CHROMIUM,
  headless: true,
  args: ["--no-sandbox", "--disable-dev-shm-usage", "--autoplay-policy=no-user-gesture-required"],
});
const page = await browser.newPage();
await page.setViewport({ width: 390, height: 844, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
page.setDefaultTimeout(30_000);

let step = "start";
const problems = [];
// Chromium logs every 4xx answer and dropped connection: a wrong key is refused (401), a part's
// connection is dropped and a referenced track's deletion refused (409) on purpose in their steps;
// nothing else may log an error.
const expected = { "wrong-key": /status of 401/, resume: /ERR_CONNECTION_RESET/, "delete-referenced": /status of 409/ };
const allowed = (text) => expected[step]?.test(text) ?? false;
const consoleLog = [];
page.on("console", (m) => {
  consoleLog.push(`[${step}] ${m.type()}: ${m.text()}`);
  if (m.type() === "error" && !allowed(m.text())) problems.push(`[${step}] console: ${m.text()}`);
});
page.on("pageerror", (e) => problems.push(`[${step}] page error: ${e.message}`));
page.on("requestfailed", (r) => !/\.(mp4|mp3|wav|m4a)/.test(r.url().split("?")[0]) && step !== "resume" &&
  problems.push(`[${step}] request failed: ${r.url().split("?")[0]} ${r.failure()?.errorText}`));

let shot = 0;
/** Clicks `selector`, again if the list it is in was redrawn between finding the node and clicking
 * it (the library redraws when an asset's details arrive; a person's next tap lands, so does ours). */
async function clickFresh(selector) {
  for (let attempt = 1; ; attempt++) {
    try {
      await page.click(selector);
      return;
    } catch (e) {
      if (attempt >= 10 || !/detached/i.test(e.message)) throw e;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}

async function snap(name) {
  shot += 1;
  await page.screenshot({ path: `${SCREENSHOT_DIR}/${String(shot).padStart(2, "0")}-${name}.png`, fullPage: true });
}
function check(condition, message) {
  if (!condition) throw new Error(`[${step}] ${message}`);
}
const text = (selector) => page.$eval(selector, (e) => e.textContent);
const waitText = (selector, pattern, timeout = 30_000) =>
  page.waitForFunction((s, p) => new RegExp(p).test(document.querySelector(s)?.textContent ?? ""),
    { timeout, polling: 100 }, selector, pattern.source);
/** A GET of the API from the page, with the key it keeps. */
const apiGet = (path) => page.evaluate(async (p) =>
  (await fetch(p, { headers: { authorization: `Bearer ${localStorage.getItem("efs.apiKey")}` } })).json(), path);
/** A select's value and its options' values. */
const choices = (selector) => page.$eval(selector, (s) => ({ value: s.value, values: [...s.options].map((o) => o.value) }));
async function setField(selector, value) {
  await page.$eval(selector, (e, v) => {
    e.value = v;
    e.dispatchEvent(new Event("change", { bubbles: true }));
  }, String(value));
}

/** Follows a render item to its end, recording its progress bar; returns the values seen. */
async function followRender(jobId, timeout = 240_000) {
  const seen = [];
  const deadline = Date.now() + timeout;
  for (;;) {
    const state = await page.$eval(`li[data-job="${jobId}"]`, (li) => ({
      status: li.dataset.status, value: li.querySelector("progress")?.value ?? null,
      text: li.querySelector(".status")?.textContent }));
    if (state.value != null && seen[seen.length - 1] !== state.value) seen.push(state.value);
    if (["complete", "failed", "cancelled"].includes(state.status)) return { ...state, seen };
    check(Date.now() < deadline, `render ${jobId} did not finish: ${state.text}`);
    await new Promise((r) => setTimeout(r, 150));
  }
}

/** Starts a render from the form; returns its job id. */
async function startRender(format, draft, scale = 0.1) {
  const before = await page.$$eval("#render-jobs li", (items) => items.length);
  await page.select("#render-format", format);
  const checked = await page.$eval("#render-draft", (e) => e.checked);
  if (checked !== draft) await page.click("#render-draft");
  if (draft) {
    await setField("#render-seconds", 2);
    await setField("#render-scale", scale);
  }
  await page.click('#render-form button[type="submit"]');
  await page.waitForFunction((n) => document.querySelectorAll("#render-jobs li").length > n, {}, before);
  return page.$eval("#render-jobs li", (li) => li.dataset.job);
}

/** Fetches a download link in the page and checks the bytes are an MP4 (an `ftyp` box first). */
async function checkMp4(jobId) {
  const href = await page.$eval(`li[data-job="${jobId}"] a[download]`, (a) => a.href);
  check(!href.includes(API_KEY), "no key in a download URL");
  const head = await page.evaluate(async (url) => {
    const r = await fetch(url);
    const b = new Uint8Array(await r.arrayBuffer());
    return { status: r.status, size: b.length, box: String.fromCharCode(...b.slice(4, 8)) };
  }, href);
  check(head.status === 200 && head.box === "ftyp" && head.size > 1000, `not an MP4: ${JSON.stringify(head)}`);
  return head.size;
}

try {
  step = "open";
  const opened = await page.goto(EDGE_URL, { waitUntil: "networkidle0" });
  const csp = opened.headers()["content-security-policy"] ?? "";
  check(csp.includes("default-src 'self'"), `the page is served with its CSP (${csp})`);
  check(await page.$eval("#signin", (e) => !e.hidden), "the sign-in form shows first");
  await snap("signin");

  step = "wrong-key";
  await page.type("#api-key", "efs_live_not-a-real-key");
  await page.click('#signin-form button[type="submit"]');
  await waitText("#signin-error", /not accepted/);
  await snap("wrong-key");

  step = "sign-in";
  await page.$eval("#api-key", (e) => (e.value = ""));
  await page.type("#api-key", API_KEY);
  await page.keyboard.press("Enter"); // by keyboard
  await page.waitForSelector("#studio:not([hidden])");
  check(!page.url().includes(API_KEY), "no key in the URL");
  check((await page.evaluate(() => localStorage.getItem("efs.apiKey"))) === API_KEY, "the key is kept in storage");
  await snap("signed-in");

  step = "upload";
  const file = await page.$("#file-input");
  await file.uploadFile(TRACK_PATH);
  await page.click('#file-form button[type="submit"]');
  await waitText("#ingests li .status", /In the library/, 90_000);
  check((await page.$eval("#upload-progress", (e) => e.value)) === 100, "the upload bar reached 100");
  await snap("ingested");

  step = "library";
  await page.click('[data-tab="library"]');
  await page.waitForSelector("#library li[data-asset]");
  await page.waitForFunction(() => {
    const c = document.querySelector("#library li[data-asset] canvas");
    if (!c || !c.width) return false;
    const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
    for (let i = 3; i < d.length; i += 4) if (d[i]) return true;
    return false;
  }, { polling: 200 });
  await snap("library-waveform");

  step = "prepare";
  await clickFresh("#library li[data-asset] .actions button");
  await page.waitForSelector("#prepare:not([hidden])");
  // The loudness, format and rate choices are the server's, its defaults chosen (no recipe saved yet).
  const edit = await apiGet("/api/audio/edit/options");
  const loudness = await choices("#loudness");
  check(loudness.values.join() === edit.loudness.presets.map((p) => p.id).join() && loudness.value === edit.loudness.default,
    `loudness choices: ${JSON.stringify(loudness)}`);
  check((await choices("#out-rate")).value === String(edit.sampleRates.default), "the default sample rate");
  // Drag the end handle towards the middle, then type the exact values.
  const box = await (await page.$("#prepare-wave")).boundingBox();
  await page.mouse.move(box.x + box.width - 2, box.y + box.height / 2);
  await page.mouse.down();
  await page.mouse.move(box.x + box.width * 0.6, box.y + box.height / 2, { steps: 5 });
  await page.mouse.up();
  const dragged = Number(await page.$eval('#clips input[name="end"]', (e) => e.value));
  check(dragged > 1 && dragged < 4, `dragging moved the end (${dragged})`);
  await setField('#clips input[name="start"]', 0.5);
  await setField('#clips input[name="end"]', 2.5);
  await setField('#clips input[name="fadeIn"]', 0.5);
  await snap("trimmed");

  step = "preview";
  await page.click("#preview-btn");
  await waitText("#edit-status", /Preview ready/, 90_000);
  const previewSeconds = await page.$eval("#preview-audio", (a) => new Promise((resolve) => {
    if (a.readyState >= 1) resolve(a.duration);
    a.addEventListener("loadedmetadata", () => resolve(a.duration), { once: true });
  }));
  check(Math.abs(previewSeconds - 2) < 0.15, `the preview lasts 2 s (${previewSeconds})`);
  await snap("preview");

  step = "save";
  await page.click("#save-btn");
  await waitText("#edit-status", /Saved/, 90_000);
  await page.waitForSelector("#prepared-row:not([hidden])");
  check((await text("#prepare-variants")).includes("prepared"), "the asset has a prepared variant");
  await snap("saved");

  step = "render-flat";
  await page.click('[data-tab="render"]');
  await page.waitForFunction(() => document.querySelectorAll("#render-format option").length === 9);
  const groups = await page.$$eval("#render-format optgroup", (g) => g.map((x) => x.label));
  check(groups.join("|") === "Flat 16:9|Flat 9:16|Flat 1:1|360° mono|360° stereo", `format groups: ${groups}`);
  // Every other choice and default is the render contract's.
  const contract = await apiGet("/api/render/options");
  for (const [selector, list, chosen] of [["#render-mode", contract.modes, contract.defaults.mode],
    ["#render-sky", contract.skyboxPresets, contract.defaults.skyboxPreset],
    ["#render-quality", contract.qualities, contract.defaults.quality]]) {
    const got = await choices(selector);
    check(got.values.join() === list.map((c) => c.id).join() && got.value === chosen, `${selector}: ${JSON.stringify(got)}`);
  }
  check((await choices("#render-fps")).value === String(contract.defaults.fps), "the default frame rate");
  await snap("render-form");
  const flat = await startRender("flat-1080p-square", true, 0.3);
  const flatRun = await followRender(flat);
  check(flatRun.status === "complete", `flat render: ${flatRun.text}`);
  check(flatRun.seen.some((v) => v > 0 && v < 100) && flatRun.seen[flatRun.seen.length - 1] === 100,
    `the bar moved to done: ${flatRun.seen}`);
  await page.waitForSelector(`li[data-job="${flat}"] video`);
  const flatBytes = await checkMp4(flat);
  await snap("render-flat-done");

  step = "render-360";
  const vr = await startRender("360-mono-4k", true);
  const vrRun = await followRender(vr);
  check(vrRun.status === "complete", `360 render: ${vrRun.text}`);
  check(vrRun.seen[vrRun.seen.length - 1] === 100, `the bar moved to done: ${vrRun.seen}`);
  check(!(await page.$(`li[data-job="${vr}"] video`)), "a 360 video is downloaded, not played inline");
  const vrBytes = await checkMp4(vr);
  await snap("render-360-done");

  step = "cancel";
  const long = await startRender("flat-1080p-landscape", false);
  await page.click(`li[data-job="${long}"] button.danger`);
  const cancelled = await followRender(long, 60_000);
  check(cancelled.status === "cancelled", `the second render was cancelled: ${cancelled.text}`);
  await snap("cancelled");

  step = "renders";
  await page.click('[data-tab="renders"]');
  await page.waitForSelector(`#renders li[data-job="${flat}"]`);
  const listed = await page.$$eval("#renders li", (items) => items.map((li) => li.dataset.status));
  check(listed.includes("complete") && listed.includes("cancelled"), `renders listed: ${listed}`);
  await snap("renders");

  step = "resume";
  // A file over 8 MiB goes up in parts; the connection drops during part 2 and the page resumes.
  await page.click('[data-tab="bring"]');
  await page.setRequestInterception(true);
  let dropped = 0;
  const dropPartTwo = (r) => {
    if (r.isInterceptResolutionHandled()) return;
    if (r.method() === "PUT" && /[?&]part=2(&|$)/.test(r.url()) && dropped === 0) {
      dropped += 1;
      return r.abort("connectionreset");
    }
    r.continue();
  };
  page.on("request", dropPartTwo);
  const ingests = await page.$$eval("#ingests li", (items) => items.length);
  await page.evaluate(() => {
    window.barSeen = [];
    setInterval(() => {
      const v = document.querySelector("#upload-progress").value;
      if (window.barSeen[window.barSeen.length - 1] !== v) window.barSeen.push(v);
    }, 10);
  });
  const big = await page.$("#file-input");
  await big.uploadFile(BIG_TRACK_PATH);
  await page.click('#file-form button[type="submit"]');
  await page.waitForFunction((n) => document.querySelectorAll("#ingests li").length > n, { timeout: 120_000 }, ingests);
  await waitText("#ingests li:first-child .status", /In the library/, 120_000);
  check(dropped === 1, "a part upload was dropped once");
  page.off("request", dropPartTwo);
  await page.setRequestInterception(false);
  const barSeen = await page.evaluate(() => window.barSeen);
  check(barSeen.some((v) => v > 0 && v < 100), `the upload bar moved: ${barSeen}`);
  await snap("resumed");

  step = "two-sources";
  // The long track's recipe: its own clip and, moved before it, a clip of the first track.
  await page.click('[data-tab="library"]');
  await page.waitForNetworkIdle({ idleTime: 300 });
  await page.waitForFunction(() => document.querySelectorAll("#library li[data-asset]").length === 2);
  await clickFresh("#library li[data-asset] .actions button"); // newest first: the long track
  await page.waitForFunction(() => /long/.test(document.querySelector("#prepare-name")?.textContent ?? ""));
  await page.click("#add-clip");
  await page.waitForFunction(() => document.querySelectorAll("#clips li").length === 2);
  const beat = await page.$eval("#library li[data-asset]:last-child", (li) => li.dataset.asset);
  await page.select('#clips li:nth-child(2) select[data-field="source"]', beat);
  await page.waitForFunction(() => document.querySelector('#clips li:nth-child(2) input[name="end"]').value === "4");
  await page.focus('#clips li:nth-child(2) button[data-field="up"]');
  await page.keyboard.press("Enter"); // reorder by keyboard
  await page.waitForFunction(() => document.activeElement?.closest("li")?.matches("#clips li:first-child"));
  await setField('#clips li:nth-child(2) input[name="end"]', 3);
  await page.click("#save-btn");
  await waitText("#edit-status", /Saved/, 120_000);
  await snap("two-sources-saved");

  step = "delete-referenced";
  await page.click('[data-tab="library"]');
  await page.waitForNetworkIdle({ idleTime: 300 });
  await page.waitForSelector(`#library li[data-asset="${beat}"]`);
  await page.click(`#library li[data-asset="${beat}"] button.danger`);
  await waitText(`#library li[data-asset="${beat}"] .error`, /use this asset/);
  check(!!(await page.$(`#library li[data-asset="${beat}"] .error button`)), "a way to delete anyway");
  await snap("delete-refused");

  step = "small-and-large-screens";
  for (const [width, height] of [[360, 740], [1280, 800]]) {
    // isMobile and hasTouch stay as they were: changing them makes puppeteer reload the page.
    await page.setViewport({ width, height, deviceScaleFactor: 1, isMobile: true, hasTouch: true });
    for (const tab of ["prepare", "render", "renders"]) {
      await page.click(`[data-tab="${tab}"]`);
      await new Promise((r) => setTimeout(r, 300));
      const wide = await page.evaluate(() => document.documentElement.scrollWidth);
      check(wide <= width, `${tab} fits ${width} px (${wide})`);
    }
    await snap(`${width}px`);
  }

  step = "end";
  check(problems.length === 0, `console errors:\n${problems.join("\n")}`);
  console.log(JSON.stringify({ ok: true, previewSeconds, flatBytes, vrBytes, flatProgress: flatRun.seen, screenshots: shot }));
} catch (error) {
  await snap(`failed-${step}`).catch(() => {});
  console.error(error.stack ?? String(error));
  if (problems.length) console.error(problems.join("\n"));
  if (consoleLog.length) console.error(`browser console:\n${consoleLog.join("\n")}`);
  process.exitCode = 1;
} finally {
  await browser.close();
}
