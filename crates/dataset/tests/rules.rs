//! One test per rule: a small file that breaks exactly that rule, asserting the kind and line.

use fine_tune_dataset::{
    default_epochs, validate_path, validate_reader, DatasetReport, Method, ValidateOptions,
};

const GOOD: &str = r#"{"messages":[{"role":"system","content":"You are terse."},{"role":"user","content":"Hi"},{"role":"assistant","content":"Hello."}]}"#;
const GOOD_DPO: &str = r#"{"input":{"messages":[{"role":"user","content":"Hi"}]},"preferred_output":[{"role":"assistant","content":"Hello."}],"non_preferred_output":[{"role":"assistant","content":"Go away."}]}"#;
const GOOD_COMPLETION: &str = r#"{"prompt":"2+2=","completion":"4"}"#;

fn opts(model: &str) -> ValidateOptions {
    ValidateOptions {
        base_model: Some(model.to_string()),
        threads: Some(2),
        ..Default::default()
    }
}

/// 12 good lines with `bad` as line 7.
fn file_with(good: &str, bad: &str) -> String {
    let mut lines: Vec<&str> = vec![good; 12];
    lines[6] = bad;
    lines.join("\n") + "\n"
}

fn check(text: &str, o: &ValidateOptions) -> DatasetReport {
    validate_reader(text.as_bytes(), o).unwrap()
}

/// Asserts that the only error is `kind` at line 7, and returns its message.
fn assert_only_error(r: &DatasetReport, kind: &str) -> String {
    assert!(!r.valid);
    let kinds: Vec<&str> = r.errors.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, vec![kind], "errors: {:#?}", r.errors);
    assert_eq!(r.errors[0].lines, vec![7]);
    assert_eq!(r.errors[0].count, 1);
    r.errors[0].message.clone()
}

macro_rules! chat_rule {
    ($name:ident, $kind:expr, $bad:expr) => {
        #[test]
        fn $name() {
            let r = check(&file_with(GOOD, $bad), &opts("gpt-4o-mini-2024-07-18"));
            let msg = assert_only_error(&r, $kind);
            assert!(msg.starts_with("example 7"), "{msg}");
        }
    };
}

chat_rule!(invalid_json, "invalid_json", r#"{"messages": [}"#);
chat_rule!(data_type, "data_type", r#"["not", "an", "object"]"#);
chat_rule!(
    missing_messages_list,
    "missing_messages_list",
    r#"{"message":[]}"#
);
chat_rule!(
    empty_messages_list,
    "missing_messages_list",
    r#"{"messages":[]}"#
);
chat_rule!(
    message_data_type,
    "message_data_type",
    r#"{"messages":[{"role":"system","content":"s"},{"role":"user","content":"u"},"oops",{"role":"assistant","content":"a"}]}"#
);
chat_rule!(
    message_missing_role,
    "message_missing_key",
    r#"{"messages":[{"role":"system","content":"s"},{"content":"u"},{"role":"user","content":"u"},{"role":"assistant","content":"a"}]}"#
);
chat_rule!(
    message_missing_content,
    "message_missing_key",
    r#"{"messages":[{"role":"system","content":"s"},{"role":"user"},{"role":"user","content":"u"},{"role":"assistant","content":"a"}]}"#
);
chat_rule!(
    assistant_without_content_or_calls,
    "message_missing_key",
    r#"{"messages":[{"role":"system","content":"s"},{"role":"user","content":"u"},{"role":"assistant","content":"a"},{"role":"user","content":"u"},{"role":"assistant"}]}"#
);
chat_rule!(
    message_unrecognized_key,
    "message_unrecognized_key",
    r#"{"messages":[{"role":"system","content":"s"},{"role":"user","content":"u","mood":"happy"},{"role":"assistant","content":"a"}]}"#
);
chat_rule!(
    unrecognized_role,
    "unrecognized_role",
    r#"{"messages":[{"role":"system","content":"s"},{"role":"user","content":"u"},{"role":"bot","content":"x"},{"role":"assistant","content":"a"}]}"#
);
chat_rule!(
    missing_content_number,
    "missing_content",
    r#"{"messages":[{"role":"system","content":"s"},{"role":"user","content":42},{"role":"assistant","content":"a"}]}"#
);
chat_rule!(
    missing_content_bad_part,
    "missing_content",
    r#"{"messages":[{"role":"system","content":[{"type":"image_url","image_url":{"url":"x"}}]},{"role":"user","content":"u"},{"role":"assistant","content":"a"}]}"#
);
chat_rule!(
    example_missing_assistant_message,
    "example_missing_assistant_message",
    r#"{"messages":[{"role":"system","content":"s"},{"role":"user","content":"u"}]}"#
);
chat_rule!(
    weight_not_0_or_1,
    "invalid_weight",
    r#"{"messages":[{"role":"system","content":"s"},{"role":"user","content":"u"},{"role":"assistant","content":"a","weight":2}]}"#
);
chat_rule!(
    weight_on_user,
    "invalid_weight",
    r#"{"messages":[{"role":"system","content":"s"},{"role":"user","content":"u","weight":1},{"role":"assistant","content":"a"}]}"#
);
chat_rule!(
    tool_call_missing_id,
    "invalid_tool_calls",
    r#"{"messages":[{"role":"system","content":"s"},{"role":"user","content":"u"},{"role":"assistant","tool_calls":[{"type":"function","function":{"name":"f","arguments":"{}"}}]}]}"#
);
chat_rule!(
    tool_call_wrong_type,
    "invalid_tool_calls",
    r#"{"messages":[{"role":"system","content":"s"},{"role":"user","content":"u"},{"role":"assistant","tool_calls":[{"id":"c1","type":"code","function":{"name":"f","arguments":"{}"}}]}]}"#
);
chat_rule!(
    tool_call_missing_name,
    "invalid_tool_calls",
    r#"{"messages":[{"role":"system","content":"s"},{"role":"user","content":"u"},{"role":"assistant","tool_calls":[{"id":"c1","type":"function","function":{"arguments":"{}"}}]}]}"#
);
chat_rule!(
    tool_call_arguments_not_json,
    "invalid_tool_call_arguments",
    r#"{"messages":[{"role":"system","content":"s"},{"role":"user","content":"u"},{"role":"assistant","tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{city: Paris}"}}]}]}"#
);
chat_rule!(
    function_call_arguments_not_json,
    "invalid_function_call",
    r#"{"messages":[{"role":"system","content":"s"},{"role":"user","content":"u"},{"role":"assistant","function_call":{"name":"f","arguments":"nope"}}]}"#
);
chat_rule!(
    tool_answers_unknown_call,
    "unknown_tool_call_id",
    r#"{"messages":[{"role":"system","content":"s"},{"role":"user","content":"u"},{"role":"assistant","tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{}"}}]},{"role":"tool","tool_call_id":"c2","content":"42"},{"role":"assistant","content":"a"}]}"#
);
chat_rule!(
    tool_without_tool_call_id,
    "message_missing_key",
    r#"{"messages":[{"role":"system","content":"s"},{"role":"user","content":"u"},{"role":"assistant","tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{}"}}]},{"role":"tool","content":"42"},{"role":"assistant","content":"a"}]}"#
);
chat_rule!(
    invalid_tools,
    "invalid_tools",
    r#"{"tools":[{"type":"function","function":{"description":"no name"}}],"messages":[{"role":"system","content":"s"},{"role":"user","content":"u"},{"role":"assistant","content":"a"}]}"#
);
chat_rule!(
    invalid_functions,
    "invalid_functions",
    r#"{"functions":[],"messages":[{"role":"system","content":"s"},{"role":"user","content":"u"},{"role":"assistant","content":"a"}]}"#
);
chat_rule!(
    invalid_parallel_tool_calls,
    "invalid_parallel_tool_calls",
    r#"{"parallel_tool_calls":"yes","messages":[{"role":"system","content":"s"},{"role":"user","content":"u"},{"role":"assistant","content":"a"}]}"#
);
chat_rule!(
    completion_line_for_chat_model,
    "unsupported_format",
    r#"{"prompt":"2+2=","completion":"4"}"#
);

#[test]
fn message_index_in_message() {
    let r = check(
        &file_with(
            GOOD,
            r#"{"messages":[{"role":"system","content":"s"},{"role":"bot","content":"x"},{"role":"assistant","content":"a"}]}"#,
        ),
        &opts("gpt-4o"),
    );
    assert_eq!(
        r.errors[0].message,
        "example 7, message 2: unrecognized role \"bot\""
    );
}

#[test]
fn invalid_utf8_with_line() {
    let mut bytes = file_with(GOOD, "PLACEHOLDER").into_bytes();
    let at = bytes.windows(11).position(|w| w == b"PLACEHOLDER").unwrap();
    bytes.splice(at..at + 11, b"{\"messages\":\"\xff\xfe\"}".iter().copied());
    let r = validate_reader(&bytes[..], &opts("gpt-4o")).unwrap();
    assert_only_error(&r, "invalid_utf8");
}

#[test]
fn crlf_and_blank_lines_are_fine() {
    let text = format!("{}\r\n\r\n", vec![GOOD; 60].join("\r\n"));
    let r = check(&text, &opts("gpt-4o"));
    assert!(r.valid, "{:#?}", r.errors);
    assert!(r.warnings.is_empty(), "{:#?}", r.warnings);
    assert_eq!(r.examples, 60);
    assert_eq!(r.lines, 61);
}

#[test]
fn a_byte_order_mark_is_an_error_with_its_fix() {
    // OpenAI refuses such a file ("Line 1 is not a dictionary"), so the checker must too.
    let text = format!("\u{feff}{}\n", vec![GOOD; 60].join("\n"));
    let r = check(&text, &opts("gpt-4o"));
    assert!(!r.valid);
    let kinds: Vec<&str> = r.errors.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, ["byte_order_mark"], "{:#?}", r.errors);
    assert_eq!(r.errors[0].lines, [1]);
    assert!(
        r.errors[0].message.contains("without a BOM"),
        "{}",
        r.errors[0].message
    );
    // The rest of line 1 is still checked as usual.
    assert_eq!(r.examples, 60);
    assert_eq!(r.tokens.counted_examples, 60);
}

/// A reader of `n` bytes of `b'a'` with no newline, then `tail`; counts the largest read asked.
struct Endless {
    left: u64,
    tail: std::io::Cursor<Vec<u8>>,
}

impl std::io::Read for Endless {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.left == 0 {
            return self.tail.read(buf);
        }
        let n = buf.len().min(self.left as usize);
        buf[..n].fill(b'a');
        self.left -= n as u64;
        Ok(n)
    }
}

#[test]
fn a_line_over_the_limit_is_refused_with_its_number_while_streaming() {
    let mut o = opts("gpt-4o");
    o.max_line_bytes = Some(1000);
    // Lines 1-12 good, line 13 is 5 MB with no end but a newline, then 12 more good lines.
    let head = [GOOD; 12].join("\n") + "\n";
    let tail = "\n".to_string() + &[GOOD; 12].join("\n") + "\n";
    let reader = std::io::Read::chain(
        head.as_bytes(),
        Endless {
            left: 5_000_000,
            tail: std::io::Cursor::new(tail.clone().into_bytes()),
        },
    );
    let r = validate_reader(reader, &o).unwrap();
    let kinds: Vec<&str> = r.errors.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, ["line_too_long"], "{:#?}", r.errors);
    assert_eq!(r.errors[0].lines, [13]);
    assert!(
        r.errors[0].message.contains("5000000 bytes"),
        "{}",
        r.errors[0].message
    );
    assert_eq!(r.lines, 25);
    assert_eq!(r.examples, 25);
    assert_eq!(r.bytes, (head.len() + 5_000_000 + tail.len()) as u64);
    // A line over the limit inside an ordinary chunk, and one at the end without a newline.
    let long = format!("{{\"messages\":\"{}\"}}", "x".repeat(2000));
    let text = file_with(GOOD, &long) + &"b".repeat(3000);
    let r = check(&text, &o);
    assert_eq!(r.errors[0].kind, "line_too_long");
    assert_eq!(r.errors[0].lines, [7, 13]);
}

#[test]
fn a_file_without_newlines_is_not_held_in_memory() {
    // 300 MB of one line against the default limit: refused as one line; the reader reads
    // it in bounded chunks (the whole-process peak is measured by `npm run bench`).
    let r = validate_reader(
        Endless {
            left: 300_000_000,
            tail: std::io::Cursor::new(Vec::new()),
        },
        &opts("gpt-4o"),
    )
    .unwrap();
    assert_eq!(r.errors[0].kind, "line_too_long");
    assert_eq!(r.errors[0].lines, [1]);
    assert_eq!(r.bytes, 300_000_000);
}

#[test]
fn too_few_examples_is_an_error_and_few_a_warning() {
    let r = check(&[GOOD; 9].join("\n"), &opts("gpt-4o"));
    assert_eq!(r.errors.len(), 1);
    assert_eq!(r.errors[0].kind, "too_few_examples");
    let r = check(&[GOOD; 12].join("\n"), &opts("gpt-4o"));
    assert!(r.valid);
    assert_eq!(r.warnings[0].kind, "few_examples");
}

#[test]
fn missing_system_and_user_are_warnings() {
    let bad = r#"{"messages":[{"role":"assistant","content":"a"}]}"#;
    let r = check(&file_with(GOOD, bad), &opts("gpt-4o"));
    assert!(r.valid);
    let w: Vec<(&str, &[u64])> = r
        .warnings
        .iter()
        .map(|w| (w.kind.as_str(), w.lines.as_slice()))
        .collect();
    assert!(w.contains(&("missing_system_message", &[7][..])), "{w:?}");
    assert!(w.contains(&("missing_user_message", &[7][..])), "{w:?}");
}

#[test]
fn example_too_long() {
    // gpt-3.5-turbo-0613 trains on at most 4,096 tokens.
    let long = "word ".repeat(5000);
    let bad = format!(
        r#"{{"messages":[{{"role":"system","content":"s"}},{{"role":"user","content":"{long}"}},{{"role":"assistant","content":"a"}}]}}"#
    );
    let r = check(&file_with(GOOD, &bad), &opts("gpt-3.5-turbo-0613"));
    assert_only_error(&r, "example_too_long");
    assert_eq!(r.context_limit, Some(4096));
    assert!(r.tokens.max > 4096);
}

#[test]
fn preference_rules() {
    let mut o = opts("gpt-4o-2024-08-06");
    o.method = Method::Dpo;
    let r = check(&[GOOD_DPO; 12].join("\n"), &o);
    assert!(r.valid, "{:#?}", r.errors);
    assert_eq!(r.format, "preference");
    let two = r#"{"input":{"messages":[{"role":"user","content":"Hi"}]},"preferred_output":[{"role":"assistant","content":"a"},{"role":"assistant","content":"b"}],"non_preferred_output":[{"role":"assistant","content":"c"}]}"#;
    assert_only_error(
        &check(&file_with(GOOD_DPO, two), &o),
        "invalid_preferred_output",
    );
    let no_np = r#"{"input":{"messages":[{"role":"user","content":"Hi"}]},"preferred_output":[{"role":"assistant","content":"a"}]}"#;
    assert_only_error(
        &check(&file_with(GOOD_DPO, no_np), &o),
        "invalid_non_preferred_output",
    );
    let user_np = r#"{"input":{"messages":[{"role":"user","content":"Hi"}]},"preferred_output":[{"role":"assistant","content":"a"}],"non_preferred_output":[{"role":"user","content":"c"}]}"#;
    assert_only_error(
        &check(&file_with(GOOD_DPO, user_np), &o),
        "invalid_non_preferred_output",
    );
    let no_input = r#"{"input":{},"preferred_output":[{"role":"assistant","content":"a"}],"non_preferred_output":[{"role":"assistant","content":"c"}]}"#;
    assert_only_error(
        &check(&file_with(GOOD_DPO, no_input), &o),
        "missing_input_messages",
    );
    assert_only_error(&check(&file_with(GOOD_DPO, GOOD), &o), "unsupported_format");
}

#[test]
fn completion_rules() {
    let o = opts("davinci-002");
    let r = check(&[GOOD_COMPLETION; 12].join("\n"), &o);
    assert!(r.valid, "{:#?}", r.errors);
    assert_eq!(r.format, "completion");
    assert_eq!(r.encoding.name(), "cl100k_base");
    assert_only_error(
        &check(&file_with(GOOD_COMPLETION, r#"{"prompt":"x"}"#), &o),
        "missing_prompt_completion",
    );
    assert_only_error(
        &check(&file_with(GOOD_COMPLETION, GOOD), &o),
        "unsupported_format",
    );
}

#[test]
fn clean_dataset_is_valid_with_epochs_tokens_and_cost() {
    let r = check(&[GOOD; 100].join("\n"), &opts("gpt-4o-mini-2024-07-18"));
    assert!(r.valid);
    assert_eq!(r.format, "chat");
    assert_eq!(r.examples, 100);
    assert_eq!(r.default_epochs, 3);
    assert_eq!(r.epochs, 3);
    // 3 messages x 3 + role tokens (system, user, assistant: 1 each) + "You are terse."(4) + "Hi"(1)
    // + "Hello."(2) + 3 priming = 9 + 3 + 7 + 3 = 22
    assert_eq!(r.tokens.min, 22);
    assert_eq!(r.tokens.max, 22);
    assert_eq!(r.tokens.median, 22.0);
    assert_eq!(r.tokens.total, 2200);
    assert_eq!(r.tokens.assistant_total, 200);
    assert_eq!(r.estimated_billed_tokens, 6600);
    assert_eq!(r.price_per_million_tokens, Some(3.0));
    assert!((r.estimated_cost_usd.unwrap() - 6600.0 * 3.0 / 1e6).abs() < 1e-12);
    assert!(r.price_date.is_some());
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(json["defaultEpochs"], 3);
    assert_eq!(json["encoding"], "o200k_base");
    assert!(json.get("estimatedCostUsd").is_some());
}

#[test]
fn default_epochs_rule() {
    assert_eq!(default_epochs(10), 10);
    assert_eq!(default_epochs(20), 5);
    assert_eq!(default_epochs(2), 25);
    assert_eq!(default_epochs(1), 25);
    assert_eq!(default_epochs(34), 3);
    assert_eq!(default_epochs(33), 4);
    assert_eq!(default_epochs(12), 9);
    assert_eq!(default_epochs(8_333), 3);
    assert_eq!(default_epochs(8_334), 2);
    assert_eq!(default_epochs(20_000), 1);
    assert_eq!(default_epochs(100_000), 1);
}

#[test]
fn unknown_model_says_so() {
    let r = check(&[GOOD; 12].join("\n"), &opts("my-own-model"));
    assert_eq!(r.estimated_cost_usd, None);
    assert_eq!(
        r.price_note.as_deref(),
        Some("no price known for model my-own-model")
    );
    let mut o = opts("my-own-model");
    o.price_per_million_tokens = Some(2.0);
    o.n_epochs = Some(1);
    let r = check(&[GOOD; 12].join("\n"), &o);
    assert_eq!(r.epochs, 1);
    assert!(r.estimated_cost_usd.unwrap() > 0.0);
}

#[test]
fn lines_across_chunks_and_counts() {
    // Many lines (several 1 MB chunks), bad ones spread out: line numbers and counts stay exact.
    let pad = "x".repeat(900);
    let good = format!(
        r#"{{"messages":[{{"role":"system","content":"s"}},{{"role":"user","content":"{pad}"}},{{"role":"assistant","content":"a"}}]}}"#
    );
    let mut lines = vec![good; 5000];
    let bad_at = [1usize, 1234, 2500, 4999];
    for &i in &bad_at {
        lines[i - 1] = "{oops".to_string();
    }
    let text = lines.join("\n");
    let mut o = opts("gpt-4o");
    o.max_lines_per_issue = Some(3);
    let r = check(&text, &o);
    assert_eq!(r.errors[0].kind, "invalid_json");
    assert_eq!(r.errors[0].count, 4);
    assert_eq!(r.errors[0].lines, vec![1, 1234, 2500]);
    assert!(r.errors[0].message.starts_with("example 1: invalid JSON"));
    assert_eq!(r.examples, 5000);
}

#[test]
fn unreadable_file_is_an_io_error() {
    let e = validate_path(
        std::path::Path::new("/nonexistent/train.jsonl"),
        &opts("gpt-4o"),
    );
    assert!(e.is_err());
    assert!(e
        .unwrap_err()
        .to_string()
        .contains("/nonexistent/train.jsonl"));
}
