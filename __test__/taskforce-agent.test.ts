// A real TaskForce 1.0.15 agent, with a custom Tool, completes its task by calling the tool, on a
// model fine-tuned on the emulator from transcripts in which the agent calls that tool.
import { spawn } from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'
import { trainAndRegisterFineTunedModel } from 'taskforce-fine-tune'
import { pipelineOptions, taskforceDir, tempDir, useEmulator, writeFile } from './helpers'

const fx = useEmulator({ jobDurationMs: 300 })
let tfDir: string
let project: string

/** The tool as TaskForce offers it (`toAIToolSchema` of the fixture's LookupOrderTool). */
const LOOKUP = {
  type: 'function',
  function: {
    name: 'lookup_order',
    description: "Look up an order's status by its id",
    parameters: {
      type: 'object',
      properties: { order_id: { type: 'string', description: 'The order id, like A-1001' } },
      required: ['order_id'],
    },
  },
}

/**
 * Transcripts of the agent on past days, in the messages TaskForce 1.0.15 sends (its
 * buildSystemMessage and buildUserMessage for an agent whose model supports tools): the agent
 * looks the order up, then answers from the tool's result.
 */
function transcripts(): string {
  const statuses = ['shipped', 'delayed', 'delivered', 'processing']
  const lines = Array.from({ length: 16 }, (_, i) => {
    const id = `A-${1001 + i}`
    const status = statuses[i % statuses.length]
    return JSON.stringify({
      messages: [
        {
          role: 'system',
          content: `You are a order support agent.\n\nGoal: Tell customers where their orders are\n\nDate: ${1 + i} Haziran 2025`,
        },
        {
          role: 'user',
          content: `Background:\nYou help the customers of an online shop.\n\nTask:\nWhere is my order ${id}? Please check it.`,
        },
        {
          role: 'assistant',
          content: null,
          tool_calls: [{ id: `call_${i}`, type: 'function', function: { name: 'lookup_order', arguments: JSON.stringify({ order_id: id }) } }],
        },
        { role: 'tool', tool_call_id: `call_${i}`, content: JSON.stringify({ order_id: id, status }) },
        { role: 'assistant', content: `Your order ${id} is ${status}.` },
      ],
      tools: [LOOKUP],
    })
  })
  return lines.join('\n') + '\n'
}

beforeAll(async () => {
  tfDir = taskforceDir()
  project = tempDir()
  const source = writeFile(project, 'data/transcripts.jsonl', transcripts())
  await trainAndRegisterFineTunedModel(
    pipelineOptions(fx.emu, project, {
      agentName: 'Order Support',
      modelKey: 'order_support_v1',
      source,
      registryPath: path.join(project, 'fine-tuned', 'models.json'),
    }),
  )
}, 300_000)

afterAll(() => {
  if (project) fs.rmSync(project, { recursive: true, force: true })
})

/** Runs the fixture agent on `model` for `orderId`; resolves with what it wrote. */
function runAgent(model: string, orderId: string): Promise<{ code: number | null; out: any; stderr: string }> {
  const resultPath = path.join(project, `result-${model}-${orderId}.json`)
  const env: Record<string, string> = {}
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v
  Object.assign(env, {
    NODE_PATH: path.join(tfDir, 'node_modules'),
    OPENAI_API_KEY: fx.emu.apiKey,
    OPENAI_BASE_URL: fx.emu.url,
    AGENT_MODEL: model,
    ORDER_ID: orderId,
    RESULT_PATH: resultPath,
    TELEMETRY_MODE: 'none',
  })
  const child = spawn(process.execPath, [path.join(__dirname, 'fixtures', 'taskforce-agent.js')], {
    cwd: project,
    env,
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  let stderr = ''
  child.stderr!.on('data', (d) => (stderr += d))
  return new Promise((resolve) =>
    child.on('exit', (code) => {
      const out = fs.existsSync(resultPath) ? JSON.parse(fs.readFileSync(resultPath, 'utf8')) : undefined
      resolve({ code, out, stderr })
    }),
  )
}

test('the fine-tuned agent looks the order up with its tool, then answers from the result', async () => {
  const registry = JSON.parse(fs.readFileSync(path.join(project, 'fine-tuned', 'models.json'), 'utf8'))
  expect(registry.order_support_v1.model.supportsTools).toBe(true)
  const before = fx.emu.stats().chatCompletions

  const { code, out, stderr } = await runAgent('order_support_v1', 'B-7731')
  expect({ code, error: out?.error, stderr: code === 0 ? '' : stderr }).toEqual({ code: 0, error: undefined, stderr: '' })
  // The tool was called once, with the order the task names (not one from the training data).
  expect(out.calls).toEqual([{ order_id: 'B-7731' }])
  // The answer comes from the tool's result.
  expect(out.result).toEqual({ where: 'Your order B-7731 is returned.' })
  // Two chat calls: the one that called the tool, and the follow-up with its result.
  expect(fx.emu.stats().chatCompletions - before).toBe(2)
}, 120_000)

test('the same agent on a base model does not call the tool', async () => {
  const { code, out } = await runAgent('gpt-4o', 'C-2048')
  expect(code).toBe(0)
  expect(out.calls).toEqual([])
  expect(out.result.where).toContain('C-2048')
}, 120_000)
