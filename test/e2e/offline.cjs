/**
 * Preloaded (NODE_OPTIONS=--require) into `rank1 serve` by the offline e2e test: every outbound
 * socket to a host other than loopback fails at once with ENETUNREACH, as with networking off,
 * and is counted on stderr, so the test proves the app never needed the network.
 */
'use strict';
/* global require, process */
// A --require preload must be CommonJS.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const net = require('node:net');

const LOOPBACK = /^(localhost|127\.\d+\.\d+\.\d+|::1|::ffff:127\.\d+\.\d+\.\d+)$/i;

function targetOf(args) {
  const a = args[0];
  if (Array.isArray(a)) return targetOf(a); // internal normalized [options, cb]
  if (a && typeof a === 'object') return a.path ? null : (a.host ?? 'localhost');
  if (typeof a === 'number' || (typeof a === 'string' && /^\d+$/.test(a)))
    return typeof args[1] === 'string' ? args[1] : 'localhost';
  return null; // a Unix socket or pipe path
}

const connect = net.Socket.prototype.connect;
net.Socket.prototype.connect = function (...args) {
  const host = targetOf(args);
  if (host !== null && !LOOPBACK.test(host)) {
    process.stderr.write(`[offline] blocked a connection to ${host}\n`);
    const err = Object.assign(new Error(`connect ENETUNREACH ${host} (networking is off in this test)`), {
      code: 'ENETUNREACH',
    });
    process.nextTick(() => this.destroy(err));
    return this;
  }
  return connect.apply(this, args);
};
