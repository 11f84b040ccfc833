//! The Models API: a model's facts (its `shutdown_date`), the list, and deleting a fine-tuned
//! model.

use crate::calc::ids::path_segment;
use reqwest::Method;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::transport::Client;
use crate::types::api::List;
use crate::types::error::Result;

impl Client {
    /// `DELETE /models/{model}`: deletes a fine-tuned model. Returns whether it was deleted
    /// (`false`: the API no longer has it, 404).
    pub async fn delete_model(&self, model: &str, cancel: &CancellationToken) -> Result<bool> {
        let path = format!("/models/{}", path_segment(model));
        let answer: Result<Value> = self
            .send(|| Ok(self.request(Method::DELETE, &path)), cancel)
            .await;
        match answer {
            Ok(v) => Ok(v.get("deleted").and_then(Value::as_bool).unwrap_or(true)),
            Err(e) if e.status == Some(404) => Ok(false),
            Err(e) => Err(e),
        }
    }
    /// `GET /models/{model}` (OpenAI's `Model`, with its optional `shutdown_date`).
    pub async fn retrieve_model(&self, model: &str, cancel: &CancellationToken) -> Result<Value> {
        let path = format!("/models/{}", path_segment(model));
        self.send(|| Ok(self.request(Method::GET, &path)), cancel)
            .await
    }

    /// `GET /models`: every model (Azure: with `deprecation` and `lifecycle_status`).
    pub async fn list_models(&self, cancel: &CancellationToken) -> Result<List<Value>> {
        self.send(|| Ok(self.request(Method::GET, "/models")), cancel)
            .await
    }
}
