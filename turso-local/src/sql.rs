//! Runs Hrana requests on one SQLite connection: statements, batches with conditions, sequences,
//! describe, stored SQL and the autocommit probe. Pure and synchronous; the HTTP layer calls it on a
//! blocking thread.

use std::collections::HashMap;
use std::time::Instant;

use rusqlite::types::{ToSqlOutput, Value as SqlValue, ValueRef};
use rusqlite::{Connection, ToSql};
use studio_core::hrana::proto::{
    Batch, BatchCond, BatchResult, Col, DescribeCol, DescribeParam, DescribeResult, ErrorMsg, Stmt, StmtResult,
    StreamRequest, StreamResponse, StreamResult, Value,
};

/// The SQLite side of one Hrana stream.
pub struct Session {
    pub conn: Connection,
    stored_sql: HashMap<i32, String>,
}

/// Protocol versions differ only in what they allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    V2,
    V3,
}

impl Session {
    pub fn new(conn: Connection) -> Self {
        Session { conn, stored_sql: HashMap::new() }
    }

    pub fn handle(&mut self, req: StreamRequest, version: Version) -> StreamResult {
        match self.dispatch(req, version) {
            Ok(response) => StreamResult::Ok { response },
            Err(error) => StreamResult::Error { error },
        }
    }

    fn dispatch(&mut self, req: StreamRequest, version: Version) -> Result<StreamResponse, ErrorMsg> {
        match req {
            StreamRequest::Close {} => Ok(StreamResponse::Close {}),
            StreamRequest::Execute { stmt } => Ok(StreamResponse::Execute { result: self.execute(&stmt)? }),
            StreamRequest::Batch { batch } => {
                check_conditions(&batch, version)?;
                Ok(StreamResponse::Batch { result: self.batch(&batch, |_, _| {}) })
            }
            StreamRequest::Sequence { sql, sql_id } => {
                let sql = self.resolve_sql(sql, sql_id)?;
                self.conn.execute_batch(&sql).map_err(sql_error)?;
                Ok(StreamResponse::Sequence {})
            }
            StreamRequest::Describe { sql, sql_id } => {
                let sql = self.resolve_sql(sql, sql_id)?;
                Ok(StreamResponse::Describe { result: self.describe(&sql)? })
            }
            StreamRequest::StoreSql { sql_id, sql } => {
                self.stored_sql.insert(sql_id, sql);
                Ok(StreamResponse::StoreSql {})
            }
            StreamRequest::CloseSql { sql_id } => {
                self.stored_sql.remove(&sql_id);
                Ok(StreamResponse::CloseSql {})
            }
            StreamRequest::GetAutocommit {} if version == Version::V2 => {
                Err(protocol_error("get_autocommit needs Hrana 3 (/v3/pipeline)"))
            }
            StreamRequest::GetAutocommit {} => {
                Ok(StreamResponse::GetAutocommit { is_autocommit: self.conn.is_autocommit() })
            }
        }
    }

    fn resolve_sql(&self, sql: Option<String>, sql_id: Option<i32>) -> Result<String, ErrorMsg> {
        match (sql, sql_id) {
            (Some(sql), None) => Ok(sql),
            (None, Some(id)) => {
                self.stored_sql.get(&id).cloned().ok_or_else(|| protocol_error(&format!("no stored SQL with id {id}")))
            }
            _ => Err(protocol_error("exactly one of sql and sql_id must be given")),
        }
    }

    pub fn execute(&mut self, stmt: &Stmt) -> Result<StmtResult, ErrorMsg> {
        let started = Instant::now();
        let sql = self.resolve_sql(stmt.sql.clone(), stmt.sql_id)?;
        let mut prepared = self.conn.prepare(&sql).map_err(sql_error)?;
        let param_count = prepared.parameter_count();
        if stmt.args.len() > param_count {
            return Err(protocol_error(&format!("{} arguments for {param_count} parameters", stmt.args.len())));
        }
        for (i, value) in stmt.args.iter().enumerate() {
            prepared.raw_bind_parameter(i + 1, SqlArg(value)).map_err(sql_error)?;
        }
        for arg in &stmt.named_args {
            let index = ["", ":", "@", "$"]
                .iter()
                .find_map(|prefix| prepared.parameter_index(&format!("{prefix}{}", arg.name)).ok().flatten())
                .ok_or_else(|| protocol_error(&format!("no parameter named {}", arg.name)))?;
            prepared.raw_bind_parameter(index, SqlArg(&arg.value)).map_err(sql_error)?;
        }
        let cols: Vec<Col> = prepared
            .columns()
            .iter()
            .map(|c| Col { name: Some(c.name().to_owned()), decltype: c.decl_type().map(str::to_owned) })
            .collect();
        let readonly = prepared.readonly();
        let mut rows = Vec::new();
        let mut raw = prepared.raw_query();
        while let Some(row) = raw.next().map_err(sql_error)? {
            if stmt.want_rows {
                rows.push((0..cols.len()).map(|i| from_sql(row.get_ref_unwrap(i))).collect());
            }
        }
        drop(raw);
        drop(prepared);
        let affected = if readonly { 0 } else { self.conn.changes() };
        Ok(StmtResult {
            cols,
            rows_read: rows.len() as u64,
            rows,
            affected_row_count: affected,
            last_insert_rowid: Some(self.conn.last_insert_rowid()),
            rows_written: affected,
            query_duration_ms: started.elapsed().as_secs_f64() * 1000.0,
        })
    }

    /// Runs a batch; `observe(step, outcome)` sees each executed step as it finishes (the cursor
    /// endpoint streams from it).
    pub fn batch(
        &mut self,
        batch: &Batch,
        mut observe: impl FnMut(usize, &Result<StmtResult, ErrorMsg>),
    ) -> BatchResult {
        let mut results: Vec<Option<StmtResult>> = Vec::with_capacity(batch.steps.len());
        let mut errors: Vec<Option<ErrorMsg>> = Vec::with_capacity(batch.steps.len());
        for (i, step) in batch.steps.iter().enumerate() {
            let run = match &step.condition {
                None => true,
                Some(cond) => eval(cond, &results, &errors, self.conn.is_autocommit()),
            };
            if !run {
                results.push(None);
                errors.push(None);
                continue;
            }
            let outcome = self.execute(&step.stmt);
            observe(i, &outcome);
            match outcome {
                Ok(r) => {
                    results.push(Some(r));
                    errors.push(None);
                }
                Err(e) => {
                    results.push(None);
                    errors.push(Some(e));
                }
            }
        }
        BatchResult { step_results: results, step_errors: errors }
    }

    fn describe(&self, sql: &str) -> Result<DescribeResult, ErrorMsg> {
        let prepared = self.conn.prepare(sql).map_err(sql_error)?;
        let params = (1..=prepared.parameter_count())
            .map(|i| DescribeParam { name: prepared.parameter_name(i).map(str::to_owned) })
            .collect();
        let cols = prepared
            .columns()
            .iter()
            .map(|c| DescribeCol { name: c.name().to_owned(), decltype: c.decl_type().map(str::to_owned) })
            .collect();
        Ok(DescribeResult {
            params,
            cols,
            is_explain: sql.trim_start().get(..7).is_some_and(|s| s.eq_ignore_ascii_case("explain")),
            is_readonly: prepared.readonly(),
        })
    }
}

/// Conditions may only look back at earlier steps, and `is_autocommit` needs Hrana 3.
pub fn check_conditions(batch: &Batch, version: Version) -> Result<(), ErrorMsg> {
    fn walk(cond: &BatchCond, current: usize, version: Version) -> Result<(), ErrorMsg> {
        match cond {
            BatchCond::Ok { step } | BatchCond::Error { step } if *step as usize >= current => {
                Err(protocol_error(&format!("condition of step {current} refers to step {step}")))
            }
            BatchCond::Ok { .. } | BatchCond::Error { .. } => Ok(()),
            BatchCond::Not { cond } => walk(cond, current, version),
            BatchCond::And { conds } | BatchCond::Or { conds } => {
                conds.iter().try_for_each(|c| walk(c, current, version))
            }
            BatchCond::IsAutocommit {} if version == Version::V2 => {
                Err(protocol_error("is_autocommit conditions need Hrana 3"))
            }
            BatchCond::IsAutocommit {} => Ok(()),
        }
    }
    batch.steps.iter().enumerate().try_for_each(|(i, s)| s.condition.as_ref().map_or(Ok(()), |c| walk(c, i, version)))
}

fn eval(cond: &BatchCond, results: &[Option<StmtResult>], errors: &[Option<ErrorMsg>], autocommit: bool) -> bool {
    match cond {
        BatchCond::Ok { step } => results.get(*step as usize).is_some_and(Option::is_some),
        BatchCond::Error { step } => errors.get(*step as usize).is_some_and(Option::is_some),
        BatchCond::Not { cond } => !eval(cond, results, errors, autocommit),
        BatchCond::And { conds } => conds.iter().all(|c| eval(c, results, errors, autocommit)),
        BatchCond::Or { conds } => conds.iter().any(|c| eval(c, results, errors, autocommit)),
        BatchCond::IsAutocommit {} => autocommit,
    }
}

struct SqlArg<'a>(&'a Value);

impl ToSql for SqlArg<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self.0 {
            Value::Null => ToSqlOutput::Owned(SqlValue::Null),
            Value::Integer { value } => ToSqlOutput::Owned(SqlValue::Integer(*value)),
            Value::Float { value } => ToSqlOutput::Owned(SqlValue::Real(*value)),
            Value::Text { value } => ToSqlOutput::Borrowed(ValueRef::Text(value.as_bytes())),
            Value::Blob { value } => ToSqlOutput::Borrowed(ValueRef::Blob(value)),
        })
    }
}

fn from_sql(v: ValueRef<'_>) -> Value {
    match v {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(value) => Value::Integer { value },
        ValueRef::Real(value) => Value::Float { value },
        ValueRef::Text(t) => Value::Text { value: String::from_utf8_lossy(t).into_owned() },
        ValueRef::Blob(b) => Value::Blob { value: b.to_vec() },
    }
}

fn sql_error(e: rusqlite::Error) -> ErrorMsg {
    let code = match &e {
        rusqlite::Error::SqliteFailure(f, _) => format!("SQLITE_{:?}", f.code).to_uppercase(),
        _ => "SQLITE_ERROR".to_owned(),
    };
    let code = match code.as_str() {
        "SQLITE_CONSTRAINTVIOLATION" => "SQLITE_CONSTRAINT".to_owned(),
        "SQLITE_DATABASEBUSY" => "SQLITE_BUSY".to_owned(),
        "SQLITE_DATABASELOCKED" => "SQLITE_LOCKED".to_owned(),
        _ => code,
    };
    ErrorMsg { message: e.to_string(), code: Some(code) }
}

pub fn protocol_error(message: &str) -> ErrorMsg {
    ErrorMsg { message: message.to_owned(), code: Some("PROTOCOL_ERROR".to_owned()) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use studio_core::hrana::proto::BatchStep;

    fn session() -> Session {
        Session::new(Connection::open_in_memory().unwrap())
    }

    fn stmt(sql: &str, args: Vec<Value>) -> Stmt {
        Stmt::new(sql, args)
    }

    #[test]
    fn every_value_type_round_trips() {
        let mut s = session();
        s.execute(&stmt("CREATE TABLE t (a, b, c, d, e)", vec![])).unwrap();
        let values = vec![
            Value::Null,
            Value::Integer { value: -7 },
            Value::Float { value: 2.5 },
            Value::Text { value: "x".into() },
            Value::Blob { value: vec![1, 2] },
        ];
        let r = s.execute(&stmt("INSERT INTO t VALUES (?, ?, ?, ?, ?)", values.clone())).unwrap();
        assert_eq!(r.affected_row_count, 1);
        let r = s.execute(&stmt("SELECT * FROM t", vec![])).unwrap();
        assert_eq!(r.rows, vec![values]);
        assert_eq!(r.affected_row_count, 0);
    }

    #[test]
    fn batch_conditions_gate_steps() {
        let mut s = session();
        let step = |condition, sql: &str| BatchStep { condition, stmt: stmt(sql, vec![]) };
        let batch = Batch {
            steps: vec![
                step(None, "SELECT nope"),
                step(Some(BatchCond::Error { step: 0 }), "SELECT 1"),
                step(Some(BatchCond::Ok { step: 0 }), "SELECT 2"),
                step(Some(BatchCond::Not { cond: Box::new(BatchCond::Ok { step: 0 }) }), "SELECT 3"),
                step(
                    Some(BatchCond::And { conds: vec![BatchCond::Ok { step: 1 }, BatchCond::IsAutocommit {}] }),
                    "SELECT 4",
                ),
                step(
                    Some(BatchCond::Or { conds: vec![BatchCond::Ok { step: 2 }, BatchCond::Ok { step: 0 }] }),
                    "SELECT 5",
                ),
            ],
        };
        check_conditions(&batch, Version::V3).unwrap();
        assert!(check_conditions(&batch, Version::V2).is_err());
        let r = s.batch(&batch, |_, _| {});
        let ran: Vec<bool> = r.step_results.iter().map(Option::is_some).collect();
        assert_eq!(ran, vec![false, true, false, true, true, false]);
        assert!(r.step_errors[0].is_some());
    }

    #[test]
    fn forward_references_are_refused() {
        let batch = Batch {
            steps: vec![BatchStep { condition: Some(BatchCond::Ok { step: 0 }), stmt: stmt("SELECT 1", vec![]) }],
        };
        assert!(check_conditions(&batch, Version::V3).is_err());
    }
}
