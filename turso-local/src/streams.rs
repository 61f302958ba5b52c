//! Hrana streams over HTTP: each stream owns its own SQLite connection (so a transaction can span
//! requests), is addressed by a baton that changes on every response, and is dropped — rolling back
//! anything open — after an idle period.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rusqlite::{Connection, OpenFlags};

use crate::sql::Session;

/// Why a baton could not be used.
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    #[error("the stream for this baton is unknown or has expired")]
    UnknownBaton,
    #[error("could not open the database: {0}")]
    Open(#[from] rusqlite::Error),
}

struct Entry {
    session: Arc<Mutex<Session>>,
    last_used: Instant,
}

/// All open streams of one server.
pub struct Streams {
    db_path: PathBuf,
    idle: Duration,
    open: Mutex<HashMap<String, Entry>>,
}

impl Streams {
    pub fn new(db_path: PathBuf, idle: Duration) -> Self {
        Streams { db_path, idle, open: Mutex::new(HashMap::new()) }
    }

    /// Opens a connection the way every stream uses it; also run once at start-up to create the file.
    pub fn connect(&self) -> Result<Connection, rusqlite::Error> {
        let conn = Connection::open_with_flags(
            &self.db_path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(Duration::from_secs(10))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        Ok(conn)
    }

    /// The stream a request continues (by baton) or a fresh one (no baton).
    pub fn take(&self, baton: Option<&str>) -> Result<Arc<Mutex<Session>>, StreamError> {
        match baton {
            None => Ok(Arc::new(Mutex::new(Session::new(self.connect()?)))),
            Some(b) => {
                let entry = self.open.lock().expect("streams lock").remove(b).ok_or(StreamError::UnknownBaton)?;
                if entry.last_used.elapsed() > self.idle {
                    return Err(StreamError::UnknownBaton);
                }
                Ok(entry.session)
            }
        }
    }

    /// Parks a stream under a new baton and returns it.
    pub fn park(&self, session: Arc<Mutex<Session>>) -> String {
        let baton = new_baton();
        self.open.lock().expect("streams lock").insert(baton.clone(), Entry { session, last_used: Instant::now() });
        baton
    }

    /// Drops streams idle for longer than the limit (their open transactions roll back).
    pub fn expire_idle(&self) -> usize {
        let mut open = self.open.lock().expect("streams lock");
        let before = open.len();
        open.retain(|_, e| e.last_used.elapsed() <= self.idle);
        before - open.len()
    }

    pub fn open_count(&self) -> usize {
        self.open.lock().expect("streams lock").len()
    }
}

fn new_baton() -> String {
    let mut bytes = [0u8; 18];
    getrandom::getrandom(&mut bytes).expect("OS randomness");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
