//! The local stack as real processes on free ports: turso-local (SQLite), `wrangler dev` (workerd
//! running edge-api, with local R2), cpu-worker and, if asked, the render service's local emulator.
//! Each runs in its own process group. A [`Stack`] kills them when dropped; a [`Shared`] stack (one per
//! test binary, in a `static`) is never dropped, so every group is also handed to the binary's reaper,
//! which kills it when the binary exits, however it exits. Logs go to files that failures print.
//!
//! A stack holds child processes and plain data only — no task of any runtime — so tests that each
//! run on their own runtime can share one; every client it hands out is made for the caller.

use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, killpg, Signal};
use nix::unistd::Pid;

use crate::api::Api;
use crate::http::{database, Db};
use crate::{reaper, repo_root};

pub const API_TOKEN: &str = "e2e-api-token";
pub const SIGNING_SECRET: &str = "e2e-signing-secret";
pub const WEBHOOK_SECRET: &str = "whsec_ZTJlLXdlYmhvb2stc2VjcmV0LWtleQ==";
pub const MODAL_AUTH_TOKEN: &str = "e2e-modal-token";
pub const DB_TOKEN: &str = "e2e-db-token";

/// An account made for a test, with its one key.
#[derive(Debug, Clone)]
pub struct TestAccount {
    pub id: String,
    pub api_key: String,
    pub key_id: String,
    pub webhook_secret: String,
}

/// What a stack runs.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The render service's emulator too, with the edge and the worker configured for it.
    pub render: bool,
    /// Environment every worker of this stack gets (each start may add more).
    pub worker_env: Vec<(String, String)>,
}

impl Options {
    /// turso-local, the edge and the worker.
    pub fn plain() -> Options {
        Options::default()
    }

    /// The same plus the render service's emulator.
    pub fn with_render() -> Options {
        Options { render: true, ..Options::default() }
    }
}

#[derive(Default)]
struct Processes {
    worker: Option<Child>,
    edge: Option<Child>,
    others: Vec<Child>,
}

pub struct Stack {
    pub edge: String,
    pub db_url: String,
    pub dir: tempfile::TempDir,
    edge_port: u16,
    inspector_port: u16,
    /// The render service emulator's base URL, when this stack runs one.
    pub render: Option<String>,
    /// The account made when the stack started (through the admin API).
    pub account: TestAccount,
    /// A port the edge and the worker allow callbacks to over plain HTTP on loopback
    /// (`CALLBACK_ALLOW_HOSTS`); a test binds its receiver there.
    pub callback_port: u16,
    /// A port the edge and the worker allow media URLs to over plain HTTP on loopback
    /// (`INGEST_ALLOW_HOSTS`); a test serves media there.
    pub media_port: u16,
    worker_env: Vec<(String, String)>,
    processes: Mutex<Processes>,
    /// Every account this stack made, for "no key reaches a log" checks.
    accounts: Mutex<Vec<TestAccount>>,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Starts `cmd` in a process group of its own (watched by the reaper), its output to `log`.
fn spawn(mut cmd: Command, log: &Path) -> Child {
    let out = std::fs::File::create(log).unwrap();
    cmd.stdin(Stdio::null()).stdout(out.try_clone().unwrap()).stderr(out).process_group(0);
    let child = cmd.spawn().unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
    reaper::watch_group(child.id());
    child
}

/// Kills a child's whole process group and reaps the child.
fn kill_group(mut child: Child) {
    let _ = killpg(Pid::from_raw(child.id() as i32), Signal::SIGKILL);
    let _ = child.wait();
    reaper::forget_group(child.id());
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

/// The last 6000 bytes of a file.
pub fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let start = text.len().saturating_sub(6000);
    text[text.floor_char_boundary(start)..].to_owned()
}

/// The cpu-worker and turso-local executables, built (once per test binary) by the same cargo, into
/// the same target directory and profile as the running test: a test of another crate cannot name
/// them through `CARGO_BIN_EXE_*`, and an old build must not be tested by mistake.
fn binaries() -> &'static (PathBuf, PathBuf) {
    static BINARIES: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    BINARIES.get_or_init(|| {
        // target/<profile>/deps/<test binary>, as cargo builds it; a binary run from elsewhere uses
        // the workspace's target/debug.
        let exe = std::env::current_exe().unwrap();
        let profile_dir = match exe.parent() {
            Some(deps) if deps.ends_with("deps") => deps.parent().unwrap().to_path_buf(),
            _ => std::env::var_os("CARGO_TARGET_DIR")
                .map_or_else(|| repo_root().join("target"), PathBuf::from)
                .join("debug"),
        };
        let mut cargo = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
        cargo.current_dir(repo_root()).args(["build", "--quiet", "-p", "cpu-worker", "-p", "turso-local"]);
        cargo.arg("--target-dir").arg(profile_dir.parent().unwrap());
        match profile_dir.file_name().unwrap().to_str().unwrap() {
            "debug" => {}
            "release" => {
                cargo.arg("--release");
            }
            other => {
                cargo.args(["--profile", other]);
            }
        }
        let out = cargo.output().unwrap_or_else(|e| panic!("cannot run {cargo:?}: {e}"));
        assert!(out.status.success(), "{cargo:?} failed:\n{}", String::from_utf8_lossy(&out.stderr));
        (profile_dir.join("cpu-worker"), profile_dir.join("turso-local"))
    })
}

impl Stack {
    /// turso-local, the edge and a worker.
    pub async fn start() -> Stack {
        Self::start_with(Options::plain()).await
    }

    /// The stack plus the render service's local emulator (`python -m modal_app.service.local`), with
    /// the edge and the worker configured for it.
    pub async fn start_with_render() -> Stack {
        Self::start_with(Options::with_render()).await
    }

    pub async fn start_with(options: Options) -> Stack {
        let root = repo_root();
        let (_, turso_bin) = binaries();
        let wrangler = root.join("node_modules/.bin/wrangler");
        assert!(wrangler.exists(), "wrangler is missing: run `npm ci` first (make test does)");
        let dir = tempfile::tempdir().unwrap();
        reaper::watch_dir(dir.path());
        let (db_port, edge_port, inspector_port) = (free_port(), free_port(), free_port());

        // The stack owns each process from the moment it starts, so a failed start still kills them.
        let mut stack = Stack {
            edge: format!("http://127.0.0.1:{edge_port}"),
            db_url: format!("http://127.0.0.1:{db_port}"),
            dir,
            edge_port,
            inspector_port,
            render: None,
            account: TestAccount {
                id: String::new(),
                api_key: String::new(),
                key_id: String::new(),
                webhook_secret: String::new(),
            },
            callback_port: free_port(),
            media_port: free_port(),
            worker_env: options.worker_env,
            processes: Mutex::default(),
            accounts: Mutex::default(),
        };
        let mut turso = Command::new(turso_bin);
        let db_file = stack.dir.path().join("studio.db");
        turso.args(["--db", db_file.to_str().unwrap(), "--listen", &format!("127.0.0.1:{db_port}")]);
        turso.args(["--auth-token", DB_TOKEN]);
        let turso_log = stack.dir.path().join("turso-local.log");
        stack.processes().others.push(spawn(turso, &turso_log));
        wait_healthy(&format!("{}/health", stack.db_url), Duration::from_secs(20), &turso_log).await;

        if options.render {
            stack.start_render_service().await;
        }
        stack.start_edge().await;
        stack.start_worker();
        stack.wait_migrated().await;
        stack.account = stack.create_account(serde_json::json!({"name": "Test creator A"})).await;
        stack
    }

    fn processes(&self) -> MutexGuard<'_, Processes> {
        self.processes.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A client of the API as the stack's own account.
    pub fn api(&self) -> Api<'_> {
        Api::new(self, self.account.clone())
    }

    /// A client of the API as a new account of its own (`name`), so that what a test counts or lists
    /// is only its own.
    pub async fn new_creator(&self, name: &str) -> Api<'_> {
        let account = self.create_account(serde_json::json!({ "name": name })).await;
        Api::new(self, account)
    }

    /// Makes an account (`{name, quotas?}`) and a key for it through the admin API.
    pub async fn create_account(&self, body: serde_json::Value) -> TestAccount {
        let http = reqwest::Client::new();
        let r = http.post(format!("{}/api/admin/accounts", self.edge)).bearer_auth(API_TOKEN).json(&body);
        let account: serde_json::Value = r.send().await.unwrap().json().await.unwrap();
        let account_id = account["accountId"].as_str().unwrap_or_else(|| panic!("{account}")).to_owned();
        let r = http.post(format!("{}/api/admin/accounts/{account_id}/keys", self.edge)).bearer_auth(API_TOKEN);
        let key: serde_json::Value = r.send().await.unwrap().json().await.unwrap();
        let account = TestAccount {
            api_key: key["apiKey"].as_str().unwrap_or_else(|| panic!("{key}")).to_owned(),
            key_id: key["keyId"].as_str().unwrap().to_owned(),
            webhook_secret: account["webhookSecret"].as_str().unwrap().to_owned(),
            id: account_id,
        };
        self.accounts.lock().unwrap_or_else(|e| e.into_inner()).push(account.clone());
        account
    }

    /// Every account this stack has made so far (the stack's own first).
    pub fn accounts(&self) -> Vec<TestAccount> {
        self.accounts.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// `CALLBACK_ALLOW_HOSTS` of this stack.
    pub fn callback_allow(&self) -> String {
        format!("127.0.0.1:{}", self.callback_port)
    }

    /// Waits until the worker has applied every migration this test knows (it does so at start).
    async fn wait_migrated(&self) {
        let latest = studio_core::db::migrate::MIGRATIONS.iter().map(|m| m.version).max().unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let sql = studio_core::hrana::Stmt::new("SELECT max(version) AS v FROM schema_migrations", vec![]);
            if let Ok(rows) = self.db().execute(sql).await {
                if rows.first().and_then(|r| r.opt_int("v").ok().flatten()) >= Some(latest) {
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
        self.processes().others.push(spawn(cmd, &log));
        let url = format!("http://127.0.0.1:{port}");
        wait_healthy(&format!("{url}/health"), Duration::from_secs(60), &log).await;
        self.render = Some(url);
    }

    /// Starts `wrangler dev` (workerd + local R2) on the stack's edge port; R2 data persists across
    /// restarts in the stack's directory.
    pub async fn start_edge(&self) {
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
        let edge = spawn(edge_cmd, &edge_log);
        if let Some(old) = self.processes().edge.replace(edge) {
            kill_group(old);
        }
        wait_healthy(&format!("{}/api/health", self.edge), Duration::from_secs(300), &edge_log).await;
    }

    /// Kills the edge (the whole process group) and waits until its port refuses connections.
    pub async fn stop_edge(&self) {
        let edge = self.processes().edge.take();
        if let Some(child) = edge {
            kill_group(child);
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

    /// Kills the worker with SIGKILL (no clean-up of any kind). Children it ran in process groups of
    /// their own (ffmpeg, ffprobe) are left to the test.
    pub fn kill_worker(&self) {
        let worker = self.processes().worker.take();
        if let Some(mut child) = worker {
            let _ = kill(Pid::from_raw(child.id() as i32), Signal::SIGKILL);
            let _ = child.wait();
            reaper::forget_group(child.id());
        }
    }

    /// Sends SIGTERM to the worker and waits until it exits (at most `within`); returns how it exited.
    pub async fn terminate_worker(&self, within: Duration) -> ExitStatus {
        let mut worker = self.processes().worker.take().expect("a worker is running");
        kill(Pid::from_raw(worker.id() as i32), Signal::SIGTERM).unwrap();
        let started = Instant::now();
        let status = loop {
            if let Some(status) = worker.try_wait().unwrap() {
                break status;
            }
            if started.elapsed() >= within {
                kill_group(worker);
                panic!("worker did not stop within {within:?} of SIGTERM\n{}", self.logs());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        reaper::forget_group(worker.id());
        status
    }

    /// Starts a worker with the stack's worker environment.
    pub fn start_worker(&self) {
        self.start_worker_with(&[]);
    }

    /// Starts a worker with extra environment (e.g. a slow `FFPROBE_BIN` to hold a job mid-flight);
    /// a worker still running is killed first.
    pub fn start_worker_with(&self, extra: &[(&str, &str)]) {
        self.kill_worker();
        let mut cmd = Command::new(&binaries().0);
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
        cmd.envs(self.worker_env.iter().map(|(k, v)| (k, v)));
        cmd.envs(extra.iter().copied());
        let worker = spawn(cmd, &self.worker_log());
        self.processes().worker = Some(worker);
    }

    /// Waits until the running worker has started claiming (its signal handlers are set by then).
    pub async fn wait_worker_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !tail(&self.worker_log()).contains("claiming jobs") {
            assert!(Instant::now() < deadline, "the worker never started claiming\n{}", self.logs());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// A database client on the stack's turso-local, for checks the API does not expose.
    pub fn db(&self) -> Db {
        database(&self.db_url, Some(DB_TOKEN.into()))
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

    /// The end of every log of the stack, for failure messages.
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
        let processes = std::mem::take(&mut *self.processes());
        for child in processes.worker.into_iter().chain(processes.edge).chain(processes.others) {
            kill_group(child);
        }
        reaper::forget_dir(self.dir.path());
    }
}

/// One stack for all the tests of a binary, in a `static`: started by the first test that asks, on a
/// thread and runtime of its own (so no test's runtime owns any part of it), and killed by the
/// binary's reaper when the binary exits. If it cannot start, every test that asks fails with why.
pub struct Shared {
    options: fn() -> Options,
    stack: OnceLock<Result<Stack, String>>,
    turn: tokio::sync::Mutex<()>,
}

/// The shared stack, held by one test alone until this is dropped.
pub struct Alone<'a> {
    pub stack: &'a Stack,
    _turn: tokio::sync::MutexGuard<'a, ()>,
}

impl std::ops::Deref for Alone<'_> {
    type Target = Stack;

    fn deref(&self) -> &Stack {
        self.stack
    }
}

impl Shared {
    pub const fn new(options: fn() -> Options) -> Shared {
        Shared { options, stack: OnceLock::new(), turn: tokio::sync::Mutex::const_new(()) }
    }

    /// The binary's stack, for tests that only use it (they may run at the same time).
    pub fn get(&self) -> &Stack {
        let started = self.stack.get_or_init(|| {
            let options = (self.options)();
            let starting = std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
                runtime.block_on(Stack::start_with(options))
            });
            starting.join().map_err(|panic| {
                panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_else(|| "a panic without a message".into())
            })
        });
        match started {
            Ok(stack) => stack,
            Err(why) => panic!("the shared stack did not start: {why}"),
        }
    }

    /// The binary's stack for a test that changes it (stops the worker or the edge, restarts them with
    /// other settings…): one such test at a time, each leaving the stack as it found it.
    pub async fn alone(&self) -> Alone<'_> {
        let turn = self.turn.lock().await;
        Alone { stack: self.get(), _turn: turn }
    }
}
