//! The local stack as three real processes on free ports: turso-local (SQLite), `wrangler dev`
//! (workerd running edge-api, with local R2) and cpu-worker. Each runs in its own process group and
//! is killed with it when the stack is dropped; logs go to files that failures print.

use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;

pub const API_TOKEN: &str = "e2e-api-token";
pub const SIGNING_SECRET: &str = "e2e-signing-secret";
pub const WEBHOOK_SECRET: &str = "whsec_ZTJlLXdlYmhvb2stc2VjcmV0LWtleQ==";
pub const MODAL_AUTH_TOKEN: &str = "e2e-modal-token";
const DB_TOKEN: &str = "e2e-db-token";

/// An account made for a test, with its one key.
pub struct TestAccount {
    pub id: String,
    pub api_key: String,
    pub key_id: String,
    pub webhook_secret: String,
}

pub struct Stack {
    pub edge: String,
    pub db_url: String,
    pub dir: tempfile::TempDir,
    pub worker: Option<Child>,
    edge_process: Option<Child>,
    edge_port: u16,
    inspector_port: u16,
    /// The render service emulator's base URL, when this stack runs one.
    pub render: Option<String>,
    /// The account every test request uses unless it names another (made through the admin API).
    pub account_id: String,
    pub api_key: String,
    /// The account's callback signing secret (`whsec_…`).
    pub webhook_secret: String,
    /// A port the edge and the worker allow callbacks to over plain HTTP on loopback
    /// (`CALLBACK_ALLOW_HOSTS`); a test binds its receiver there.
    pub callback_port: u16,
    /// A port the edge and the worker allow media URLs to over plain HTTP on loopback
    /// (`INGEST_ALLOW_HOSTS`); a test serves media there.
    pub media_port: u16,
    others: Vec<Child>,
}

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn spawn(mut cmd: Command, log: &Path) -> Child {
    let out = std::fs::File::create(log).unwrap();
    cmd.stdin(Stdio::null()).stdout(out.try_clone().unwrap()).stderr(out).process_group(0);
    cmd.spawn().unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"))
}

async fn wait_healthy(url: &str, within: Duration, log: &Path) {
    let deadline = Instant::now() + within;
    let client = reqwest::Client::new();
    loop {
        if let Ok(r) = client.get(url).send().await {
            if r.status().is_success() {
                return;
            }
        }
        if Instant::now() > deadline {
            panic!("{url} not healthy after {within:?}; log:\n{}", tail(log));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

pub fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let start = text.len().saturating_sub(6000);
    text[text.floor_char_boundary(start)..].to_owned()
}

impl Stack {
    pub async fn start() -> Stack {
        Self::start_inner(false).await
    }

    /// The stack plus the render service's local emulator (`python -m modal_app.service.local`), with the edge
    /// and the worker configured for it.
    pub async fn start_with_render() -> Stack {
        Self::start_inner(true).await
    }

    async fn start_inner(with_render: bool) -> Stack {
        let root = repo_root();
        let worker_bin = PathBuf::from(env!("CARGO_BIN_EXE_cpu-worker"));
        let turso_bin = worker_bin.with_file_name("turso-local");
        assert!(
            turso_bin.exists(),
            "{} is missing: run `cargo build -p turso-local` first (make test does)",
            turso_bin.display()
        );
        let wrangler = root.join("node_modules/.bin/wrangler");
        assert!(wrangler.exists(), "wrangler is missing: run `npm ci` first (make test does)");
        let dir = tempfile::tempdir().unwrap();
        let (db_port, edge_port, inspector_port) = (free_port(), free_port(), free_port());
        let db_url = format!("http://127.0.0.1:{db_port}");
        let edge = format!("http://127.0.0.1:{edge_port}");

        // The stack owns each process from the moment it starts, so a failed start still kills them.
        let mut stack = Stack {
            edge,
            db_url,
            dir,
            worker: None,
            edge_process: None,
            edge_port,
            inspector_port,
            render: None,
            account_id: String::new(),
            api_key: String::new(),
            webhook_secret: String::new(),
            callback_port: free_port(),
            media_port: free_port(),
            others: Vec::new(),
        };
        let mut turso = Command::new(&turso_bin);
        let db_file = stack.dir.path().join("studio.db");
        turso.args([
            "--db",
            db_file.to_str().unwrap(),
            "--listen",
            &format!("127.0.0.1:{db_port}"),
            "--auth-token",
            DB_TOKEN,
        ]);
        let turso_log = stack.dir.path().join("turso-local.log");
        stack.others.push(spawn(turso, &turso_log));
        wait_healthy(&format!("{}/health", stack.db_url), Duration::from_secs(20), &turso_log).await;

        if with_render {
            stack.start_render_service().await;
        }
        stack.start_edge().await;
        stack.start_worker();
        stack.wait_migrated().await;
        let account = stack.create_account(serde_json::json!({"name": "Test creator A"})).await;
        (stack.account_id, stack.api_key, stack.webhook_secret) = (account.id, account.api_key, account.webhook_secret);
        stack
    }

    /// Makes an account (`{name, quotas?}`) and a key for it through the admin API.
    pub async fn create_account(&self, body: serde_json::Value) -> TestAccount {
        let http = reqwest::Client::new();
        let r = http.post(format!("{}/api/admin/accounts", self.edge)).bearer_auth(API_TOKEN).json(&body);
        let account: serde_json::Value = r.send().await.unwrap().json().await.unwrap();
        let account_id = account["accountId"].as_str().unwrap_or_else(|| panic!("{account}")).to_owned();
        let r = http.post(format!("{}/api/admin/accounts/{account_id}/keys", self.edge)).bearer_auth(API_TOKEN);
        let key: serde_json::Value = r.send().await.unwrap().json().await.unwrap();
        TestAccount {
            api_key: key["apiKey"].as_str().unwrap_or_else(|| panic!("{key}")).to_owned(),
            key_id: key["keyId"].as_str().unwrap().to_owned(),
            webhook_secret: account["webhookSecret"].as_str().unwrap().to_owned(),
            id: account_id,
        }
    }

    /// `CALLBACK_ALLOW_HOSTS` of this stack.
    pub fn callback_allow(&self) -> String {
        format!("127.0.0.1:{}", self.callback_port)
    }

    /// Waits until the worker has applied every migration (it does so at start).
    async fn wait_migrated(&self) {
        let latest = studio_core::db::migrate::MIGRATIONS.iter().map(|m| m.version).max().unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let sql = studio_core::hrana::Stmt::new("SELECT max(version) AS v FROM schema_migrations", vec![]);
            if let Ok(rows) = self.db().execute(sql).await {
                if rows.first().and_then(|r| r.opt_int("v").ok().flatten()) == Some(latest) {
                    return;
                }
            }
            assert!(Instant::now() < deadline, "migrations never applied\n{}", self.logs());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Starts the render service emulator on a free port. Webhook retries are quick, as a test needs.
    async fn start_render_service(&mut self) {
        let python = repo_root().join(".venv/bin/python");
        assert!(python.exists(), "the Python environment is missing: run `make setup` first (make test does)");
        let port = free_port();
        let mut cmd = Command::new(python);
        cmd.current_dir(repo_root())
            .args(["-m", "modal_app.service.local", "--port", &port.to_string()])
            .env("MODAL_AUTH_TOKEN", MODAL_AUTH_TOKEN)
            .env("WEBHOOK_SECRET", WEBHOOK_SECRET)
            .env("WEBHOOK_RETRY_DELAYS", "0.5,1,2");
        let log = self.dir.path().join("render.log");
        self.others.push(spawn(cmd, &log));
        let url = format!("http://127.0.0.1:{port}");
        wait_healthy(&format!("{url}/health"), Duration::from_secs(60), &log).await;
        self.render = Some(url);
    }

    /// Starts `wrangler dev` (workerd + local R2) on the stack's edge port; R2 data persists across
    /// restarts in the stack's directory.
    pub async fn start_edge(&mut self) {
        let mut edge_cmd = Command::new(repo_root().join("node_modules/.bin/wrangler"));
        edge_cmd
            .current_dir(repo_root())
            .env("WRANGLER_SEND_METRICS", "false")
            // As in production: a refused request is answered at once. wrangler dev otherwise reads
            // every unread request body to its end before answering (a dev-only middleware).
            .env("WRANGLER_DISABLE_REQUEST_BODY_DRAINING", "1")
            .env("CI", "1")
            .args(["dev", "--ip", "127.0.0.1", "--port", &self.edge_port.to_string()])
            .args(["--inspector-port", &self.inspector_port.to_string()])
            .args(["--persist-to", self.dir.path().join("wrangler").to_str().unwrap()])
            .args(["--show-interactive-dev-session", "false"])
            .args(["--var", &format!("TURSO_DATABASE_URL:{}", self.db_url)])
            .args(["--var", &format!("TURSO_AUTH_TOKEN:{DB_TOKEN}")])
            .args(["--var", &format!("API_TOKEN:{API_TOKEN}")])
            .args(["--var", &format!("SIGNING_SECRET:{SIGNING_SECRET}")])
            .args(["--var", &format!("WEBHOOK_SECRET:{WEBHOOK_SECRET}")])
            // Generous defaults, so polling tests never meet a limit; the limit tests make accounts
            // with their own small quotas.
            .args(["--var", "RATE_LIMIT_PER_MINUTE:60000"])
            .args(["--var", "QUOTA_ACTIVE_JOBS:1000"])
            .args(["--var", "QUOTA_RENDER_SECONDS_PER_DAY:1000000"])
            .args(["--var", "QUOTA_STORAGE_BYTES:5368709120"])
            .args(["--var", &format!("CALLBACK_ALLOW_HOSTS:{}", self.callback_allow())])
            .args(["--var", &format!("INGEST_ALLOW_HOSTS:127.0.0.1:{}", self.media_port)]);
        // Always given, so a developer's .dev.vars (which wrangler also reads) cannot leak in.
        let render = self.render.as_deref().unwrap_or("");
        edge_cmd.args(["--var", &format!("RENDER_SERVICE_URL:{render}")]);
        let edge_log = self.dir.path().join("wrangler.log");
        self.edge_process = Some(spawn(edge_cmd, &edge_log));
        wait_healthy(&format!("{}/api/health", self.edge), Duration::from_secs(300), &edge_log).await;
    }

    /// Kills the edge (the whole process group) and waits until its port refuses connections.
    pub async fn stop_edge(&mut self) {
        if let Some(mut child) = self.edge_process.take() {
            let _ = killpg(Pid::from_raw(child.id() as i32), Signal::SIGKILL);
            let _ = child.wait();
        }
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", self.edge_port)).is_ok() {
            assert!(Instant::now() < deadline, "the edge port stayed open");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Every object key in the edge's local R2 bucket, read from wrangler's local store (miniflare keeps
    /// one SQLite file per bucket with an `_mf_objects` table), so tests can count what is stored.
    pub fn stored_keys(&self) -> Vec<String> {
        self.bucket_query("SELECT key FROM _mf_objects")
    }

    /// A one-column query over every bucket file of the local R2 store, sorted.
    fn bucket_query(&self, sql: &str) -> Vec<String> {
        let dir = self.dir.path().join("wrangler/v3/r2/miniflare-R2BucketObject");
        let mut keys = Vec::new();
        for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if !name.ends_with(".sqlite") || name == "metadata.sqlite" {
                continue;
            }
            let db = rusqlite::Connection::open_with_flags(&path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
            let mut stmt = db.prepare(sql).unwrap();
            keys.extend(stmt.query_map([], |r| r.get::<_, String>(0)).unwrap().map(Result::unwrap));
        }
        keys.sort();
        keys
    }

    /// The multipart uploads the local bucket has seen, as `key state` (miniflare's
    /// `_mf_multipart_uploads`; state 0 in progress, 1 completed, 2 aborted).
    pub fn multipart_uploads(&self) -> Vec<String> {
        self.bucket_query("SELECT key || ' ' || state FROM _mf_multipart_uploads")
    }

    /// The worker's scratch root (`WORKER_TEMP_DIR`), shared by every worker this stack starts.
    pub fn worker_temp_dir(&self) -> PathBuf {
        self.dir.path().join("worker-tmp")
    }

    /// Kills the worker with SIGKILL (no clean-up of any kind) and every process group it started.
    pub fn kill_worker(&mut self) {
        if let Some(mut child) = self.worker.take() {
            let _ = nix::sys::signal::kill(Pid::from_raw(child.id() as i32), Signal::SIGKILL);
            let _ = child.wait();
        }
    }

    pub fn start_worker(&mut self) {
        self.start_worker_with(&[]);
    }

    /// Starts a worker with extra environment (e.g. a slow `FFPROBE_BIN` to hold a job mid-flight).
    pub fn start_worker_with(&mut self, extra: &[(&str, &str)]) {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_cpu-worker"));
        cmd.env("TURSO_DATABASE_URL", &self.db_url)
            .env("TURSO_AUTH_TOKEN", DB_TOKEN)
            .env("SIGNING_SECRET", SIGNING_SECRET)
            .env("EDGE_BASE_URL", &self.edge)
            .env("WORKER_POLL_INTERVAL_MS", "200")
            .env("WORKER_REAPER_INTERVAL_MS", "300")
            .env("LOG_FORMAT", "pretty")
            .env("WORKER_TEMP_DIR", self.worker_temp_dir())
            .env("CALLBACK_ALLOW_HOSTS", self.callback_allow())
            .env("CALLBACK_RETRY_SCALE", "0.0002")
            .env("INGEST_ALLOW_HOSTS", format!("127.0.0.1:{}", self.media_port))
            .env("YTDLP_BIN", repo_root().join(".venv/bin/yt-dlp"));
        if let Some(render) = &self.render {
            cmd.env("RENDER_SERVICE_URL", render)
                .env("MODAL_AUTH_TOKEN", MODAL_AUTH_TOKEN)
                .env("RENDER_RECONCILE_INTERVAL_MS", "500")
                .env("RENDER_QUIET_MS", "4000");
        }
        cmd.envs(extra.iter().copied());
        self.worker = Some(spawn(cmd, &self.worker_log()));
    }

    /// A database client on the stack's turso-local, for checks the API does not expose.
    pub fn db(&self) -> cpu_worker::transport::Db {
        cpu_worker::transport::database(&self.db_url, Some(DB_TOKEN.into()))
    }

    pub fn worker_log(&self) -> PathBuf {
        self.dir.path().join("cpu-worker.log")
    }

    /// Every log of the stack, whole.
    pub fn full_logs(&self) -> String {
        ["cpu-worker.log", "wrangler.log", "turso-local.log", "render.log"]
            .iter()
            .map(|f| std::fs::read_to_string(self.dir.path().join(f)).unwrap_or_default())
            .collect::<Vec<_>>()
            .join("\n")
    }

    pub fn logs(&self) -> String {
        ["cpu-worker.log", "wrangler.log", "turso-local.log", "render.log"]
            .iter()
            .map(|f| format!("==== {f}\n{}", tail(&self.dir.path().join(f))))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        for child in self.worker.iter_mut().chain(self.edge_process.iter_mut()).chain(self.others.iter_mut()) {
            let _ = killpg(Pid::from_raw(child.id() as i32), Signal::SIGKILL);
            let _ = child.wait();
        }
    }
}
