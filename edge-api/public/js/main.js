// The page's entry: sign-in, the tabs, and one place that shows errors (never a blank page or a
// console-only failure).

import { api, key, ApiError } from "./api.js";
import { initBring } from "./bring.js";
import { initLibrary, loadLibrary } from "./library.js";
import { initPrepare } from "./prepare.js";
import { initRender, loadRenders } from "./render.js";

const $ = (id) => document.getElementById(id);

export function showError(error) {
  const notice = $("notice");
  notice.textContent = error instanceof ApiError || error instanceof Error ? error.message : String(error);
  notice.hidden = false;
  clearTimeout(showError.timer);
  showError.timer = setTimeout(() => (notice.hidden = true), 8000);
  if (error instanceof ApiError && error.status === 401) signOut("Your key was not accepted. Sign in again.");
}

window.addEventListener("unhandledrejection", (event) => {
  event.preventDefault();
  showError(event.reason);
});

export function showTab(name) {
  for (const button of document.querySelectorAll("[data-tab]")) {
    button.setAttribute("aria-pressed", String(button.dataset.tab === name));
  }
  for (const tab of document.querySelectorAll(".tab")) tab.hidden = tab.id !== `tab-${name}`;
  if (name === "library") loadLibrary().catch(showError);
  if (name === "renders") loadRenders().catch(showError);
}

function signOut(message = "") {
  key.clear();
  $("studio").hidden = true;
  $("sign-out").hidden = true;
  $("signin").hidden = false;
  $("signin-error").textContent = message;
}

async function enter() {
  $("signin").hidden = true;
  $("studio").hidden = false;
  $("sign-out").hidden = false;
  showTab("bring");
}

$("signin-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const value = $("api-key").value.trim();
  key.set(value);
  try {
    await api.get("/api/usage");
    $("api-key").value = "";
    $("signin-error").textContent = "";
    await enter();
  } catch (error) {
    key.clear();
    $("signin-error").textContent =
      error.status === 401 ? "That key was not accepted. Check it and try again." : error.message;
  }
});

$("sign-out").addEventListener("click", () => signOut());
for (const button of document.querySelectorAll("[data-tab]")) {
  button.addEventListener("click", () => showTab(button.dataset.tab));
}

initBring();
initLibrary();
initPrepare();
initRender();
if (key.get()) {
  api.get("/api/usage").then(enter, () => signOut("Your saved key was not accepted. Sign in again."));
}
