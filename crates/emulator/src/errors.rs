//! OpenAI-style error bodies: `{"error":{"message","type","param","code"}}` (the spec's `ErrorResponse`).

use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// An error answered to the client with OpenAI's error shape (boxed: handlers return it often).
#[derive(Debug, Clone)]
pub(crate) struct ApiError(Box<ErrorData>);

/// The contents of an [`ApiError`].
#[derive(Debug, Clone)]
pub(crate) struct ErrorData {
    /// HTTP status of the answer.
    pub status: StatusCode,
    /// Human-readable message.
    pub message: String,
    /// OpenAI error `type`, e.g. `invalid_request_error`.
    pub kind: String,
    /// The request parameter at fault, if any.
    pub param: Option<String>,
    /// Machine-readable code, if any.
    pub code: Option<String>,
    /// Extra headers (e.g. `retry-after`).
    pub headers: Vec<(HeaderName, HeaderValue)>,
}

impl ApiError {
    /// A generic error of the given status and type.
    pub fn new(status: StatusCode, kind: &str, message: impl Into<String>) -> Self {
        ApiError(Box::new(ErrorData {
            status,
            message: message.into(),
            kind: kind.to_string(),
            param: None,
            code: None,
            headers: Vec::new(),
        }))
    }

    /// 400 `invalid_request_error`, optionally naming the parameter.
    pub fn invalid(message: impl Into<String>, param: Option<&str>) -> Self {
        let mut e = Self::new(StatusCode::BAD_REQUEST, "invalid_request_error", message);
        e.0.param = param.map(str::to_string);
        e
    }

    /// 404 `invalid_request_error`.
    pub fn not_found(message: impl Into<String>, param: Option<&str>) -> Self {
        let mut e = Self::new(StatusCode::NOT_FOUND, "invalid_request_error", message);
        e.0.param = param.map(str::to_string);
        e
    }

    /// 500 `server_error`.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "server_error", message)
    }

    /// Sets the `code` field.
    pub fn code(mut self, code: &str) -> Self {
        self.0.code = Some(code.to_string());
        self
    }

    /// Adds a response header.
    pub fn header(mut self, name: &'static str, value: String) -> Self {
        if let Ok(v) = HeaderValue::from_str(&value) {
            self.0.headers.push((HeaderName::from_static(name), v));
        }
        self
    }

    /// The JSON body as OpenAI sends it.
    pub fn body(&self) -> serde_json::Value {
        json!({
            "error": {
                "message": self.0.message,
                "type": self.0.kind,
                "param": self.0.param,
                "code": self.0.code,
            }
        })
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut resp = (self.0.status, axum::Json(self.body())).into_response();
        for (k, v) in self.0.headers {
            resp.headers_mut().insert(k, v);
        }
        resp
    }
}

impl From<std::io::Error> for ApiError {
    fn from(e: std::io::Error) -> Self {
        ApiError::internal(format!(
            "The server had an error while processing your request: {e}"
        ))
    }
}

/// Result alias for handlers.
pub(crate) type ApiResult<T> = Result<T, ApiError>;
