//! The first step of every prompt: keywords, context files, NLP analysis,
//! and the decision of what the prompt asks for. Nothing is sent anywhere.

use std::path::PathBuf;

use vuhitra_core::context_files::{compose_prompt, read_context_file, ContextFile};
use vuhitra_core::keywords::{self, Keyword};
use vuhitra_nlp::{sha256_hex, Analysis, Analyzer, SignatureMode};

use crate::error::PipelineError;
use crate::intel::{Intel, IntelSettings, Warn};

/// Whether this prompt uses the prompt cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheMode {
    Off,
    /// ENABLE_PROMPT_CACHE: look up, and store the answer.
    On,
    /// `@cache`: the same, even when the cache is off.
    Forced,
}

/// What a prepared prompt asks for. Files in [`PreparedPrompt::uploads`]
/// are copied into the workspace first, whatever the action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// A chat turn.
    Answer,
    /// `@upload` with no question: the upload is all.
    UploadOnly,
    /// `@analyze`: a question about these data files (from `-f` and
    /// `@file:`), answered with checked SQL instead of a chat turn.
    DataQuestion(Vec<PathBuf>),
    /// `@devmode`: the question is a task for dev mode (the model writes
    /// code, the sandbox runs it, failures go back).
    DevTask,
}

/// A prompt after keyword parsing, with its context files read and checked
/// and the question analysed.
#[derive(Debug, Clone)]
pub struct PreparedPrompt {
    pub action: Action,
    /// The text the user asked (keywords removed).
    pub question: String,
    /// The full user message: context files, then the question.
    pub message: String,
    pub context_labels: Vec<String>,
    /// SHA-256 of each context file's text.
    pub context_hashes: Vec<String>,
    pub analysis: Analysis,
    /// The signature under the configured PROMPT_SIGNATURE mode.
    pub signature: String,
    pub cache: CacheMode,
    /// With `@upload`: the files to copy into the workspace first.
    pub uploads: Vec<PathBuf>,
    /// `@tools`: the MCP servers' tools are offered to the model.
    pub tools: bool,
}

/// What every prompt of a process goes through; built once per process.
pub struct Pipeline {
    pub analyzer: Analyzer,
    pub mode: SignatureMode,
    pub heuristics: bool,
    pub cache_enabled: bool,
    pub threshold: f64,
    pub ttl_ms: i64,
    pub show_corrections: bool,
    pub intel_settings: IntelSettings,
    warn: Warn,
    /// Opened when heuristics or the cache need it.
    pub intel: Option<Intel>,
}

impl Pipeline {
    pub fn new(config: &vuhitra_core::Config, warn: Warn) -> Self {
        Pipeline {
            analyzer: Analyzer::new(),
            mode: SignatureMode::parse(&config.prompt_signature).unwrap_or(SignatureMode::Nlp),
            heuristics: config.enable_heuristics,
            cache_enabled: config.enable_prompt_cache,
            threshold: config.prompt_cache_threshold,
            ttl_ms: config.prompt_cache_ttl_secs.saturating_mul(1000) as i64,
            show_corrections: config.show_corrections,
            intel_settings: IntelSettings::from_config(config),
            warn,
            intel: None,
        }
    }

    /// Opens the heuristics/cache backend if this prompt needs it (heuristics
    /// on, or the cache in use); the same backend serves later prompts.
    pub async fn ensure_intel(&mut self, prompt: &PreparedPrompt) -> Result<(), PipelineError> {
        let needed = self.heuristics || prompt.cache != CacheMode::Off;
        if needed && self.intel.is_none() {
            self.intel = Some(Intel::open(&self.intel_settings, self.warn).await?);
        }
        Ok(())
    }

    /// The backend for heuristics records, when they are on and it is open.
    pub fn recorder(&self) -> Option<&Intel> {
        self.intel.as_ref().filter(|_| self.heuristics)
    }

    /// Parses keywords, refuses ones whose feature is not built, reads every
    /// context file (from flags, `@file:` and the REPL's /file) under the
    /// size limit, analyses the question, and decides what the prompt asks
    /// for. Nothing is sent anywhere.
    pub fn prepare(
        &self,
        raw_prompt: &str,
        mut attached: Vec<ContextFile>,
        extra_files: &[PathBuf],
        limit: u64,
    ) -> Result<PreparedPrompt, PipelineError> {
        let parsed = keywords::parse(raw_prompt)?;
        keywords::ensure_available(&parsed.keywords)?;
        let keyword_files = parsed.keywords.iter().filter_map(|k| match k {
            Keyword::File(p) => Some(p.clone()),
            _ => None,
        });
        let files: Vec<PathBuf> = extra_files.iter().cloned().chain(keyword_files).collect();
        let has_question = !parsed.text.trim().is_empty();
        let uploads = if parsed.keywords.contains(&Keyword::Upload) {
            if files.is_empty() {
                return Err(PipelineError::usage(
                    "@upload needs a file to upload",
                    "name it with @file:PATH or -f PATH; it is copied into the workspace (WORKSPACE_PATH)",
                ));
            }
            files.clone()
        } else {
            Vec::new()
        };
        let action = if parsed.keywords.contains(&Keyword::DevMode) {
            if !has_question {
                return Err(PipelineError::usage("@devmode needs a task", "write it after the keyword"));
            }
            if parsed.keywords.contains(&Keyword::Analyze) {
                return Err(PipelineError::usage("@devmode and @analyze cannot be used together", "use one of them"));
            }
            Action::DevTask
        } else if parsed.keywords.contains(&Keyword::Analyze) {
            if files.is_empty() {
                return Err(PipelineError::usage(
                    "@analyze needs a data file to ask about",
                    "name it with @file:PATH or -f PATH (CSV, TSV, JSON, Parquet, Excel, or a workspace file)",
                ));
            }
            if !has_question {
                return Err(PipelineError::usage("@analyze needs a question", "write it after the keywords"));
            }
            Action::DataQuestion(files)
        } else if !uploads.is_empty() && !has_question {
            // Upload only: the files are not read as context.
            Action::UploadOnly
        } else {
            for path in &files {
                attached.push(read_context_file(path, limit)?);
            }
            Action::Answer
        };
        if !has_question && attached.is_empty() && uploads.is_empty() {
            return Err(PipelineError::usage("the prompt is empty", "write a question after the keywords"));
        }
        let cache = if parsed.keywords.contains(&Keyword::NoCache) {
            CacheMode::Off
        } else if parsed.keywords.contains(&Keyword::Cache) {
            CacheMode::Forced
        } else if self.cache_enabled {
            CacheMode::On
        } else {
            CacheMode::Off
        };
        let analysis = self.analyzer.analyze(&parsed.text);
        let signature = analysis.signature.get(self.mode).to_string();
        Ok(PreparedPrompt {
            action,
            message: compose_prompt(&attached, &parsed.text),
            context_labels: attached.iter().map(|f| f.label.clone()).collect(),
            context_hashes: attached.iter().map(|f| sha256_hex(f.text.as_bytes())).collect(),
            question: parsed.text,
            analysis,
            signature,
            cache,
            uploads,
            tools: parsed.keywords.contains(&Keyword::Tools),
        })
    }

    /// A question that came as a command-line argument as it is (no
    /// keywords, no files): `analyze --ask`.
    pub fn prepare_plain(&self, question: &str) -> PreparedPrompt {
        let analysis = self.analyzer.analyze(question);
        PreparedPrompt {
            action: Action::Answer,
            message: question.to_string(),
            context_labels: Vec::new(),
            context_hashes: Vec::new(),
            question: question.to_string(),
            signature: analysis.signature.get(self.mode).to_string(),
            analysis,
            cache: CacheMode::Off,
            uploads: Vec::new(),
            tools: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pipeline(cache_enabled: bool) -> Pipeline {
        let mut config = vuhitra_core::Config::load(&vuhitra_core::Sources::default()).unwrap();
        config.enable_prompt_cache = cache_enabled;
        Pipeline::new(&config, |_| {})
    }

    #[test]
    fn a_plain_question_is_answered_and_analysed() {
        let p = pipeline(false).prepare("How do I sort a list in Python?", Vec::new(), &[], 1024).unwrap();
        assert_eq!(p.action, Action::Answer);
        assert_eq!(p.message, "How do I sort a list in Python?");
        assert_eq!(p.cache, CacheMode::Off);
        assert!(!p.signature.is_empty());
    }

    #[test]
    fn cache_keywords_override_the_setting() {
        assert_eq!(pipeline(false).prepare("@cache hi there", vec![], &[], 1).unwrap().cache, CacheMode::Forced);
        assert_eq!(pipeline(true).prepare("@nocache hi there", vec![], &[], 1).unwrap().cache, CacheMode::Off);
        assert_eq!(pipeline(true).prepare("hi there", vec![], &[], 1).unwrap().cache, CacheMode::On);
    }

    #[test]
    fn files_become_context_for_an_answer() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("notes.md");
        std::fs::write(&f, "the sky is green").unwrap();
        let p = pipeline(false).prepare(&format!("summarise @file:{}", f.display()), vec![], &[], 1024).unwrap();
        assert_eq!(p.action, Action::Answer);
        assert!(p.message.contains("the sky is green") && p.message.ends_with("summarise"), "{}", p.message);
        assert_eq!(p.context_hashes.len(), 1);
        let too_big = pipeline(false).prepare(&format!("summarise @file:{}", f.display()), vec![], &[], 4);
        assert!(matches!(too_big, Err(PipelineError::ContextFile(_))), "{too_big:?}");
    }

    #[test]
    fn analyze_asks_about_files_without_reading_them_as_context() {
        let p = pipeline(false).prepare("@analyze @file:missing.csv how many rows?", vec![], &[], 1024).unwrap();
        assert_eq!(p.action, Action::DataQuestion(vec![PathBuf::from("missing.csv")]));
        assert_eq!(p.question.trim(), "how many rows?");
        for bad in ["@analyze how many rows?", "@analyze @file:a.csv"] {
            let e = pipeline(false).prepare(bad, vec![], &[], 1024).unwrap_err();
            assert!(e.is_usage() && e.hint().is_some(), "{bad}: {e:?}");
        }
    }

    #[test]
    fn upload_alone_only_uploads() {
        let p = pipeline(false).prepare("@upload @file:missing.csv", vec![], &[], 1024).unwrap();
        assert_eq!(p.action, Action::UploadOnly);
        assert_eq!(p.uploads, vec![PathBuf::from("missing.csv")]);
        assert!(pipeline(false).prepare("@upload", vec![], &[], 1024).unwrap_err().is_usage());
    }

    #[test]
    fn empty_prompts_and_unbuilt_keywords_are_refused() {
        assert!(pipeline(false).prepare("   ", vec![], &[], 1024).unwrap_err().is_usage());
        let e = pipeline(false).prepare("@spark count the rows", vec![], &[], 1024).unwrap_err();
        assert!(matches!(e, PipelineError::Keyword(_)), "{e:?}");
    }

    #[test]
    fn tools_is_a_flag_on_a_chat_prompt() {
        let p = pipeline(false).prepare("@tools what time is it in Tokyo?", vec![], &[], 1024).unwrap();
        assert!(p.tools && p.action == Action::Answer);
        assert_eq!(p.question, "what time is it in Tokyo?");
        assert!(!pipeline(false).prepare("what time is it?", vec![], &[], 1024).unwrap().tools);
    }

    #[test]
    fn devmode_takes_the_rest_of_the_prompt_as_a_task() {
        let p = pipeline(false).prepare("@devmode write a CSV parser", vec![], &[], 1024).unwrap();
        assert_eq!(p.action, Action::DevTask);
        assert_eq!(p.question.trim(), "write a CSV parser");
        assert!(pipeline(false).prepare("@devmode", vec![], &[], 1024).unwrap_err().is_usage());
    }
}
