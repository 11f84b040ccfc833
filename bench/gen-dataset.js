#!/usr/bin/env node
// Generates a realistic chat fine-tuning dataset (JSON Lines): prose, code, unicode, mixed
// lengths, some tool calls. Deterministic from the seed. No dependencies.
//
//   node bench/gen-dataset.js <out.jsonl> [sizeMB=40] [seed=1]
'use strict';
const fs = require('fs');

function mulberry32(a) {
  return function () {
    a |= 0; a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WORDS = (
  'the of and to in is that for it as was with be by on not he this are or his from at which but have an they you were ' +
  'her she there been one all would their we him has when who will more no if out so said what up its about into than them ' +
  'can only other new some could time these two may then do first any my now such like our over man me even most made after ' +
  'also did many before must through back years where much your way well down should because each just those people how too ' +
  'little state good very make world still own see men work long get here between both life being under never day same another ' +
  'know while last might us great old year off come since against go came right used take three customer order invoice refund ' +
  'shipping account password dataset model training example validation token latency throughput database query index server ' +
  'request response function variable parameter configuration deployment pipeline repository commit branch release version ' +
  'schedule meeting report analysis revenue forecast quarter budget marketing campaign support ticket priority incident ' +
  'weather temperature forecast city country travel flight hotel booking reservation restaurant recipe ingredient minutes ' +
  'understanding international responsibility implementation approximately recommendation characteristics'
).split(' ');
const CAPS = 'The This We It In For When If However Meanwhile Unfortunately Please Thanks Sure Yes No Our Your'.split(' ');
const NAMES = 'Alice Bob Carol Dave Eve Mallory Oscar Peggy Trent Victor Walter Zoë José Björn Łukasz Søren Chloé François'.split(' ');
const UNICODE = [
  'café', 'naïve', 'résumé', 'jalapeño', 'Straße', 'Ærøskøbing', 'Kraków', 'São Paulo', 'München', 'Zürich',
  '東京', '日本語のテキスト', '你好，世界', '안녕하세요', 'Привет, мир', 'Γειά σου', 'مرحبا', 'שלום', 'हिन्दी',
  '😀', '👍', '🚀', '✅', '€42', '£19.99', '¥500', '→', '—', '…', '“quoted”', '½', '°C',
];
const CODE = [
  'fn main() {\n    let v: Vec<u32> = (0..10).map(|x| x * x).collect();\n    println!("{:?}", v);\n}',
  'def fib(n):\n    a, b = 0, 1\n    for _ in range(n):\n        a, b = b, a + b\n    return a\n\nprint([fib(i) for i in range(10)])',
  'const total = items.reduce((sum, item) => sum + item.price * item.qty, 0);\nconsole.log(`Total: ${total.toFixed(2)}`);',
  'SELECT c.name, COUNT(o.id) AS orders\nFROM customers c\nJOIN orders o ON o.customer_id = c.id\nWHERE o.created_at >= \'2024-01-01\'\nGROUP BY c.name\nORDER BY orders DESC\nLIMIT 10;',
  'class LRUCache:\n    def __init__(self, capacity: int):\n        self.capacity = capacity\n        self.data = OrderedDict()\n\n    def get(self, key):\n        if key not in self.data:\n            return -1\n        self.data.move_to_end(key)\n        return self.data[key]',
  '#!/bin/bash\nset -euo pipefail\nfor f in *.jsonl; do\n  wc -l "$f"\ndone',
  'interface User {\n  id: string;\n  email: string;\n  createdAt: Date;\n}\n\nexport async function getUser(id: string): Promise<User | null> {\n  const res = await fetch(`/api/users/${id}`);\n  return res.ok ? res.json() : null;\n}',
];
const TOOLS = [{
  type: 'function',
  function: {
    name: 'get_current_weather', description: 'Get the current weather in a given city',
    parameters: { type: 'object', properties: { location: { type: 'string', description: 'The city and country, e.g. Paris, France' }, unit: { type: 'string', enum: ['celsius', 'fahrenheit'] } }, required: ['location'] },
  },
}, {
  type: 'function',
  function: {
    name: 'lookup_order', description: 'Look up an order by its id',
    parameters: { type: 'object', properties: { order_id: { type: 'string' } }, required: ['order_id'] },
  },
}];
const SYSTEMS = [
  'You are a helpful assistant for an online store. Answer briefly and politely, and never invent order details.',
  'You are a senior software engineer. Explain code clearly, point out bugs, and prefer idiomatic solutions.',
  'You are a travel assistant. Use the tools when you need live data. Answer in the language of the user.',
  'Marv is a factual chatbot that is also sarcastic.',
];

function main() {
  const [out, sizeArg, seedArg] = process.argv.slice(2);
  if (!out) { console.error('usage: gen-dataset.js <out.jsonl> [sizeMB=40] [seed=1]'); process.exit(2); }
  const target = Math.round(parseFloat(sizeArg || '40') * 1024 * 1024);
  const rnd = mulberry32(parseInt(seedArg || '1', 10));
  const pick = (a) => a[Math.floor(rnd() * a.length)];
  const int = (lo, hi) => lo + Math.floor(rnd() * (hi - lo + 1));

  // A long tail of rarer words (a large, Zipf-like vocabulary), so that caches do not see only
  // a few hundred distinct words.
  const SYL = 'ka lo mi ne ru sa ti vo zen tra pel quin dor fal gis hem jur lux mor nav ost pri sek tul vex wyn yar bre cla dro'.split(' ');
  function rareWord() {
    let w = '';
    const n = int(2, 4);
    for (let i = 0; i < n; i++) w += SYL[Math.floor(Math.pow(rnd(), 2) * SYL.length)];
    return rnd() < 0.2 ? w[0].toUpperCase() + w.slice(1) : w;
  }
  function sentence() {
    const n = int(4, 22);
    const w = [pick(CAPS)];
    for (let i = 0; i < n; i++) {
      const r = rnd();
      if (r < 0.03) w.push(pick(NAMES));
      else if (r < 0.05) w.push(pick(UNICODE));
      else if (r < 0.08) w.push(String(int(0, 99999)));
      else if (r < 0.1) w.push(pick(WORDS) + "'s");
      else if (r < 0.25) w.push(rareWord());
      else w.push(pick(WORDS));
      if (rnd() < 0.06) w[w.length - 1] += ',';
    }
    return w.join(' ') + pick(['.', '.', '.', '?', '!', ':']);
  }
  function paragraph() { return Array.from({ length: int(1, 6) }, sentence).join(' '); }
  function prose(maxParas) {
    const parts = [];
    const n = int(1, maxParas);
    for (let i = 0; i < n; i++) {
      const r = rnd();
      if (r < 0.15) parts.push('```\n' + pick(CODE) + '\n```');
      else if (r < 0.25) parts.push(Array.from({ length: int(2, 5) }, () => '- ' + sentence()).join('\n'));
      else if (r < 0.3) parts.push('## ' + sentence());
      else parts.push(paragraph());
    }
    return parts.join('\n\n');
  }

  const fd = fs.openSync(out, 'w');
  let written = 0, examples = 0, buf = [];
  while (written < target) {
    const messages = [];
    const ex = {};
    if (rnd() < 0.9) messages.push({ role: 'system', content: pick(SYSTEMS) });
    const turns = int(1, 3);
    for (let t = 0; t < turns; t++) {
      messages.push({ role: 'user', content: rnd() < 0.3 ? sentence() : prose(3) });
      if (rnd() < 0.12) {
        ex.tools = TOOLS;
        const id = 'call_' + Math.floor(rnd() * 1e12).toString(36);
        const city = pick(['Paris, France', 'Tokyo, Japan', 'São Paulo, Brazil', 'Zürich, Switzerland', 'New York, USA']);
        messages.push({ role: 'assistant', tool_calls: [{ id, type: 'function', function: { name: 'get_current_weather', arguments: JSON.stringify({ location: city, unit: 'celsius' }) } }] });
        messages.push({ role: 'tool', tool_call_id: id, content: JSON.stringify({ temperature: int(-10, 35), conditions: pick(['sunny', 'cloudy', 'rain', 'snow']) }) });
      }
      const a = { role: 'assistant', content: prose(rnd() < 0.2 ? 8 : 4) };
      if (t < turns - 1 && rnd() < 0.3) a.weight = 0;
      messages.push(a);
    }
    ex.messages = messages;
    const line = JSON.stringify(ex) + '\n';
    buf.push(line);
    written += Buffer.byteLength(line);
    examples++;
    if (buf.length >= 1000) { fs.writeSync(fd, buf.join('')); buf = []; }
  }
  if (buf.length) fs.writeSync(fd, buf.join(''));
  fs.closeSync(fd);
  console.log(JSON.stringify({ path: out, bytes: written, examples }));
}
main();
