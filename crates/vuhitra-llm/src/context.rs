//! Sizing `num_ctx`.
//!
//! Ollama runs a model with a small default window and silently drops the
//! start of a prompt that does not fit. Vuhitra estimates the prompt's
//! tokens, asks for a window large enough for it plus room for the answer,
//! and refuses outright when even the model's full context cannot hold it.

use crate::{Message, OllamaError};

/// Tokens kept free for the answer when the caller sets no `num_predict`.
pub const DEFAULT_ANSWER_RESERVE: u32 = 1024;
/// The least room for an answer before a prompt counts as too long.
pub const MIN_ANSWER_ROOM: u32 = 256;
/// Never ask for less than this; small windows save little memory.
pub const MIN_NUM_CTX: u32 = 2048;
/// Per-message overhead of chat templates (role markers, separators).
const MESSAGE_OVERHEAD: u32 = 8;

/// A deliberately high estimate of a chat's tokens. Erring high costs a
/// little memory; erring low would let the server truncate.
pub fn estimate_tokens(messages: &[Message]) -> u32 {
    messages
        .iter()
        .map(|m| estimate_text_tokens(&m.content).saturating_add(MESSAGE_OVERHEAD))
        .fold(0u32, u32::saturating_add)
}

/// The larger of two lower bounds that fail in different ways:
/// - by characters: about 3 ASCII characters per token (English prose
///   averages nearer 4), and one token per non-ASCII character (CJK text
///   and emoji take a token or more each);
/// - by pieces: every word and every punctuation mark usually starts a
///   token, which catches text of many short words ("a b c d ...") and code.
pub fn estimate_text_tokens(text: &str) -> u32 {
    let (mut ascii, mut other, mut pieces) = (0u64, 0u64, 0u64);
    let mut in_word = false;
    for c in text.chars() {
        if c.is_ascii() {
            ascii += 1;
        } else {
            other += 1;
        }
        if c.is_alphanumeric() {
            if !in_word {
                pieces += 1;
            }
            in_word = true;
        } else {
            in_word = false;
            if !c.is_whitespace() {
                pieces += 1;
            }
        }
    }
    let by_chars = ascii.div_ceil(3) + other;
    u32::try_from(by_chars.max(pieces)).unwrap_or(u32::MAX)
}

/// Picks `num_ctx`: the next power of two holding prompt and reserve, at
/// least [`MIN_NUM_CTX`], at most the model's context length.
pub fn plan_num_ctx(
    model: &str,
    prompt_tokens: u32,
    reserve: u32,
    model_limit: Option<u32>,
) -> Result<u32, OllamaError> {
    let wanted = prompt_tokens.saturating_add(reserve).max(MIN_NUM_CTX);
    let rounded = wanted.checked_next_power_of_two().unwrap_or(u32::MAX);
    let Some(limit) = model_limit else {
        return Ok(rounded);
    };
    if prompt_tokens.saturating_add(MIN_ANSWER_ROOM.min(reserve)) > limit {
        return Err(OllamaError::ContextTooLong { model: model.to_string(), needed: prompt_tokens, limit });
    }
    Ok(rounded.min(limit))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Role;

    #[test]
    fn estimate_errs_high() {
        let text = "The quick brown fox jumps over the lazy dog. ".repeat(100);
        let est = estimate_tokens(&[Message::new(Role::User, text.clone())]);
        // ~4.5 characters per real token for this text: the estimate must be above that.
        assert!(est as usize > text.len() / 4, "{est}");
    }

    #[test]
    fn estimate_covers_short_words_code_and_cjk() {
        // One token per single-letter word.
        assert!(estimate_text_tokens(&"a b c d ".repeat(100)) >= 400);
        // Code: identifiers and punctuation.
        assert!(estimate_text_tokens("fn main() { println!(\"hi\"); }") >= 12);
        // CJK: at least one token per character.
        assert!(estimate_text_tokens("数据分析工具") >= 6);
    }

    #[test]
    fn small_prompts_get_the_minimum_window() {
        assert_eq!(plan_num_ctx("m", 10, 1024, Some(32768)).unwrap(), 2048);
    }

    #[test]
    fn window_grows_with_the_prompt() {
        assert_eq!(plan_num_ctx("m", 5000, 1024, Some(32768)).unwrap(), 8192);
        assert_eq!(plan_num_ctx("m", 20000, 1024, Some(32768)).unwrap(), 32768);
    }

    #[test]
    fn window_is_capped_at_the_model_limit() {
        assert_eq!(plan_num_ctx("m", 30000, 1024, Some(32768)).unwrap(), 32768);
        assert_eq!(plan_num_ctx("m", 3000, 1024, Some(4096)).unwrap(), 4096);
    }

    #[test]
    fn prompt_that_cannot_fit_is_refused() {
        match plan_num_ctx("m", 32700, 1024, Some(32768)) {
            Err(OllamaError::ContextTooLong { needed: 32700, limit: 32768, .. }) => {}
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn unknown_limit_still_sizes_the_window() {
        assert_eq!(plan_num_ctx("m", 100_000, 1024, None).unwrap(), 131_072);
    }
}
