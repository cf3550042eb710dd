//! Fault injection: per-endpoint rates drawn from seeded generators (one per rule, so calls
//! to other endpoints do not shift a rule's sequence), one-shot scripted faults, latency and
//! duplicate pushes. Every injected fault is logged.

use std::collections::{HashMap, VecDeque};

use rand::RngExt as _;
use rand::rngs::StdRng;
use serde::Serialize;

use crate::config::{FaultConfig, FaultKind, FaultRule, ScriptedFault};
use crate::ids::derived_rng;

/// What happens to one call.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Plan {
    pub latency_ms: u64,
    pub fault: Option<Injected>,
}

/// An injected fault with its parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Injected {
    SystemError,
    QuotaExceeded,
    Http(u16),
    ApplyThenTimeout { delay_ms: u64 },
    ApplyThenDrop,
}

impl Injected {
    fn kind(self) -> FaultKind {
        match self {
            Injected::SystemError => FaultKind::SystemError,
            Injected::QuotaExceeded => FaultKind::QuotaExceeded,
            Injected::Http(_) => FaultKind::Http5xx,
            Injected::ApplyThenTimeout { .. } => FaultKind::ApplyThenTimeout,
            Injected::ApplyThenDrop => FaultKind::ApplyThenDrop,
        }
    }
}

/// One injected fault, as `GET /sandbox/control/faults` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InjectedFault {
    /// The endpoint called.
    pub endpoint: String,
    /// The 1-based number of this call to the endpoint since faults were last configured.
    pub call: u64,
    /// What was injected.
    pub fault: FaultKind,
    /// `rate` or `script`.
    pub source: &'static str,
}

/// The fault injection state.
#[derive(Debug)]
pub(crate) struct Faults {
    config: FaultConfig,
    seed: u64,
    rngs: Vec<StdRng>,
    script: VecDeque<ScriptedFault>,
    push_rng: StdRng,
    delay_rng: StdRng,
    calls: HashMap<String, u64>,
    log: Vec<InjectedFault>,
}

/// How well `pattern` matches `endpoint`: 3 exact, 2 family (`setbizattr`, `platform`),
/// 1 `*`.
fn specificity(pattern: &str, endpoint: &str) -> Option<u8> {
    if pattern == endpoint {
        Some(3)
    } else if endpoint
        .split_once('.')
        .is_some_and(|(family, _)| family == pattern)
    {
        Some(2)
    } else if pattern == "*" {
        Some(1)
    } else {
        None
    }
}

fn check_rule(rule: &FaultRule) -> Result<(), String> {
    let rates = [
        rule.system_error_rate,
        rule.quota_error_rate,
        rule.http_error_rate,
        rule.apply_then_timeout_rate,
        rule.apply_then_drop_rate,
    ];
    if rates.iter().any(|r| !(0.0..=1.0).contains(r)) {
        return Err(format!(
            "rule {}: every rate must be in 0..=1",
            rule.endpoint
        ));
    }
    if rates.iter().sum::<f64>() > 1.0 + 1e-9 {
        return Err(format!(
            "rule {}: the rates add up to more than 1",
            rule.endpoint
        ));
    }
    if !(500..=599).contains(&rule.http_status) {
        return Err(format!("rule {}: http_status must be 5xx", rule.endpoint));
    }
    Ok(())
}

impl Faults {
    /// Faults from `config`, seeded from its seed or `default_seed`.
    pub(crate) fn new(config: FaultConfig, default_seed: u64) -> Result<Self, String> {
        for rule in &config.rules {
            check_rule(rule)?;
        }
        if !(0.0..=1.0).contains(&config.duplicate_push_rate) {
            return Err("duplicate_push_rate must be in 0..=1".to_owned());
        }
        if !(0.0..=1.0).contains(&config.delayed_push_rate) {
            return Err("delayed_push_rate must be in 0..=1".to_owned());
        }
        for scripted in &config.script {
            if scripted
                .http_status
                .is_some_and(|s| !(500..=599).contains(&s))
            {
                return Err(format!(
                    "script {}: http_status must be 5xx",
                    scripted.endpoint
                ));
            }
        }
        let seed = config.seed.unwrap_or(default_seed);
        let rngs = config
            .rules
            .iter()
            .enumerate()
            .map(|(index, rule)| derived_rng(seed, &format!("fault:{index}:{}", rule.endpoint)))
            .collect();
        Ok(Self {
            script: config.script.iter().cloned().collect(),
            push_rng: derived_rng(seed, "fault:push"),
            delay_rng: derived_rng(seed, "fault:push-delay"),
            rngs,
            seed,
            config,
            calls: HashMap::new(),
            log: Vec::new(),
        })
    }

    /// The configuration in force, with the seed actually used and the script still pending.
    pub(crate) fn config(&self) -> FaultConfig {
        FaultConfig {
            seed: Some(self.seed),
            script: self.script.iter().cloned().collect(),
            ..self.config.clone()
        }
    }

    /// Every fault injected since faults were last configured.
    pub(crate) fn log(&self) -> &[InjectedFault] {
        &self.log
    }

    /// Decides what happens to one call to `endpoint`.
    pub(crate) fn plan(&mut self, endpoint: &str) -> Plan {
        let call = {
            let counter = self.calls.entry(endpoint.to_owned()).or_insert(0);
            *counter += 1;
            *counter
        };
        let rule_index = self
            .config
            .rules
            .iter()
            .enumerate()
            .filter_map(|(i, rule)| specificity(&rule.endpoint, endpoint).map(|s| (s, i)))
            // The most specific rule; the first of equally specific ones.
            .max_by_key(|(s, i)| (*s, std::cmp::Reverse(*i)))
            .map(|(_, i)| i);
        let latency_ms = rule_index.map_or(0, |i| self.config.rules[i].latency_ms);

        let scripted = self
            .script
            .iter()
            .position(|s| specificity(&s.endpoint, endpoint).is_some());
        if let Some(position) = scripted
            && let Some(entry) = self.script.remove(position)
        {
            let fault = match entry.fault {
                FaultKind::SystemError => Injected::SystemError,
                FaultKind::QuotaExceeded => Injected::QuotaExceeded,
                FaultKind::Http5xx => Injected::Http(entry.http_status.unwrap_or(503)),
                FaultKind::ApplyThenTimeout => Injected::ApplyThenTimeout {
                    delay_ms: entry.delay_ms.unwrap_or(30_000),
                },
                FaultKind::ApplyThenDrop => Injected::ApplyThenDrop,
            };
            self.record(endpoint, call, fault, "script");
            return Plan {
                latency_ms,
                fault: Some(fault),
            };
        }

        let Some(index) = rule_index else {
            return Plan::default();
        };
        let rule = &self.config.rules[index];
        // One draw per call, whatever the outcome, keeps the sequence reproducible.
        let draw: f64 = self.rngs[index].random();
        let outcomes = [
            (rule.system_error_rate, Injected::SystemError),
            (rule.quota_error_rate, Injected::QuotaExceeded),
            (rule.http_error_rate, Injected::Http(rule.http_status)),
            (
                rule.apply_then_timeout_rate,
                Injected::ApplyThenTimeout {
                    delay_ms: rule.timeout_delay_ms,
                },
            ),
            (rule.apply_then_drop_rate, Injected::ApplyThenDrop),
        ];
        let mut threshold = 0.0;
        let mut fault = None;
        for (rate, outcome) in outcomes {
            threshold += rate;
            if rate > 0.0 && draw < threshold {
                fault = Some(outcome);
                break;
            }
        }
        if let Some(fault) = fault {
            self.record(endpoint, call, fault, "rate");
        }
        Plan { latency_ms, fault }
    }

    fn record(&mut self, endpoint: &str, call: u64, fault: Injected, source: &'static str) {
        tracing::info!(
            endpoint,
            call,
            fault = fault.kind().code(),
            source,
            "sandbox fault injected"
        );
        self.log.push(InjectedFault {
            endpoint: endpoint.to_owned(),
            call,
            fault: fault.kind(),
            source,
        });
    }

    /// Whether the next event push is delivered twice.
    pub(crate) fn duplicate_push(&mut self) -> bool {
        let rate = self.config.duplicate_push_rate;
        rate > 0.0 && self.push_rng.random::<f64>() < rate
    }

    /// How long the next push copy waits before its first attempt, if it is delayed.
    pub(crate) fn push_delay(&mut self) -> Option<u64> {
        let rate = self.config.delayed_push_rate;
        (rate > 0.0 && self.delay_rng.random::<f64>() < rate).then_some(self.config.push_delay_ms)
    }
}

#[cfg(test)]
mod tests;
