//! Typed access to result rows by column name, so domain code never indexes columns by position.

use super::error::DbError;
use super::proto::{StmtResult, Value};

#[derive(Debug, Clone, Default)]
pub struct Rows {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Value>>,
    pub affected: u64,
}

impl From<StmtResult> for Rows {
    fn from(r: StmtResult) -> Self {
        Rows {
            columns: r.cols.into_iter().map(|c| c.name.unwrap_or_default()).collect(),
            rows: r.rows,
            affected: r.affected_row_count,
        }
    }
}

impl Rows {
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = Row<'_>> {
        self.rows.iter().map(move |values| Row { columns: &self.columns, values })
    }

    pub fn first(&self) -> Option<Row<'_>> {
        self.iter().next()
    }
}

/// One row, read by column name.
#[derive(Debug, Clone, Copy)]
pub struct Row<'a> {
    columns: &'a [String],
    values: &'a [Value],
}

impl<'a> Row<'a> {
    fn value(&self, name: &str) -> Result<&'a Value, DbError> {
        self.columns
            .iter()
            .position(|c| c == name)
            .and_then(|i| self.values.get(i))
            .ok_or_else(|| DbError::Decode(format!("missing column {name}")))
    }

    pub fn text(&self, name: &str) -> Result<String, DbError> {
        self.opt_text(name)?.ok_or_else(|| DbError::Decode(format!("column {name} is null")))
    }

    pub fn opt_text(&self, name: &str) -> Result<Option<String>, DbError> {
        match self.value(name)? {
            Value::Null => Ok(None),
            Value::Text { value } => Ok(Some(value.clone())),
            other => Err(DbError::Decode(format!("column {name}: expected text, got {other:?}"))),
        }
    }

    pub fn int(&self, name: &str) -> Result<i64, DbError> {
        self.opt_int(name)?.ok_or_else(|| DbError::Decode(format!("column {name} is null")))
    }

    pub fn opt_int(&self, name: &str) -> Result<Option<i64>, DbError> {
        match self.value(name)? {
            Value::Null => Ok(None),
            Value::Integer { value } => Ok(Some(*value)),
            other => Err(DbError::Decode(format!("column {name}: expected integer, got {other:?}"))),
        }
    }

    pub fn float(&self, name: &str) -> Result<f64, DbError> {
        match self.value(name)? {
            Value::Float { value } => Ok(*value),
            Value::Integer { value } => Ok(*value as f64),
            other => Err(DbError::Decode(format!("column {name}: expected number, got {other:?}"))),
        }
    }

    /// A column holding JSON text, parsed.
    pub fn opt_json<T: serde::de::DeserializeOwned>(&self, name: &str) -> Result<Option<T>, DbError> {
        match self.opt_text(name)? {
            None => Ok(None),
            Some(text) => {
                serde_json::from_str(&text).map(Some).map_err(|e| DbError::Decode(format!("column {name}: {e}")))
            }
        }
    }
}
