// The tunnel's events in a Node.js app, as the original module offered
// them (tunnel.on('maxRetriesExceeded', ...)): a small EventEmitter over
// `chatgenius-tunnel events --follow --json`, which reads the running
// helper's status socket on this host, also while the database is away.
//
// Each event is emitted under its name with tunnel_events' fields
// ({tunnel_name, event, detail, occurred_at}), and as 'event' too.
// 'dropped' ({count}) says this subscriber read too slowly and missed
// events; 'end' (exit code) says the stream ended: the helper stopped
// (0), was not running (2), or would not answer (3).  With retryMs the
// subscription is made again after that long, so a restarted helper is
// followed on.  The helper's socket answers root and the helper's own
// user: run the app as that user (or give it that user's right to run
// the command).
//
//   node doc/examples/tunnel-events.js /etc/chatgenius-tunnel/env
'use strict';
const { spawn } = require('child_process');
const { EventEmitter } = require('events');
const readline = require('readline');

class TunnelEvents extends EventEmitter {
  constructor({ command = 'chatgenius-tunnel', envFile, retryMs = 0 } = {}) {
    super();
    this.args = ['events', '--follow', '--json'].concat(envFile ? ['--env-file', envFile] : []);
    this.command = command;
    this.retryMs = retryMs;
    this.closed = false;
    this.subscribe();
  }

  subscribe() {
    this.child = spawn(this.command, this.args, { stdio: ['ignore', 'pipe', 'inherit'] });
    readline.createInterface({ input: this.child.stdout }).on('line', (line) => {
      let e;
      try {
        e = JSON.parse(line);
      } catch (err) {
        return; // not a line of the stream
      }
      if (e.event === 'dropped') {
        this.emit('dropped', e);
        return;
      }
      this.emit(e.event, e);
      this.emit('event', e);
    });
    this.child.on('error', (err) => this.emit('error', err));
    this.child.on('exit', (code) => {
      this.emit('end', code);
      if (!this.closed && this.retryMs > 0) setTimeout(() => this.subscribe(), this.retryMs);
    });
  }

  close() {
    this.closed = true;
    this.child.kill();
  }
}

module.exports = { TunnelEvents };

if (require.main === module) {
  const tunnel = new TunnelEvents({
    command: process.env.CHATGENIUS_TUNNEL || 'chatgenius-tunnel',
    envFile: process.argv[2],
  });
  tunnel.on('reconnecting', (e) => console.log(`reconnecting: ${e.detail}`));
  tunnel.on('reconnected', (e) => console.log(`reconnected: ${e.detail}`));
  tunnel.on('maxRetriesExceeded', (e) => {
    // The helper gives up and exits 4; systemd restarts it.  The app
    // might stop taking writes, page someone, or wait for 'connected'.
    console.log(`maxRetriesExceeded: ${e.detail}`);
  });
  tunnel.on('dropped', (d) => console.log(`missed ${d.count} events`));
  tunnel.on('end', (code) => {
    console.log(`stream ended (exit ${code})`);
    process.exit(code);
  });
}
