// Azure test helpers: a recording proxy in front of the emulator (what goes over the wire, per
// request: method, path, query, auth headers' names, and the JSON body or multipart field
// names), and the fields each Azure API version's spec declares (facts.md §2).
import * as http from 'node:http'
import type { AddressInfo } from 'node:net'

export type Recorded = {
  method: string
  path: string
  query: URLSearchParams
  /** Which auth headers were sent (`api-key`, `authorization`); never their values. */
  auth: string[]
  /** The bearer token, for tests that check which token was sent. */
  bearer?: string
  /** A JSON body, parsed. */
  json?: any
  /** The field names of a multipart body. */
  formFields?: string[]
  status?: number
}

/** A proxy to `target` (e.g. `http://127.0.0.1:1234`) recording every request. */
export async function recordingProxy(target: string): Promise<{
  url: string
  log: Recorded[]
  close: () => Promise<void>
}> {
  const log: Recorded[] = []
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c) => chunks.push(c))
    req.on('end', () => {
      const body = Buffer.concat(chunks)
      const u = new URL(req.url ?? '/', 'http://x')
      const auth = ['api-key', 'authorization'].filter((h) => req.headers[h] !== undefined)
      const rec: Recorded = { method: req.method ?? '', path: u.pathname, query: u.searchParams, auth }
      const authz = req.headers['authorization']
      if (typeof authz === 'string' && authz.startsWith('Bearer ')) rec.bearer = authz.slice(7)
      const type = String(req.headers['content-type'] ?? '')
      if (type.startsWith('application/json') && body.length) rec.json = JSON.parse(body.toString('utf8'))
      if (type.startsWith('multipart/form-data')) {
        rec.formFields = [...body.toString('latin1').matchAll(/Content-Disposition: form-data; name="([^"]+)"/gi)].map((m) => m[1])
      }
      log.push(rec)
      // The Host header is kept: URLs the server makes from it (Azure-AsyncOperation) point
      // back at the proxy.
      const headers = { ...req.headers }
      const fwd = http.request(`${target}${req.url}`, { method: req.method, headers }, (r) => {
        rec.status = r.statusCode
        res.writeHead(r.statusCode ?? 502, r.headers)
        r.pipe(res)
      })
      fwd.on('error', () => {
        res.writeHead(502)
        res.end()
      })
      fwd.end(body)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    log,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections()
        server.close((e) => (e ? reject(e) : resolve()))
      }),
  }
}

/**
 * The create-job fields each version's spec declares (facts.md §2): V1's
 * `OpenAI.CreateFineTuningJobRequest`, A1021's `FineTuningJobCreation`, A25P's (A1021's plus
 * `method` and `integrations`, no `metadata`).
 */
export const DECLARED_JOB_FIELDS: Record<string, string[]> = {
  v1: ['model', 'training_file', 'validation_file', 'suffix', 'seed', 'hyperparameters', 'method', 'metadata', 'integrations'],
  '2024-10-21': ['model', 'training_file', 'validation_file', 'hyperparameters', 'suffix', 'seed'],
  '2025-04-01-preview': ['model', 'training_file', 'validation_file', 'hyperparameters', 'suffix', 'seed', 'method', 'integrations'],
}

/** The query parameters each path declares (facts.md §2; A1021), besides `api-version`. */
export function declaredQuery(method: string, path: string): string[] {
  const p = path.replace(/^\/openai(\/v1)?/, '')
  if (method === 'GET' && p === '/files') return ['purpose']
  if (method === 'GET' && p === '/fine_tuning/jobs') return ['after', 'limit']
  if (method === 'GET' && /^\/fine_tuning\/jobs\/[^/]+\/(events|checkpoints)$/.test(p)) return ['after', 'limit']
  return []
}
