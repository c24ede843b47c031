// Many app clients connecting in a loop, as node-postgres apps reconnect:
// each of CLIENTS workers connects, runs one query, disconnects, and
// starts again, until the file STOPFILE exists.  Prints one JSON line:
// {"ok":N,"failed":N,"errors":{"CODE or message":N},"max_connect_ms":N}.
//   node test/tools/connect_loop.js HOST PORT USER PASSWORD DATABASE CLIENTS STOPFILE
// HOST may be a folder (a Unix socket's, as libpq's host=).
'use strict';
const fs = require('fs');
const { Client } = require('pg');

const [host, port, user, password, database, clients, stopfile] = process.argv.slice(2);
const tally = { ok: 0, failed: 0, errors: {}, max_connect_ms: 0 };

async function worker(id) {
  while (!fs.existsSync(stopfile)) {
    const client = new Client({
      host, port: Number(port), user, password, database, connectionTimeoutMillis: 60000,
    });
    // a connection cut between two calls is an 'error' event, not a rejection
    client.on('error', () => {});
    const t0 = Date.now();
    try {
      await client.connect();
      tally.max_connect_ms = Math.max(tally.max_connect_ms, Date.now() - t0);
      const res = await client.query('SELECT $1::int AS v', [id]);
      if (res.rows[0].v !== id) throw new Error('wrong answer');
      tally.ok++;
    } catch (err) {
      tally.failed++;
      const key = err.code || err.message;
      tally.errors[key] = (tally.errors[key] || 0) + 1;
    }
    try { await client.end(); } catch (err) { /* already gone */ }
  }
}

Promise.all(Array.from({ length: Number(clients) }, (_, i) => worker(i + 1)))
  .then(() => console.log(JSON.stringify(tally)));
