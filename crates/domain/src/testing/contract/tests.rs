//! The port contract on the in-memory fakes.

use std::sync::Arc;

use super::Stores;
use crate::testing::{InMemoryEventInbox, InMemoryOrderRepository};

fn fakes() -> Stores {
    let orders = Arc::new(InMemoryOrderRepository::new());
    Stores {
        orders: orders.clone(),
        jobs: orders,
        inbox: Arc::new(InMemoryEventInbox::new()),
    }
}

macro_rules! on_fakes {
    ($($check:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $check() {
                super::$check(fakes()).await;
            }
        )*
    };
}

crate::port_contract!(on_fakes);
