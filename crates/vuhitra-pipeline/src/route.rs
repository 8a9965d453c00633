//! Model routing learned from outcomes.
//!
//! A MODEL_<INTENT> setting may name several candidates
//! (`MODEL_CODE=qwen2.5-coder:7b,llama3:8b`). Each candidate's chance of a
//! good answer to that intent is a Beta posterior built from its heuristics
//! records, and each prompt goes to the installed candidate with the highest
//! draw from its posterior (Thompson sampling). A candidate with no record
//! has the flat prior, so it is tried; one that keeps failing or being rated
//! low draws low and stops being chosen, without ever being ruled out.
//!
//! What a record adds to a posterior:
//! - a rating r (0–5) is the user's own judgement and weighs
//!   [`RATING_WEIGHT`] outcomes: `r/5` of them good, the rest bad, whatever
//!   the latency;
//! - an unrated answer is one outcome: good when it succeeded within
//!   ROUTE_LATENCY_BUDGET, bad when it failed or was slower;
//! - answers served from the prompt cache are not the model's and do not
//!   count.
//!
//! The evidence is scaled down to [`EVIDENCE_CAP`] outcomes, so a model's
//! posterior never becomes so sure that a change in its answers (a new
//! version under the same name) could not move it.

use std::collections::BTreeMap;
use std::time::Instant;

pub use rand::rng;
use rand::Rng;
use rand_distr::{Beta, Distribution};
use vuhitra_llm::ChatModel;
use vuhitra_store::{HeuristicsStore, ModelOutcomes, RouteCandidate, RouteNote};

use crate::intel::Intel;

/// How many plain outcomes one rating weighs.
pub const RATING_WEIGHT: f64 = 3.0;
/// The most outcomes a posterior is built from (older evidence is scaled).
pub const EVIDENCE_CAP: f64 = 200.0;

/// The rules a route note names.
pub mod rule {
    /// Thompson sampling among the installed candidates.
    pub const LEARNED: &str = "learned";
    /// Only one candidate is installed.
    pub const ONE_INSTALLED: &str = "one-installed";
    /// No candidate is installed: the first is asked, and Ollama's error names it.
    pub const NONE_INSTALLED: &str = "none-installed";
    /// Heuristics are off, so there is nothing to learn from: the first
    /// installed candidate answers.
    pub const NO_RECORDS: &str = "no-records";
}

/// A Beta posterior of a candidate's chance of a good answer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Posterior {
    pub alpha: f64,
    pub beta: f64,
}

impl Posterior {
    /// The flat prior: every chance equally likely.
    pub const PRIOR: Posterior = Posterior { alpha: 1.0, beta: 1.0 };

    pub fn from_outcomes(o: &ModelOutcomes) -> Posterior {
        let rated_good = RATING_WEIGHT * o.rating_sum as f64 / 5.0;
        let rated_bad = (RATING_WEIGHT * o.rated as f64 - rated_good).max(0.0);
        let unrated = o.calls.saturating_sub(o.rated);
        let unrated_bad = (o.unrated_failures + o.unrated_slow).min(unrated);
        let good = (unrated - unrated_bad) as f64 + rated_good;
        let bad = unrated_bad as f64 + rated_bad;
        let evidence = good + bad;
        let scale = if evidence > EVIDENCE_CAP { EVIDENCE_CAP / evidence } else { 1.0 };
        Posterior { alpha: Self::PRIOR.alpha + good * scale, beta: Self::PRIOR.beta + bad * scale }
    }

    pub fn mean(&self) -> f64 {
        self.alpha / (self.alpha + self.beta)
    }

    pub fn sample(&self, rng: &mut impl Rng) -> f64 {
        // Both parameters are at least 1, so the distribution exists.
        Beta::new(self.alpha, self.beta).map_or(self.mean(), |b| b.sample(rng))
    }
}

/// One draw per posterior; the index of the highest and the draws.
pub fn thompson(posteriors: &[Posterior], rng: &mut impl Rng) -> (usize, Vec<f64>) {
    let draws: Vec<f64> = posteriors.iter().map(|p| p.sample(rng)).collect();
    let best = draws.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map_or(0, |(i, _)| i);
    (best, draws)
}

/// How often Thompson sampling picks each posterior, by `rounds` simulated
/// choices.
pub fn choice_probabilities(posteriors: &[Posterior], rounds: usize, rng: &mut impl Rng) -> Vec<f64> {
    let mut wins = vec![0usize; posteriors.len()];
    for _ in 0..rounds {
        wins[thompson(posteriors, rng).0] += 1;
    }
    wins.into_iter().map(|w| w as f64 / rounds.max(1) as f64).collect()
}

/// The posteriors of a route note's installed candidates, in its order,
/// with their indices in the note.
pub fn installed_posteriors(note: &RouteNote) -> Vec<(usize, Posterior)> {
    let installed = note.candidates.iter().enumerate().filter(|(_, c)| c.installed);
    installed.map(|(i, c)| (i, Posterior { alpha: c.alpha, beta: c.beta })).collect()
}

/// The choice among several candidates, and the note that explains it.
/// `outcomes` is None when there are no records to learn from.
pub fn decide(
    setting: &str,
    candidates: &[String],
    installed: impl Fn(&str) -> bool,
    outcomes: Option<&[ModelOutcomes]>,
    rng: &mut impl Rng,
) -> (String, RouteNote) {
    let mut note = RouteNote { setting: setting.to_string(), ..Default::default() };
    for model in candidates {
        let outcomes = outcomes
            .and_then(|all| all.iter().find(|o| o.model == *model).cloned())
            .unwrap_or_else(|| ModelOutcomes { model: model.clone(), ..Default::default() });
        let p = Posterior::from_outcomes(&outcomes);
        let installed = installed(model);
        note.candidates.push(RouteCandidate {
            model: model.clone(),
            installed,
            outcomes,
            alpha: p.alpha,
            beta: p.beta,
            sample: None,
        });
    }
    let open = installed_posteriors(&note);
    let chosen = match (open.as_slice(), outcomes) {
        ([], _) => {
            note.rule = rule::NONE_INSTALLED.into();
            0
        }
        ([(only, _)], _) => {
            note.rule = rule::ONE_INSTALLED.into();
            *only
        }
        ([(first, _), ..], None) => {
            note.rule = rule::NO_RECORDS.into();
            *first
        }
        (open, Some(_)) => {
            note.rule = rule::LEARNED.into();
            let posteriors: Vec<Posterior> = open.iter().map(|(_, p)| *p).collect();
            let (best, draws) = thompson(&posteriors, rng);
            for ((i, _), d) in open.iter().zip(draws) {
                note.candidates[*i].sample = Some(d);
            }
            open[best].0
        }
    };
    (candidates[chosen].clone(), note)
}

/// The model a conversation's prompt goes to.
#[derive(Debug, Clone, PartialEq)]
pub struct Choice {
    pub model: String,
    /// Set when a MODEL_<INTENT> setting chose the model.
    pub routed: Option<String>,
    /// Set when the setting names several candidates.
    pub note: Option<RouteNote>,
}

/// The MODEL_<INTENT> candidates of a conversation, and what the server has
/// installed (asked once, when a choice first needs it).
#[derive(Debug, Clone, Default)]
pub struct Router {
    routes: BTreeMap<String, Vec<String>>,
    slow_ms: Option<f64>,
    /// None until asked; Some(None) when the server could not say.
    installed: Option<Option<Vec<String>>>,
}

impl Router {
    pub fn from_config(c: &vuhitra_core::Config) -> Router {
        Router {
            routes: c.intent_models.clone(),
            slow_ms: (c.route_latency_budget_secs > 0).then_some(c.route_latency_budget_secs as f64 * 1000.0),
            installed: None,
        }
    }

    /// No routing: the user picked the model, or nothing is configured.
    pub fn is_empty(&self) -> bool {
        self.routes.is_empty()
    }

    /// Stops routing (the user picked a model).
    pub fn clear(&mut self) {
        self.routes.clear();
    }

    /// Routes `intent` to these candidates (tests and callers that build a
    /// conversation by hand).
    pub fn set(&mut self, intent: &str, candidates: Vec<String>) {
        self.routes.insert(intent.to_string(), candidates);
    }

    pub fn candidates(&self, intent: &str) -> &[String] {
        self.routes.get(intent).map_or(&[], Vec::as_slice)
    }

    /// The model name the prompt cache scopes an answer by: the chosen
    /// model when there is no choice, and every candidate when there is one
    /// (an answer from any of them is an answer the user configured).
    /// Known before choosing, so a cache hit costs no routing.
    pub fn scope_model(&self, intent: &str, default: &str) -> String {
        match self.candidates(intent) {
            [] => default.to_string(),
            [one] => one.clone(),
            many => many.join(","),
        }
    }

    /// The model for a prompt of `intent`: `default` without candidates,
    /// the candidate when there is one, else the learned choice among the
    /// installed ones.
    pub async fn choose(
        &mut self,
        intent: &str,
        default: &str,
        client: &impl ChatModel,
        intel: Option<&Intel>,
    ) -> Choice {
        let candidates = self.candidates(intent).to_vec();
        match candidates.as_slice() {
            [] => return Choice { model: default.to_string(), routed: None, note: None },
            [one] => {
                let routed = (one != default).then(|| one.clone());
                return Choice { model: one.clone(), routed, note: None };
            }
            _ => {}
        }
        if self.installed.is_none() {
            let names = client.installed().await;
            if let Err(e) = &names {
                tracing::debug!("routing treats every candidate as installed: {e}");
            }
            self.installed = Some(names.ok());
        }
        let started = Instant::now();
        let outcomes = match intel {
            Some(intel) => match intel.backend.outcomes(intent, &candidates, self.slow_ms).await {
                Ok(o) => Some(o),
                Err(e) => {
                    intel.warn(&format!("routing could not read the records, so it learns nothing this time: {e}"));
                    Some(Vec::new())
                }
            },
            None => None,
        };
        let setting = vuhitra_core::config::intent_setting(intent).unwrap_or("MODEL");
        let installed = |m: &str| self.is_installed(m);
        let (model, mut note) = decide(setting, &candidates, installed, outcomes.as_deref(), &mut rand::rng());
        note.decide_ms = started.elapsed().as_secs_f64() * 1000.0;
        Choice { routed: Some(model.clone()), model, note: Some(note) }
    }

    fn is_installed(&self, model: &str) -> bool {
        match &self.installed {
            Some(Some(names)) => names.iter().any(|n| same_model(n, model)),
            _ => true,
        }
    }
}

/// Whether two model names are the same model (`llama3` is `llama3:latest`).
fn same_model(a: &str, b: &str) -> bool {
    let full = |n: &str| if n.contains(':') { n.to_string() } else { format!("{n}:latest") };
    full(a) == full(b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn outcomes(model: &str, calls: u64, failures: u64) -> ModelOutcomes {
        ModelOutcomes { model: model.into(), calls, failures, unrated_failures: failures, ..Default::default() }
    }

    #[test]
    fn a_rating_weighs_more_than_an_unrated_answer() {
        let p = Posterior::from_outcomes(&outcomes("m", 4, 1));
        assert_eq!((p.alpha, p.beta), (4.0, 2.0));
        // One answer rated 1/5: 0.6 good, 2.4 bad.
        let rated = ModelOutcomes { calls: 1, rated: 1, rating_sum: 1, ..outcomes("m", 1, 0) };
        let p = Posterior::from_outcomes(&rated);
        assert!((p.alpha - 1.6).abs() < 1e-9 && (p.beta - 3.4).abs() < 1e-9, "{p:?}");
        // Slow unrated successes count against the model.
        let slow = ModelOutcomes { unrated_slow: 2, ..outcomes("m", 3, 0) };
        assert_eq!(Posterior::from_outcomes(&slow), Posterior { alpha: 2.0, beta: 3.0 });
    }

    #[test]
    fn evidence_is_capped_so_a_posterior_stays_revisable() {
        let p = Posterior::from_outcomes(&outcomes("m", 10_000, 2_500));
        assert!((p.alpha + p.beta - (EVIDENCE_CAP + 2.0)).abs() < 1e-9);
        assert!((p.mean() - 0.75).abs() < 0.01);
    }

    #[test]
    fn choice_probabilities_favour_the_better_record_and_sum_to_one() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let good = Posterior::from_outcomes(&outcomes("a", 20, 2));
        let bad = Posterior::from_outcomes(&outcomes("b", 20, 12));
        let p = choice_probabilities(&[good, bad, Posterior::PRIOR], 4000, &mut rng);
        assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-9);
        assert!(p[0] > 0.6 && p[1] < 0.05, "{p:?}");
        assert!(p[2] > 0.05, "a new candidate keeps a real chance: {p:?}");
    }

    #[test]
    fn decide_says_which_rule_chose() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(2);
        let names = ["a".to_string(), "b".to_string()];
        let (m, note) = decide("MODEL_CODE", &names, |m| m == "b", Some(&[]), &mut rng);
        assert_eq!((m.as_str(), note.rule.as_str()), ("b", rule::ONE_INSTALLED));
        let (m, note) = decide("MODEL_CODE", &names, |_| false, Some(&[]), &mut rng);
        assert_eq!((m.as_str(), note.rule.as_str()), ("a", rule::NONE_INSTALLED));
        let (m, note) = decide("MODEL_CODE", &names, |_| true, None, &mut rng);
        assert_eq!((m.as_str(), note.rule.as_str()), ("a", rule::NO_RECORDS));
        let (_, note) = decide("MODEL_CODE", &names, |_| true, Some(&[outcomes("b", 3, 3)]), &mut rng);
        assert_eq!(note.rule, rule::LEARNED);
        assert_eq!(note.candidates[1].outcomes.calls, 3);
        assert!(note.candidates.iter().all(|c| c.sample.is_some()));
    }

    #[test]
    fn model_names_match_with_the_implied_latest_tag() {
        assert!(same_model("llama3", "llama3:latest"));
        assert!(same_model("qwen2.5:0.5b", "qwen2.5:0.5b"));
        assert!(!same_model("qwen2.5:0.5b", "qwen2.5"));
    }
}
