// Issue 9: never a hang, never a clobbered file, never a leaked token (the parts of the
// sources, the checker, the options and the registry).
import * as fs from 'node:fs'
import type * as http from 'node:http'
import * as path from 'node:path'
import {
  getRegisteredModel,
  listInFlightRuns,
  trainAndRegisterFineTunedModel,
  validateTrainingData,
} from 'taskforce-fine-tune'
import { chatJsonl, pipelineOptions, rejection, serve, useEmulator, useTempDir, writeFile } from './helpers'

const tmp = useTempDir()
const fx = useEmulator({ jobDurationMs: 200 })

/** Every file under `dir`, as text. */
function allFiles(dir: string): string {
  if (!fs.existsSync(dir)) return ''
  let out = ''
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name)
    out += e.isDirectory() ? allFiles(p) : `${p}\n${fs.readFileSync(p, 'utf8')}\n`
  }
  return out
}

describe('a URL source', () => {
  const timers = new Set<NodeJS.Timeout>()
  let server: { url: string; close: () => Promise<void> }
  // /data: the training data; /drip: one byte every 100 ms, never finishing; /missing: 404.
  const handler: http.RequestListener = (req, res) => {
    if (req.url!.startsWith('/data')) {
      res.writeHead(200, { 'content-type': 'application/jsonl' })
      res.end(chatJsonl(12))
    } else if (req.url!.startsWith('/drip')) {
      res.writeHead(200, { 'content-type': 'application/jsonl' })
      res.write('{')
      const t = setInterval(() => res.write(' '), 100)
      timers.add(t)
      res.on('close', () => {
        clearInterval(t)
        timers.delete(t)
      })
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' })
      res.end(`no such file: ${req.url}`)
    }
  }
  beforeAll(async () => {
    server = await serve(handler)
  })
  afterAll(async () => {
    for (const t of timers) clearInterval(t)
    await server.close()
  })

  const withSecrets = (p: string) => server.url.replace('http://', 'http://user:CANARY-USERINFO@') + `${p}?token=CANARY-QUERY&X-Amz-Signature=CANARY-SIG`

  test('that drips is cut off by the idle timeout, in train and validate alike, naming the option', async () => {
    const started = Date.now()
    const v = await rejection(validateTrainingData(`${server.url}/drip.jsonl`, { downloadIdleTimeoutMs: 50 }))
    expect(v.code).toBe('ERR_SOURCE_FETCH')
    expect(v.message).toContain('downloadIdleTimeoutMs')
    const t = await rejection(
      trainAndRegisterFineTunedModel(
        pipelineOptions(fx.emu, tmp.dir, { source: `${server.url}/drip.jsonl`, downloadIdleTimeoutMs: 50 }),
      ),
    )
    expect(t.code).toBe('ERR_SOURCE_FETCH')
    expect(t.message).toContain('downloadIdleTimeoutMs')
    expect(Date.now() - started).toBeLessThan(10_000)
  })

  test('timeoutMs bounds the whole call, the download included', async () => {
    const started = Date.now()
    const e = await rejection(
      trainAndRegisterFineTunedModel(pipelineOptions(fx.emu, tmp.dir, { source: `${server.url}/drip.jsonl`, timeoutMs: 500 })),
    )
    expect(e.code).toBe('ERR_TIMEOUT')
    expect(e.message).toContain('timeoutMs')
    expect(Date.now() - started).toBeLessThan(10_000)
  })

  test('zero is not an idle timeout', async () => {
    const e = await rejection(validateTrainingData(`${server.url}/data.jsonl`, { downloadIdleTimeoutMs: 0 }))
    expect(e.code).toBe('ERR_INVALID_OPTION')
    expect(e.param).toBe('downloadIdleTimeoutMs')
  })

  test('a secret in a URL appears in no error, stack, journal, registry, event or in-flight run', async () => {
    const registryPath = path.join(tmp.dir, 'fine-tuned', 'models.json')
    const events: unknown[] = []
    const errors: any[] = []
    // Downloaded and checked, journaled, then the API (with secrets of its own) is unreachable.
    errors.push(
      await rejection(
        trainAndRegisterFineTunedModel({
          ...pipelineOptions(fx.emu, tmp.dir),
          source: withSecrets('/data/train.jsonl'),
          baseUrl: 'http://u:CANARY-BASE-USERINFO@127.0.0.1:1/v1?key=CANARY-BASE-QUERY',
          maxRetries: 0,
          onProgress: (e: unknown) => events.push(e),
        }),
      ),
    )
    expect(errors[0].code).toBe('ERR_NETWORK')
    // Unreachable, 404 and cut-off sources, in train and validate.
    const closed = 'http://user:CANARY-USERINFO@127.0.0.1:1/x.jsonl?token=CANARY-QUERY'
    errors.push(await rejection(validateTrainingData(closed)))
    errors.push(await rejection(validateTrainingData(withSecrets('/missing.jsonl'))))
    errors.push(await rejection(validateTrainingData(withSecrets('/drip.jsonl'), { downloadIdleTimeoutMs: 50 })))
    errors.push(
      await rejection(
        trainAndRegisterFineTunedModel({ ...pipelineOptions(fx.emu, tmp.dir), modelKey: 'other', source: closed, maxRetries: 0 }),
      ),
    )
    errors.push(
      await rejection(
        trainAndRegisterFineTunedModel({ ...pipelineOptions(fx.emu, tmp.dir), modelKey: 'bad', baseUrl: 'ftp://u:CANARY-BASE-USERINFO@x/?k=CANARY-BASE-QUERY' }),
      ),
    )
    expect(errors.map((e) => e.code)).toEqual([
      'ERR_NETWORK',
      'ERR_SOURCE_FETCH',
      'ERR_SOURCE_FETCH',
      'ERR_SOURCE_FETCH',
      'ERR_SOURCE_FETCH',
      'ERR_INVALID_OPTION',
    ])
    const runs = listInFlightRuns({ registryPath })
    expect(runs.map((r) => r.modelKey)).toEqual(['writer_v1'])
    expect(runs[0].baseUrl).toBe('http://127.0.0.1:1/v1?key=…')
    const seen = [
      ...errors.map((e) => `${e.message}\n${e.stack}\n${JSON.stringify(e)}`),
      JSON.stringify(events),
      JSON.stringify(runs),
      allFiles(path.join(tmp.dir, 'fine-tuned')),
    ].join('\n')
    expect(events.length).toBeGreaterThan(0)
    expect(seen).toContain('token=…')
    expect(seen).not.toContain('CANARY')
  })
})

describe('the data checker and the pipeline agree', () => {
  test('a file starting with a UTF-8 byte-order mark is an error with its fix, and is not uploaded', async () => {
    const source = writeFile(tmp.dir, 'bom.jsonl', '\uFEFF' + chatJsonl(12))
    const report = await validateTrainingData(source)
    expect(report.valid).toBe(false)
    expect(report.errors.map((e) => e.kind)).toEqual(['byte_order_mark'])
    expect(report.errors[0].lines).toEqual([1])
    expect(report.errors[0].message).toContain('without a BOM')
    const before = fx.emu.stats().requestsTotal
    const e = await rejection(trainAndRegisterFineTunedModel(pipelineOptions(fx.emu, tmp.dir, { source })))
    expect(e.code).toBe('ERR_INVALID_TRAINING_DATA')
    expect(fx.emu.stats().requestsTotal).toBe(before)
  })
})

describe('options', () => {
  test('an organization or project with CR/LF is an invalid option, not a network error', async () => {
    for (const [k, v] of [
      ['organization', 'org-1\r\nX-Evil: 1'],
      ['project', 'proj\n1'],
    ]) {
      const e = await rejection(trainAndRegisterFineTunedModel(pipelineOptions(fx.emu, tmp.dir, { [k]: v })))
      expect(e.code).toBe('ERR_INVALID_OPTION')
      expect(e.param).toBe(k)
    }
  })

  test('an agent name of emoji gets a usable suffix, and the run leaves no lock file behind', async () => {
    const opts = pipelineOptions(fx.emu, tmp.dir, { agentName: '🚀🤖' })
    const model = await trainAndRegisterFineTunedModel(opts)
    expect(model.suffix).toMatch(/^agent-[0-9a-f]{8}$/)
    expect(model.fineTunedModel).toContain(`:${model.suffix}:`)
    expect(getRegisteredModel('writer_v1', { registryPath: opts.registryPath })?.model.name).toBe(model.fineTunedModel)
    const runs = path.join(path.dirname(opts.registryPath), '.runs')
    expect(fs.readdirSync(runs).filter((n) => n.endsWith('.lock'))).toEqual([])
  })
})
