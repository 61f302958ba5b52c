//! Conformance: the official `libsql` Rust crate in remote mode against turso-local.

use libsql::{params, Builder, Value};
use test_support::turso;

#[tokio::test]
async fn libsql_remote_client_round_trips_every_value_type_transactions_and_batches() {
    let server = turso::start().await;
    let db = Builder::new_remote(server.url.clone(), server.token.clone()).build().await.unwrap();
    let conn = db.connect().unwrap();

    conn.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, i INTEGER, f REAL, t TEXT, b BLOB, n TEXT)", ())
        .await
        .unwrap();
    let inserted = conn
        .execute(
            "INSERT INTO items (i, f, t, b, n) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![i64::MAX, 3.25_f64, "héllo", vec![0u8, 1, 254, 255], Value::Null],
        )
        .await
        .unwrap();
    assert_eq!(inserted, 1);

    let mut rows = conn.query("SELECT i, f, t, b, n FROM items", ()).await.unwrap();
    let row = rows.next().await.unwrap().expect("one row");
    assert_eq!(row.get::<i64>(0).unwrap(), i64::MAX);
    assert_eq!(row.get::<f64>(1).unwrap(), 3.25);
    assert_eq!(row.get::<String>(2).unwrap(), "héllo");
    assert_eq!(row.get::<Vec<u8>>(3).unwrap(), vec![0u8, 1, 254, 255]);
    assert!(matches!(row.get_value(4).unwrap(), Value::Null));
    assert!(rows.next().await.unwrap().is_none());

    // A committed transaction is visible; a rolled-back one is not.
    let tx = conn.transaction().await.unwrap();
    tx.execute("INSERT INTO items (t) VALUES ('committed')", ()).await.unwrap();
    tx.commit().await.unwrap();
    let tx = conn.transaction().await.unwrap();
    tx.execute("INSERT INTO items (t) VALUES ('rolled back')", ()).await.unwrap();
    tx.rollback().await.unwrap();
    let mut rows = conn.query("SELECT t FROM items WHERE t IN ('committed', 'rolled back')", ()).await.unwrap();
    let mut seen = Vec::new();
    while let Some(r) = rows.next().await.unwrap() {
        seen.push(r.get::<String>(0).unwrap());
    }
    assert_eq!(seen, vec!["committed".to_owned()]);

    // A batch runs every statement in order.
    conn.execute_batch("INSERT INTO items (t) VALUES ('b1'); INSERT INTO items (t) VALUES ('b2'); UPDATE items SET i = 7 WHERE t LIKE 'b%';")
        .await
        .unwrap();
    let mut rows = conn.query("SELECT COUNT(*) FROM items WHERE i = 7", ()).await.unwrap();
    assert_eq!(rows.next().await.unwrap().unwrap().get::<i64>(0).unwrap(), 2);

    // SQL errors come back as errors, not as a broken connection.
    assert!(conn.execute("INSERT INTO missing VALUES (1)", ()).await.is_err());
    let mut rows = conn.query("SELECT COUNT(*) FROM items", ()).await.unwrap();
    assert_eq!(rows.next().await.unwrap().unwrap().get::<i64>(0).unwrap(), 4);
}

#[tokio::test]
async fn libsql_client_with_a_wrong_token_is_refused() {
    let server = turso::start().await;
    let db = Builder::new_remote(server.url.clone(), "wrong".into()).build().await.unwrap();
    let conn = db.connect().unwrap();
    let err = conn.execute("SELECT 1", ()).await.unwrap_err();
    assert!(err.to_string().contains("401") || err.to_string().to_lowercase().contains("unauthorized"), "{err}");
}
