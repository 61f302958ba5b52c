// The API as the page uses it: the creator's key from this browser's storage, sent only in the
// Authorization header (never in a URL); every error answer becomes an ApiError with its code and the
// server's message, which the page shows as it is.

const KEY = "efs.apiKey";

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export const key = {
  get: () => localStorage.getItem(KEY),
  set: (value) => localStorage.setItem(KEY, value),
  clear: () => localStorage.removeItem(KEY),
};

async function request(method, path, body, idempotencyKey) {
  const headers = { authorization: `Bearer ${key.get() ?? ""}` };
  if (body !== undefined) headers["content-type"] = "application/json";
  if (idempotencyKey) headers["idempotency-key"] = idempotencyKey;
  let response;
  try {
    response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch {
    throw new ApiError(0, "network", "The network is unreachable. Check the connection and try again.");
  }
  const text = await response.text();
  const json = text ? safeJson(text) : null;
  if (!response.ok) {
    const error = json?.error;
    const failure = new ApiError(response.status, error?.code ?? "http_" + response.status, error?.message ?? `The server answered ${response.status}.`);
    failure.retryAfter = Number(response.headers.get("retry-after")) || 0;
    throw failure;
  }
  return json;
}

function safeJson(text) {
  try { return JSON.parse(text); } catch { return null; }
}

export const api = {
  get: (path) => request("GET", path),
  post: (path, body = {}) => request("POST", path, body),
  /** A create, sent with a fresh Idempotency-Key, so a retried request never makes two. */
  create: (path, body) => request("POST", path, body, crypto.randomUUID()),
  del: (path) => request("DELETE", path),
};

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Whether a failed call may succeed if repeated: the network, a server error, the rate limit. */
export const transient = (error) => error.status === 0 || error.status === 429 || error.status >= 500;

/** Polls a job until it ends, calling `onUpdate(job)` each time; resolves with the final job. Transient
 * failures (network, 5xx, 429 with its Retry-After) are waited out, for up to about five minutes. */
export async function follow(jobId, onUpdate) {
  let failures = 0;
  for (;;) {
    let job;
    try {
      job = await api.get(`/api/jobs/${encodeURIComponent(jobId)}`);
      failures = 0;
    } catch (error) {
      if (!transient(error) || ++failures > 30) throw error;
      await sleep(Math.max(error.retryAfter * 1000, Math.min(10_000, 1000 * failures)));
      continue;
    }
    onUpdate(job);
    if (["complete", "failed", "cancelled"].includes(job.status)) return job;
    await sleep(job.status === "pending" ? 2000 : 1000);
  }
}

const details = new Map();

/** An asset with its waveform (`GET /api/assets/{id}`), fetched once unless `fresh`. */
export async function assetDetail(assetId, fresh = false) {
  if (fresh || !details.has(assetId)) {
    details.set(assetId, await api.get(`/api/assets/${encodeURIComponent(assetId)}`));
  }
  return details.get(assetId);
}

/** An asset's detail if it was fetched already (else undefined). */
export function cachedDetail(assetId) {
  return details.get(assetId);
}

/** Runs `action` with `button` disabled, so a double tap starts nothing twice. */
export async function busy(button, action) {
  if (button.disabled) return;
  button.disabled = true;
  try {
    return await action();
  } finally {
    button.disabled = false;
  }
}

/** "1:05", "12.3 s" — durations for people. */
export function duration(seconds) {
  if (seconds == null) return "";
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const m = Math.floor(seconds / 60);
  return `${m}:${String(Math.round(seconds - m * 60)).padStart(2, "0")}`;
}

export function bytes(n) {
  if (n == null) return "";
  const units = ["B", "KB", "MB", "GB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return `${n.toFixed(i ? 1 : 0)} ${units[i]}`;
}

/** A job's state in words: stage, progress, ETA, or its error. */
export function describe(job) {
  if (job.status === "failed") return `Failed: ${job.error?.message ?? "unknown error"}`;
  if (job.status === "cancelled") return "Cancelled";
  if (job.status === "complete") return "Done";
  if (job.status === "pending") return job.queuePosition ? `Queued (${job.queuePosition} ahead)` : "Queued";
  const eta = job.etaSec != null ? ` · about ${duration(job.etaSec)} left` : "";
  return `${job.stage ?? "working"} · ${Math.round(job.progress)}%${eta}`;
}

/** Small DOM helper: el("li", {class: "x"}, child, "text"). */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === false || value == null) continue;
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) if (child != null) node.append(child);
  return node;
}
