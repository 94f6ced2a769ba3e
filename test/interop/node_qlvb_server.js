#!/usr/bin/env node
// Independent legacy QLVB (node-soap 1.13.0) for the SOAP push tests of
// test/soapout_e2e_test.go: go test runs
//
//   node test/interop/node_qlvb_server.js path/to/wsdl/consumed/qlvb-vnpt.wsdl
//
// It serves the consumed WSDL's QLVBService at /qlvb on a free port of
// 127.0.0.1 and prints "listening <port>" once it accepts calls. NhanVanBan
// decodes NoiDungEdXML from base64 and answers MaTiepNhan
// "NODE-<MaGoiTin>-<bytes>" and ThongBao "<TrichYeu>|<SoKyHieu>|<DoKhan>", so
// the test sees what node-soap read. It stops when stdin closes.
'use strict';
const fs = require('fs');
const http = require('http');
const soap = require('soap');

const wsdl = fs.readFileSync(process.argv[2], 'utf8');

function nhanVanBan(args) {
  const edxml = Buffer.from(String(args.NoiDungEdXML || ''), 'base64');
  if (!edxml.toString('utf8').includes('edXML')) {
    throw { Fault: { faultcode: 'soap:Client', faultstring: 'QLVB-400: NoiDungEdXML is not an edXML packet', statusCode: 500 } };
  }
  return {
    KetQua: 0,
    MaTiepNhan: 'NODE-' + args.MaGoiTin + '-' + edxml.length,
    ThongBao: [args.TrichYeu, args.SoKyHieu, args.DoKhan].join('|'),
  };
}

const service = { QLVBService: { QLVBPort: { NhanVanBan: nhanVanBan } } };
const server = http.createServer((req, res) => {
  res.statusCode = 404;
  res.end();
});
server.listen(0, '127.0.0.1', () => {
  soap.listen(server, '/qlvb', service, wsdl);
  process.stdout.write('listening ' + server.address().port + '\n');
});
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
