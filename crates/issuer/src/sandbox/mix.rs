//! [`ModeMix`]: a share of new issue requests answered in a fault mode, chosen per
//! idempotency key, so a chaos run sees pending, unknown and rejected invoices among ordinary
//! ones without switching the whole issuer.

use std::fmt;
use std::str::FromStr;

use fapiao_domain::IssueKey;
use fapiao_domain::ports::IssueRejection;

use super::SandboxMode;

/// Shares, in per mille of new issue requests, answered `Pending` (for two polls),
/// `OutcomeUnknown` (applied, answer lost) or rejected (key dead, recorded in the ledger).
/// The choice is a stable hash of the key, so a retry with the same key meets the same mode.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ModeMix {
    /// Answered `Pending` for two polls, then issued.
    pub pending_per_mille: u32,
    /// Issued, then answered "outcome unknown".
    pub unknown_per_mille: u32,
    /// Refused with a dead key.
    pub reject_per_mille: u32,
}

/// The code of the rejections a [`ModeMix`] draws, so a witness can tell them from others.
pub const MIX_REJECTION_CODE: &str = "SANDBOX-MIX-REJECT";

impl ModeMix {
    /// Whether every share is zero.
    pub fn is_empty(&self) -> bool {
        self.pending_per_mille == 0 && self.unknown_per_mille == 0 && self.reject_per_mille == 0
    }

    /// The mode for a new request with `key`, or `None` for the issuer's own mode.
    pub fn mode_for(&self, key: &IssueKey) -> Option<SandboxMode> {
        if self.is_empty() {
            return None;
        }
        // FNV-1a: stable across processes and Rust versions, unlike `DefaultHasher`.
        let hash = key.as_str().bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
        let bucket = u32::try_from(hash % 1000).unwrap_or(0);
        let pending = self.pending_per_mille;
        let unknown = pending + self.unknown_per_mille;
        let reject = unknown + self.reject_per_mille;
        if bucket < pending {
            Some(SandboxMode::Pending { polls: 2 })
        } else if bucket < unknown {
            Some(SandboxMode::OutcomeUnknown)
        } else if bucket < reject {
            Some(SandboxMode::Reject(IssueRejection {
                reason: "sandbox: refused by the mode mix (simulated)".to_owned(),
                code: Some(MIX_REJECTION_CODE.to_owned()),
                serial_is_dead: true,
            }))
        } else {
            None
        }
    }
}

/// Parses `pending=0.05,unknown=0.05,reject=0.02` (fractions; an empty string is no mix).
impl FromStr for ModeMix {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let mut mix = ModeMix::default();
        for entry in text.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let (name, value) = entry
                .split_once('=')
                .ok_or_else(|| format!("{entry:?}: expected name=fraction"))?;
            let fraction: f64 = value
                .trim()
                .parse()
                .map_err(|_| format!("{entry:?}: the fraction is not a number"))?;
            if !(0.0..=1.0).contains(&fraction) {
                return Err(format!("{entry:?}: the fraction must be in 0..=1"));
            }
            // In 0..=1000 by the check above.
            let per_mille = (fraction * 1000.0).round() as u32;
            match name.trim() {
                "pending" => mix.pending_per_mille = per_mille,
                "unknown" => mix.unknown_per_mille = per_mille,
                "reject" => mix.reject_per_mille = per_mille,
                other => {
                    return Err(format!("{other:?}: expected pending, unknown or reject"));
                }
            }
        }
        if mix.pending_per_mille + mix.unknown_per_mille + mix.reject_per_mille > 1000 {
            return Err("the fractions add up to more than 1".to_owned());
        }
        Ok(mix)
    }
}

impl fmt::Display for ModeMix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "pending={},unknown={},reject={}",
            f64::from(self.pending_per_mille) / 1000.0,
            f64::from(self.unknown_per_mille) / 1000.0,
            f64::from(self.reject_per_mille) / 1000.0
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_draws_the_shares() {
        let mix: ModeMix = "pending=0.1, unknown=0.1,reject=0.05".parse().unwrap();
        assert_eq!(
            (
                mix.pending_per_mille,
                mix.unknown_per_mille,
                mix.reject_per_mille
            ),
            (100, 100, 50)
        );
        assert_eq!(mix.to_string().parse::<ModeMix>().unwrap(), mix);
        let mut counts = [0usize; 4];
        for i in 0..4000 {
            let key = IssueKey::parse(&format!("K{i:019}")).unwrap();
            let slot = match mix.mode_for(&key) {
                Some(SandboxMode::Pending { .. }) => 0,
                Some(SandboxMode::OutcomeUnknown) => 1,
                Some(SandboxMode::Reject(_)) => 2,
                _ => 3,
            };
            counts[slot] += 1;
            // Stable: the same key meets the same mode.
            assert_eq!(mix.mode_for(&key), mix.mode_for(&key));
        }
        assert!((300..500).contains(&counts[0]), "{counts:?}");
        assert!((300..500).contains(&counts[1]), "{counts:?}");
        assert!((120..280).contains(&counts[2]), "{counts:?}");
        assert!(
            ModeMix::default()
                .mode_for(&IssueKey::parse("K0000000000000000001").unwrap())
                .is_none()
        );
        assert!("".parse::<ModeMix>().unwrap().is_empty());
        assert!("pending=2".parse::<ModeMix>().is_err());
        assert!("later=0.1".parse::<ModeMix>().is_err());
        assert!("pending=0.6,reject=0.6".parse::<ModeMix>().is_err());
    }
}
