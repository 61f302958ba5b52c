// Bringing audio in: a file with a real progress bar (one PUT, or a resumable multipart upload that
// sends only the missing parts after a dropped connection), or a direct / YouTube link; each ingest's
// stage and progress until the track is in the library.

import { api, follow, describe, el, ApiError } from "./api.js";
import { showError } from "./main.js";
import { loadLibrary } from "./library.js";

const $ = (id) => document.getElementById(id);
const RESUMABLE_ABOVE = 8 * 1024 * 1024;
const isYoutube = (url) => /^https:\/\/((www|m)\.)?(youtube\.com|youtu\.be)\//i.test(url);

export function initBring() {
  $("file-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const file = $("file-input").files[0];
    if (file) uploadAndIngest(file).catch(showError);
  });
  $("link-input").addEventListener("input", () => ($("rights-row").hidden = !isYoutube($("link-input").value.trim())));
  $("link-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const url = $("link-input").value.trim();
    const source = isYoutube(url)
      ? { type: "youtube", url, rightsAttested: $("rights-input").checked }
      : { type: "url", url };
    api.post("/api/audio/ingest", { source }).then((job) => {
      $("link-input").value = "";
      watchIngest(job.jobId, url);
    }, showError);
  });
}

async function uploadAndIngest(file) {
  const bar = $("upload-progress");
  const status = $("upload-status");
  bar.hidden = false;
  bar.value = 0;
  status.textContent = `Uploading ${file.name}…`;
  const contentType = file.type || "application/octet-stream";
  const upload = await api.post("/api/uploads", {
    filename: file.name,
    contentType,
    size: file.size,
    multipart: file.size > RESUMABLE_ABOVE,
  });
  const onProgress = (done) => (bar.value = Math.min(100, (100 * done) / Math.max(file.size, 1)));
  try {
    if (upload.multipart) await sendParts(upload, file, onProgress);
    else await put(upload.uploadUrl, file, contentType, (loaded) => onProgress(loaded));
  } catch (error) {
    status.textContent = "";
    throw error;
  }
  onProgress(file.size);
  status.textContent = `${file.name} uploaded.`;
  const job = await api.post("/api/audio/ingest", { source: { type: "upload", uploadId: upload.uploadId } });
  $("file-input").value = "";
  watchIngest(job.jobId, file.name);
}

/** One PUT with upload progress (fetch cannot report it). */
function put(url, body, contentType, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("PUT", url);
    if (contentType) xhr.setRequestHeader("content-type", contentType);
    xhr.upload.onprogress = (e) => onProgress(e.loaded);
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) return resolve();
      let message = `The upload was refused (${xhr.status}).`;
      try { message = JSON.parse(xhr.responseText).error.message; } catch {}
      reject(new ApiError(xhr.status, "upload_failed", message));
    };
    xhr.onerror = () => reject(new ApiError(0, "network", "The connection dropped during the upload."));
    xhr.send(body);
  });
}

/** Sends the parts the server is missing; after a dropped connection, asks which are missing and
 * resumes with fresh URLs (up to five times). */
async function sendParts(upload, file, onProgress) {
  let state = upload.multipart;
  for (let tries = 0; ; tries++) {
    const partSize = state.partSize;
    let done = state.received.reduce((sum, part) => sum + part.size, 0);
    try {
      for (const part of state.parts) {
        const start = (part.partNumber - 1) * partSize;
        const base = done;
        await put(part.url, file.slice(start, start + part.size), null, (loaded) => onProgress(base + loaded));
        done += part.size;
        onProgress(done);
      }
      await api.post(state.completeUrl.replace(/^https?:\/\/[^/]+/, ""), {});
      return;
    } catch (error) {
      if (tries >= 5 || (error.status && error.status !== 0 && error.status < 500)) throw error;
      $("upload-status").textContent = "Connection lost; resuming…";
      await new Promise((r) => setTimeout(r, 1000 * (tries + 1)));
      state = (await api.get(`/api/uploads/${encodeURIComponent(upload.uploadId)}`)).multipart;
    }
  }
}

function watchIngest(jobId, label) {
  const bar = el("progress", { max: "100", value: "0", "aria-label": `Ingest of ${label}` });
  const text = el("span", { class: "status" }, "Queued");
  const item = el("li", {}, el("strong", {}, label), bar, text);
  $("ingests").prepend(item);
  follow(jobId, (job) => {
    bar.value = job.progress;
    text.textContent = job.status === "complete" ? "In the library" : describe(job);
  }).then((job) => {
    if (job.status === "complete") loadLibrary().catch(showError);
  }, showError);
}
