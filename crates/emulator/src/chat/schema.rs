//! JSON Schema as chat uses it: values made to fit a schema (tool arguments, `json_schema`
//! answers) and the rules OpenAI checks on strict schemas (Structured Outputs).
//!
//! [`conform`] keeps what already fits and fills in the rest: a value that fits is returned
//! unchanged, so `conform(v) == v` is also the fit test. It covers the keywords tool and
//! response schemas use: `type` (one or a list), `properties`, `required`,
//! `additionalProperties`, `items`, `minItems`, `maxItems`, `enum`, `const`, `anyOf`, `oneOf`,
//! `allOf` (first member), `$ref` into `$defs` / `definitions`, `minimum`, `maximum`, `default`,
//! `examples` and common string `format`s. `pattern` is not followed.

use serde_json::{json, Map, Value};

/// Deepest nesting generated (recursive schemas stop there with their smallest value).
const MAX_DEPTH: usize = 24;

/// What generated values are filled with.
pub(crate) struct Fill<'a> {
    /// Text for the first generated string (the answer the model would have given).
    pub text: &'a str,
    used: std::cell::Cell<bool>,
}

impl<'a> Fill<'a> {
    pub fn new(text: &'a str) -> Self {
        Fill {
            text,
            used: std::cell::Cell::new(false),
        }
    }

    fn string(&self) -> String {
        if self.used.replace(true) {
            String::new()
        } else {
            self.text.to_string()
        }
    }
}

/// `value` made to fit `schema` (`root` holds the `$defs`); `None`: nothing to keep.
pub(crate) fn conform(value: Option<&Value>, schema: &Value, root: &Value, fill: &Fill) -> Value {
    at(value, schema, root, fill, 0)
}

/// Whether `value` fits `schema`.
pub(crate) fn fits(value: &Value, schema: &Value, root: &Value) -> bool {
    conform(Some(value), schema, root, &Fill::new("")) == *value
}

fn resolve<'a>(schema: &'a Value, root: &'a Value) -> &'a Value {
    let mut s = schema;
    for _ in 0..8 {
        let Some(r) = s.get("$ref").and_then(Value::as_str) else {
            break;
        };
        let target = if r == "#" {
            Some(root)
        } else {
            r.strip_prefix('#').and_then(|p| root.pointer(p))
        };
        match target {
            Some(t) => s = t,
            None => break,
        }
    }
    s
}

fn type_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// The types a schema allows (empty: any).
fn types(schema: &Value) -> Vec<&str> {
    match schema.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        _ => {
            if schema.get("properties").is_some() {
                vec!["object"]
            } else if schema.get("items").is_some() {
                vec!["array"]
            } else {
                Vec::new()
            }
        }
    }
}

fn allows(types: &[&str], v: &Value) -> bool {
    let t = type_of(v);
    types.is_empty()
        || types.contains(&t)
        || (t == "integer" && types.contains(&"number"))
        || (t == "number"
            && types.contains(&"integer")
            && v.as_f64().is_some_and(|f| f.fract() == 0.0))
}

/// `value` made to fit `schema` at nesting `depth`: a `const` or `enum` value, a branch of
/// `anyOf` / `oneOf` / `allOf`, else a value of the type the schema allows.
fn at(value: Option<&Value>, schema: &Value, root: &Value, fill: &Fill, depth: usize) -> Value {
    let schema = resolve(schema, root);
    if let Some(c) = schema.get("const") {
        return c.clone();
    }
    if let Some(options) = schema.get("enum").and_then(Value::as_array) {
        if let Some(v) = value.filter(|v| options.contains(v)) {
            return v.clone();
        }
        return options.first().cloned().unwrap_or(Value::Null);
    }
    for key in ["anyOf", "oneOf"] {
        if let Some(branches) = schema.get(key).and_then(Value::as_array) {
            return one_of(value, branches, root, fill, depth);
        }
    }
    if let Some(first) = schema
        .get("allOf")
        .and_then(Value::as_array)
        .and_then(|a| a.first())
    {
        return at(value, first, root, fill, depth + 1);
    }
    typed(value, schema, root, fill, depth)
}

/// `value` made to fit one of `branches`: kept when it fits one, else made to fit the branch
/// of its type (deep inside a recursive schema: the one that ends it).
fn one_of(
    value: Option<&Value>,
    branches: &[Value],
    root: &Value,
    fill: &Fill,
    depth: usize,
) -> Value {
    if let Some(v) = value {
        if branches.iter().any(|b| fits(v, b, root)) {
            return v.clone();
        }
    }
    // Deep inside a recursive schema, prefer a branch that ends it.
    let pick = if depth >= MAX_DEPTH {
        branches
            .iter()
            .find(|b| types(resolve(b, root)) == ["null"])
            .or(branches.first())
    } else {
        branches
            .iter()
            .find(|b| value.is_some_and(|v| allows(&types(resolve(b, root)), v)))
            .or_else(|| {
                branches
                    .iter()
                    .find(|b| types(resolve(b, root)) != ["null"])
            })
            .or(branches.first())
    };
    match pick {
        Some(b) => at(value, b, root, fill, depth + 1),
        None => value.cloned().unwrap_or(Value::Null),
    }
}

/// The type the result takes: the value's own when the schema allows it (an integer where
/// only numbers are allowed counts as a number, and the other way round), else the first
/// non-null type the schema allows.
fn target_type<'a>(value: Option<&Value>, allowed: &[&'a str]) -> &'a str {
    match value {
        Some(v) if allows(allowed, v) => match type_of(v) {
            "integer" if !allowed.is_empty() && !allowed.contains(&"integer") => "number",
            "number" if !allowed.is_empty() && !allowed.contains(&"number") => "integer",
            t => t,
        },
        _ => allowed
            .iter()
            .copied()
            .find(|t| *t != "null")
            .or(allowed.first().copied())
            .unwrap_or(match value {
                Some(v) => type_of(v),
                None => "string",
            }),
    }
}

/// `value` made to fit a schema without `const`, `enum` or combinators: by its type.
fn typed(value: Option<&Value>, schema: &Value, root: &Value, fill: &Fill, depth: usize) -> Value {
    let ty = target_type(value, &types(schema));
    // A value of the wrong type is not kept (except a number written as a string, and so on).
    let value = value.filter(|v| {
        allows(&[ty], v) || ty == "string" || ty == "number" || ty == "integer" || ty == "boolean"
    });
    match ty {
        "object" => object(value.and_then(Value::as_object), schema, root, fill, depth),
        "array" => array(value.and_then(Value::as_array), schema, root, fill, depth),
        "string" => string(value, schema, fill),
        "integer" | "number" => number(value, schema, ty == "integer"),
        "boolean" => boolean(value, schema),
        "null" => Value::Null,
        _ => value.cloned().unwrap_or(Value::Null),
    }
}

/// A boolean: the value's, `"true"` / `"false"` as one, else the schema's default or false.
fn boolean(value: Option<&Value>, schema: &Value) -> Value {
    match value {
        Some(Value::Bool(b)) => json!(b),
        Some(Value::String(s)) if s == "true" || s == "false" => json!(s == "true"),
        _ => schema
            .get("default")
            .filter(|d| d.is_boolean())
            .cloned()
            .unwrap_or(json!(false)),
    }
}

fn object(
    value: Option<&Map<String, Value>>,
    schema: &Value,
    root: &Value,
    fill: &Fill,
    depth: usize,
) -> Value {
    let empty = Map::new();
    let props = schema
        .get("properties")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let required: Vec<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let closed = schema.get("additionalProperties") == Some(&Value::Bool(false));
    let mut out = Map::new();
    let given = value.unwrap_or(&empty);
    // Properties in the schema's order (as a model writes them), then any extras kept.
    for (name, sub) in props {
        match given.get(name) {
            Some(v) => {
                out.insert(name.clone(), at(Some(v), sub, root, fill, depth + 1));
            }
            None if required.contains(&name.as_str()) => {
                out.insert(name.clone(), at(None, sub, root, fill, depth + 1));
            }
            None => {}
        }
    }
    if !closed {
        let extra = schema.get("additionalProperties").filter(|a| a.is_object());
        for (name, v) in given {
            if !props.contains_key(name) {
                let v = match extra {
                    Some(sub) => at(Some(v), sub, root, fill, depth + 1),
                    None => v.clone(),
                };
                out.insert(name.clone(), v);
            }
        }
    }
    // Keep the caller's order when nothing changed (the fit test compares values).
    if value.is_some_and(|v| v.len() == out.len() && v.iter().all(|(k, x)| out.get(k) == Some(x))) {
        return Value::Object(given.clone());
    }
    Value::Object(out)
}

fn array(
    value: Option<&Vec<Value>>,
    schema: &Value,
    root: &Value,
    fill: &Fill,
    depth: usize,
) -> Value {
    let items = schema.get("items").cloned().unwrap_or(json!({}));
    let min = schema.get("minItems").and_then(Value::as_u64).unwrap_or(0) as usize;
    let max = schema
        .get("maxItems")
        .and_then(Value::as_u64)
        .map(|m| m as usize)
        .unwrap_or(usize::MAX);
    let mut out: Vec<Value> = value
        .map(|a| {
            a.iter()
                .take(max)
                .map(|v| at(Some(v), &items, root, fill, depth + 1))
                .collect()
        })
        .unwrap_or_default();
    let want = if depth >= MAX_DEPTH {
        min
    } else {
        min.max(usize::from(value.is_none()))
    };
    while out.len() < want.min(max) {
        out.push(at(None, &items, root, fill, depth + 1));
    }
    Value::Array(out)
}

fn string(value: Option<&Value>, schema: &Value, fill: &Fill) -> Value {
    match value {
        Some(Value::String(s)) => return json!(s),
        Some(Value::Number(n)) => return json!(n.to_string()),
        Some(Value::Bool(b)) => return json!(b.to_string()),
        _ => {}
    }
    if let Some(d) = schema.get("default").filter(|d| d.is_string()) {
        return d.clone();
    }
    if let Some(e) = schema
        .get("examples")
        .and_then(Value::as_array)
        .and_then(|e| e.first())
        .filter(|e| e.is_string())
    {
        return e.clone();
    }
    let formatted = match schema.get("format").and_then(Value::as_str) {
        Some("date-time") => Some("2025-01-01T00:00:00Z"),
        Some("date") => Some("2025-01-01"),
        Some("time") => Some("00:00:00Z"),
        Some("email") => Some("user@example.com"),
        Some("uri") | Some("url") => Some("https://example.com/"),
        Some("uuid") => Some("00000000-0000-4000-8000-000000000000"),
        Some("hostname") => Some("example.com"),
        Some("ipv4") => Some("192.0.2.1"),
        Some("ipv6") => Some("2001:db8::1"),
        _ => None,
    };
    let mut s = match formatted {
        Some(f) => f.to_string(),
        None => fill.string(),
    };
    if let Some(max) = schema.get("maxLength").and_then(Value::as_u64) {
        s = s.chars().take(max as usize).collect();
    }
    if let Some(min) = schema.get("minLength").and_then(Value::as_u64) {
        while (s.chars().count() as u64) < min {
            s.push('x');
        }
    }
    json!(s)
}

fn number(value: Option<&Value>, schema: &Value, integer: bool) -> Value {
    let given = match value {
        Some(Value::Number(n)) => n.as_f64(),
        Some(Value::String(s)) => s.trim().parse::<f64>().ok(),
        _ => None,
    };
    let min = schema.get("minimum").and_then(Value::as_f64).or_else(|| {
        schema
            .get("exclusiveMinimum")
            .and_then(Value::as_f64)
            .map(|m| m + 1.0)
    });
    let max = schema.get("maximum").and_then(Value::as_f64).or_else(|| {
        schema
            .get("exclusiveMaximum")
            .and_then(Value::as_f64)
            .map(|m| m - 1.0)
    });
    let default = schema.get("default").and_then(Value::as_f64);
    let mut n = given.or(default).unwrap_or(0.0);
    if let Some(m) = min {
        n = n.max(m);
    }
    if let Some(m) = max {
        n = n.min(m);
    }
    if integer {
        let i = n.round() as i64;
        // An unchanged integer keeps its representation.
        if let Some(v @ Value::Number(x)) = value {
            if x.as_i64() == Some(i) || (x.is_u64() && x.as_u64() == u64::try_from(i).ok()) {
                return v.clone();
            }
        }
        json!(i)
    } else {
        if let Some(v @ Value::Number(x)) = value {
            if x.as_f64() == Some(n) {
                return v.clone();
            }
        }
        if n.fract() == 0.0 && n.abs() < 9e15 {
            json!(n as i64)
        } else {
            json!(n)
        }
    }
}

/// OpenAI's rules for a strict schema (Structured Outputs): every object lists all its
/// properties in `required` and sets `additionalProperties: false`, and the root is an
/// object. The first broken rule, worded as OpenAI words it (`In context=(...)`).
pub(crate) fn strict_violation(schema: &Value) -> Option<String> {
    let root_type = types(resolve(schema, schema));
    if !root_type.contains(&"object") || schema.get("anyOf").is_some() {
        return Some(
            "schema must be a JSON Schema of 'type: \"object\"', got 'type: \"".to_string()
                + root_type.first().copied().unwrap_or("None")
                + "\"'.",
        );
    }
    let mut path = Vec::new();
    walk_strict(schema, &mut path)
}

fn context(path: &[String]) -> String {
    match path.len() {
        0 => "()".into(),
        1 => format!("('{}',)", path[0]),
        _ => format!(
            "({})",
            path.iter()
                .map(|p| format!("'{p}'"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

fn walk_strict(schema: &Value, path: &mut Vec<String>) -> Option<String> {
    let obj = schema.as_object()?;
    if types(schema).contains(&"object") && obj.get("$ref").is_none() {
        if obj.get("additionalProperties") != Some(&Value::Bool(false)) {
            return Some(format!(
                "In context={}, 'additionalProperties' is required to be supplied and to be false.",
                context(path)
            ));
        }
        let props: Vec<&String> = obj
            .get("properties")
            .and_then(Value::as_object)
            .map(|p| p.keys().collect())
            .unwrap_or_default();
        let required: Vec<&str> = obj
            .get("required")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        if let Some(missing) = props.iter().find(|p| !required.contains(&p.as_str())) {
            return Some(format!(
                "In context={}, 'required' is required to be supplied and to be an array including every key in properties. Missing '{missing}'.",
                context(path)
            ));
        }
    }
    for (key, sub) in obj {
        match key.as_str() {
            "properties" | "$defs" | "definitions" => {
                if let Some(map) = sub.as_object() {
                    for (name, s) in map {
                        path.push(key.clone());
                        path.push(name.clone());
                        let r = walk_strict(s, path);
                        path.truncate(path.len() - 2);
                        if r.is_some() {
                            return r;
                        }
                    }
                }
            }
            "items" | "additionalProperties" if sub.is_object() => {
                path.push(key.clone());
                let r = walk_strict(sub, path);
                path.pop();
                if r.is_some() {
                    return r;
                }
            }
            "anyOf" | "allOf" | "oneOf" => {
                if let Some(list) = sub.as_array() {
                    for (i, s) in list.iter().enumerate() {
                        path.push(key.clone());
                        path.push(i.to_string());
                        let r = walk_strict(s, path);
                        path.truncate(path.len() - 2);
                        if r.is_some() {
                            return r;
                        }
                    }
                }
            }
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema() -> Value {
        json!({
            "type": "object",
            "properties": {
                "order_id": {"type": "string"},
                "count": {"type": "integer", "minimum": 1},
                "express": {"type": "boolean"},
                "tags": {"type": "array", "items": {"type": "string", "enum": ["a", "b"]}},
                "note": {"type": ["string", "null"]},
                "address": {"$ref": "#/$defs/address"}
            },
            "required": ["order_id", "count", "express", "tags", "note", "address"],
            "additionalProperties": false,
            "$defs": {"address": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"], "additionalProperties": false}}
        })
    }

    #[test]
    fn keeps_what_fits_and_fills_the_rest() {
        let s = schema();
        let good = json!({"order_id": "A-1", "count": 2, "express": true, "tags": ["b"], "note": null, "address": {"city": "Paris"}});
        assert!(fits(&good, &s, &s));
        let fixed = conform(
            Some(&json!({"order_id": 12, "count": 0, "extra": 1, "tags": ["z"]})),
            &s,
            &s,
            &Fill::new("hello"),
        );
        assert_eq!(fixed["order_id"], "12");
        assert_eq!(fixed["count"], 1);
        assert_eq!(fixed["express"], false);
        assert_eq!(fixed["tags"], json!(["a"]));
        assert_eq!(fixed["note"], "hello");
        assert_eq!(fixed["address"], json!({"city": ""}));
        assert!(fixed.get("extra").is_none());
        assert!(fits(&fixed, &s, &s));
    }

    #[test]
    fn strict_rules() {
        assert_eq!(strict_violation(&schema()), None);
        let mut s = schema();
        s["$defs"]["address"]
            .as_object_mut()
            .unwrap()
            .remove("additionalProperties");
        assert_eq!(
            strict_violation(&s).unwrap(),
            "In context=('$defs', 'address'), 'additionalProperties' is required to be supplied and to be false."
        );
        let s = json!({"type": "object", "properties": {"a": {"type": "string"}}, "additionalProperties": false});
        assert!(strict_violation(&s).unwrap().ends_with("Missing 'a'."));
        assert!(strict_violation(&json!({"type": "array"})).is_some());
    }
}
