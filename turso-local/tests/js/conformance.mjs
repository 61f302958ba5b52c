// Conformance: the official @libsql/client (HTTP) against a turso-local URL given as argv[2], token argv[3].
import { createClient } from "@libsql/client";
import assert from "node:assert/strict";

const [url, authToken] = process.argv.slice(2);
const client = createClient({ url, authToken });

await client.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, i INTEGER, f REAL, t TEXT, b BLOB, n TEXT)");
const blob = new Uint8Array([0, 1, 254, 255]);
const ins = await client.execute({
  sql: "INSERT INTO items (i, f, t, b, n) VALUES (?, ?, ?, ?, ?)",
  args: [9007199254740993n, 3.25, "héllo", blob, null],
});
assert.equal(ins.rowsAffected, 1);
assert.equal(typeof ins.lastInsertRowid, "bigint");

const named = await client.execute({ sql: "SELECT :x + 1 AS y", args: { x: 41 } });
assert.equal(named.rows[0].y, 42);

const sel = await client.execute({ sql: "SELECT f, t, b, n FROM items", args: [] });
assert.deepEqual(sel.columns, ["f", "t", "b", "n"]);
const row = sel.rows[0];
assert.equal(row.f, 3.25);
assert.equal(row.t, "héllo");
assert.deepEqual(new Uint8Array(row.b), blob);
assert.equal(row.n, null);
const bigClient = createClient({ url, authToken, intMode: "bigint" });
const bigRow = await bigClient.execute("SELECT i FROM items");
assert.equal(bigRow.rows[0].i, 9007199254740993n);

const tx = await client.transaction("write");
await tx.execute("INSERT INTO items (t) VALUES ('committed')");
await tx.commit();
const tx2 = await client.transaction("write");
await tx2.execute("INSERT INTO items (t) VALUES ('rolled back')");
await tx2.rollback();
const txRows = await client.execute("SELECT t FROM items WHERE t IN ('committed', 'rolled back')");
assert.deepEqual(txRows.rows.map((r) => r.t), ["committed"]);

const results = await client.batch(
  [
    { sql: "INSERT INTO items (t) VALUES (?)", args: ["b1"] },
    { sql: "INSERT INTO items (t) VALUES (?)", args: ["b2"] },
    "SELECT COUNT(*) AS c FROM items",
  ],
  "write",
);
assert.equal(results.length, 3);
assert.equal(results[2].rows[0].c, 4);

// A failing batch rolls back as a whole.
await assert.rejects(client.batch(["INSERT INTO items (t) VALUES ('x')", "INSERT INTO nope VALUES (1)"], "write"));
const after = await client.execute("SELECT COUNT(*) AS c FROM items");
assert.equal(after.rows[0].c, 4);

const bad = createClient({ url, authToken: "wrong" });
await assert.rejects(bad.execute("SELECT 1"));

client.close();
bigClient.close();
bad.close();
console.log("ok: @libsql/client conformance");
