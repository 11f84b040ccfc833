//! The cost limit as a limit: before a request is sent, its worst case (its prompt counted
//! with the tokenizer, and an answer as long as the cap) is reserved; when its answer arrives,
//! the reservation becomes what the API says it used. A request whose worst case does not fit
//! under `maxCostUsd` beside what is spent and reserved is not sent.

use std::sync::Mutex;

/// Spending of one evaluation call, in USD.
#[derive(Debug)]
pub struct Budget {
    max: Option<f64>,
    /// (spent, reserved).
    state: Mutex<(f64, f64)>,
}

impl Budget {
    pub fn new(max: Option<f64>) -> Budget {
        Budget {
            max,
            state: Mutex::new((0.0, 0.0)),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (f64, f64)> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Reserves `worst` for a request: false (nothing reserved) when it could take the total
    /// past the limit. Without a limit, always true.
    pub fn reserve(&self, worst: f64) -> bool {
        let Some(max) = self.max else {
            return true;
        };
        let mut s = self.lock();
        if s.0 + s.1 + worst > max + 1e-12 {
            return false;
        }
        s.1 += worst;
        true
    }

    /// The request reserved with `worst` was answered and cost `actual`.
    pub fn settle(&self, worst: f64, actual: f64) {
        let mut s = self.lock();
        if self.max.is_some() {
            s.1 = (s.1 - worst).max(0.0);
        }
        s.0 += actual;
    }

    /// The request reserved with `worst` got no answer (nothing to pay).
    pub fn release(&self, worst: f64) {
        if self.max.is_some() {
            let mut s = self.lock();
            s.1 = (s.1 - worst).max(0.0);
        }
    }

    /// Spent so far.
    pub fn spent(&self) -> f64 {
        self.lock().0
    }

    pub fn max(&self) -> Option<f64> {
        self.max
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_that_could_pass_the_limit_is_refused() {
        let b = Budget::new(Some(1.0));
        assert!(b.reserve(0.4));
        assert!(b.reserve(0.4));
        // 0.8 reserved: a third worst case of 0.4 could end at 1.2.
        assert!(!b.reserve(0.4));
        b.settle(0.4, 0.1);
        b.settle(0.4, 0.1);
        assert!((b.spent() - 0.2).abs() < 1e-12);
        assert!(b.reserve(0.4) && b.reserve(0.4));
        assert!(!b.reserve(0.01));
        b.release(0.4);
        assert!(b.reserve(0.3));
        assert!(Budget::new(None).reserve(1e9));
    }
}
