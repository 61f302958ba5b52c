// Bringing audio in: a file with a real progress bar (one PUT, or a resumable multipart upload that
// sends only the missing parts after a dropped connection), or a direct / YouTube link; each ingest's
// stage and progress until the track is in the library.

import { api, follow, describe, el, ApiError, busy, sleep, transient } from "./api.js";
import { showError } from "./ui.js";
import { loadLibrary } from "./library.js";

const $ = (id) => document.getElementById(id);
const RESUMABLE_ABOVE = 8 * 1024 * 1024;
const isYoutube = (url) => /^https:\/\/((www|m)\.)?(youtube\.com|youtu\.be)\//i.test(url);

export function initBring() {
  $("file-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const file = $("file-input").files[0];
    const button = event.target.querySelector('button[type="submit"]');
    if (file) busy(button, () => uploadAndIngest(file)).catch(showError);
  });
  $("link-input").addEventListener("input", () => ($("rights-row").hidden = !isYoutube($("link-input").value.trim())));
  $("link-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const url = $("link-input").value.trim();
    const source = isYoutube(url)
      ? { type: "youtube", url, rightsAttested: $("rights-input").checked }
      : { type: "url", url };
    const button = event.target.querySelector('button[type="submit"]');
    busy(button, async () => {
      const job = await api.create("/api/audio/ingest", { source });
      $("link-input").value = "";
      $("rights-input").checked = false;
      $("rights-row").hidden = true;
      watchIngest(job.jobId, linkLabel(url));
    }).catch(showError);
  });
}

async function uploadAndIngest(file) {
  const bar = $("upload-progress");
  const status = $("upload-status");
  bar.hidden = false;
  bar.value = 0;
  status.textContent = `Uploading ${file.name}…`;
  const contentType = file.type || "application/octet-stream";
  const upload = await api.create("/api/uploads", {
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
  const job = await api.create("/api/audio/ingest", { source: { type: "upload", uploadId: upload.uploadId } });
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
      try { message = JSON.parse(xhr.responseText).error.message; } catch { /* not JSON: the status says it */ }
      reject(new ApiError(xhr.status, "upload_failed", message));
    };
    xhr.onerror = () => reject(new ApiError(0, "network", "The connection dropped during the upload."));
    xhr.send(body);
  });
}

/** Sends the parts the server is missing, then completes the upload. After a dropped connection it
 * waits (backing off, for up to about ten minutes), asks the server which parts are missing, and sends
 * only those with fresh URLs; an upload the server already holds whole is done. */
async function sendParts(upload, file, onProgress) {
  let state = upload.multipart;
  for (let failures = 0; ; ) {
    try {
      if (state) {
        let done = state.received.reduce((sum, part) => sum + part.size, 0);
        onProgress(done);
        for (const part of state.parts) {
          const start = (part.partNumber - 1) * state.partSize;
          const base = done;
          await put(part.url, file.slice(start, start + part.size), null, (loaded) => onProgress(base + loaded));
          done += part.size;
          onProgress(done);
        }
        const complete = new URL(state.completeUrl);
        await api.post(complete.pathname + complete.search, {});
        return;
      }
      const now = await api.get(`/api/uploads/${encodeURIComponent(upload.uploadId)}`);
      if (now.status === "received") return;
      state = now.multipart;
      if (!state?.completeUrl) throw new ApiError(409, "upload_closed", "This upload can no longer take parts.");
      failures = 0;
    } catch (error) {
      if (!transient(error) || ++failures > 20) throw error;
      $("upload-status").textContent = "Connection lost; resuming when it is back…";
      await sleep(Math.max((error.retryAfter ?? 0) * 1000, Math.min(30_000, 1000 * 2 ** failures)));
      state = null; // ask the server what it has before sending anything more
    }
  }
}

// A pasted link may be presigned: its query (a token) is never shown.
function linkLabel(url) {
  try {
    const u = new URL(url);
    return u.host + u.pathname;
  } catch {
    return "link";
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
