//! Reads what a caller passes, whatever it is, without trusting it: the options object is
//! walked with a depth limit, a cycle check and a budget of values (a circular or very deep
//! value used to overflow the stack and kill Node), only its own enumerable string keys are
//! read (as `Object.keys` and `JSON.stringify` do), a getter or Proxy trap that throws becomes
//! `ERR_INVALID_OPTION` naming the option (its exception is cleared, never left pending), and
//! numbers must be finite. A value that is not an object where options are expected is refused
//! from its type alone, without reading it.
//!
//! This file is the only one of the binding that calls Node-API directly (`napi::sys`): the
//! napi-rs wrappers leave a thrown exception pending, which this reader must clear.

use std::ptr;

use napi::bindgen_prelude::*;
use napi::sys;
use serde_json::{Map, Value};

use fine_tune_core as core;
use fine_tune_core::ErrorCode;

/// Deepest nesting of an options value (the options object itself is level 0).
pub const MAX_DEPTH: usize = 64;
/// Most values (of any kind, at any depth) in one options object.
pub const MAX_VALUES: usize = 100_000;
/// Most items of one array or keys of one object.
pub const MAX_ENTRIES: u32 = 10_000;
/// Longest string (in UTF-8 bytes) in options or as an argument.
pub const MAX_STRING_BYTES: usize = 1 << 20;
/// Most bytes of strings (keys included) in one options object, so that one long string
/// repeated in an array cannot make the copy huge.
pub const MAX_TOTAL_BYTES: usize = 16 << 20;

fn invalid(param: &str, message: String) -> core::Error {
    core::Error::new(ErrorCode::InvalidOption, message).with_param(param)
}

/// What a JavaScript value is, in words (`a string`, `an array`, `a Date`…).
fn article(kind: &str) -> String {
    let an = kind.starts_with(['a', 'e', 'i', 'o', 'u', 'A', 'E', 'I', 'O', 'U']);
    format!("{} {kind}", if an { "an" } else { "a" })
}

/// JavaScript's own spelling of a number that is not finite.
fn js_number(x: f64) -> &'static str {
    if x.is_nan() {
        "NaN"
    } else if x > 0.0 {
        "Infinity"
    } else {
        "-Infinity"
    }
}

/// A string cut to `max` characters for a message.
fn cut(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(max).collect::<String>())
    }
}

/// One step of the path to a value: `.key` or `[index]`.
#[derive(Clone)]
enum Step {
    Key(String),
    Index(u32),
}

/// `metadata.cfg.self`, `integrations[0].wandb`; a key that is not a plain name is quoted.
fn render(path: &[Step]) -> String {
    let mut out = String::new();
    for step in path {
        match step {
            Step::Index(i) => out.push_str(&format!("[{i}]")),
            Step::Key(k) => {
                let plain = !k.is_empty()
                    && k.chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$');
                let k = cut(k, 40);
                match (plain, out.is_empty()) {
                    (true, true) => out.push_str(&k),
                    (true, false) => out.push_str(&format!(".{k}")),
                    (false, _) => out.push_str(&format!("[{k:?}]")),
                }
            }
        }
    }
    if out.is_empty() {
        "options".into()
    } else {
        out
    }
}

/// Node-API calls that turn a thrown exception (cleared) or a failed call into a message.
#[derive(Clone, Copy)]
struct Js {
    env: sys::napi_env,
}

/// Why a value could not be read: what it threw, in words.
struct Fault(String);

type Read<T> = std::result::Result<T, Fault>;

impl Js {
    fn new(env: &Env) -> Js {
        Js { env: env.raw() }
    }

    fn check(self, status: sys::napi_status) -> Read<()> {
        if status == sys::Status::napi_ok {
            return Ok(());
        }
        Err(match self.take_exception() {
            Some(thrown) => Fault(format!("reading it threw {thrown}")),
            None => Fault(format!(
                "it cannot be read ({})",
                Status::from(status).as_ref()
            )),
        })
    }

    /// Clears a pending exception and says what it was.
    fn take_exception(self) -> Option<String> {
        let mut pending = false;
        unsafe { sys::napi_is_exception_pending(self.env, &mut pending) };
        if !pending {
            return None;
        }
        let mut exc = ptr::null_mut();
        unsafe { sys::napi_get_and_clear_last_exception(self.env, &mut exc) };
        Some(self.describe_thrown(exc))
    }

    /// A thrown value in words: a string or an Error's `message`, else its type. Reading the
    /// message may throw again: then that is cleared too.
    fn describe_thrown(self, exc: sys::napi_value) -> String {
        let text = |v: sys::napi_value| -> Option<String> {
            match self.type_of(v).ok()? {
                ValueType::String => self.string(v, 4096).ok()?.ok(),
                _ => None,
            }
        };
        if let Some(s) = text(exc) {
            return format!("{:?}", cut(&s, 200));
        }
        let mut is_error = false;
        unsafe { sys::napi_is_error(self.env, exc, &mut is_error) };
        if is_error {
            let mut msg = ptr::null_mut();
            let status = unsafe {
                sys::napi_get_named_property(self.env, exc, c"message".as_ptr(), &mut msg)
            };
            if status == sys::Status::napi_ok {
                if let Some(m) = text(msg) {
                    return format!("an Error: {}", cut(&m, 200));
                }
            } else {
                // A `message` getter that throws: its exception is not described further.
                let mut again = ptr::null_mut();
                unsafe { sys::napi_get_and_clear_last_exception(self.env, &mut again) };
            }
            return "an Error".into();
        }
        match self.type_of(exc) {
            Ok(t) => article(&t.to_string().to_lowercase()),
            Err(_) => "an exception".into(),
        }
    }

    fn type_of(self, v: sys::napi_value) -> Read<ValueType> {
        let mut t = 0;
        self.check(unsafe { sys::napi_typeof(self.env, v, &mut t) })?;
        Ok(ValueType::from(t))
    }

    fn is(
        self,
        v: sys::napi_value,
        f: unsafe extern "C" fn(sys::napi_env, sys::napi_value, *mut bool) -> sys::napi_status,
    ) -> Read<bool> {
        let mut b = false;
        self.check(unsafe { f(self.env, v, &mut b) })?;
        Ok(b)
    }

    /// The kind of a value in words for messages and checks: `string`, `array`, `Date`,
    /// `object` (a plain one, or any other object)…
    fn kind(self, v: sys::napi_value) -> Read<&'static str> {
        Ok(match self.type_of(v)? {
            ValueType::Undefined => "undefined",
            ValueType::Null => "null",
            ValueType::Boolean => "boolean",
            ValueType::Number => "number",
            ValueType::String => "string",
            ValueType::Symbol => "symbol",
            ValueType::Function => "function",
            ValueType::External => "external",
            ValueType::BigInt => "bigint",
            ValueType::Object => {
                if self.is(v, sys::napi_is_array)? {
                    "array"
                } else if self.is(v, sys::napi_is_typedarray)? {
                    "typed array"
                } else if self.is(v, sys::napi_is_arraybuffer)? {
                    "ArrayBuffer"
                } else if self.is(v, sys::napi_is_dataview)? {
                    "DataView"
                } else if self.is(v, sys::napi_is_date)? {
                    "Date"
                } else if self.is(v, sys::napi_is_promise)? {
                    "Promise"
                } else {
                    "object"
                }
            }
            _ => "value of unknown type",
        })
    }

    /// A string value, or `Err(bytes)` when it is longer than `max` bytes (not copied).
    fn string(self, v: sys::napi_value, max: usize) -> Read<std::result::Result<String, usize>> {
        let mut len = 0usize;
        self.check(unsafe {
            sys::napi_get_value_string_utf8(self.env, v, ptr::null_mut(), 0, &mut len)
        })?;
        if len > max {
            return Ok(Err(len));
        }
        let mut buf = vec![0u8; len + 1];
        let mut written = 0usize;
        self.check(unsafe {
            sys::napi_get_value_string_utf8(
                self.env,
                v,
                buf.as_mut_ptr().cast(),
                buf.len(),
                &mut written,
            )
        })?;
        buf.truncate(written);
        Ok(Ok(String::from_utf8(buf).unwrap_or_else(|e| {
            String::from_utf8_lossy(e.as_bytes()).into_owned()
        })))
    }

    fn number(self, v: sys::napi_value) -> Read<f64> {
        let mut x = 0.0;
        self.check(unsafe { sys::napi_get_value_double(self.env, v, &mut x) })?;
        Ok(x)
    }

    fn boolean(self, v: sys::napi_value) -> Read<bool> {
        let mut b = false;
        self.check(unsafe { sys::napi_get_value_bool(self.env, v, &mut b) })?;
        Ok(b)
    }

    fn length(self, array: sys::napi_value) -> Read<u32> {
        let mut n = 0;
        self.check(unsafe { sys::napi_get_array_length(self.env, array, &mut n) })?;
        Ok(n)
    }

    fn element(self, array: sys::napi_value, i: u32) -> Read<sys::napi_value> {
        let mut v = ptr::null_mut();
        self.check(unsafe { sys::napi_get_element(self.env, array, i, &mut v) })?;
        Ok(v)
    }

    /// The object's own enumerable string keys, as `Object.keys` gives them.
    fn own_keys(self, obj: sys::napi_value) -> Read<sys::napi_value> {
        let mut keys = ptr::null_mut();
        self.check(unsafe {
            sys::napi_get_all_property_names(
                self.env,
                obj,
                sys::KeyCollectionMode::own_only,
                sys::KeyFilter::enumerable | sys::KeyFilter::skip_symbols,
                sys::KeyConversion::numbers_to_strings,
                &mut keys,
            )
        })?;
        Ok(keys)
    }

    fn property(self, obj: sys::napi_value, key: sys::napi_value) -> Read<sys::napi_value> {
        let mut v = ptr::null_mut();
        self.check(unsafe { sys::napi_get_property(self.env, obj, key, &mut v) })?;
        Ok(v)
    }

    fn named(self, obj: sys::napi_value, name: &str) -> Read<sys::napi_value> {
        let name = std::ffi::CString::new(name).map_err(|_| Fault("bad name".into()))?;
        let mut v = ptr::null_mut();
        self.check(unsafe { sys::napi_get_named_property(self.env, obj, name.as_ptr(), &mut v) })?;
        Ok(v)
    }

    fn same(self, a: sys::napi_value, b: sys::napi_value) -> Read<bool> {
        let mut eq = false;
        self.check(unsafe { sys::napi_strict_equals(self.env, a, b, &mut eq) })?;
        Ok(eq)
    }

    fn global(self) -> Read<sys::napi_value> {
        let mut g = ptr::null_mut();
        self.check(unsafe { sys::napi_get_global(self.env, &mut g) })?;
        Ok(g)
    }

    fn instance_of(self, v: sys::napi_value, ctor: sys::napi_value) -> Read<bool> {
        let mut b = false;
        self.check(unsafe { sys::napi_instanceof(self.env, v, ctor, &mut b) })?;
        Ok(b)
    }
}

/// Refuses `v` where an options object is expected unless it is one: `undefined` and `null`
/// are no options, anything else that is not a plain object (a string of any size, a number,
/// an array, a function…) is `ERR_INVALID_OPTION` from its type alone, without reading it.
pub fn options_object<'e>(env: &Env, v: Option<Object<'e>>) -> core::Result<Option<Object<'e>>> {
    let Some(obj) = v else { return Ok(None) };
    let js = Js::new(env);
    let kind = js
        .kind(obj.raw())
        .map_err(|Fault(why)| invalid("options", format!("options: {why}")))?;
    match kind {
        "undefined" | "null" => Ok(None),
        "object" => Ok(Some(obj)),
        k => Err(invalid(
            "options",
            format!("options must be an object, got {}", article(k)),
        )),
    }
}

/// A string argument of an export (`modelKey`, `jobId`, `source`…), or `ERR_INVALID_OPTION`
/// naming it.
pub fn string_arg(env: &Env, v: sys::napi_value, name: &str) -> core::Result<String> {
    let js = Js::new(env);
    let wrong = |why: String| invalid(name, format!("{name} {why}"));
    let kind = js.kind(v).map_err(|Fault(w)| wrong(w))?;
    if kind != "string" {
        return Err(wrong(format!("must be a string, got {}", article(kind))));
    }
    match js
        .string(v, MAX_STRING_BYTES)
        .map_err(|Fault(w)| wrong(w))?
    {
        Ok(s) => Ok(s),
        Err(len) => Err(wrong(format!(
            "is {len} bytes long; allowed: at most {MAX_STRING_BYTES}"
        ))),
    }
}

/// A property of `obj` as a raw value (a getter that throws: `ERR_INVALID_OPTION` naming
/// `key` and what it threw).
pub fn property(env: &Env, obj: &Object, key: &str) -> core::Result<sys::napi_value> {
    Js::new(env)
        .named(obj.raw(), key)
        .map_err(|Fault(why)| invalid(key, format!("option {key}: {why}")))
}

/// The type of a raw value (a failure: `ERR_INVALID_OPTION` naming `key`).
pub fn type_of(env: &Env, v: sys::napi_value, key: &str) -> core::Result<ValueType> {
    Js::new(env)
        .type_of(v)
        .map_err(|Fault(why)| invalid(key, format!("option {key}: {why}")))
}

/// Reads `signal`: absent, or a real `AbortSignal` (an instance of the global `AbortSignal`
/// whose `aborted` getter answers a boolean, so neither `{ aborted: true }` nor an object made
/// from its prototype passes). Its abort cancels `cancel`, and a signal that is already
/// aborted cancels it at once.
pub fn signal(
    env: &Env,
    obj: Option<&Object>,
    cancel: &core::CancellationToken,
) -> core::Result<()> {
    let Some(obj) = obj else { return Ok(()) };
    let js = Js::new(env);
    let v = property(env, obj, "signal")?;
    let not_a_signal = |why: String| {
        invalid(
            "signal",
            format!("option signal must be an AbortSignal (from an AbortController), {why}"),
        )
    };
    let kind = js.kind(v).map_err(|Fault(w)| not_a_signal(w))?;
    match kind {
        "undefined" | "null" => return Ok(()),
        "object" => {}
        k => return Err(not_a_signal(format!("got {}", article(k)))),
    }
    let ctor = js
        .global()
        .and_then(|g| js.named(g, "AbortSignal"))
        .map_err(|Fault(w)| not_a_signal(w))?;
    if js.type_of(ctor).ok() == Some(ValueType::Function)
        && !js
            .instance_of(v, ctor)
            .map_err(|Fault(w)| not_a_signal(w))?
    {
        return Err(not_a_signal("got an object that is not one".into()));
    }
    let aborted = js
        .named(v, "aborted")
        .and_then(|a| match js.type_of(a)? {
            ValueType::Boolean => js.boolean(a),
            _ => Err(Fault("its aborted is not a boolean".into())),
        })
        .map_err(|Fault(w)| not_a_signal(w))?;
    let listen = js
        .named(v, "addEventListener")
        .and_then(|f| js.type_of(f))
        .map_err(|Fault(w)| not_a_signal(w))?;
    if listen != ValueType::Function {
        return Err(not_a_signal("it has no addEventListener".into()));
    }
    let signal = unsafe { AbortSignal::from_napi_value(env.raw(), v) }.map_err(|e| {
        js.take_exception();
        not_a_signal(e.reason.clone())
    })?;
    let c = cancel.clone();
    signal.on_abort(move || c.cancel());
    if aborted {
        cancel.cancel();
    }
    Ok(())
}

/// Numbers with a floor the core does not enforce itself (its checks live in core files this
/// reader cannot change yet): `(option, minimum, why)`.
const FLOORS: &[(&str, f64, &str)] = &[(
    "pollIntervalMs",
    50.0,
    "ms (each poll is a request; 5000 is the default)",
)];

/// Reads an options object into JSON for the core to deserialize (which names every missing,
/// unknown or mistyped option itself), leaving out the keys in `skip` (callbacks and signals,
/// read apart) and top-level `undefined`/`null` (absent). See the module's documentation for
/// what is refused; each refusal is `ERR_INVALID_OPTION` with `param` the value's path.
pub fn options_json(env: &Env, obj: Option<&Object>, skip: &[&str]) -> core::Result<Value> {
    let Some(obj) = obj else {
        return Ok(Value::Object(Map::new()));
    };
    let mut walk = Walk {
        js: Js::new(env),
        values: 0,
        bytes: 0,
        ancestors: Vec::new(),
        path: Vec::new(),
    };
    let map = walk.object(obj.raw(), skip)?;
    for &(name, min, why) in FLOORS {
        if let Some(x) = map.get(name).and_then(Value::as_f64) {
            if x < min {
                return Err(invalid(
                    name,
                    format!("option {name} is {x}; allowed: at least {min} {why}"),
                ));
            }
        }
    }
    Ok(Value::Object(map))
}

struct Walk {
    js: Js,
    values: usize,
    /// Bytes of the strings read so far.
    bytes: usize,
    /// The objects and arrays being read, outermost first, with the path length at each.
    ancestors: Vec<(sys::napi_value, usize)>,
    path: Vec<Step>,
}

impl Walk {
    fn here(&self) -> String {
        render(&self.path)
    }

    fn fail(&self, why: impl std::fmt::Display) -> core::Error {
        let path = self.here();
        invalid(&path, format!("option {path}: {why}"))
    }

    fn read<T>(&self, r: Read<T>) -> core::Result<T> {
        r.map_err(|Fault(why)| self.fail(why))
    }

    /// A string (a key or a value), counted against the budget of bytes.
    fn string(&mut self, v: sys::napi_value, what: &str) -> core::Result<String> {
        let max = MAX_STRING_BYTES.min(MAX_TOTAL_BYTES - self.bytes);
        match self.read(self.js.string(v, max))? {
            Ok(s) => {
                self.bytes += s.len();
                Ok(s)
            }
            Err(len) if len > MAX_STRING_BYTES => Err(self.fail(format!(
                "{} of {len} bytes; allowed: at most {MAX_STRING_BYTES}",
                article(what)
            ))),
            Err(_) => Err(self.fail(format!(
                "the options hold more than {MAX_TOTAL_BYTES} bytes of strings"
            ))),
        }
    }

    /// Checks that `v` (an object or array) is not one of the values it is inside of, and
    /// that it is not nested too deep; then makes it the innermost ancestor.
    fn enter(&mut self, v: sys::napi_value) -> core::Result<()> {
        for &(a, len) in &self.ancestors {
            if self.read(self.js.same(a, v))? {
                let to = render(&self.path[..len]);
                return Err(self.fail(format!(
                    "a circular reference (back to {})",
                    if len == 0 {
                        "the options object itself".into()
                    } else {
                        to
                    }
                )));
            }
        }
        if self.ancestors.len() > MAX_DEPTH {
            return Err(self.fail(format!("nested deeper than {MAX_DEPTH} levels")));
        }
        self.ancestors.push((v, self.path.len()));
        Ok(())
    }

    /// The own enumerable string-keyed properties of `v` but `skip`, `undefined` ones left
    /// out (and `null` ones too at the top level, where `null` means absent).
    fn object(&mut self, v: sys::napi_value, skip: &[&str]) -> core::Result<Map<String, Value>> {
        self.enter(v)?;
        let js = self.js;
        let keys = self.read(js.own_keys(v))?;
        let n = self.read(js.length(keys))?;
        if n > MAX_ENTRIES {
            return Err(self.fail(format!("it has {n} keys; allowed: at most {MAX_ENTRIES}")));
        }
        let top = self.ancestors.len() == 1;
        let mut map = Map::new();
        for i in 0..n {
            let key_v = self.read(js.element(keys, i))?;
            let key = self.string(key_v, "key")?;
            if top && skip.contains(&key.as_str()) {
                continue;
            }
            self.path.push(Step::Key(key.clone()));
            let item = js.property(v, key_v);
            let value = self.read(item).and_then(|item| self.value(item))?;
            self.path.pop();
            match value {
                None => {}
                Some(Value::Null) if top => {}
                Some(value) => {
                    map.insert(key, value);
                }
            }
        }
        self.ancestors.pop();
        Ok(map)
    }

    fn array(&mut self, v: sys::napi_value) -> core::Result<Vec<Value>> {
        self.enter(v)?;
        let js = self.js;
        let n = self.read(js.length(v))?;
        if n > MAX_ENTRIES {
            return Err(self.fail(format!("it has {n} items; allowed: at most {MAX_ENTRIES}")));
        }
        let mut items = Vec::with_capacity(n as usize);
        for i in 0..n {
            self.path.push(Step::Index(i));
            let item = js.element(v, i);
            let value = self.read(item).and_then(|item| self.value(item))?;
            self.path.pop();
            // As in JSON, an array keeps its positions: `undefined` is `null`.
            items.push(value.unwrap_or(Value::Null));
        }
        self.ancestors.pop();
        Ok(items)
    }

    /// One value as JSON; `None` for `undefined`.
    fn value(&mut self, v: sys::napi_value) -> core::Result<Option<Value>> {
        self.values += 1;
        if self.values > MAX_VALUES {
            return Err(self.fail(format!("the options hold more than {MAX_VALUES} values")));
        }
        let js = self.js;
        let kind = self.read(js.kind(v))?;
        Ok(Some(match kind {
            "undefined" => return Ok(None),
            "null" => Value::Null,
            "boolean" => Value::Bool(self.read(js.boolean(v))?),
            "number" => {
                let x = self.read(js.number(v))?;
                if !x.is_finite() {
                    let path = self.here();
                    let help = core::options::OPTIONS
                        .iter()
                        .find(|o| o.name == path)
                        .map(|o| format!(" ({})", o.help))
                        .unwrap_or_default();
                    return Err(invalid(
                        &path,
                        format!(
                            "option {path} is {}; allowed: a finite number{help}",
                            js_number(x)
                        ),
                    ));
                }
                number(x)
            }
            "string" => Value::String(self.string(v, "string")?),
            "array" => Value::Array(self.array(v)?),
            "object" => Value::Object(self.object(v, &[])?),
            "bigint" => return Err(self.fail("expected data, got a bigint (use a number)")),
            k => return Err(self.fail(format!("expected data, got {}", article(k)))),
        }))
    }
}

/// A finite number as JSON: an integer when it is one (so the core's integer options read
/// it), else a float.
fn number(x: f64) -> Value {
    const SAFE: f64 = 9_007_199_254_740_991.0;
    if x.fract() == 0.0 && x.abs() <= SAFE {
        Value::from(x as i64)
    } else {
        serde_json::Number::from_f64(x).map_or(Value::Null, Value::Number)
    }
}
