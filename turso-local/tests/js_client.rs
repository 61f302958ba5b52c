//! Conformance: the official `@libsql/client` from npm (run by node) against turso-local.

use std::path::Path;
use test_support::turso;

#[tokio::test]
async fn official_js_client_passes_the_conformance_script() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    assert!(
        root.join("node_modules/@libsql/client").exists(),
        "@libsql/client is not installed: run `npm ci` at the repository root (make test does)"
    );
    let server = turso::start().await;
    let script = root.join("turso-local/tests/js/conformance.mjs");
    let out = tokio::process::Command::new("node")
        .arg(script)
        .arg(&server.url)
        .arg(&server.token)
        .current_dir(root)
        .output()
        .await
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("ok: @libsql/client conformance"),
        "node script failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
