#!/usr/bin/env node
// `npm run check:portable [files…]`: fails unless every Linux glibc addon (default: the
// `fine-tune.linux-*-gnu.node` files here and in npm/*/) needs no glibc symbol version above
// GLIBC_2.17 and links nothing beyond libc, libm, libgcc_s, libpthread, libdl (and the dynamic
// loader). It reads the ELF file itself (DT_NEEDED and the version needs of .gnu.version_r), so it
// works for any architecture on any host; on a Linux host it also prints `ldd` of loadable ones.
'use strict'
const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')

const MAX_GLIBC = [2, 17]
const ALLOWED = /^(libc\.so\.6|libm\.so\.6|libgcc_s\.so\.1|libpthread\.so\.0|libdl\.so\.2|ld-linux-x86-64\.so\.2|ld-linux-aarch64\.so\.1)$/

/** { needed: [lib], versions: { lib: [version names] } } of a 64-bit little-endian ELF shared object. */
function elfDeps(file) {
  const b = fs.readFileSync(file)
  if (b.readUInt32BE(0) !== 0x7f454c46) throw new Error(`${file}: not an ELF file`)
  if (b[4] !== 2 || b[5] !== 1) throw new Error(`${file}: not a 64-bit little-endian ELF file`)
  const shoff = Number(b.readBigUInt64LE(0x28))
  const shentsize = b.readUInt16LE(0x3a)
  const shnum = b.readUInt16LE(0x3c)
  const sections = []
  for (let i = 0; i < shnum; i++) {
    const o = shoff + i * shentsize
    sections.push({
      type: b.readUInt32LE(o + 4),
      offset: Number(b.readBigUInt64LE(o + 0x18)),
      size: Number(b.readBigUInt64LE(o + 0x20)),
      link: b.readUInt32LE(o + 0x28),
      info: b.readUInt32LE(o + 0x2c),
    })
  }
  const str = (sec, off) => {
    const start = sec.offset + off
    return b.toString('latin1', start, b.indexOf(0, start))
  }
  const needed = []
  const versions = {}
  for (const s of sections) {
    if (s.type === 6 /* SHT_DYNAMIC */) {
      const strtab = sections[s.link]
      for (let o = s.offset; o + 16 <= s.offset + s.size; o += 16) {
        const tag = b.readBigInt64LE(o)
        if (tag === 0n) break
        if (tag === 1n /* DT_NEEDED */) needed.push(str(strtab, Number(b.readBigUInt64LE(o + 8))))
      }
    } else if (s.type === 0x6ffffffe /* SHT_GNU_verneed */) {
      const strtab = sections[s.link]
      let o = s.offset
      for (let i = 0; i < s.info; i++) {
        const cnt = b.readUInt16LE(o + 2)
        const lib = str(strtab, b.readUInt32LE(o + 4))
        const aux = b.readUInt32LE(o + 8)
        const next = b.readUInt32LE(o + 12)
        const names = (versions[lib] = versions[lib] || [])
        let a = o + aux
        for (let j = 0; j < cnt; j++) {
          names.push(str(strtab, b.readUInt32LE(a + 8)))
          const an = b.readUInt32LE(a + 12)
          if (!an) break
          a += an
        }
        if (!next) break
        o += next
      }
    }
  }
  return { needed, versions }
}

const parse = (v) => v.split('.').map(Number)
const cmp = (a, b) => {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const d = (a[i] || 0) - (b[i] || 0)
    if (d) return d
  }
  return 0
}

function check(file) {
  const { needed, versions } = elfDeps(file)
  const glibc = Object.values(versions)
    .flat()
    .filter((v) => /^GLIBC_\d/.test(v))
    .map((v) => v.slice(6))
    .sort((a, b) => cmp(parse(a), parse(b)))
  const max = glibc[glibc.length - 1] || 'none'
  const problems = []
  if (glibc.length && cmp(parse(max), MAX_GLIBC) > 0) {
    const over = [...new Set(glibc.filter((v) => cmp(parse(v), MAX_GLIBC) > 0))]
    problems.push(`needs GLIBC_${over.join(', GLIBC_')} (above GLIBC_${MAX_GLIBC.join('.')})`)
  }
  const extra = needed.filter((l) => !ALLOWED.test(l))
  if (extra.length) problems.push(`links ${extra.join(', ')} (allowed: libc, libm, libgcc_s, libpthread, libdl)`)
  const size = (fs.statSync(file).size / 1e6).toFixed(1)
  console.log(`${file}: ${size} MB, max GLIBC_${max}, needs ${needed.join(' ') || 'nothing'}`)
  if (process.platform === 'linux') {
    const ldd = spawnSync('ldd', [file], { encoding: 'utf8' })
    if (ldd.status === 0) console.log(ldd.stdout.replace(/^/gm, '  ldd: ').trimEnd())
  }
  for (const p of problems) console.log(`  FAIL: ${p}`)
  return problems.length === 0
}

const root = path.resolve(__dirname, '..')
let files = process.argv.slice(2)
if (!files.length) {
  const gnu = (dir) =>
    fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => /^fine-tune\.linux-.*-gnu\.node$/.test(f)).map((f) => path.join(dir, f)) : []
  files = [...gnu(root), ...fs.readdirSync(path.join(root, 'npm')).flatMap((d) => gnu(path.join(root, 'npm', d)))]
  if (!files.length) {
    console.error('check:portable: no fine-tune.linux-*-gnu.node to check (run `npm run build` first)')
    process.exit(1)
  }
}
let ok = true
for (const f of files) ok = check(f) && ok
if (!ok) process.exit(1)
console.log(`check:portable: ${files.length} file(s) OK`)
