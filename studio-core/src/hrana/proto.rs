//! Hrana-over-HTTP JSON messages (protocol versions 2 and 3), shared by the client in this crate and by
//! `turso-local`'s server so both sides agree on one definition.
//!
//! Spec: `tursodatabase/libsql` docs `HRANA_3_SPEC.md` and `HTTP_V2_SPEC.md`.

use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use base64::Engine as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A SQLite value as Hrana encodes it: integers travel as decimal strings, blobs as base64.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Value {
    Null,
    Integer {
        #[serde(with = "i64_as_string")]
        value: i64,
    },
    Float {
        value: f64,
    },
    Text {
        value: String,
    },
    Blob {
        #[serde(rename = "base64", with = "bytes_as_base64")]
        value: Vec<u8>,
    },
}

impl From<i64> for Value {
    fn from(value: i64) -> Self {
        Value::Integer { value }
    }
}
impl From<u32> for Value {
    fn from(value: u32) -> Self {
        Value::Integer { value: value.into() }
    }
}
impl From<f64> for Value {
    fn from(value: f64) -> Self {
        Value::Float { value }
    }
}
impl From<&str> for Value {
    fn from(value: &str) -> Self {
        Value::Text { value: value.to_owned() }
    }
}
impl From<String> for Value {
    fn from(value: String) -> Self {
        Value::Text { value }
    }
}
impl From<Vec<u8>> for Value {
    fn from(value: Vec<u8>) -> Self {
        Value::Blob { value }
    }
}
impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(value: Option<T>) -> Self {
        value.map_or(Value::Null, Into::into)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NamedArg {
    pub name: String,
    pub value: Value,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stmt {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sql: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sql_id: Option<i32>,
    #[serde(default)]
    pub args: Vec<Value>,
    #[serde(default)]
    pub named_args: Vec<NamedArg>,
    #[serde(default = "want_rows_default")]
    pub want_rows: bool,
}

fn want_rows_default() -> bool {
    true
}

impl Stmt {
    pub fn new(sql: impl Into<String>, args: Vec<Value>) -> Self {
        Stmt { sql: Some(sql.into()), sql_id: None, args, named_args: Vec::new(), want_rows: true }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Col {
    pub name: Option<String>,
    #[serde(default)]
    pub decltype: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StmtResult {
    pub cols: Vec<Col>,
    pub rows: Vec<Vec<Value>>,
    pub affected_row_count: u64,
    #[serde(with = "opt_i64_as_string")]
    pub last_insert_rowid: Option<i64>,
    #[serde(default)]
    pub rows_read: u64,
    #[serde(default)]
    pub rows_written: u64,
    #[serde(default)]
    pub query_duration_ms: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum BatchCond {
    Ok { step: u32 },
    Error { step: u32 },
    Not { cond: Box<BatchCond> },
    And { conds: Vec<BatchCond> },
    Or { conds: Vec<BatchCond> },
    IsAutocommit {},
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BatchStep {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<BatchCond>,
    pub stmt: Stmt,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Batch {
    pub steps: Vec<BatchStep>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BatchResult {
    pub step_results: Vec<Option<StmtResult>>,
    pub step_errors: Vec<Option<ErrorMsg>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorMsg {
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DescribeResult {
    pub params: Vec<DescribeParam>,
    pub cols: Vec<DescribeCol>,
    pub is_explain: bool,
    pub is_readonly: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DescribeParam {
    pub name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DescribeCol {
    pub name: String,
    pub decltype: Option<String>,
}

/// One request inside a pipeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum StreamRequest {
    Close {},
    Execute {
        stmt: Stmt,
    },
    Batch {
        batch: Batch,
    },
    Sequence {
        #[serde(default)]
        sql: Option<String>,
        #[serde(default)]
        sql_id: Option<i32>,
    },
    Describe {
        #[serde(default)]
        sql: Option<String>,
        #[serde(default)]
        sql_id: Option<i32>,
    },
    StoreSql {
        sql_id: i32,
        sql: String,
    },
    CloseSql {
        sql_id: i32,
    },
    GetAutocommit {},
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum StreamResponse {
    Close {},
    Execute { result: StmtResult },
    Batch { result: BatchResult },
    Sequence {},
    Describe { result: DescribeResult },
    StoreSql {},
    CloseSql {},
    GetAutocommit { is_autocommit: bool },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum StreamResult {
    Ok { response: StreamResponse },
    Error { error: ErrorMsg },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PipelineRequest {
    #[serde(default)]
    pub baton: Option<String>,
    pub requests: Vec<StreamRequest>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PipelineResponse {
    pub baton: Option<String>,
    pub base_url: Option<String>,
    pub results: Vec<StreamResult>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CursorRequest {
    #[serde(default)]
    pub baton: Option<String>,
    pub batch: Batch,
}

/// The first line of a `/v3/cursor` response; entries follow, one JSON object per line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CursorResponse {
    pub baton: Option<String>,
    pub base_url: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum CursorEntry {
    StepBegin {
        step: u32,
        cols: Vec<Col>,
    },
    StepEnd {
        affected_row_count: u64,
        #[serde(with = "opt_i64_as_string")]
        last_insert_rowid: Option<i64>,
    },
    StepError {
        step: u32,
        error: ErrorMsg,
    },
    Row {
        row: Vec<Value>,
    },
    Error {
        error: ErrorMsg,
    },
}

mod i64_as_string {
    use super::*;

    pub fn serialize<S: Serializer>(value: &i64, ser: S) -> Result<S::Ok, S::Error> {
        ser.serialize_str(&value.to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(de: D) -> Result<i64, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Repr {
            Text(String),
            Number(i64),
        }
        match Repr::deserialize(de)? {
            Repr::Number(n) => Ok(n),
            Repr::Text(s) => s.parse().map_err(serde::de::Error::custom),
        }
    }
}

mod opt_i64_as_string {
    use super::*;

    pub fn serialize<S: Serializer>(value: &Option<i64>, ser: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(v) => ser.serialize_str(&v.to_string()),
            None => ser.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(de: D) -> Result<Option<i64>, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Repr {
            Text(String),
            Number(i64),
        }
        match Option::<Repr>::deserialize(de)? {
            None => Ok(None),
            Some(Repr::Number(n)) => Ok(Some(n)),
            Some(Repr::Text(s)) => s.parse().map(Some).map_err(serde::de::Error::custom),
        }
    }
}

mod bytes_as_base64 {
    use super::*;

    pub fn serialize<S: Serializer>(value: &[u8], ser: S) -> Result<S::Ok, S::Error> {
        ser.serialize_str(&STANDARD.encode(value))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(de: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(de)?;
        let trimmed = text.trim_end_matches('=');
        STANDARD_NO_PAD.decode(trimmed).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip_in_hrana_json() {
        let values = vec![
            Value::Null,
            Value::Integer { value: i64::MIN },
            Value::Float { value: 1.5 },
            Value::Text { value: "héllo".into() },
            Value::Blob { value: vec![0, 1, 2, 255] },
        ];
        let json = serde_json::to_string(&values).unwrap();
        assert!(json.contains(r#"{"type":"integer","value":"-9223372036854775808"}"#));
        assert!(json.contains(r#"{"type":"blob","base64":"AAEC/w=="}"#));
        let back: Vec<Value> = serde_json::from_str(&json).unwrap();
        assert_eq!(back, values);
    }

    #[test]
    fn unpadded_blobs_and_numeric_integers_are_accepted() {
        let v: Value = serde_json::from_str(r#"{"type":"blob","base64":"AAEC/w"}"#).unwrap();
        assert_eq!(v, Value::Blob { value: vec![0, 1, 2, 255] });
        let v: Value = serde_json::from_str(r#"{"type":"integer","value":42}"#).unwrap();
        assert_eq!(v, Value::Integer { value: 42 });
    }

    #[test]
    fn batch_conditions_parse_all_kinds() {
        let json = r#"{"type":"and","conds":[{"type":"ok","step":0},{"type":"not","cond":{"type":"error","step":1}},
            {"type":"or","conds":[{"type":"is_autocommit"}]}]}"#;
        let cond: BatchCond = serde_json::from_str(json).unwrap();
        match cond {
            BatchCond::And { conds } => assert_eq!(conds.len(), 3),
            other => panic!("unexpected {other:?}"),
        }
    }
}
