//! Chat completions (the evaluation's requests).

use reqwest::Method;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::transport::Client;
use crate::types::error::Result;

impl Client {
    /// `POST /chat/completions` with `body` (OpenAI's request, as JSON); the answer as JSON.
    /// Retried like every request (429s honour `retry-after`).
    pub async fn chat_completion(&self, body: &Value, cancel: &CancellationToken) -> Result<Value> {
        self.send(
            || Ok(self.request(Method::POST, "/chat/completions").json(body)),
            cancel,
        )
        .await
    }
}
