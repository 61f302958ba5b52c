// ESLint for the JavaScript of this repository that people write by hand: the creator's page
// (edge-api/public/js, browser ES modules, no build step) and its browser test (edge-api/tests/browser,
// a Node script whose page.$eval callbacks run in the browser). `make test` runs `npx --no-install eslint`.

import js from "@eslint/js";
import globals from "globals";

const rules = {
  ...js.configs.recommended.rules,
  "no-unused-vars": ["error", { args: "after-used", caughtErrors: "none" }],
  "no-undef": "error",
  eqeqeq: ["error", "always", { null: "ignore" }],
  "prefer-const": "error",
  "no-var": "error",
};

export default [
  // Only these two folders: build outputs, vendored code and other tests are not ours to lint.
  { ignores: ["**/*", "!edge-api/", "!edge-api/public/", "!edge-api/public/js/", "!edge-api/public/js/**/*.js",
    "!edge-api/tests/", "!edge-api/tests/browser/", "!edge-api/tests/browser/**/*.mjs"] },
  {
    files: ["edge-api/public/js/**/*.js"],
    languageOptions: { ecmaVersion: "latest", sourceType: "module", globals: globals.browser },
    rules,
  },
  {
    files: ["edge-api/tests/browser/**/*.mjs"],
    // Node, plus the browser's names for the callbacks puppeteer runs in the page.
    languageOptions: { ecmaVersion: "latest", sourceType: "module", globals: { ...globals.node, ...globals.browser } },
    rules,
  },
];
