// What every part of the page shares: the one place errors are shown (never a blank page or a
// console-only failure), the tabs (each part says what to do when its tab opens), and signing out.

import { key, ApiError } from "./api.js";

const $ = (id) => document.getElementById(id);
const SIGNED_OUT = "efs.signedOutMessage";
const tabHandlers = new Map();

export function showError(error) {
  $("notice-text").textContent = error instanceof Error ? error.message : String(error);
  $("notice").hidden = false;
  if (error instanceof ApiError && error.status === 401) signOut("Your key was not accepted. Sign in again.");
}

/** Runs `handler()` (which may return a promise) whenever tab `name` opens. */
export function onTab(name, handler) {
  tabHandlers.set(name, handler);
}

export function showTab(name, focus = true) {
  for (const button of document.querySelectorAll("[data-tab]")) {
    button.setAttribute("aria-pressed", String(button.dataset.tab === name));
  }
  for (const tab of document.querySelectorAll(".tab")) tab.hidden = tab.id !== `tab-${name}`;
  if (focus) document.querySelector(`#tab-${name} h2`)?.focus();
  Promise.resolve(tabHandlers.get(name)?.()).catch(showError);
}

/** Forgets the key and everything shown for it (a reload: no account's data stays on a shared device). */
export function signOut(message = "") {
  key.clear();
  if (message) sessionStorage.setItem(SIGNED_OUT, message);
  location.reload();
}

/** The message a sign-out left for the sign-in form, once. */
export function takeSignOutMessage() {
  const message = sessionStorage.getItem(SIGNED_OUT) ?? "";
  sessionStorage.removeItem(SIGNED_OUT);
  return message;
}
