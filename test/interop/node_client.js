#!/usr/bin/env node
// Independent SOAP client (node-soap 1.13.0, pinned in package.json) for the
// interop test of adapters/soap: go test starts our server and runs
//
//   node test/interop/node_client.js WSDL_URL USER PASSWORD
//
// It calls every operation of testdata/citizen.wsdl over SOAP 1.1 and SOAP
// 1.2 (forceSoap12Headers), with a WS-Security UsernameToken PasswordDigest
// and a wsu:Timestamp, including the call that faults, and prints one JSON
// object the Go test asserts on.
'use strict';
const soap = require('soap');

function faultJSON(err) {
  const out = { status: err.response && err.response.status };
  const body = err.root && err.root.Envelope && err.root.Envelope.Body;
  const f = body && body.Fault;
  if (!f) {
    out.error = String(err && err.message);
    return out;
  }
  out.code = f.faultcode || (f.Code && f.Code.Value);
  // SOAP 1.2: Reason/Text may repeat (one per language) and carries xml:lang.
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

async function call(fn) {
  try {
    return { ok: await fn() };
  } catch (err) {
    if (err && err.root) return { fault: faultJSON(err) };
    return { error: String(err && err.stack || err) };
  }
}

async function main() {
  const [url, user, password] = process.argv.slice(2);
  const out = { soap: require('soap/package.json').version };
  for (const [version, port, force12] of [['1.1', 'CitizenSoap11', false], ['1.2', 'CitizenSoap12', true]]) {
    const client = await soap.createClientAsync(url, { forceSoap12Headers: force12 });
    client.setSecurity(new soap.WSSecurity(user, password, { passwordType: 'PasswordDigest', hasTimeStamp: true }));
    const svc = client.CitizenService[port];
    const op = (name, args) => new Promise((resolve, reject) =>
      svc[name](args, (err, res) => (err ? reject(err) : resolve(res))));
    out[version] = {
      GetCitizen: await call(async () => {
        const r = await op('GetCitizen', { Id: '001085000123', AsOf: '2026-03-01' });
        // node-soap turns xsd:date into a JS Date (midnight UTC).
        const d = r.BirthDate instanceof Date ? r.BirthDate.toISOString().slice(0, 10) : r.BirthDate;
        return { ...r, BirthDate: d, Address: [].concat(r.Address || []) };
      }),
      GetExchange: await call(() => op('GetExchange', { Id: 'ex-1' })),
      GetExchangeFault: await call(() => op('GetExchange', { Id: 'ex-404' })),
    };
  }
  process.stdout.write(JSON.stringify(out));
}

main().catch((err) => {
  process.stderr.write(String(err && err.stack || err) + '\n');
  process.exit(1);
});
