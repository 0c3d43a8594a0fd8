// Launcher of the nodejs image: loads the action once, then answers one JSON request line
// from stdin with one JSON result line on fd 3, for as long as the proxy keeps it.
'use strict';
const fs = require('fs');
const readline = require('readline');

const RESULTS = 3;

function send(obj) {
  let text;
  try {
    text = JSON.stringify(obj);
  } catch (e) {
    text = JSON.stringify({ error: `The action returned a value that is not JSON: ${e.message}` });
  }
  if (text === undefined) text = 'null'; // a function or symbol: the proxy rejects it
  const buf = Buffer.from(text + '\n', 'utf8');
  for (let off = 0; off < buf.length;) off += fs.writeSync(RESULTS, buf, off, buf.length - off);
}

// envText renders a context value for the environment: strings as they are, null as "".
function envText(v) {
  if (typeof v === 'string') return v;
  if (v === null || v === undefined) return '';
  return JSON.stringify(v);
}

// errorValue is what a thrown error or a rejection becomes under "error".
function errorValue(e) {
  if (e instanceof Error) return e.message || String(e);
  if (e === undefined) return {};
  return e;
}

// activate runs one activation and returns its result once the action's output is out.
async function activate(fn, req) {
  for (const [k, v] of Object.entries(req)) {
    if (k !== 'value') process.env['__OW_' + k.toUpperCase()] = envText(v);
  }
  let result;
  try {
    result = await fn(req.value === undefined ? {} : req.value);
    if (result === undefined) result = {};
  } catch (e) {
    console.error(e);
    result = { error: errorValue(e) };
  }
  // The proxy writes the log sentinels as soon as the result arrives; Node may still hold
  // output for a pipe, so wait until everything written so far has left the process.
  await drain(process.stdout);
  await drain(process.stderr);
  return result;
}

function drain(stream) {
  return new Promise((resolve) => stream.write('', () => resolve()));
}

exports.serve = async function serve(entry, main) {
  const ack = !!process.env.__OW_WAIT_FOR_ACK;
  let fn;
  try {
    const mod = require(entry);
    fn = main.split('.').reduce((o, k) => (o == null ? undefined : o[k]), mod);
    if (typeof fn !== 'function') throw new Error(`Action entrypoint '${main}' is not a function.`);
  } catch (e) {
    console.error(e);
    if (ack) send({ error: `Initialization has failed: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}` });
    process.exit(1);
  }
  if (ack) send({ ok: true });

  const lines = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
  for await (const line of lines) {
    if (!line.trim()) continue;
    let req;
    try {
      req = JSON.parse(line);
    } catch (e) {
      send({ error: `invalid request: ${e.message}` });
      continue;
    }
    if (req.__ow_seq !== undefined) {
      // Concurrent mode (__OW_ALLOW_CONCURRENT): run without waiting, answer tagged.
      const seq = req.__ow_seq;
      delete req.__ow_seq;
      activate(fn, req).then((result) => send({ __ow_seq: seq, result }));
      continue;
    }
    send(await activate(fn, req));
  }
};
