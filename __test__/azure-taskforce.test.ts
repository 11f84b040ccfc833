// A real TaskForce 1.0.15 agent completes a task on an Azure-registered modelKey, against the
// emulator's strict v1 flavour. The mechanism (docs/azure.md): the entry's model is the
// deployment's name with provider `openai`; TaskForce's openai provider builds `new OpenAI({
// apiKey: undefined })` for a registry entry, so the OpenAI SDK reads OPENAI_BASE_URL and
// OPENAI_API_KEY: the agent's process sets them to `{endpoint}/openai/v1` and the Azure key.
import { spawn } from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'
import { trainAndRegisterFineTunedModel } from 'taskforce-fine-tune'
import { pipelineOptions, taskforceDir, useEmulator, useTempDir, writeFile } from './helpers'
import { recordingProxy } from './azure-helpers'

const tmp = useTempDir()
const fx = useEmulator({ jobDurationMs: 300 })
let proxy: Awaited<ReturnType<typeof recordingProxy>>
beforeAll(async () => {
  proxy = await recordingProxy(fx.emu.url.replace(/\/v1$/, ''))
})
afterAll(async () => {
  await proxy.close()
})

/** The agent's program: one agent on the modelKey, one task, run sequentially. */
const AGENT = `
const { Agent, Task, TaskForce, ExecutionMode } = require('taskforce-aiagent')
const writer = new Agent({
  name: 'Writer',
  role: 'Copywriter',
  goal: 'Write taglines',
  backstory: 'Writes short taglines.',
  model: 'writer_azure',
})
const task = new Task({
  id: 'tagline',
  name: 'Tagline',
  description: 'Write a tagline for {product}.',
  agent: 'Writer',
  outputFormat: 'text',
})
const tf = new TaskForce({ agents: [writer], tasks: [task], executionMode: ExecutionMode.Sequential, enableReplanning: false, verbose: false })
tf.run({ product: 'the Acme kettle' }).then(
  (r) => { process.stdout.write('RESULT ' + JSON.stringify(r) + '\\n'); process.exit(0) },
  (e) => { process.stdout.write('ERROR ' + (e && e.message) + '\\n'); process.exit(1) },
)
`

function runAgent(cwd: string, env: Record<string, string>): Promise<{ code: number | null; out: string }> {
  const merged: Record<string, string> = {}
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && !/^(OPENAI_|AZURE_)/.test(k)) merged[k] = v
  }
  Object.assign(merged, env)
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(cwd, 'agent.js')], { cwd, env: merged, stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    child.stdout.on('data', (d) => (out += d))
    child.stderr.on('data', (d) => (out += d))
    child.on('exit', (code) => resolve({ code, out }))
  })
}

test('a TaskForce 1.0.15 agent completes a task on an Azure-registered modelKey', async () => {
  const tfDir = taskforceDir()
  const endpoint = proxy.url
  const m = await trainAndRegisterFineTunedModel({
    ...pipelineOptions(fx.emu, tmp.dir, { modelKey: 'writer_azure', baseUrl: undefined }),
    azureEndpoint: endpoint,
    azureDeployment: {
      subscriptionId: '00000000-0000-0000-0000-000000000000',
      resourceGroup: 'rg',
      resourceName: 'res',
      deploymentName: 'writer-prod',
      managementUrl: fx.emu.managementUrl,
    },
    azureToken: async () => fx.emu.apiKey,
  })
  expect(m.registryPath).toBe(path.join(tmp.dir, 'fine-tuned', 'models.json'))
  const entry = JSON.parse(fs.readFileSync(m.registryPath, 'utf8')).writer_azure
  expect(entry.model).toMatchObject({ name: 'writer-prod', provider: 'openai', baseUrl: `${endpoint}/openai/v1` })

  writeFile(tmp.dir, 'agent.js', AGENT)
  const from = proxy.log.length
  const run = await runAgent(tmp.dir, {
    NODE_PATH: path.join(tfDir, 'node_modules'),
    OPENAI_BASE_URL: entry.model.baseUrl,
    OPENAI_API_KEY: fx.emu.apiKey,
    TELEMETRY_MODE: 'none',
  })
  expect({ code: run.code, out: run.out.slice(-2000) }).toMatchObject({ code: 0 })
  const line = run.out.split('\n').find((l) => l.startsWith('RESULT '))!
  const result = JSON.parse(line.slice('RESULT '.length))
  expect(result.executedTaskIds).toEqual(['tagline'])
  expect(JSON.stringify(result.result)).toContain('Acme kettle')
  // It went to Azure's v1 chat completions with the deployment's name.
  const chats = proxy.log.slice(from).filter((r) => r.method === 'POST' && r.path === '/openai/v1/chat/completions')
  expect(chats.length).toBeGreaterThan(0)
  expect(chats.map((r) => r.json.model)).toContain('writer-prod')
  expect(chats.every((r) => r.status === 200)).toBe(true)
}, 300000)
