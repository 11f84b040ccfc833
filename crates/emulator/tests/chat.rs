//! `POST /chat/completions` against OpenAI's spec: streaming, tools and `tool_choice`, token
//! limits, `n`, JSON modes, `seed`, `logprobs`, request checks and rate limits.

mod common;

use common::Api;
use fine_tune_dataset::{encoding_for_model, token_bytes};
use fine_tune_emulator::{EmulatorOptions, FaultKind, FaultOptions, RateLimits};
use serde_json::{json, Value};

const BASE: &str = "gpt-4o-mini-2024-07-18";

fn lookup_tool() -> Value {
    json!({"type": "function", "function": {
        "name": "lookup_order",
        "description": "Look up an order's status by its id",
        "parameters": {"type": "object", "properties": {"order_id": {"type": "string"}}, "required": ["order_id"], "additionalProperties": false},
        "strict": true
    }})
}

fn cancel_tool() -> Value {
    json!({"type": "function", "function": {
        "name": "cancel_order",
        "description": "Cancel an order",
        "parameters": {"type": "object", "properties": {
            "order_id": {"type": "string"},
            "reason": {"type": "string", "enum": ["customer", "fraud", "stock"]},
            "refund": {"type": "boolean"}
        }, "required": ["order_id", "reason", "refund"], "additionalProperties": false}
    }})
}

const SYSTEM: &str = "You are an order support agent. Look orders up before answering.";

/// An order-support agent's transcripts: the user asks about an order, the agent looks it up,
/// then answers from the tool's result.
fn orders_jsonl() -> String {
    let statuses = ["shipped", "delayed", "delivered"];
    (0..12)
        .map(|i| {
            let id = format!("A-{}", 1000 + i);
            let status = statuses[i % 3];
            json!({"messages": [
                {"role": "system", "content": SYSTEM},
                {"role": "user", "content": format!("Where is my order {id}? Please check it.")},
                {"role": "assistant", "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "lookup_order", "arguments": json!({"order_id": id}).to_string()}}]},
                {"role": "tool", "tool_call_id": "call_1", "content": json!({"order_id": id, "status": status}).to_string()},
                {"role": "assistant", "content": format!("Your order {id} is {status}.")}
            ], "tools": [lookup_tool()]})
            .to_string()
                + "\n"
        })
        .collect()
}

/// A fine-tuned model trained on `jsonl`.
async fn fine_tune(api: &Api, jsonl: &str) -> String {
    let file = api.upload(jsonl).await;
    let job = api
        .create_job(json!({"model": BASE, "training_file": file["id"]}))
        .await;
    let job = api.wait_job(job["id"].as_str().unwrap()).await;
    assert_eq!(job["status"], "succeeded", "{job}");
    job["fine_tuned_model"].as_str().unwrap().to_string()
}

async fn chat(api: &Api, body: Value) -> (u16, Value) {
    let r = api.post("/chat/completions", body).await;
    let status = r.status().as_u16();
    (status, r.json().await.unwrap())
}

async fn ok(api: &Api, body: Value) -> Value {
    let (status, v) = chat(api, body).await;
    assert_eq!(status, 200, "{v}");
    v
}

async fn bad(api: &Api, body: Value) -> Value {
    let (status, v) = chat(api, body).await;
    assert_eq!(status, 400, "{v}");
    assert_eq!(v["error"]["type"], "invalid_request_error", "{v}");
    v["error"].clone()
}

fn ask(id: &str) -> Vec<Value> {
    vec![
        json!({"role": "system", "content": SYSTEM}),
        json!({"role": "user", "content": format!("Where is my order {id}? Please check it.")}),
    ]
}

/// The `data:` payloads of a server-sent event stream.
fn events(text: &str) -> Vec<String> {
    text.split("\n\n")
        .filter(|e| !e.trim().is_empty())
        .map(|e| {
            e.strip_prefix("data: ")
                .unwrap_or_else(|| panic!("not a data event: {e:?}"))
                .to_string()
        })
        .collect()
}

async fn stream(api: &Api, body: Value) -> (reqwest::header::HeaderMap, Vec<Value>) {
    let r = api.post("/chat/completions", body).await;
    assert_eq!(r.status(), 200);
    let headers = r.headers().clone();
    let ev = events(&r.text().await.unwrap());
    assert_eq!(ev.last().unwrap(), "[DONE]");
    let chunks = ev[..ev.len() - 1]
        .iter()
        .map(|e| serde_json::from_str(e).unwrap())
        .collect();
    (headers, chunks)
}

#[tokio::test]
async fn streams_content_chunks_then_the_finish_reason_usage_and_done() {
    let api = Api::quick().await;
    let long = "Tell me about the history of the teapot, from China to the modern kitchen.";
    let body = json!({"model": BASE, "messages": [{"role": "user", "content": long}]});
    let whole = ok(&api, body.clone()).await;
    let mut streamed = body.clone();
    streamed["stream"] = json!(true);
    streamed["stream_options"] = json!({"include_usage": true});
    let (headers, chunks) = stream(&api, streamed).await;
    assert!(headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    assert!(headers.contains_key("x-ratelimit-remaining-requests"));
    let id = chunks[0]["id"].as_str().unwrap();
    for c in &chunks {
        assert_eq!(c["object"], "chat.completion.chunk");
        assert_eq!(c["id"], id);
        assert_eq!(c["model"], BASE);
        assert!(c["created"].is_i64());
    }
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    let (usage_chunk, rest) = chunks.split_last().unwrap();
    assert_eq!(usage_chunk["choices"], json!([]));
    for c in rest {
        assert_eq!(c["usage"], Value::Null);
    }
    let (last, middle) = rest.split_last().unwrap();
    assert_eq!(last["choices"][0]["finish_reason"], "stop");
    assert_eq!(last["choices"][0]["delta"], json!({}));
    let pieces: Vec<&str> = middle[1..]
        .iter()
        .map(|c| c["choices"][0]["delta"]["content"].as_str().unwrap())
        .collect();
    for c in middle {
        assert_eq!(c["choices"][0]["finish_reason"], Value::Null);
    }
    let text: String = pieces.concat();
    assert_eq!(
        text,
        whole["choices"][0]["message"]["content"].as_str().unwrap()
    );
    // One chunk per token (ASCII text), counted with the model's tokenizer.
    assert_eq!(
        pieces.len(),
        token_bytes(&text, encoding_for_model(BASE)).len()
    );
    assert_eq!(usage_chunk["usage"], whole["usage"]);
    assert_eq!(
        usage_chunk["usage"]["completion_tokens"].as_u64().unwrap(),
        pieces.len() as u64
    );

    // Without include_usage: no usage field and no usage chunk.
    let mut plain = body.clone();
    plain["stream"] = json!(true);
    let (_, chunks) = stream(&api, plain).await;
    assert!(chunks.iter().all(|c| c.get("usage").is_none()));
    assert_eq!(
        chunks.last().unwrap()["choices"][0]["finish_reason"],
        "stop"
    );
    api.emu.close().await;
}

#[tokio::test]
async fn tool_calls_follow_tool_choice_and_the_training_data() {
    let api = Api::quick().await;
    let model = fine_tune(&api, &orders_jsonl()).await;
    let tools = json!([lookup_tool(), cancel_tool()]);

    // auto: the model looks the order up, with this prompt's id.
    let v = ok(
        &api,
        json!({"model": model, "messages": ask("B-7731"), "tools": tools}),
    )
    .await;
    let choice = &v["choices"][0];
    assert_eq!(choice["finish_reason"], "tool_calls", "{v}");
    let calls = choice["message"]["tool_calls"].as_array().unwrap();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0]["type"], "function");
    assert!(calls[0]["id"].as_str().unwrap().starts_with("call_"));
    assert_eq!(calls[0]["function"]["name"], "lookup_order");
    assert_eq!(
        calls[0]["function"]["arguments"],
        r#"{"order_id":"B-7731"}"#
    );
    assert_eq!(choice["message"]["content"], Value::Null);

    // After the tool's result: text, from the result.
    let mut follow = ask("B-7731");
    follow.push(json!({"role": "assistant", "content": null, "tool_calls": calls}));
    follow.push(json!({"role": "tool", "tool_call_id": calls[0]["id"], "content": r#"{"order_id":"B-7731","status":"lost"}"#}));
    let v = ok(&api, json!({"model": model, "messages": follow})).await;
    assert_eq!(v["choices"][0]["finish_reason"], "stop");
    assert_eq!(
        v["choices"][0]["message"]["content"],
        "Your order B-7731 is lost."
    );
    assert!(v["choices"][0]["message"].get("tool_calls").is_none());

    // No tools, or tool_choice none: never a tool call.
    for extra in [json!({}), json!({"tools": tools, "tool_choice": "none"})] {
        let mut body = json!({"model": model, "messages": ask("B-7731")});
        for (k, x) in extra.as_object().unwrap() {
            body[k] = x.clone();
        }
        let v = ok(&api, body).await;
        assert!(
            v["choices"][0]["message"].get("tool_calls").is_none(),
            "{v}"
        );
        assert!(v["choices"][0]["message"]["content"].is_string());
        assert_eq!(v["choices"][0]["finish_reason"], "stop");
    }

    // required: a call even for a prompt far from the training data, arguments fitting the
    // chosen function's schema.
    let poem = json!([{"role": "user", "content": "Cancel it: the customer changed their mind."}]);
    let v = ok(
        &api,
        json!({"model": model, "messages": poem, "tools": tools, "tool_choice": "required"}),
    )
    .await;
    let call = &v["choices"][0]["message"]["tool_calls"][0];
    assert_eq!(v["choices"][0]["finish_reason"], "tool_calls");
    assert_eq!(call["function"]["name"], "cancel_order");
    let args: Value =
        serde_json::from_str(call["function"]["arguments"].as_str().unwrap()).unwrap();
    let schema = &cancel_tool()["function"]["parameters"];
    assert!(jsonschema::is_valid(schema, &args), "{args}");

    // A named function: that one, once, even where training called another.
    let v = ok(
        &api,
        json!({"model": model, "messages": ask("B-7731"), "tools": tools,
        "tool_choice": {"type": "function", "function": {"name": "cancel_order"}}}),
    )
    .await;
    let calls = v["choices"][0]["message"]["tool_calls"].as_array().unwrap();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0]["function"]["name"], "cancel_order");
    let args: Value =
        serde_json::from_str(calls[0]["function"]["arguments"].as_str().unwrap()).unwrap();
    assert!(jsonschema::is_valid(schema, &args), "{args}");

    // A base model with tools and auto answers in text.
    let v = ok(
        &api,
        json!({"model": BASE, "messages": ask("B-7731"), "tools": tools}),
    )
    .await;
    assert!(v["choices"][0]["message"].get("tool_calls").is_none());

    // Streamed: the call's head (index, id, type, name, empty arguments), then argument
    // fragments, then finish_reason tool_calls.
    let (_, chunks) = stream(
        &api,
        json!({"model": model, "messages": ask("C-42"), "tools": tools, "stream": true}),
    )
    .await;
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    let head = &chunks[1]["choices"][0]["delta"]["tool_calls"][0];
    assert_eq!(head["index"], 0);
    assert!(head["id"].as_str().unwrap().starts_with("call_"));
    assert_eq!(head["type"], "function");
    assert_eq!(head["function"]["name"], "lookup_order");
    assert_eq!(head["function"]["arguments"], "");
    let n = chunks.len();
    let args: String = chunks[2..n - 1]
        .iter()
        .map(|c| {
            let d = &c["choices"][0]["delta"]["tool_calls"][0];
            assert_eq!(d["index"], 0);
            assert!(d.get("id").is_none());
            d["function"]["arguments"].as_str().unwrap().to_string()
        })
        .collect();
    assert!(n > 4, "arguments come in fragments");
    assert_eq!(args, r#"{"order_id":"C-42"}"#);
    assert_eq!(chunks[n - 1]["choices"][0]["finish_reason"], "tool_calls");

    // Checks.
    let e = bad(
        &api,
        json!({"model": model, "messages": ask("x"), "tool_choice": "auto"}),
    )
    .await;
    assert_eq!(e["param"], "tool_choice");
    let e = bad(
        &api,
        json!({"model": model, "messages": ask("x"), "tools": tools,
        "tool_choice": {"type": "function", "function": {"name": "nope"}}}),
    )
    .await;
    assert_eq!(e["param"], "tool_choice");
    let mut strict = lookup_tool();
    strict["function"]["parameters"]
        .as_object_mut()
        .unwrap()
        .remove("additionalProperties");
    let e = bad(
        &api,
        json!({"model": model, "messages": ask("x"), "tools": [strict]}),
    )
    .await;
    assert!(e["message"]
        .as_str()
        .unwrap()
        .contains("'additionalProperties' is required to be supplied and to be false"));
    let orphan = json!([{"role": "user", "content": "hi"}, {"role": "tool", "tool_call_id": "call_1", "content": "x"}]);
    let e = bad(&api, json!({"model": model, "messages": orphan})).await;
    assert_eq!(e["param"], "messages.[1].role");
    let unanswered = json!([{"role": "user", "content": "hi"}, {"role": "assistant", "tool_calls": [{"id": "call_9", "type": "function", "function": {"name": "f", "arguments": "{}"}}]}]);
    let e = bad(&api, json!({"model": model, "messages": unanswered})).await;
    assert!(e["message"].as_str().unwrap().ends_with("call_9"));
    api.emu.close().await;
}

#[tokio::test]
async fn token_limits_cut_the_answer_and_n_gives_choices() {
    let api = Api::quick().await;
    let msg =
        json!([{"role": "user", "content": "Describe the water cycle in a few sentences please."}]);
    let full = ok(&api, json!({"model": BASE, "messages": msg})).await;
    let text = full["choices"][0]["message"]["content"].as_str().unwrap();
    let tokens = token_bytes(text, encoding_for_model(BASE));
    assert!(tokens.len() > 5);
    assert_eq!(
        full["usage"]["completion_tokens"].as_u64().unwrap(),
        tokens.len() as u64
    );
    for key in ["max_completion_tokens", "max_tokens"] {
        let v = ok(&api, json!({"model": BASE, "messages": msg, key: 3})).await;
        assert_eq!(v["choices"][0]["finish_reason"], "length");
        assert_eq!(v["usage"]["completion_tokens"], 3);
        assert_eq!(
            v["choices"][0]["message"]["content"]
                .as_str()
                .unwrap()
                .as_bytes(),
            tokens[..3].concat()
        );
    }
    // A limit above the answer changes nothing.
    let v = ok(
        &api,
        json!({"model": BASE, "messages": msg, "max_completion_tokens": 1000}),
    )
    .await;
    assert_eq!(v["choices"][0]["finish_reason"], "stop");
    assert_eq!(v["choices"][0]["message"]["content"], text);
    // Streamed and cut.
    let (_, chunks) = stream(
        &api,
        json!({"model": BASE, "messages": msg, "max_tokens": 2, "stream": true}),
    )
    .await;
    assert_eq!(chunks.len(), 4);
    assert_eq!(chunks[3]["choices"][0]["finish_reason"], "length");

    let v = ok(&api, json!({"model": BASE, "messages": msg, "n": 3})).await;
    let choices = v["choices"].as_array().unwrap();
    assert_eq!(choices.len(), 3);
    for (i, c) in choices.iter().enumerate() {
        assert_eq!(c["index"], i);
    }
    assert_eq!(
        v["usage"]["completion_tokens"].as_u64().unwrap(),
        3 * tokens.len() as u64
    );
    assert_eq!(v["usage"]["prompt_tokens"], full["usage"]["prompt_tokens"]);
    for n in [0, 129] {
        assert_eq!(
            bad(&api, json!({"model": BASE, "messages": msg, "n": n})).await["param"],
            "n"
        );
    }
    assert_eq!(
        bad(
            &api,
            json!({"model": BASE, "messages": msg, "max_tokens": 0})
        )
        .await["param"],
        "max_tokens"
    );
    // Prompt tokens as OpenAI's cookbook counts them: 3 per message, role and content, 3 more.
    let prompt = "Describe the water cycle in a few sentences please.";
    let enc = encoding_for_model(BASE);
    assert_eq!(
        full["usage"]["prompt_tokens"].as_u64().unwrap(),
        (3 + token_bytes("user", enc).len() + token_bytes(prompt, enc).len() + 3) as u64
    );
    api.emu.close().await;
}

#[tokio::test]
async fn json_modes_answer_json_that_fits() {
    let api = Api::quick().await;
    let msg = json!([{"role": "user", "content": "Extract the order as JSON: order B-12 for 3 mugs, express."}]);
    let v = ok(
        &api,
        json!({"model": BASE, "messages": msg, "response_format": {"type": "json_object"}}),
    )
    .await;
    let content: Value =
        serde_json::from_str(v["choices"][0]["message"]["content"].as_str().unwrap()).unwrap();
    assert!(content.is_object(), "{content}");
    // json_object needs the word JSON in the conversation.
    let plain = json!([{"role": "user", "content": "hello"}]);
    let e = bad(
        &api,
        json!({"model": BASE, "messages": plain, "response_format": {"type": "json_object"}}),
    )
    .await;
    assert_eq!(e["param"], "messages");

    let schema = json!({
        "type": "object",
        "properties": {
            "order_id": {"type": "string"},
            "quantity": {"type": "integer", "minimum": 1},
            "speed": {"type": "string", "enum": ["standard", "express"]},
            "items": {"type": "array", "items": {"$ref": "#/$defs/item"}},
            "gift": {"type": ["boolean", "null"]}
        },
        "required": ["order_id", "quantity", "speed", "items", "gift"],
        "additionalProperties": false,
        "$defs": {"item": {"type": "object", "properties": {"name": {"type": "string"}, "price": {"type": "number"}}, "required": ["name", "price"], "additionalProperties": false}}
    });
    let v = ok(
        &api,
        json!({"model": BASE, "messages": msg, "response_format": {"type": "json_schema",
        "json_schema": {"name": "order", "strict": true, "schema": schema}}}),
    )
    .await;
    let content: Value =
        serde_json::from_str(v["choices"][0]["message"]["content"].as_str().unwrap()).unwrap();
    assert!(jsonschema::is_valid(&schema, &content), "{content}");
    assert_eq!(
        content.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["order_id", "quantity", "speed", "items", "gift"]
    );

    // Strict schemas follow OpenAI's rules; a name is required.
    let mut loose = schema.clone();
    loose["required"] = json!(["order_id"]);
    let e = bad(
        &api,
        json!({"model": BASE, "messages": msg, "response_format": {"type": "json_schema",
        "json_schema": {"name": "order", "strict": true, "schema": loose}}}),
    )
    .await;
    assert_eq!(e["param"], "response_format");
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("Missing 'quantity'"),
        "{e}"
    );
    let e = bad(
        &api,
        json!({"model": BASE, "messages": msg, "response_format": {"type": "json_schema",
        "json_schema": {"schema": schema}}}),
    )
    .await;
    assert_eq!(e["param"], "response_format.json_schema.name");
    api.emu.close().await;
}

#[tokio::test]
async fn seeds_repeat_answers_and_logprobs_are_served() {
    let api = Api::quick().await;
    let model = fine_tune(&api, &orders_jsonl()).await;
    let body = |seed: u64| json!({"model": model, "messages": ask("D-5"), "tools": [lookup_tool()], "seed": seed, "n": 4});
    let strip = |v: &Value| -> Vec<Value> {
        v["choices"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                let mut m = c["message"].clone();
                if let Some(calls) = m.get_mut("tool_calls").and_then(Value::as_array_mut) {
                    for call in calls {
                        call["id"] = json!("");
                    }
                }
                m
            })
            .collect()
    };
    let a = ok(&api, body(7)).await;
    let b = ok(&api, body(7)).await;
    assert_eq!(strip(&a), strip(&b));
    assert_eq!(a["system_fingerprint"], b["system_fingerprint"]);

    let msg = json!([{"role": "user", "content": "Say something kind about Mondays."}]);
    let v = ok(
        &api,
        json!({"model": BASE, "messages": msg, "logprobs": true, "top_logprobs": 3}),
    )
    .await;
    let c = &v["choices"][0];
    let entries = c["logprobs"]["content"].as_array().unwrap();
    assert_eq!(
        entries.len() as u64,
        v["usage"]["completion_tokens"].as_u64().unwrap()
    );
    let mut bytes = Vec::new();
    for e in entries {
        assert!(e["logprob"].as_f64().unwrap() <= 0.0);
        let b: Vec<u8> = serde_json::from_value(e["bytes"].clone()).unwrap();
        assert_eq!(e["token"].as_str().unwrap().as_bytes(), b);
        bytes.extend(b);
        let top = e["top_logprobs"].as_array().unwrap();
        assert!(!top.is_empty() && top.len() <= 3);
        assert_eq!(top[0]["token"], e["token"]);
    }
    assert_eq!(bytes, c["message"]["content"].as_str().unwrap().as_bytes());
    assert_eq!(c["logprobs"]["refusal"], Value::Null);
    let e = bad(
        &api,
        json!({"model": BASE, "messages": msg, "top_logprobs": 2}),
    )
    .await;
    assert_eq!(e["param"], "top_logprobs");
    let v = ok(&api, json!({"model": BASE, "messages": msg})).await;
    assert_eq!(v["choices"][0]["logprobs"], Value::Null);
    api.emu.close().await;
}

#[tokio::test]
async fn request_checks_name_the_parameter() {
    let api = Api::quick().await;
    let msg = json!([{"role": "user", "content": "hi"}]);
    let cases = [
        (
            json!({"stream_options": {"include_usage": true}}),
            "stream_options",
        ),
        (json!({"temperature": 3}), "temperature"),
        (json!({"stream": "yes"}), "stream"),
        (json!({"stop": ["a", "b", "c", "d", "e"]}), "stop"),
        (json!({"functions": [{"name": "f"}]}), "functions"),
        (json!({"tools": []}), "tools"),
        (
            json!({"tools": [{"type": "function", "function": {"name": "bad name"}}]}),
            "tools[0].function.name",
        ),
        (
            json!({"response_format": {"type": "xml"}}),
            "response_format.type",
        ),
    ];
    for (extra, param) in cases {
        let mut body = json!({"model": BASE, "messages": msg});
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        let e = bad(&api, body).await;
        assert_eq!(e["param"], param, "{e}");
    }
    let e = bad(
        &api,
        json!({"model": BASE, "messages": [{"role": "robot", "content": "x"}]}),
    )
    .await;
    assert_eq!(e["param"], "messages[0].role");
    // A stop sequence ends the answer there.
    let v = ok(&api, json!({"model": BASE, "messages": [{"role": "user", "content": "one two three"}], "stop": " two"})).await;
    assert_eq!(
        v["choices"][0]["message"]["content"],
        format!("[{BASE}] one")
    );
    assert_eq!(v["choices"][0]["finish_reason"], "stop");
    api.emu.close().await;
}

fn header(r: &reqwest::Response, name: &str) -> String {
    r.headers()
        .get(name)
        .unwrap_or_else(|| panic!("no {name}"))
        .to_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn rate_limits_are_reported_and_enforced() {
    let api = Api::start(EmulatorOptions {
        rate_limits: RateLimits {
            requests_per_minute: 3,
            tokens_per_minute: 600,
        },
        ..Default::default()
    })
    .await;
    let body = json!({"model": BASE, "messages": [{"role": "user", "content": "hi"}]});
    let mut tokens_left = 600;
    for left in [2, 1, 0] {
        let r = api.post("/chat/completions", body.clone()).await;
        assert_eq!(r.status(), 200);
        assert_eq!(header(&r, "x-ratelimit-limit-requests"), "3");
        assert_eq!(
            header(&r, "x-ratelimit-remaining-requests"),
            left.to_string()
        );
        assert_eq!(header(&r, "x-ratelimit-limit-tokens"), "600");
        let remaining: u64 = header(&r, "x-ratelimit-remaining-tokens").parse().unwrap();
        let reset = header(&r, "x-ratelimit-reset-requests");
        assert!(reset.ends_with('s'), "{reset}");
        header(&r, "x-ratelimit-reset-tokens");
        let v: Value = r.json().await.unwrap();
        let total = v["usage"]["total_tokens"].as_u64().unwrap();
        // The bucket refills 10 tokens a second meanwhile.
        assert!(remaining + total >= tokens_left && remaining + total <= tokens_left + 10);
        tokens_left = remaining;
    }
    let r = api.post("/chat/completions", body.clone()).await;
    assert_eq!(r.status(), 429);
    assert_eq!(header(&r, "x-ratelimit-remaining-requests"), "0");
    let wait: u64 = header(&r, "retry-after-ms").parse().unwrap();
    assert!(wait > 0 && wait <= 20_000, "{wait}");
    let e: Value = r.json().await.unwrap();
    assert_eq!(e["error"]["code"], "rate_limit_exceeded");
    assert!(e["error"]["message"]
        .as_str()
        .unwrap()
        .contains("on requests per min (RPM): Limit 3, Used 3, Requested 1."));
    // Errors carry the headers too.
    let r = api.post("/chat/completions", json!({"model": BASE})).await;
    assert_eq!(r.status(), 400);
    assert_eq!(header(&r, "x-ratelimit-remaining-requests"), "0");
    api.emu.close().await;

    // An injected 429 reports the requests bucket empty until its retry-after.
    let api = Api::start(EmulatorOptions {
        faults: FaultOptions {
            rate: 1.0,
            endpoints: vec!["chat.completions".into()],
            kinds: vec![FaultKind::RateLimited {
                retry_after_ms: 1500,
            }],
            ..Default::default()
        },
        ..Default::default()
    })
    .await;
    let r = api.post("/chat/completions", body).await;
    assert_eq!(r.status(), 429);
    assert_eq!(header(&r, "retry-after-ms"), "1500");
    assert_eq!(header(&r, "x-ratelimit-remaining-requests"), "0");
    assert_eq!(header(&r, "x-ratelimit-reset-requests"), "1.5s");
    assert_eq!(header(&r, "x-ratelimit-limit-requests"), "10000");
    let e: Value = r.json().await.unwrap();
    assert!(e["error"]["message"]
        .as_str()
        .unwrap()
        .contains("Limit 10000, Used 10000, Requested 1. Please try again in 1.5s."));
    // Other endpoints carry no rate-limit headers.
    let r = api.get("/models").await;
    assert!(r.headers().get("x-ratelimit-limit-requests").is_none());
    api.emu.close().await;
}
