//! Delivery of the core's progress events to `onProgress` (their TypeScript type,
//! `ProgressEvent`, is generated from the core's enum).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use napi::threadsafe_function::ThreadsafeFunctionCallMode;
use tokio::sync::oneshot;

use crate::convert::Json;
use crate::ProgressCallback;
use fine_tune_core as core;

/// Hands progress events to the JS callback in order, and tells when the last one has run, so
/// that a call's promise settles only after its every event was delivered.
pub struct Delivery {
    tsfn: Arc<ProgressCallback>,
    /// Signalled when the most recently queued event has been handled on the JS thread.
    last: Arc<Mutex<Option<oneshot::Receiver<()>>>>,
}

impl Delivery {
    pub fn new(tsfn: ProgressCallback) -> Self {
        Delivery {
            tsfn: Arc::new(tsfn),
            last: Arc::new(Mutex::new(None)),
        }
    }

    /// The core's progress function. Events are queued under one lock, so the queue's order
    /// is the order of the calls and the stored receiver is always the last event's.
    pub fn callback(&self) -> core::ProgressFn {
        let (tsfn, last) = (self.tsfn.clone(), self.last.clone());
        Arc::new(move |ev: core::ProgressEvent| {
            let (tx, rx) = oneshot::channel();
            let mut last = last.lock().unwrap_or_else(|p| p.into_inner());
            // The callback's result, and any exception it throws, are ignored.
            tsfn.call_with_return_value(
                Json(ev),
                ThreadsafeFunctionCallMode::NonBlocking,
                move |_, _| {
                    let _ = tx.send(());
                    Ok(())
                },
            );
            *last = Some(rx);
        })
    }

    /// Waits until every queued event has been handled (events are handled in queue order),
    /// or a few seconds if the JS thread is gone.
    pub async fn delivered(self) {
        let rx = self.last.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(rx) = rx {
            let _ = tokio::time::timeout(Duration::from_secs(5), rx).await;
        }
    }
}
