use fapiao_domain::testing::{InMemoryNumbering, ManualClock};

use super::*;

fn sandbox() -> SandboxIssuer {
    SandboxIssuer::new(
        Arc::new(InMemoryNumbering::default()),
        Arc::new(ManualClock::new(fapiao_domain::Timestamp::from_millis(0))),
    )
    .unwrap()
}

#[tokio::test]
async fn numbers_carry_year_region_00_channel_and_sequence() {
    let sandbox = sandbox();
    let number = sandbox
        .next_number("s", 2026, INVOICE_CHANNEL)
        .await
        .unwrap();
    assert_eq!(number, "26009000000000000001");
    let form = sandbox
        .next_number("s", 2105, RED_FORM_CHANNEL)
        .await
        .unwrap();
    assert_eq!(form, "05008000000000000002");
}

#[test]
fn mode_defaults_to_synchronous_and_switches_at_run_time() {
    let sandbox = sandbox();
    assert_eq!(sandbox.mode(), SandboxMode::Synchronous);
    sandbox.set_mode(SandboxMode::Pending { polls: 3 });
    assert_eq!(sandbox.mode(), SandboxMode::Pending { polls: 3 });
    assert!(format!("{sandbox:?}").contains("Pending"));
}

#[test]
fn capabilities() {
    let capabilities = sandbox().capabilities();
    assert_eq!(capabilities.name, "sandbox");
    assert!(capabilities.synchronous && capabilities.full_reversal);
    assert!(!capabilities.partial_reversal);
}
