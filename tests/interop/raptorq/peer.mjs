// Drives the npm package `raptorq` (Christopher Berner's Rust RFC 6330
// implementation compiled to wasm) for the cross-check in
// tests/unit/fec/interop_test.cc. Records: 32-bit big-endian length, then a
// packet (4-byte FEC Payload ID + symbol), as lcfs-fec reads and writes them.
//
//   node peer.mjs MODULE_DIR encode IN MTU REPAIR OUT
//   node peer.mjs MODULE_DIR decode IN SIZE MTU OUT     (exit 1: not decoded)
//
// The package's with_defaults() picks T = MTU rounded down to a multiple of 8,
// Al = 8 and a 10 MiB working set.
import fs from 'fs';
import path from 'path';

const [moduleDir, mode, ...args] = process.argv.slice(2);
const pkg = path.join(moduleDir, 'node_modules', 'raptorq');
const rq = await import(path.join(pkg, 'raptorq.js'));
rq.initSync(fs.readFileSync(path.join(pkg, 'raptorq_bg.wasm')));

function writeRecords(file, packets) {
  let total = 0;
  for (const p of packets) total += 4 + p.length;
  const out = Buffer.alloc(total);
  let at = 0;
  for (const p of packets) {
    out.writeUInt32BE(p.length, at);
    Buffer.from(p).copy(out, at + 4);
    at += 4 + p.length;
  }
  fs.writeFileSync(file, out);
}

function readRecords(file) {
  const buf = fs.readFileSync(file);
  const packets = [];
  for (let at = 0; at + 4 <= buf.length;) {
    const len = buf.readUInt32BE(at);
    packets.push(new Uint8Array(buf.subarray(at + 4, at + 4 + len)));
    at += 4 + len;
  }
  return packets;
}

if (mode === 'encode') {
  const [input, mtu, repair, output] = args;
  const data = new Uint8Array(fs.readFileSync(input));
  const encoder = rq.Encoder.with_defaults(data, Number(mtu));
  writeRecords(output, encoder.encode(Number(repair)));
} else if (mode === 'decode') {
  const [input, size, mtu, output] = args;
  const decoder = rq.Decoder.with_defaults(BigInt(size), Number(mtu));
  let result;
  for (const packet of readRecords(input)) {
    result = decoder.decode(packet);
    if (result !== undefined) break;
  }
  if (result === undefined) process.exit(1);
  fs.writeFileSync(output, result);
} else {
  console.error('usage: peer.mjs MODULE_DIR encode|decode ...');
  process.exit(2);
}
