#![allow(clippy::unwrap_used, clippy::expect_used)]

use fapiao_domain::ids::{CardId, SPappId};
use fapiao_domain::ports::{MockWeixinMerchantApi, MockWeixinPlatformApi, SetupState};
use fapiao_domain::testing::{FakeIssuerMode, fixtures};
use fapiao_domain::weixin::WeixinError;

use crate::harness::*;

fn weixin_for_setup(contact_set: bool) -> (MockWeixinMerchantApi, MockWeixinPlatformApi) {
    let mut merchant = MockWeixinMerchantApi::new();
    let mut platform = MockWeixinPlatformApi::new();
    platform
        .expect_platform_id()
        .returning(|| Ok(fixtures::s_pappid()));
    let contact = settings().contact;
    merchant
        .expect_contact()
        .returning(move || Ok(contact_set.then(|| contact.clone())));
    merchant
        .expect_set_contact()
        .times(usize::from(!contact_set))
        .returning(|_| Ok(()));
    merchant.expect_auth_fields().returning(|| Ok(None));
    merchant
        .expect_set_auth_fields()
        .times(1)
        .returning(|_| Ok(()));
    merchant.expect_pay_mch().returning(|| Ok(None));
    merchant
        .expect_set_pay_mch()
        .withf(|b| b.mchid == "1230000109" && b.s_pappid == fixtures::s_pappid())
        .times(1)
        .returning(|_| Ok(()));
    platform
        .expect_create_card_template()
        .withf(|t| t.payee == "沙箱餐饮有限公司")
        .times(1)
        .returning(|_| Ok(CardId::parse("pCardSandbox01").unwrap()));
    (merchant, platform)
}

#[tokio::test]
async fn setup_runs_the_steps_in_order_and_records_them() {
    let (merchant, platform) = weixin_for_setup(false);
    let h = harness(
        merchant,
        platform,
        FakeIssuerMode::Synchronous,
        SetupState::default(),
    );
    let report = h.setup.run().await.unwrap();
    let names: Vec<&str> = report.steps.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "seturl",
            "set_contact",
            "set_auth_field",
            "createcard",
            "set_pay_mch"
        ]
    );
    assert!(report.steps.iter().all(|s| s.changed));
}

#[tokio::test]
async fn setup_is_idempotent_and_never_creates_a_second_template() {
    let mut merchant = MockWeixinMerchantApi::new();
    let mut platform = MockWeixinPlatformApi::new();
    platform
        .expect_platform_id()
        .returning(|| Ok(fixtures::s_pappid()));
    let contact = settings().contact;
    merchant
        .expect_contact()
        .returning(move || Ok(Some(contact.clone())));
    let fields = settings().auth_fields;
    merchant
        .expect_auth_fields()
        .returning(move || Ok(Some(fields.clone())));
    merchant.expect_pay_mch().returning(|| {
        Ok(Some(fapiao_domain::weixin::PayMchBinding {
            mchid: "1230000109".into(),
            s_pappid: fixtures::s_pappid(),
        }))
    });
    // No setter and no createcard may be called.
    let h = harness(
        merchant,
        platform,
        FakeIssuerMode::Synchronous,
        setup_done(),
    );
    let report = h.setup.run().await.unwrap();
    assert!(report.steps.iter().all(|s| !s.changed), "{report:?}");
}

#[tokio::test]
async fn doctor_names_the_missing_step() {
    let mut merchant = MockWeixinMerchantApi::new();
    let mut platform = MockWeixinPlatformApi::new();
    platform
        .expect_platform_id()
        .returning(|| Ok(SPappId::parse("d3hzYW5kYm94").unwrap()));
    merchant.expect_contact().returning(|| Ok(None));
    merchant.expect_auth_fields().returning(|| {
        Err(WeixinError::Api {
            errcode: 48001,
            errmsg: "api unauthorized".into(),
        })
    });
    merchant.expect_pay_mch().returning(|| Ok(None));
    let h = harness(
        merchant,
        platform,
        FakeIssuerMode::Synchronous,
        SetupState::default(),
    );
    let report = h.setup.doctor().await.unwrap();
    assert!(!report.healthy());
    let failing: Vec<(&str, &str)> = report
        .checks
        .iter()
        .filter(|c| !c.ok)
        .map(|c| (c.name.as_str(), c.detail.as_str()))
        .collect();
    assert_eq!(failing.len(), 5, "{failing:#?}");
    assert!(failing[1].1.contains("72063"), "{failing:#?}");
    assert!(failing[2].1.contains("48001"), "{failing:#?}");
    assert!(
        failing[3]
            .1
            .contains("seller store-01 has no card template"),
        "{failing:#?}"
    );
    assert!(failing[4].1.contains("72028"), "{failing:#?}");
    // The tax category table in force is reported.
    let tables = report.checks.last().unwrap();
    assert_eq!(tables.name, "tax categories");
    assert!(tables.ok);
    assert_eq!(
        tables.detail,
        "table 2026.6.1 in force since 2026-06-01 (embedded, 4098 codes); 1 version(s) known"
    );
}
