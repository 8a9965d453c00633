//! Routing learned from outcomes, simulated: scripted outcomes are recorded
//! in a real embedded store, and each choice is made from what the store's
//! outcome query returns, as a chat turn makes it.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use vuhitra_pipeline::route::{decide, rule};
use vuhitra_store::{HeuristicRecord, HeuristicsStore, Store};

/// How one scripted model answers: its chance of success, the rating it
/// gets when rated (every 4th answer), its latency.
struct Script {
    name: &'static str,
    success: f64,
    rating: u8,
    ms: f64,
}

fn script(name: &'static str, success: f64, rating: u8, ms: f64) -> Script {
    Script { name, success, rating, ms }
}

async fn run(store: &Store, models: &[Script], prompts: usize, rng: &mut StdRng, seq: &mut u64) -> Vec<String> {
    let names: Vec<String> = models.iter().map(|m| m.name.to_string()).collect();
    let mut chosen = Vec::new();
    for _ in 0..prompts {
        let outcomes = store.outcomes("code", &names, Some(1000.0)).await.unwrap();
        let (model, note) = decide("MODEL_CODE", &names, |_| true, Some(&outcomes), rng);
        assert_eq!(note.rule, rule::LEARNED);
        let script = models.iter().find(|m| m.name == model).unwrap();
        *seq += 1;
        let ok = rng.random::<f64>() < script.success;
        let rated = seq.is_multiple_of(4);
        let record = HeuristicRecord {
            id: format!("{:016x}", *seq),
            created_at: *seq as i64,
            model: model.clone(),
            intent: "code".into(),
            success: ok,
            total_ms: script.ms,
            rating: rated.then_some(script.rating),
            route: Some(note),
            ..Default::default()
        };
        store.record(&record).await.unwrap();
        chosen.push(model);
    }
    chosen
}

fn share(chosen: &[String], model: &str) -> f64 {
    chosen.iter().filter(|m| *m == model).count() as f64 / chosen.len() as f64
}

fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("v.db")).unwrap();
    (dir, store)
}

#[tokio::test]
async fn the_choice_converges_to_the_better_model_and_still_explores() {
    let models = [script("good", 0.9, 4, 200.0), script("poor", 0.5, 2, 200.0)];
    let mut late_poor = 0;
    for seed in 0..10 {
        let (_d, store) = store();
        let mut rng = StdRng::seed_from_u64(seed);
        let chosen = run(&store, &models, 150, &mut rng, &mut 0).await;
        assert!(chosen[..30].iter().any(|m| m == "poor"), "seed {seed}: the poor model was tried early");
        let late = &chosen[50..];
        assert!(share(late, "good") >= 0.85, "seed {seed}: from prompt 50 on, good has {:.2}", share(late, "good"));
        late_poor += late.iter().filter(|m| *m == "poor").count();
    }
    assert!(late_poor > 0, "the poor model is still drawn now and then after convergence");
}

#[tokio::test]
async fn a_new_candidate_is_tried_and_wins_when_it_is_better() {
    let (_d, store) = store();
    let mut rng = StdRng::seed_from_u64(7);
    let mut seq = 0;
    run(&store, &[script("a", 0.8, 4, 200.0), script("b", 0.5, 2, 200.0)], 100, &mut rng, &mut seq).await;
    let with_new = [script("a", 0.8, 4, 200.0), script("b", 0.5, 2, 200.0), script("c", 0.98, 5, 200.0)];
    let chosen = run(&store, &with_new, 150, &mut rng, &mut seq).await;
    let first = chosen.iter().position(|m| m == "c").expect("the new candidate is tried");
    assert!(first < 20, "tried within 20 prompts (at {first})");
    assert!(share(&chosen[75..], "c") > 0.6, "and then preferred: {:.2}", share(&chosen[75..], "c"));
}

#[tokio::test]
async fn low_ratings_and_slow_answers_count_against_a_model() {
    // Both always succeed; one is rated well, the other low.
    let (_d, store1) = store();
    let mut rng = StdRng::seed_from_u64(3);
    let chosen =
        run(&store1, &[script("liked", 1.0, 5, 200.0), script("disliked", 1.0, 1, 200.0)], 120, &mut rng, &mut 0).await;
    assert!(share(&chosen[60..], "liked") > 0.75, "ratings decide: {:.2}", share(&chosen[60..], "liked"));
    // Both always succeed; one is over the 1 s budget.
    let (_d2, store2) = store();
    let chosen =
        run(&store2, &[script("fast", 1.0, 4, 300.0), script("slow", 1.0, 4, 5000.0)], 120, &mut rng, &mut 0).await;
    assert!(share(&chosen[60..], "fast") > 0.75, "latency counts: {:.2}", share(&chosen[60..], "fast"));
}
