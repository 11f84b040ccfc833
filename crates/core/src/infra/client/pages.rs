//! Lists read page by page (`GET` with `limit` and an `after` cursor, answered as a
//! [`List`] with `has_more`): one page, or every page.

use reqwest::Method;
use serde::de::DeserializeOwned;
use tokio_util::sync::CancellationToken;

use super::transport::Client;
use crate::types::api::List;
use crate::types::error::Result;

impl Client {
    /// One page: `GET path` with `query`, and `after` (the cursor) when given.
    pub(super) async fn page<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, &str)],
        after: Option<&str>,
        cancel: &CancellationToken,
    ) -> Result<List<T>> {
        self.send(
            || {
                let mut rb = self.request(Method::GET, path).query(query);
                if let Some(a) = after {
                    rb = rb.query(&[("after", a)]);
                }
                Ok(rb)
            },
            cancel,
        )
        .await
    }

    /// Every page, in the API's order, each asked for after the last item of the one before
    /// (named by `id`), until one says it is the last or is empty; at most `max_pages`.
    pub(super) async fn all_pages<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, &str)],
        max_pages: usize,
        id: fn(&T) -> &str,
        cancel: &CancellationToken,
    ) -> Result<Vec<T>> {
        let mut out: Vec<T> = Vec::new();
        for _ in 0..max_pages {
            let after = out.last().map(|x| id(x).to_string());
            let page: List<T> = self.page(path, query, after.as_deref(), cancel).await?;
            let n = page.data.len();
            out.extend(page.data);
            if !page.has_more || n == 0 {
                break;
            }
        }
        Ok(out)
    }
}
