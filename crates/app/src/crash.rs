//! Named crash points for the chaos harness: the moments right after an external call returned
//! and before its answer is saved, where a crash loses the answer but not its effect.
//!
//! Compiled in only with the `crash-points` feature (the harness's build); the shipped binary's
//! default build has none and [`point`] is an empty inline function. With the feature, the
//! environment variable `FAPIAO_CRASH_POINTS` lists `name:n` entries (e.g.
//! `insert_card.after_call:3,issue.after_call:1`): the process aborts, as a SIGKILL would end
//! it, the `n`-th time it reaches `name` (`n` defaults to 1).

use fapiao_domain::order::Step;

/// The crash point `<step>.after_call` (e.g. `insert_card.after_call`): `step`'s external
/// call returned and its answer is not saved yet.
#[inline(always)]
pub fn after_call(step: Step) {
    #[cfg(feature = "crash-points")]
    point(&format!("{}.after_call", step.code()));
    #[cfg(not(feature = "crash-points"))]
    let _ = step;
}

/// Marks crash point `name`; without the feature, nothing.
#[cfg(not(feature = "crash-points"))]
#[inline(always)]
pub fn point(_name: &str) {}

/// Marks crash point `name`; aborts the process when `FAPIAO_CRASH_POINTS` says so.
#[cfg(feature = "crash-points")]
pub fn point(name: &str) {
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};

    static PLAN: OnceLock<HashMap<String, u64>> = OnceLock::new();
    static HITS: OnceLock<Mutex<HashMap<String, u64>>> = OnceLock::new();
    let plan = PLAN.get_or_init(|| {
        std::env::var("FAPIAO_CRASH_POINTS")
            .unwrap_or_default()
            .split(',')
            .filter(|entry| !entry.trim().is_empty())
            .map(|entry| match entry.trim().split_once(':') {
                Some((name, n)) => (name.to_owned(), n.parse().unwrap_or(1)),
                None => (entry.trim().to_owned(), 1),
            })
            .collect()
    });
    let Some(&at) = plan.get(name) else {
        return;
    };
    let hits = HITS.get_or_init(|| Mutex::new(HashMap::new()));
    let count = {
        let Ok(mut hits) = hits.lock() else {
            return;
        };
        let count = hits.entry(name.to_owned()).or_insert(0);
        *count += 1;
        *count
    };
    if count == at {
        eprintln!("crash point {name} reached ({count}): aborting");
        std::process::abort();
    }
}
