// The emulator's chat endpoint driven by the official OpenAI client (openai-node), as an agent
// drives it: streaming, tools and tool_choice, token limits, n, JSON modes, seed, logprobs and
// rate limits, against a model fine-tuned on the emulator.
import * as fs from 'node:fs'
import OpenAI from 'openai'
import { get_encoding } from 'tiktoken'
import { startEmulator, trainAndRegisterFineTunedModel } from 'taskforce-fine-tune'
import { pipelineOptions, tempDir, useEmulator, writeFile } from './helpers'

const BASE = 'gpt-4o-mini-2024-07-18'
const SYSTEM = 'You are an order support agent. Look orders up before answering.'

const lookupOrder = {
  type: 'function' as const,
  function: {
    name: 'lookup_order',
    description: "Look up an order's status by its id",
    parameters: {
      type: 'object',
      properties: { order_id: { type: 'string' } },
      required: ['order_id'],
      additionalProperties: false,
    },
    strict: true,
  },
}

const cancelOrder = {
  type: 'function' as const,
  function: {
    name: 'cancel_order',
    description: 'Cancel an order',
    parameters: {
      type: 'object',
      properties: {
        order_id: { type: 'string' },
        reason: { type: 'string', enum: ['customer', 'fraud', 'stock'] },
        refund: { type: 'boolean' },
      },
      required: ['order_id', 'reason', 'refund'],
      additionalProperties: false,
    },
  },
}

/** An order-support agent's transcripts: look the order up, then answer from the result. */
function ordersJsonl(): string {
  const statuses = ['shipped', 'delayed', 'delivered']
  return (
    Array.from({ length: 12 }, (_, i) => {
      const id = `A-${1000 + i}`
      const status = statuses[i % 3]
      return JSON.stringify({
        messages: [
          { role: 'system', content: SYSTEM },
          { role: 'user', content: `Where is my order ${id}? Please check it.` },
          {
            role: 'assistant',
            tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'lookup_order', arguments: JSON.stringify({ order_id: id }) } }],
          },
          { role: 'tool', tool_call_id: 'call_1', content: JSON.stringify({ order_id: id, status }) },
          { role: 'assistant', content: `Your order ${id} is ${status}.` },
        ],
        tools: [lookupOrder],
      })
    }).join('\n') + '\n'
  )
}

function ask(id: string): OpenAI.Chat.ChatCompletionMessageParam[] {
  return [
    { role: 'system', content: SYSTEM },
    { role: 'user', content: `Where is my order ${id}? Please check it.` },
  ]
}

const fx = useEmulator({ jobDurationMs: 300 })
let dir: string
let client: OpenAI
let model: string

// A model fine-tuned on the emulator from the order agent's transcripts.
beforeAll(async () => {
  client = new OpenAI({ apiKey: fx.emu.apiKey, baseURL: fx.emu.url, maxRetries: 0 })
  dir = tempDir()
  const source = writeFile(dir, 'orders.jsonl', ordersJsonl())
  const m = await trainAndRegisterFineTunedModel(
    pipelineOptions(fx.emu, dir, { agentName: 'Order Support', modelKey: 'orders_v1', source }),
  )
  model = m.fineTunedModel
})

afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true })
})

test('streams content chunks, then the finish reason, the usage and [DONE]', async () => {
  const messages: OpenAI.Chat.ChatCompletionMessageParam[] = [
    { role: 'user', content: 'Tell me about the history of the teapot, from China to the modern kitchen.' },
  ]
  const whole = await client.chat.completions.create({ model: BASE, messages })
  const stream = await client.chat.completions.create({
    model: BASE,
    messages,
    stream: true,
    stream_options: { include_usage: true },
  })
  const chunks: OpenAI.Chat.ChatCompletionChunk[] = []
  for await (const chunk of stream) chunks.push(chunk)
  expect(chunks.length).toBeGreaterThan(3)
  expect(new Set(chunks.map((c) => c.id)).size).toBe(1)
  expect(chunks.every((c) => c.object === 'chat.completion.chunk')).toBe(true)
  expect(chunks[0].choices[0].delta.role).toBe('assistant')
  const usage = chunks[chunks.length - 1]
  expect(usage.choices).toEqual([])
  expect(usage.usage).toEqual(whole.usage)
  const finish = chunks[chunks.length - 2]
  expect(finish.choices[0].finish_reason).toBe('stop')
  const text = chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')
  expect(text).toBe(whole.choices[0].message.content)
  // One chunk per token, as the model's tokenizer splits the text.
  const enc = get_encoding('o200k_base')
  try {
    const contentChunks = chunks.filter((c) => c.choices[0]?.delta.content)
    expect(contentChunks.length).toBe(enc.encode(text).length)
    expect(usage.usage!.completion_tokens).toBe(enc.encode(text).length)
  } finally {
    enc.free()
  }
})

test('a streamed tool call is put back together by the client', async () => {
  const runner = client.chat.completions.stream({ model, messages: ask('B-7731'), tools: [lookupOrder] })
  const final = await runner.finalChatCompletion()
  const call = final.choices[0].message.tool_calls![0]
  expect(final.choices[0].finish_reason).toBe('tool_calls')
  expect(call.type).toBe('function')
  expect(call.id).toMatch(/^call_/)
  if (call.type !== 'function') throw new Error('a function call')
  expect(call.function.name).toBe('lookup_order')
  expect(JSON.parse(call.function.arguments)).toEqual({ order_id: 'B-7731' })
})

test('tool_choice auto, none, required and named, and a text answer after the tool result', async () => {
  const tools = [lookupOrder, cancelOrder]
  const auto = await client.chat.completions.create({ model, messages: ask('B-7731'), tools })
  const calls = auto.choices[0].message.tool_calls!
  expect(auto.choices[0].finish_reason).toBe('tool_calls')
  expect(calls).toHaveLength(1)
  const call = calls[0]
  if (call.type !== 'function') throw new Error('a function call')
  expect(call.function.name).toBe('lookup_order')
  expect(JSON.parse(call.function.arguments)).toEqual({ order_id: 'B-7731' })

  const after = await client.chat.completions.create({
    model,
    messages: [
      ...ask('B-7731'),
      { role: 'assistant', content: null, tool_calls: calls },
      { role: 'tool', tool_call_id: call.id, content: JSON.stringify({ order_id: 'B-7731', status: 'lost' }) },
    ],
  })
  expect(after.choices[0].finish_reason).toBe('stop')
  expect(after.choices[0].message.content).toBe('Your order B-7731 is lost.')
  expect(after.choices[0].message.tool_calls).toBeUndefined()

  for (const extra of [{}, { tools, tool_choice: 'none' as const }]) {
    const r = await client.chat.completions.create({ model, messages: ask('B-7731'), ...extra })
    expect(r.choices[0].message.tool_calls).toBeUndefined()
    expect(typeof r.choices[0].message.content).toBe('string')
  }

  const required = await client.chat.completions.create({
    model,
    messages: [{ role: 'user', content: 'Cancel it: the customer changed their mind.' }],
    tools,
    tool_choice: 'required',
  })
  const forced = required.choices[0].message.tool_calls![0]
  if (forced.type !== 'function') throw new Error('a function call')
  expect(forced.function.name).toBe('cancel_order')
  const args = JSON.parse(forced.function.arguments)
  expect(Object.keys(args).sort()).toEqual(['order_id', 'reason', 'refund'])
  expect(['customer', 'fraud', 'stock']).toContain(args.reason)
  expect(typeof args.refund).toBe('boolean')

  const named = await client.chat.completions.create({
    model,
    messages: ask('B-7731'),
    tools,
    tool_choice: { type: 'function', function: { name: 'cancel_order' } },
  })
  expect(named.choices[0].message.tool_calls!.map((c) => (c.type === 'function' ? c.function.name : c.type))).toEqual([
    'cancel_order',
  ])

  await expect(client.chat.completions.create({ model, messages: ask('x'), tool_choice: 'auto' })).rejects.toMatchObject({
    status: 400,
    param: 'tool_choice',
  })
})

test('max_completion_tokens and max_tokens cut the answer; n gives choices', async () => {
  const messages: OpenAI.Chat.ChatCompletionMessageParam[] = [
    { role: 'user', content: 'Describe the water cycle in a few sentences please.' },
  ]
  const full = await client.chat.completions.create({ model: BASE, messages })
  const enc = get_encoding('o200k_base')
  try {
    const tokens = enc.encode(full.choices[0].message.content!)
    expect(full.usage!.completion_tokens).toBe(tokens.length)
    for (const limit of [{ max_completion_tokens: 3 }, { max_tokens: 3 }]) {
      const cut = await client.chat.completions.create({ model: BASE, messages, ...limit })
      expect(cut.choices[0].finish_reason).toBe('length')
      expect(cut.usage!.completion_tokens).toBe(3)
      expect(cut.choices[0].message.content).toBe(new TextDecoder().decode(enc.decode(tokens.slice(0, 3))))
    }
  } finally {
    enc.free()
  }
  const many = await client.chat.completions.create({ model: BASE, messages, n: 3 })
  expect(many.choices.map((c) => c.index)).toEqual([0, 1, 2])
  expect(many.usage!.completion_tokens).toBe(3 * full.usage!.completion_tokens)
})

test('json_object answers a JSON object, json_schema (strict) an object that fits', async () => {
  const messages: OpenAI.Chat.ChatCompletionMessageParam[] = [
    { role: 'user', content: 'Extract the order as JSON: order B-12 for 3 mugs, express.' },
  ]
  const obj = await client.chat.completions.create({ model: BASE, messages, response_format: { type: 'json_object' } })
  const parsed = JSON.parse(obj.choices[0].message.content!)
  expect(typeof parsed).toBe('object')
  expect(Array.isArray(parsed)).toBe(false)
  await expect(
    client.chat.completions.create({
      model: BASE,
      messages: [{ role: 'user', content: 'hello' }],
      response_format: { type: 'json_object' },
    }),
  ).rejects.toMatchObject({ status: 400, param: 'messages' })

  const schema = {
    type: 'object',
    properties: {
      order_id: { type: 'string' },
      quantity: { type: 'integer', minimum: 1 },
      speed: { type: 'string', enum: ['standard', 'express'] },
      items: { type: 'array', items: { type: 'string' } },
    },
    required: ['order_id', 'quantity', 'speed', 'items'],
    additionalProperties: false,
  }
  const structured = await client.chat.completions.parse({
    model: BASE,
    messages,
    response_format: { type: 'json_schema', json_schema: { name: 'order', strict: true, schema } },
  })
  const order = structured.choices[0].message.parsed as any
  expect(Object.keys(order)).toEqual(['order_id', 'quantity', 'speed', 'items'])
  expect(typeof order.order_id).toBe('string')
  expect(Number.isInteger(order.quantity) && order.quantity >= 1).toBe(true)
  expect(['standard', 'express']).toContain(order.speed)
  expect(Array.isArray(order.items)).toBe(true)

  const loose = { ...schema, required: ['order_id'] }
  await expect(
    client.chat.completions.create({
      model: BASE,
      messages,
      response_format: { type: 'json_schema', json_schema: { name: 'order', strict: true, schema: loose } },
    }),
  ).rejects.toMatchObject({ status: 400, param: 'response_format' })
})

test('a seed repeats the answer; logprobs are served', async () => {
  const strip = (r: OpenAI.Chat.ChatCompletion) =>
    r.choices.map((c) => ({ ...c.message, tool_calls: c.message.tool_calls?.map((t) => ({ ...t, id: '' })) }))
  const body = { model, messages: ask('D-5'), tools: [lookupOrder], seed: 7, n: 4 }
  const a = await client.chat.completions.create(body)
  const b = await client.chat.completions.create(body)
  expect(strip(a)).toEqual(strip(b))

  const r = await client.chat.completions.create({
    model: BASE,
    messages: [{ role: 'user', content: 'Say something kind about Mondays.' }],
    logprobs: true,
    top_logprobs: 2,
  })
  const entries = r.choices[0].logprobs!.content!
  expect(entries.length).toBe(r.usage!.completion_tokens)
  expect(entries.map((e) => e.token).join('')).toBe(r.choices[0].message.content)
  for (const e of entries) {
    expect(e.logprob).toBeLessThanOrEqual(0)
    expect(e.top_logprobs.length).toBeGreaterThan(0)
    expect(e.top_logprobs.length).toBeLessThanOrEqual(2)
  }
})

test('rate-limit headers on every answer, consistent with 429s', async () => {
  const { data, response } = await client.chat.completions
    .create({ model: BASE, messages: [{ role: 'user', content: 'hi' }] })
    .withResponse()
  expect(response.headers.get('x-ratelimit-limit-requests')).toBe('10000')
  expect(Number(response.headers.get('x-ratelimit-remaining-requests'))).toBeLessThan(10000)
  expect(response.headers.get('x-ratelimit-limit-tokens')).toBe('10000000')
  expect(Number(response.headers.get('x-ratelimit-remaining-tokens'))).toBeLessThanOrEqual(10_000_000 - data.usage!.total_tokens)
  expect(response.headers.get('x-ratelimit-reset-requests')).toMatch(/^[\d.]+(ms|s)$/)
  expect(response.headers.get('x-ratelimit-reset-tokens')).toMatch(/^[\d.]+(ms|s)$/)

  // Enforced: a third request in a minute under a limit of 2 gets a 429 the client can read.
  const limited = await startEmulator({ rateLimits: { requestsPerMinute: 2 } })
  try {
    const c = new OpenAI({ apiKey: limited.apiKey, baseURL: limited.url, maxRetries: 0 })
    const body = { model: BASE, messages: [{ role: 'user' as const, content: 'hi' }] }
    await c.chat.completions.create(body)
    await c.chat.completions.create(body)
    const e: any = await c.chat.completions.create(body).then(
      () => undefined,
      (err) => err,
    )
    expect(e).toBeInstanceOf(OpenAI.RateLimitError)
    expect(e.code).toBe('rate_limit_exceeded')
    expect(e.headers.get('x-ratelimit-remaining-requests')).toBe('0')
    expect(Number(e.headers.get('retry-after-ms'))).toBeGreaterThan(0)
  } finally {
    await limited.close()
  }

  // An injected 429: the headers say the requests are used up until retry-after, and the
  // client's own retry (which honours retry-after-ms) then succeeds.
  const faulty = await startEmulator({
    faults: { rate: 1, endpoints: ['chat.completions'], kinds: ['429'], retryAfterMs: 200, maxFaults: 1 },
  })
  try {
    const raw = await fetch(`${faulty.url}/chat/completions`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${faulty.apiKey}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ model: BASE, messages: [{ role: 'user', content: 'hi' }] }),
    })
    expect(raw.status).toBe(429)
    expect(raw.headers.get('x-ratelimit-remaining-requests')).toBe('0')
    expect(raw.headers.get('x-ratelimit-reset-requests')).toBe('200ms')
    expect(raw.headers.get('retry-after-ms')).toBe('200')
    const c = new OpenAI({ apiKey: faulty.apiKey, baseURL: faulty.url, maxRetries: 1 })
    const ok = await c.chat.completions.create({ model: BASE, messages: [{ role: 'user', content: 'hi' }] })
    expect(ok.choices[0].message.content).toContain('hi')
    expect(faulty.stats().faults.rate_limited).toBe(1)
  } finally {
    await faulty.close()
  }
})
