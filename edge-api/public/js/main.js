// The page's entry: sign-in, the tabs, and one place that shows errors (never a blank page or a
// console-only failure).

import { api, key, ApiError } from "./api.js";
import { initBring } from "./bring.js";
import { initLibrary, loadLibrary } from "./library.js";
import { initPrepare } from "./prepare.js";
import { initRender, loadOptions, loadRenders } from "./render.js";

const $ = (id) => document.getElementById(id);
const SIGNED_OUT = "efs.signedOutMessage";

export function showError(error) {
  $("notice-text").textContent = error instanceof Error ? error.message : String(error);
  $("notice").hidden = false;
  if (error instanceof ApiError && error.status === 401) signOut("Your key was not accepted. Sign in again.");
}

window.addEventListener("unhandledrejection", (event) => {
  event.preventDefault();
  showError(event.reason);
});

export function showTab(name, focus = true) {
  for (const button of document.querySelectorAll("[data-tab]")) {
    button.setAttribute("aria-pressed", String(button.dataset.tab === name));
  }
  for (const tab of document.querySelectorAll(".tab")) tab.hidden = tab.id !== `tab-${name}`;
  if (focus) document.querySelector(`#tab-${name} h2`)?.focus();
  if (name === "library") loadLibrary().catch(showError);
  if (name === "render") loadOptions().catch(showError);
  if (name === "renders") loadRenders().catch(showError);
}

/** Forgets the key and everything shown for it (a reload: no account's data stays on a shared device). */
function signOut(message = "") {
  key.clear();
  if (message) sessionStorage.setItem(SIGNED_OUT, message);
  location.reload();
}

function enter() {
  $("signin").hidden = true;
  $("studio").hidden = false;
  $("sign-out").hidden = false;
  showTab("bring", false);
}

$("signin-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const value = $("api-key").value.trim();
  key.set(value);
  try {
    await api.get("/api/usage");
    $("api-key").value = "";
    $("signin-error").textContent = "";
    enter();
  } catch (error) {
    key.clear();
    $("signin-error").textContent =
      error.status === 401 ? "That key was not accepted. Check it and try again." : error.message;
  }
});

$("sign-out").addEventListener("click", () => signOut());
$("notice-close").addEventListener("click", () => ($("notice").hidden = true));
for (const button of document.querySelectorAll("[data-tab]")) {
  button.addEventListener("click", () => showTab(button.dataset.tab));
}

initBring();
initLibrary();
initPrepare();
initRender();
$("signin-error").textContent = sessionStorage.getItem(SIGNED_OUT) ?? "";
sessionStorage.removeItem(SIGNED_OUT);
if (key.get()) {
  // Only a refused key signs out; a network or server problem keeps it and says so.
  api.get("/api/usage").then(enter, (error) => {
    if (error.status === 401) return signOut("Your saved key was not accepted. Sign in again.");
    enter();
    showError(error);
  });
}
