//! Everything that can go wrong talking to the database, and whether trying again may help.

use super::proto::ErrorMsg;

/// Everything that can go wrong talking to the database.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("database unreachable: {0}")]
    Transport(String),
    #[error("database answered HTTP {status}: {body}")]
    Http { status: u16, body: String },
    #[error("database reply could not be read: {0}")]
    Protocol(String),
    #[error("SQL error{}: {message}", code.as_deref().map(|c| format!(" {c}")).unwrap_or_default())]
    Sql { message: String, code: Option<String> },
    #[error("unexpected database result: {0}")]
    Decode(String),
}

impl DbError {
    /// Whether trying again later may succeed (network trouble, overload), as opposed to a bad statement.
    pub fn is_transient(&self) -> bool {
        match self {
            DbError::Transport(_) => true,
            DbError::Http { status, .. } => *status >= 500 || *status == 429 || *status == 408,
            DbError::Sql { code, .. } => matches!(code.as_deref(), Some("SQLITE_BUSY" | "SQLITE_LOCKED")),
            DbError::Protocol(_) | DbError::Decode(_) => false,
        }
    }
}

impl From<ErrorMsg> for DbError {
    fn from(e: ErrorMsg) -> Self {
        DbError::Sql { message: e.message, code: e.code }
    }
}
