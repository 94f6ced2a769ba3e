#!/usr/bin/env node
// Independent SOAP server (node-soap 1.13.0) for the interop test of
// adapters/soap: go test runs
//
//   node test/interop/node_server.js path/to/citizen.wsdl
//
// It serves the WSDL's CitizenService at /citizen on a free port of
// 127.0.0.1 and prints "listening <port>" once it accepts calls. GetExchange
// faults with HTTP 500 for any id but "ex-1", with our <lgsp:error> detail. It stops when stdin closes (the Go test ends).
'use strict';
const fs = require('fs');
const http = require('http');
const soap = require('soap');

const wsdl = fs.readFileSync(process.argv[2], 'utf8');

function getCitizen(args) {
  return {
    Id: args.Id,
    FullName: 'Trần Thị Bình',
    BirthDate: '1990-07-02',
    Age: 35,
    Address: ['Thôn 3, xã Tràng Đà', 'Phường Minh Xuân'],
  };
}

function getExchange(args) {
  if (args.Id === 'ex-1') return { Id: args.Id, Status: 'delivered' };
  throw {
    Fault: {
      faultcode: 'soap:Client',
      faultstring: 'exchange.not_found: exchange not found: ' + args.Id,
      detail: {
        'lgsp:error': {
          attributes: { 'xmlns:lgsp': 'urn:lgsp:error' },
          'lgsp:code': 'exchange.not_found',
          'lgsp:message': 'Không tìm thấy gói tin trao đổi',
        },
      },
      // node-soap reads the status from the Fault object; without it a
      // thrown fault goes out with HTTP 200.
      statusCode: 500,
    },
  };
}

const port = { GetCitizen: getCitizen, GetExchange: getExchange };
const service = { CitizenService: { CitizenSoap11: port, CitizenSoap12: port } };

const server = http.createServer((req, res) => {
  res.statusCode = 404;
  res.end();
});
server.listen(0, '127.0.0.1', () => {
  soap.listen(server, '/citizen', service, wsdl);
  process.stdout.write('listening ' + server.address().port + '\n');
});
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
