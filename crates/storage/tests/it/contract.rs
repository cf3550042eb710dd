//! The port contract of `fapiao_domain::testing::contract` on the sea-orm adapters, each check
//! on SQLite and on PostgreSQL, the same checks the in-memory fakes pass.

use std::sync::Arc;

use fapiao_domain::testing::contract::Stores;
use fapiao_storage::{SeaOrmEventInbox, SeaOrmJobQueue, SeaOrmOrderRepository};

use crate::harness::TestDb;

fn stores(test_db: &TestDb) -> Stores {
    Stores {
        orders: Arc::new(SeaOrmOrderRepository::new(test_db.db.clone())),
        jobs: Arc::new(SeaOrmJobQueue::new(test_db.db.clone())),
        inbox: Arc::new(SeaOrmEventInbox::new(test_db.db.clone())),
    }
}

macro_rules! on_databases {
    ($($check:ident),* $(,)?) => {
        $(
            async fn $check(kind: $crate::harness::Kind) {
                let test_db = TestDb::new(kind).await;
                fapiao_domain::testing::contract::$check(stores(&test_db)).await;
            }
            $crate::on_both!($check);
        )*
    };
}

fapiao_domain::port_contract!(on_databases);
