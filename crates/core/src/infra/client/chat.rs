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

impl Client {
    /// This client with at least `retries` retries per request (same delays, `retry-after`
    /// still honoured): an evaluation is many calls, and one transient failure among them
    /// should not end it.
    pub fn patient(&self, retries: u32) -> Client {
        let mut c = self.clone();
        c.conn.retry.max_retries = c.conn.retry.max_retries.max(retries);
        c
    }
}
