use std::collections::BTreeMap;

use fapiao_domain::ports::{SetupState, SetupStore};
use fapiao_domain::testing::fixtures;
use fapiao_domain::weixin::{Contact, PayMchBinding};
use fapiao_domain::{CardId, SellerId};
use fapiao_storage::SeaOrmSetupStore;

use crate::harness::{Kind, TestDb};
use crate::on_both;

on_both!(setup_is_empty_until_saved_then_round_trips_and_is_replaced);

fn seller(id: &str) -> SellerId {
    SellerId::parse(id).expect("seller id")
}

fn card(id: &str) -> CardId {
    CardId::parse(id).expect("card id")
}

async fn setup_is_empty_until_saved_then_round_trips_and_is_replaced(kind: Kind) {
    let test_db = TestDb::new(kind).await;
    let store = SeaOrmSetupStore::new(test_db.db.clone());
    assert_eq!(store.load().await.expect("load"), SetupState::default());

    let state = SetupState {
        s_pappid: Some(fixtures::s_pappid()),
        contact: Some(Contact {
            phone: "13800000000".to_owned(),
            time_out_seconds: 172_800,
        }),
        auth_fields_set: true,
        card_templates: BTreeMap::from([
            (seller("store-01"), card("pCard01")),
            (seller("store-02"), card("pCard02")),
        ]),
        pay_mch: Some(PayMchBinding {
            mchid: "1900000109".to_owned(),
            s_pappid: fixtures::s_pappid(),
        }),
    };
    store.save(&state).await.expect("save");
    assert_eq!(store.load().await.expect("load"), state);

    // Saving replaces the whole state, templates included.
    let replaced = SetupState {
        contact: None,
        pay_mch: None,
        card_templates: BTreeMap::from([(seller("store-03"), card("pCard03"))]),
        ..state
    };
    store.save(&replaced).await.expect("save again");
    assert_eq!(store.load().await.expect("load"), replaced);
    store
        .save(&SetupState::default())
        .await
        .expect("save empty");
    assert_eq!(store.load().await.expect("load"), SetupState::default());
}
