// node-postgres as the ChatGenius app uses it: connect, run one query, and
// print what the app would read: {"ok":true,"value":...} or
// {"ok":false,"code":err.code,"message":err.message}.
//   node test/tools/pg_connect.js PORT USER PASSWORD DATABASE [SQL]
// PG_CONNECT_HOST names another host than 127.0.0.1: a folder is a Unix
// socket's, as libpq's host= (node-postgres then connects to .s.PGSQL.PORT).
'use strict';
const { Client } = require('pg');

async function main() {
  const [port, user, password, database, sql] = process.argv.slice(2);
  const client = new Client({
    host: process.env.PG_CONNECT_HOST || '127.0.0.1', port: Number(port), user, password, database,
    connectionTimeoutMillis: 20000,
  });
  try {
    await client.connect();
    const res = await client.query(sql || 'SELECT 1 AS v');
    console.log(JSON.stringify({ ok: true, value: Object.values(res.rows[0])[0] }));
    await client.end();
  } catch (err) {
    console.log(JSON.stringify({ ok: false, code: err.code, message: err.message }));
  }
}
main();
