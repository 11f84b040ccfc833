// The TypeScript in the documentation compiles, as a user would write it: every ```ts block of
// README.md and docs/*.md is compiled as its own module under `strict: true` with TypeScript's
// API, `taskforce-fine-tune` resolving to this package's index.d.ts and `taskforce-aiagent` to
// the real TaskForce 1.0.15 (installed once into .cache by scripts/taskforce-fixture.js). A block
// must be complete: its imports included. The relative links of those files point to files and
// headings that exist.
import * as fs from 'node:fs'
import * as path from 'node:path'
import * as ts from 'typescript'
import { taskforceDir } from './helpers'

const root = path.resolve(__dirname, '..')

interface Snippet {
  /** The Markdown file, relative to the root. */
  file: string
  /** The 1-based line of the block's first line of code. */
  line: number
  code: string
}

/** Every ```ts (or ```typescript) block of a Markdown text. */
function tsBlocks(file: string, text: string): Snippet[] {
  const blocks: Snippet[] = []
  const lines = text.split('\n')
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)(`{3,})\s*(ts|typescript)\s*$/.exec(lines[i])
    if (!open) continue
    const fence = open[2]
    const start = i + 1
    let end = start
    while (end < lines.length && !lines[end].trim().startsWith(fence)) end++
    if (end === lines.length) throw new Error(`${file}:${i + 1}: a \`\`\`ts block that never closes`)
    blocks.push({ file, line: start + 1, code: lines.slice(start, end).join('\n') })
    i = end
  }
  return blocks
}

/** The documentation files: README.md, CONTRIBUTING.md and docs/*.md. */
function docFiles(): string[] {
  const docs = fs.existsSync(path.join(root, 'docs'))
    ? fs.readdirSync(path.join(root, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)
    : []
  return ['README.md', 'CONTRIBUTING.md', ...docs.sort()].filter((f) => fs.existsSync(path.join(root, f)))
}

/**
 * Compiles each snippet as its own module under strict settings; returns one line per error,
 * `file:line: TSxxxx message`, with the line in the Markdown file.
 */
function compile(snippets: Snippet[], tfDir: string): string[] {
  // The snippets live, in memory, in a folder of the TaskForce fixture, so that
  // `taskforce-aiagent` (and `openai`, which it brings) resolve as in a user's project.
  const virtualDir = path.join(tfDir, '__readme_snippets__')
  const files = new Map<string, Snippet>()
  snippets.forEach((s, i) => files.set(path.join(virtualDir, `snippet${i}.ts`), s))
  const options: ts.CompilerOptions = {
    strict: true,
    noEmit: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    esModuleInterop: true,
    skipLibCheck: true,
    types: ['node'],
    typeRoots: [path.join(root, 'node_modules', '@types')],
    paths: { 'taskforce-fine-tune': [path.join(root, 'index.d.ts')] },
  }
  const host = ts.createCompilerHost(options)
  // `export {}` keeps each block a module even without an import, so blocks never share names.
  const source = (f: string) => `${files.get(f)!.code}\nexport {}\n`
  const { getSourceFile, fileExists, readFile } = host
  host.fileExists = (f) => files.has(path.resolve(f)) || fileExists.call(host, f)
  host.readFile = (f) => (files.has(path.resolve(f)) ? source(path.resolve(f)) : readFile.call(host, f))
  host.getSourceFile = (f, lang, onError, create) =>
    files.has(path.resolve(f))
      ? ts.createSourceFile(f, source(path.resolve(f)), lang)
      : getSourceFile.call(host, f, lang, onError, create)
  const program = ts.createProgram([...files.keys()], options, host)
  const errors: string[] = []
  for (const d of [...program.getOptionsDiagnostics(), ...program.getGlobalDiagnostics()]) {
    errors.push(`(options): TS${d.code} ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`)
  }
  for (const [f, s] of files) {
    const sf = program.getSourceFile(f)!
    for (const d of [...program.getSyntacticDiagnostics(sf), ...program.getSemanticDiagnostics(sf)]) {
      const line = d.start === undefined ? 0 : sf.getLineAndCharacterOfPosition(d.start).line
      errors.push(`${s.file}:${s.line + line}: TS${d.code} ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`)
    }
  }
  return errors
}

let tfDir = ''
beforeAll(() => {
  tfDir = taskforceDir()
}, 300_000)

describe('the documentation compiles under strict TypeScript', () => {
  const snippets = docFiles().flatMap((f) => tsBlocks(f, fs.readFileSync(path.join(root, f), 'utf8')))

  test('README.md has TypeScript examples, one of them a TaskForce agent', () => {
    const readme = snippets.filter((s) => s.file === 'README.md')
    expect(readme.length).toBeGreaterThanOrEqual(3)
    expect(readme.some((s) => /from ["']taskforce-aiagent["']/.test(s.code) && /new Agent\(/.test(s.code))).toBe(true)
  })

  test('every ```ts block of README.md, CONTRIBUTING.md and docs/*.md compiles', () => {
    expect(compile(snippets, tfDir)).toEqual([])
  }, 120_000)

  // The check itself can fail: blocks with the mistakes the old README had are reported.
  test('a block with a type error is reported with its Markdown line', () => {
    const md = [
      '# t',
      '```ts',
      'import { Agent } from "taskforce-aiagent";',
      'const writer = new Agent({ name: "W", role: "r", goal: "g", model: "k" });',
      '```',
      '',
      '```ts',
      'import { trainAndRegisterFineTunedModel } from "taskforce-fine-tune";',
      'const v1 = await trainAndRegisterFineTunedModel({ agentName: "A", modelKey: "k", baseModel: "b", source: "s", evaluate: true });',
      'console.log(v1.evaluation.better);',
      '```',
      '',
      '```ts',
      'const writer = new Agent({ name: "W" });',
      '```',
    ].join('\n')
    const errors = compile(tsBlocks('bad.md', md), tfDir)
    expect(errors).toEqual([
      expect.stringMatching(/^bad\.md:4: TS2345 .*'backstory' is missing/s),
      expect.stringMatching(/^bad\.md:10: TS18047 'v1\.evaluation' is possibly 'null'/),
      expect.stringMatching(/^bad\.md:14: TS2304 Cannot find name 'Agent'/),
    ])
  }, 120_000)
})

/** GitHub's anchor of a heading. */
function slug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/`/g, '')
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-')
}

/** A Markdown text without its fenced blocks and inline code (where nothing is a link). */
function prose(text: string): string {
  let fence = ''
  const kept: string[] = []
  for (const line of text.split('\n')) {
    const open = /^\s*(`{3,}|~{3,})/.exec(line)
    if (fence) {
      if (open && open[1].startsWith(fence)) fence = ''
    } else if (open) {
      fence = open[1]
    } else {
      kept.push(line.replace(/(`+)[^`]*?\1/g, ''))
    }
  }
  return kept.join('\n')
}

test('relative links in the documentation point to files and headings that exist', () => {
  const broken: string[] = []
  for (const file of docFiles()) {
    const text = prose(fs.readFileSync(path.join(root, file), 'utf8'))
    for (const m of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      const target = m[1]
      if (/^[a-z]+:/i.test(target)) continue
      const [p, anchor] = target.split('#')
      const resolved = p ? path.join(path.dirname(path.join(root, file)), p) : path.join(root, file)
      if (!fs.existsSync(resolved)) {
        broken.push(`${file}: ${target} (no such file)`)
        continue
      }
      if (anchor && resolved.endsWith('.md')) {
        const headings = [...fs.readFileSync(resolved, 'utf8').matchAll(/^#{1,6}\s+(.*)$/gm)].map((h) => slug(h[1]))
        if (!headings.includes(anchor)) broken.push(`${file}: ${target} (no such heading)`)
      }
    }
  }
  expect(broken).toEqual([])
})
