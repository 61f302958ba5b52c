// The page's entry: sign-in, and wiring the parts together (which tab loads what, which library button
// opens what).

import { api, key } from "./api.js";
import { initBring } from "./bring.js";
import { initLibrary, loadLibrary, setLibraryActions } from "./library.js";
import { initPrepare, openPrepare } from "./prepare.js";
import { initRender, loadOptions, loadRenders, setRenderTrack } from "./render.js";
import { onTab, showError, showTab, signOut, takeSignOutMessage } from "./ui.js";

const $ = (id) => document.getElementById(id);

window.addEventListener("unhandledrejection", (event) => {
  event.preventDefault();
  showError(event.reason);
});

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

onTab("library", () => loadLibrary());
onTab("render", () => loadOptions());
onTab("renders", () => loadRenders());
setLibraryActions({
  prepare: (assetId) => openPrepare(assetId).then(() => showTab("prepare")),
  render: (assetId) => {
    setRenderTrack(assetId);
    showTab("render");
  },
});
initBring();
initLibrary();
initPrepare();
initRender();
$("signin-error").textContent = takeSignOutMessage();
if (key.get()) {
  // Only a refused key signs out; a network or server problem keeps it and says so.
  api.get("/api/usage").then(enter, (error) => {
    if (error.status === 401) return signOut("Your saved key was not accepted. Sign in again.");
    enter();
    showError(error);
  });
}
