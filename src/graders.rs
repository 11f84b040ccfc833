//! Graders written in JavaScript: `{ name, grade(answer, example) => number | Promise<number> }`
//! in `evaluateModel`'s `graders`, next to the built-in names. The core calls `grade` through a
//! threadsafe function (queued onto the JS thread, never blocking it) and awaits its result;
//! a throw, a rejection or a value that is not a number becomes that answer's error in the
//! report, not a crash.

use std::sync::Arc;

use napi::bindgen_prelude::*;
use napi::threadsafe_function::ThreadsafeFunction;
use napi_derive::napi;
use serde_json::Value;

use fine_tune_core as core;

/// An answer as a grader sees it.
#[napi(object, object_from_js = false)]
pub struct GradedAnswer {
    /// The answer's text (empty when it only calls tools).
    pub content: String,
    /// Its tool calls; `arguments` parsed as JSON when they are JSON.
    pub tool_calls: Vec<GradedToolCall>,
}

/// One tool call of an answer.
#[napi(object, object_from_js = false)]
pub struct GradedToolCall {
    pub name: String,
    #[napi(ts_type = "unknown")]
    pub arguments: Value,
}

/// An example as a grader sees it.
#[napi(object, object_from_js = false)]
pub struct GradedExample {
    /// Its line in the data (1-based).
    pub line: f64,
    /// The messages sent to both models.
    #[napi(ts_type = "Array<Record<string, unknown>>")]
    pub prompt: Value,
    /// The reference answer (the example's last assistant message).
    pub reference: GradedAnswer,
    /// The example's tools, if any.
    #[napi(ts_type = "Array<Record<string, unknown>> | null")]
    pub tools: Option<Value>,
}

/// A grader of your own, next to the built-in ones: `grade` scores one answer from 0 to 1
/// (a number or a promise of one). It is called once per answer, candidate's and baseline's,
/// on the JS thread (as a method of this object); a throw, a rejection or anything but a
/// number from 0 to 1 is that answer's error (`graderErrors`), and the example is left out of
/// this grader's scores.
#[napi(object, object_to_js = false)]
pub struct Grader {
    /// Its name in the report (not one of the built-in names).
    pub name: String,
    #[napi(ts_type = "(answer: GradedAnswer, example: GradedExample) => number | Promise<number>")]
    pub grade: JsGradeFn,
}

/// What `grade` returned: a number, or what it was instead.
pub enum Returned {
    Number(f64),
    Other(String),
}

impl FromNapiValue for Returned {
    unsafe fn from_napi_value(env: sys::napi_env, v: sys::napi_value) -> Result<Self> {
        let t = unsafe { Unknown::from_napi_value(env, v) }?.get_type()?;
        Ok(match t {
            ValueType::Number => Returned::Number(unsafe { f64::from_napi_value(env, v) }?),
            ValueType::String => {
                let s = unsafe { String::from_napi_value(env, v) }?;
                let shown: String = s.chars().take(40).collect();
                Returned::Other(format!("the string {shown:?}"))
            }
            t => Returned::Other(format!("{t}")),
        })
    }
}

/// `grade`'s return value: now, or a promise.
pub enum Graded {
    Now(Returned),
    Later(Promise<Returned>),
}

impl FromNapiValue for Graded {
    unsafe fn from_napi_value(env: sys::napi_env, v: sys::napi_value) -> Result<Self> {
        let mut is_promise = false;
        let status = unsafe { sys::napi_is_promise(env, v, &mut is_promise) };
        if status == sys::Status::napi_ok && is_promise {
            Ok(Graded::Later(unsafe { Promise::from_napi_value(env, v) }?))
        } else {
            Ok(Graded::Now(unsafe { Returned::from_napi_value(env, v) }?))
        }
    }
}

/// `grade`, callable from any thread.
pub type JsGradeFn =
    ThreadsafeFunction<FnArgs<(Value, Value)>, Graded, FnArgs<(Value, Value)>, Status, false>;

fn invalid(at: &str, why: &str) -> core::Error {
    core::Error::new(
        core::ErrorCode::InvalidOption,
        format!("option {at}: {why}"),
    )
    .with_param("graders")
}

/// One grader object: its name and `grade` bound to it.
fn custom(obj: Object, at: &str) -> core::Result<core::evaluate::CustomGrader> {
    let name: Unknown = obj
        .get_named_property("name")
        .map_err(|e| invalid(at, &e.reason))?;
    if name.get_type().ok() != Some(ValueType::String) {
        return Err(invalid(at, "a grader object needs a string name"));
    }
    let name = unsafe { String::from_napi_value(name.value().env, name.raw()) }
        .map_err(|e| invalid(at, &e.reason))?;
    let grade: Unknown = obj
        .get_named_property("grade")
        .map_err(|e| invalid(at, &e.reason))?;
    if grade.get_type().ok() != Some(ValueType::Function) {
        return Err(invalid(
            at,
            &format!("grader {name:?} needs a function grade(answer, example)"),
        ));
    }
    let env = grade.value().env;
    let f =
        unsafe { Function::<FnArgs<(Value, Value)>, Graded>::from_napi_value(env, grade.raw()) }
            .map_err(|e| invalid(at, &e.reason))?;
    let tsfn: JsGradeFn = f
        .bind(obj)
        .and_then(|b| {
            b.build_threadsafe_function::<FnArgs<(Value, Value)>>()
                .callee_handled::<false>()
                .build()
        })
        .map_err(|e| invalid(at, &e.reason))?;
    Ok(core::evaluate::CustomGrader {
        name,
        grade: grade_fn(tsfn),
    })
}

/// The `graders` option: the names (built-in, or the objects' names) and the objects as the
/// core's graders. `None` when absent.
pub fn read_graders(
    obj: Option<&Object>,
) -> core::Result<Option<(Vec<String>, Vec<core::evaluate::CustomGrader>)>> {
    let Some(obj) = obj else { return Ok(None) };
    let v: Unknown = obj
        .get_named_property("graders")
        .map_err(|e| invalid("graders", &e.reason))?;
    match v.get_type().map_err(|e| invalid("graders", &e.reason))? {
        ValueType::Undefined | ValueType::Null => return Ok(None),
        ValueType::Object if v.is_array().unwrap_or(false) => {}
        t => {
            return Err(invalid(
                "graders",
                &format!(
                    "expected an array of grader names or {{ name, grade }} objects, got a {t}"
                ),
            ))
        }
    }
    let arr = unsafe { Array::from_napi_value(v.value().env, v.raw()) }
        .map_err(|e| invalid("graders", &e.reason))?;
    let (mut names, mut custom_graders) = (Vec::new(), Vec::new());
    for i in 0..arr.len() {
        let at = format!("graders[{i}]");
        let item: Unknown = arr
            .get(i)
            .map_err(|e| invalid(&at, &e.reason))?
            .ok_or_else(|| invalid(&at, "missing"))?;
        match item.get_type().map_err(|e| invalid(&at, &e.reason))? {
            ValueType::String => names.push(
                unsafe { String::from_napi_value(item.value().env, item.raw()) }
                    .map_err(|e| invalid(&at, &e.reason))?,
            ),
            ValueType::Object => {
                let o = unsafe { Object::from_napi_value(item.value().env, item.raw()) }
                    .map_err(|e| invalid(&at, &e.reason))?;
                let g = custom(o, &at)?;
                names.push(g.name.clone());
                custom_graders.push(g);
            }
            t => {
                return Err(invalid(
                    &at,
                    &format!("expected a grader name or a {{ name, grade }} object, got a {t}"),
                ))
            }
        }
    }
    Ok(Some((names, custom_graders)))
}

/// The core's grade function over a JS `grade`.
fn grade_fn(tsfn: JsGradeFn) -> core::evaluate::GradeFn {
    let tsfn = Arc::new(tsfn);
    Arc::new(move |answer: Value, example: Value| {
        let tsfn = tsfn.clone();
        Box::pin(async move {
            let thrown = |e: Error| {
                if e.reason.is_empty() {
                    "threw".to_string()
                } else {
                    format!("threw: {}", e.reason)
                }
            };
            let got = tsfn
                .call_async_catch(FnArgs::from((answer, example)))
                .await
                .map_err(thrown)?;
            let r = match got {
                Graded::Now(r) => r,
                Graded::Later(p) => p.await.map_err(|e| {
                    let why = e.reason.trim_start_matches("Error: ").to_string();
                    format!("rejected: {why}")
                })?,
            };
            match r {
                Returned::Number(x) => Ok(x),
                Returned::Other(what) => Err(format!("returned {what}, not a number")),
            }
        })
    })
}
