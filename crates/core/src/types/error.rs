//! Errors as data: every failure carries a stable `code` that callers can branch on.

use std::fmt;

/// Declares [`ErrorCode`], its string forms and the list of all codes from one table.
macro_rules! error_codes {
    ($( $(#[$doc:meta])* $name:ident => $s:literal, )*) => {
        /// The stable error codes. Their string forms are part of the public API (README,
        /// `index.d.ts`).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $( $(#[$doc])* $name, )*
        }

        impl ErrorCode {
            /// Every code.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$name),*];

            /// The code as JavaScript sees it in `error.code`.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(ErrorCode::$name => $s,)*
                }
            }
        }
    };
}

error_codes! {
    /// A required option is missing or empty.
    MissingOption => "ERR_MISSING_OPTION",
    /// An option has a value that is not allowed.
    InvalidOption => "ERR_INVALID_OPTION",
    /// The modelKey is already registered.
    DuplicateModelKey => "ERR_DUPLICATE_MODEL_KEY",
    /// The base model is not an OpenAI model.
    UnsupportedBaseModel => "ERR_UNSUPPORTED_BASE_MODEL",
    /// No API key was given and none is in the environment.
    MissingApiKey => "ERR_MISSING_API_KEY",
    /// A local training or validation file does not exist or cannot be read.
    SourceNotFound => "ERR_SOURCE_NOT_FOUND",
    /// A URL source could not be downloaded (bad status, HTML page, network, too large).
    SourceFetch => "ERR_SOURCE_FETCH",
    /// The training data breaks OpenAI's rules.
    InvalidTrainingData => "ERR_INVALID_TRAINING_DATA",
    /// The registry file exists but is not a JSON object.
    RegistryCorrupt => "ERR_REGISTRY_CORRUPT",
    /// The registry could not be read or written.
    RegistryIo => "ERR_REGISTRY_IO",
    /// The API refused the key (401/403).
    Authentication => "ERR_AUTHENTICATION",
    /// Rate limited, and retries did not help.
    RateLimited => "ERR_RATE_LIMITED",
    /// The account is out of quota, or a daily limit is reached (not retried).
    Quota => "ERR_QUOTA",
    /// Any other error answer of the API.
    Api => "ERR_API",
    /// The API could not be reached.
    Network => "ERR_NETWORK",
    /// The fine-tuning job failed.
    JobFailed => "ERR_JOB_FAILED",
    /// The fine-tuning job was cancelled.
    JobCancelled => "ERR_JOB_CANCELLED",
    /// The job did not finish within `timeoutMs`; it keeps running.
    Timeout => "ERR_TIMEOUT",
    /// Another run for this modelKey is in flight (another process, or different options).
    ModelKeyInProgress => "ERR_MODEL_KEY_IN_PROGRESS",
    /// Nothing is known about the modelKey (e.g. `cancelFineTune` of a key with no run).
    NotFound => "ERR_NOT_FOUND",
    /// A job to import has not finished yet.
    JobNotFinished => "ERR_JOB_NOT_FINISHED",
    /// An evaluation's estimated cost is above `maxCostUsd` (or cannot be estimated).
    CostLimit => "ERR_COST_LIMIT",
    /// The call was aborted through its `AbortSignal`.
    Aborted => "ABORT_ERR",
    /// OpenAI refused to create the job: self-serve fine-tuning is no longer available to the
    /// organization (OpenAI's fine-tuning wind-down). Not retried; the run's uploads are deleted.
    FineTuningUnavailable => "ERR_FINE_TUNING_UNAVAILABLE",
    /// The Azure deployment of the fine-tuned model failed (the model is trained and registered
    /// nowhere yet; calling again retries the deployment).
    DeploymentFailed => "ERR_DEPLOYMENT_FAILED",
    /// A bug or an unexpected local failure.
    Internal => "ERR_INTERNAL",
}

impl ErrorCode {
    /// The code of a string form, e.g. `ERR_NOT_FOUND`.
    pub fn parse(s: &str) -> Option<ErrorCode> {
        ErrorCode::ALL.iter().copied().find(|c| c.as_str() == s)
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failure of the pipeline, with everything a caller needs to act on it (its fields are
/// those of [`ErrorData`], boxed so that `Result`s stay small). It never holds the API key.
#[derive(Debug, Clone)]
pub struct Error(Box<ErrorData>);

impl std::ops::Deref for Error {
    type Target = ErrorData;
    fn deref(&self) -> &ErrorData {
        &self.0
    }
}

impl std::ops::DerefMut for Error {
    fn deref_mut(&mut self) -> &mut ErrorData {
        &mut self.0
    }
}

/// The contents of an [`Error`].
#[derive(Debug, Clone)]
pub struct ErrorData {
    /// The stable code.
    pub code: ErrorCode,
    /// A message a person can act on.
    pub message: String,
    /// The HTTP status of the API answer, where one caused this.
    pub status: Option<u16>,
    /// The `x-request-id` of that answer.
    pub request_id: Option<String>,
    /// The fine-tuning job this concerns, where one exists.
    pub job_id: Option<String>,
    /// OpenAI's own `error.code` (e.g. `invalid_n_examples`), where given.
    pub api_code: Option<String>,
    /// OpenAI's own `error.type`, where given.
    pub api_type: Option<String>,
    /// OpenAI's `error.param`, or the option at fault.
    pub param: Option<String>,
    /// Structured detail: the dataset report for `ERR_INVALID_TRAINING_DATA`.
    pub report: Option<serde_json::Value>,
}

impl Error {
    /// A new error with only a code and a message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Error(Box::new(ErrorData {
            code,
            message: message.into(),
            status: None,
            request_id: None,
            job_id: None,
            api_code: None,
            api_type: None,
            param: None,
            report: None,
        }))
    }

    /// Sets the job id.
    pub fn with_job(mut self, job_id: impl Into<String>) -> Self {
        self.job_id = Some(job_id.into());
        self
    }

    /// Keeps what the API answered in `cause` (its status, request id, code and type), for an
    /// error that explains it in other words.
    pub fn with_answer_of(mut self, cause: &Error) -> Self {
        self.status = cause.status;
        self.request_id = cause.request_id.clone();
        self.api_code = cause.api_code.clone();
        self.api_type = cause.api_type.clone();
        self
    }

    /// Sets the parameter or option at fault.
    pub fn with_param(mut self, param: impl Into<String>) -> Self {
        self.param = Some(param.into());
        self
    }

    /// True for an abort through the caller's signal.
    pub fn is_abort(&self) -> bool {
        self.code == ErrorCode::Aborted
    }

    /// The `ABORT_ERR` error of a call aborted through its signal.
    pub fn aborted() -> Self {
        Error::new(ErrorCode::Aborted, "The operation was aborted")
    }

    /// Whether the same request may succeed if sent again, by openai-node's rule: connection
    /// errors, timeouts, 408, 409, 429 and 5xx, but never an exhausted quota or an abort.
    pub fn is_retryable(&self) -> bool {
        match self.code {
            ErrorCode::Network | ErrorCode::RateLimited => true,
            ErrorCode::Quota | ErrorCode::Aborted => false,
            _ => self
                .status
                .is_some_and(|s| matches!(s, 408 | 409 | 429) || s >= 500),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for Error {}

/// Shorthand for results of this crate.
pub type Result<T> = std::result::Result<T, Error>;

/// Builds an [`Error`] from a code and a `format!` message.
#[macro_export]
macro_rules! err {
    ($code:ident, $($arg:tt)*) => {
        $crate::types::error::Error::new($crate::types::error::ErrorCode::$code, format!($($arg)*))
    };
}
