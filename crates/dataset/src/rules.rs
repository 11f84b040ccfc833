//! OpenAI's fine-tuning data rules, in one place: what the checker enforces and what the
//! emulator's server-side checks enforce come from here.

/// OpenAI's minimum number of training examples.
pub const MIN_EXAMPLES: u64 = 10;

/// Below this many examples the checker warns (`few_examples`).
pub const RECOMMENDED_MIN_EXAMPLES: u64 = 50;

/// The roles a chat message may have.
pub const ROLES: &[&str] = &[
    "system",
    "developer",
    "user",
    "assistant",
    "tool",
    "function",
];

/// Epochs OpenAI aims for when `n_epochs` is `"auto"`.
pub const TARGET_EPOCHS: u64 = 3;
/// Fewest example-passes (examples × epochs) the default aims for.
pub const MIN_TARGET_EXAMPLES: u64 = 100;
/// Most example-passes (examples × epochs) the default aims for.
pub const MAX_TARGET_EXAMPLES: u64 = 25_000;
/// Fewest epochs the default picks.
pub const MIN_DEFAULT_EPOCHS: u64 = 1;
/// Most epochs the default picks.
pub const MAX_DEFAULT_EPOCHS: u64 = 25;

/// The number of epochs OpenAI picks for `n_epochs: "auto"` (OpenAI cookbook, "Data
/// preparation and analysis for chat model fine-tuning"): [`TARGET_EPOCHS`], raised to
/// `ceil(MIN_TARGET_EXAMPLES / examples)` (at most [`MAX_DEFAULT_EPOCHS`]) when
/// `examples × TARGET_EPOCHS < MIN_TARGET_EXAMPLES`, lowered to
/// `floor(MAX_TARGET_EXAMPLES / examples)` (at least [`MIN_DEFAULT_EPOCHS`]) when
/// `examples × TARGET_EPOCHS > MAX_TARGET_EXAMPLES`. No examples: [`TARGET_EPOCHS`].
pub fn default_epochs(examples: u64) -> u32 {
    let n = if examples == 0 {
        TARGET_EPOCHS
    } else if examples.saturating_mul(TARGET_EPOCHS) < MIN_TARGET_EXAMPLES {
        MIN_TARGET_EXAMPLES
            .div_ceil(examples)
            .min(MAX_DEFAULT_EPOCHS)
    } else if examples.saturating_mul(TARGET_EPOCHS) > MAX_TARGET_EXAMPLES {
        (MAX_TARGET_EXAMPLES / examples).max(MIN_DEFAULT_EPOCHS)
    } else {
        TARGET_EPOCHS
    };
    n as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_epochs_follows_the_cookbook() {
        // Low side rounds up: ceil(100 / 12) = 9 (8 would give only 96 example-passes).
        assert_eq!(default_epochs(12), 9);
        assert_eq!(default_epochs(2), 25);
        assert_eq!(default_epochs(10), 10);
        assert_eq!(default_epochs(100), 3);
        // High side rounds down: floor(25_000 / 10_000) = 2.
        assert_eq!(default_epochs(10_000), 2);
        assert_eq!(default_epochs(100_000), 1);
        assert_eq!(default_epochs(0), 3);
        assert_eq!(default_epochs(1), 25);
        assert_eq!(default_epochs(33), 4);
        assert_eq!(default_epochs(34), 3);
        assert_eq!(default_epochs(8_333), 3);
        assert_eq!(default_epochs(8_334), 2);
        assert_eq!(default_epochs(u64::MAX), 1);
    }
}
