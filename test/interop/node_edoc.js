#!/usr/bin/env node
// Independent SOAP client (node-soap 1.13.0) for LGSP's document-exchange
// service (wsdl/lgsp-edoc.wsdl, adapters/qlvb). go test starts a node and runs
//
//   node test/interop/node_edoc.js < plan.json
//
// The plan is the one test/interop/zeep_edoc.py reads (see there): calls
// run in order over the EdocSoap11 or EdocSoap12 port (forceSoap12Headers),
// each with a WS-Security UsernameToken PasswordDigest and a wsu:Timestamp
// of its "as" credentials. base64Binary goes out and comes back as base64
// text; repeated elements are always arrays in the output. It prints
// {"soap": version, "results": {id: {ok} | {fault} | {error}}}.
'use strict';
const soap = require('soap');

const REPEATED = new Set(['edoc', 'agency', 'recipient', 'to']);

function faultJSON(err) {
  const out = { status: err.response && err.response.status };
  const body = err.root && err.root.Envelope && err.root.Envelope.Body;
  const f = body && body.Fault;
  if (!f) {
    out.error = String(err && err.message);
    return out;
  }
  out.code = f.faultcode || (f.Code && f.Code.Value);
  const text = (t) => (t && typeof t === 'object' && '$value' in t ? t.$value : t);
  out.message = f.faultstring || (f.Reason && text([].concat(f.Reason.Text)[0]));
  const d = f.detail || f.Detail;
  const e = d && d.error;
  if (e) {
    out.lgsp_code = e.code;
    for (const m of [].concat(e.message || [])) {
      if (m && m.attributes) out['message_' + m.attributes['xml:lang']] = m.$value;
    }
  }
  return out;
}

function plain(v, key) {
  if (v instanceof Date) return v.toISOString();
  if (Array.isArray(v)) return v.map((x) => plain(x));
  if (v && typeof v === 'object') {
    const out = {};
    for (const [k, x] of Object.entries(v)) {
      if (k === 'attributes') continue;
      out[k] = REPEATED.has(k) ? [].concat(x).map((y) => plain(y)) : plain(x, k);
    }
    return out;
  }
  return v;
}

async function readStdin() {
  const chunks = [];
  for await (const c of process.stdin) chunks.push(c);
  return JSON.parse(Buffer.concat(chunks).toString('utf8'));
}

async function main() {
  const plan = await readStdin();
  const results = {};
  const clients = {};
  const subst = (v) => {
    if (typeof v === 'string') {
      return v.replace(/\$\{([^.}]+)\.([^}]+)\}/g, (_, id, f) => String(results[id].ok[f]));
    }
    if (Array.isArray(v)) return v.map(subst);
    if (v && typeof v === 'object') {
      const ks = Object.keys(v);
      if (ks.length === 1 && ks[0] === 'b64') return v.b64; // node-soap sends base64Binary text as is
      const out = {};
      for (const [k, x] of Object.entries(v)) out[k] = subst(x);
      return out;
    }
    return v;
  };
  const service = async (who, version) => {
    const key = who + '|' + version;
    if (!clients[key]) {
      const [user, password] = plan.creds[who];
      const c = await soap.createClientAsync(plan.wsdl, { forceSoap12Headers: version === '1.2' });
      c.setSecurity(new soap.WSSecurity(user, password, { passwordType: 'PasswordDigest', hasTimeStamp: true }));
      clients[key] = c.EdocService[version === '1.2' ? 'EdocSoap12' : 'EdocSoap11'];
    }
    return clients[key];
  };
  for (const call of plan.calls) {
    const svc = await service(call.as, call.version);
    const args = subst(call.args || {});
    const until = subst(call.until || '');
    const deadline = Date.now() + 15000;
    let res;
    for (;;) {
      try {
        const r = await new Promise((resolve, reject) =>
          svc[call.op](args, (err, out) => (err ? reject(err) : resolve(out))));
        res = { ok: plain(r || {}) };
      } catch (err) {
        res = err && err.root ? { fault: faultJSON(err) } : { error: String((err && err.stack) || err) };
      }
      if (!until || JSON.stringify(res).includes(until) || Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    results[call.id] = res;
  }
  process.stdout.write(JSON.stringify({ soap: require('soap/package.json').version, results }));
}

main().catch((err) => {
  process.stderr.write(String((err && err.stack) || err) + '\n');
  process.exit(1);
});
