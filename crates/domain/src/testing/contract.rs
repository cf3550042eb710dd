//! The port contract: behaviours every implementation of the persistence ports must show, the
//! in-memory fakes of this module and the database adapters alike.
//!
//! Each check is an `async fn` taking fresh, empty [`Stores`]; [`port_contract!`](crate::port_contract)
//! hands the list of checks to a macro of the caller, which turns each into a test. The domain
//! runs them on its fakes, `fapiao-storage` on SQLite and PostgreSQL, so a fake that drifts
//! from the real store (a double claim, a write kept after a lost lease, a missing unique
//! constraint) fails here rather than passing the app's tests.

use std::collections::BTreeSet;
use std::sync::Arc;

use crate::ids::{CardCode, CardId, IssueKey, MediaId, OpenId, QrToken};
use crate::invoice::{InvoiceKind, InvoiceNumber, IssuedInvoice};
use crate::order::{
    AttentionReason, Authorization, Command, Input, IssueResult, Order, OrderState, Step,
    UploadedPdf,
};
use crate::ports::{
    EventInbox, InboxStatus, Job, JobQueue, NewJob, OrderFilter, OrderPosition, OrderRepository,
    RecordOutcome, RepositoryError, SetAsideEvent,
};
use crate::scenario::Scenario;
use crate::time::Timestamp;
use crate::weixin::{InsertedCard, WeixinEvent};

use super::fixtures;

mod inbox;
mod jobs;
#[cfg(test)]
mod tests;

pub use inbox::*;
pub use jobs::*;

/// One implementation of the persistence ports, fresh and empty. `orders` and `jobs` MUST share
/// their storage (an order update enqueues jobs, `update_completing` ends one).
pub struct Stores {
    /// Orders.
    pub orders: Arc<dyn OrderRepository>,
    /// The job queue over the same storage.
    pub jobs: Arc<dyn JobQueue>,
    /// The event inbox.
    pub inbox: Arc<dyn EventInbox>,
}

impl std::fmt::Debug for Stores {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Stores")
    }
}

/// Calls `$callback!(check, check, ...)` with the name of every check of
/// [`testing::contract`](crate::testing::contract), so the caller defines one test per check
/// (and per backend) without listing them.
#[macro_export]
macro_rules! port_contract {
    ($callback:ident) => {
        $callback!(
            a_claim_is_fenced_by_worker_and_lease,
            two_workers_claiming_at_once_never_share_a_job,
            claim_takes_due_jobs_by_run_at_then_id,
            retry_and_bury_count_the_attempt,
            update_completing_writes_nothing_when_the_lease_is_lost,
            update_completing_with_a_stale_order_keeps_the_job,
            a_stale_update_writes_nothing,
            card_and_qr_token_are_unique,
            orders_round_trip_including_needs_attention,
            list_orders_by_update_time_then_key,
            list_pages_past_a_position_both_ways,
            list_and_count_by_seller_creation_time_and_text,
            the_inbox_dedupes_and_leases,
            the_inbox_refuses_to_release_a_processed_event,
            the_inbox_lists_set_aside_pushes_and_reports_status,
        );
    };
}

fn at(millis: i64) -> Timestamp {
    Timestamp::from_millis(millis)
}

fn order(order_id: &str, created: i64) -> Order {
    Order::create(
        fixtures::new_order(order_id, Scenario::OfficialAccount),
        at(created),
    )
    .expect("fixture order is valid")
}

fn apply(order: &mut Order, input: Input, millis: i64) {
    order.apply(input, at(millis)).expect("allowed transition");
}

fn job(order_id: &str, command: Command, run_at: i64) -> NewJob {
    NewJob {
        order: fixtures::key(order_id),
        command,
        run_at: at(run_at),
    }
}

fn is_lease_lost(result: Result<(), RepositoryError>) -> bool {
    matches!(result, Err(RepositoryError::LeaseLost(_)))
}

/// Drives `order` to Issued (authorized by `oBuyer0001`, invoice `number`).
fn issue(order: &mut Order, number: &str) {
    apply(order, Input::AuthUrlIssued, 1_000);
    apply(
        order,
        Input::BuyerAuthorized(Authorization {
            openid: Some(OpenId::parse("oBuyer0001").expect("openid")),
            appid: None,
            source: None,
            at: at(2_000),
        }),
        2_000,
    );
    apply(
        order,
        Input::AuthDataFetched {
            buyer: Some(fixtures::company()),
            note: None,
            issue_key: IssueKey::parse("K1").expect("issue key"),
        },
        3_000,
    );
    let invoice = IssuedInvoice {
        number: InvoiceNumber::digital(number).expect("number"),
        kind: InvoiceKind::DigitalOrdinary,
        issued_at: at(4_000),
        totals: order.lines().totals(),
        qr_payload: None,
        provider_ref: None,
        red_of: None,
    };
    apply(
        order,
        Input::IssueAnswered(IssueResult::Issued(invoice)),
        4_000,
    );
}

/// Drives an issued `order` to Delivered with card `pCardTemplate01`/`code`.
fn deliver(order: &mut Order, code: &str) {
    apply(
        order,
        Input::PdfUploaded(UploadedPdf {
            media_id: MediaId::parse("3015806758683707").expect("media id"),
            uploaded_at: at(5_000),
        }),
        5_000,
    );
    apply(
        order,
        Input::CardInserted {
            card_id: CardId::parse("pCardTemplate01").expect("card id"),
            card: InsertedCard {
                code: CardCode::parse(code).expect("code"),
                openid: OpenId::parse("oBuyer0001").expect("openid"),
                unionid: None,
            },
        },
        6_000,
    );
    assert_eq!(order.state(), OrderState::Delivered);
}

/// Saves `order` as the caller changed it and marks it saved, as the app does.
async fn save(stores: &Stores, order: &mut Order) {
    stores.orders.update(order, &[]).await.expect("update");
    order.mark_saved();
}

/// `update_completing` by a worker whose lease passed to another writes nothing: not the
/// order, not its jobs, and the job stays with the new holder, who then saves.
pub async fn update_completing_writes_nothing_when_the_lease_is_lost(stores: Stores) {
    let mut created = order("o-1", 0);
    stores
        .orders
        .insert(&created, &[job("o-1", Command::UploadPdf, 0)])
        .await
        .expect("insert");
    created.mark_saved();
    let stale = stores
        .jobs
        .claim("w1", 1, at(1_000), at(31_000))
        .await
        .expect("claim")
        .remove(0);
    let current = stores
        .jobs
        .claim("w2", 1, at(31_000), at(61_000))
        .await
        .expect("claim")
        .remove(0);

    let mut changed = created.clone();
    apply(&mut changed, Input::AuthUrlIssued, 40_000);
    let lost = stores
        .orders
        .update_completing(
            &changed,
            &[job("o-1", Command::InsertCard, 0)],
            &stale,
            "w1",
        )
        .await;
    assert!(
        matches!(lost, Err(RepositoryError::LeaseLost(_))),
        "{lost:?}"
    );
    let stored = stores
        .orders
        .get(&fixtures::key("o-1"))
        .await
        .expect("get")
        .expect("order");
    assert_eq!(stored, created, "the order is as before");
    let pending = stores
        .jobs
        .pending_for(&fixtures::key("o-1"))
        .await
        .expect("pending");
    assert_eq!(
        pending.iter().map(|p| &p.command).collect::<Vec<_>>(),
        [&Command::UploadPdf],
        "no job of the lost write"
    );

    stores
        .orders
        .update_completing(
            &changed,
            &[job("o-1", Command::InsertCard, 0)],
            &current,
            "w2",
        )
        .await
        .expect("the holder saves");
    changed.mark_saved();
    let stored = stores
        .orders
        .get(&fixtures::key("o-1"))
        .await
        .expect("get")
        .expect("order");
    assert_eq!(stored, changed);
    let pending = stores
        .jobs
        .pending_for(&fixtures::key("o-1"))
        .await
        .expect("pending");
    assert_eq!(
        pending.iter().map(|p| &p.command).collect::<Vec<_>>(),
        [&Command::InsertCard],
        "the done job ended with the save, the new one is live"
    );
}

/// `update_completing` with an order someone else changed first is refused and keeps the job
/// its worker holds.
pub async fn update_completing_with_a_stale_order_keeps_the_job(stores: Stores) {
    let mut created = order("o-1", 0);
    stores
        .orders
        .insert(&created, &[job("o-1", Command::UploadPdf, 0)])
        .await
        .expect("insert");
    created.mark_saved();
    let held = stores
        .jobs
        .claim("w1", 1, at(1_000), at(31_000))
        .await
        .expect("claim")
        .remove(0);
    let mut elsewhere = created.clone();
    apply(&mut elsewhere, Input::AuthUrlIssued, 2_000);
    save(&stores, &mut elsewhere).await;

    let mut mine = created.clone();
    apply(&mut mine, Input::AuthUrlIssued, 3_000);
    let stale = stores
        .orders
        .update_completing(&mine, &[job("o-1", Command::InsertCard, 0)], &held, "w1")
        .await;
    assert!(
        matches!(stale, Err(RepositoryError::StaleVersion { .. })),
        "{stale:?}"
    );
    assert_eq!(
        stores.orders.get(&fixtures::key("o-1")).await.expect("get"),
        Some(elsewhere)
    );
    assert_eq!(stores.jobs.pending_count().await.expect("count"), 1);
    stores
        .jobs
        .complete(&held, "w1")
        .await
        .expect("the job is still held by w1");
}

/// An update from an old version is refused and enqueues nothing.
pub async fn a_stale_update_writes_nothing(stores: Stores) {
    let mut created = order("o-1", 0);
    stores.orders.insert(&created, &[]).await.expect("insert");
    created.mark_saved();
    let mut first = created.clone();
    apply(&mut first, Input::AuthUrlIssued, 1_000);
    save(&stores, &mut first).await;
    let mut second = created;
    apply(&mut second, Input::AuthUrlIssued, 2_000);
    let stale = stores
        .orders
        .update(&second, &[job("o-1", Command::UploadPdf, 0)])
        .await;
    assert!(
        matches!(stale, Err(RepositoryError::StaleVersion { .. })),
        "{stale:?}"
    );
    assert_eq!(stores.jobs.pending_count().await.expect("count"), 0);
    assert_eq!(
        stores.orders.get(&fixtures::key("o-1")).await.expect("get"),
        Some(first)
    );
    let again = stores.orders.insert(&order("o-1", 5), &[]).await;
    assert!(
        matches!(again, Err(RepositoryError::Conflict(_))),
        "{again:?}"
    );
}

/// No two orders share a QR token, nor a card (template and code); the refused write changes
/// nothing.
pub async fn card_and_qr_token_are_unique(stores: Stores) {
    let token = QrToken::parse("Tok3nAbc123").expect("token");
    let mut with_token = fixtures::new_order("q-1", Scenario::OfficialAccount);
    with_token.qr_token = Some(token.clone());
    let first = Order::create(with_token.clone(), at(0)).expect("order");
    stores.orders.insert(&first, &[]).await.expect("insert");
    with_token.key = fixtures::key("q-2");
    let second = Order::create(with_token, at(0)).expect("order");
    let dup = stores
        .orders
        .insert(&second, &[job("q-2", Command::UploadPdf, 0)])
        .await;
    assert!(matches!(dup, Err(RepositoryError::Conflict(_))), "{dup:?}");
    assert_eq!(
        stores.orders.get(&fixtures::key("q-2")).await.expect("get"),
        None
    );
    assert_eq!(stores.jobs.pending_count().await.expect("count"), 0);
    let found = stores
        .orders
        .find_by_qr_token(&token)
        .await
        .expect("find")
        .expect("the first order");
    assert_eq!(found.key(), first.key());

    let mut a = order("c-1", 0);
    let mut b = order("c-2", 0);
    for o in [&mut a, &mut b] {
        stores.orders.insert(o, &[]).await.expect("insert");
        o.mark_saved();
        issue(o, "26002000000000000001");
        save(&stores, o).await;
    }
    deliver(&mut a, "123456789012");
    save(&stores, &mut a).await;
    let issued_b = b.clone();
    deliver(&mut b, "123456789012");
    let dup = stores.orders.update(&b, &[]).await;
    assert!(matches!(dup, Err(RepositoryError::Conflict(_))), "{dup:?}");
    assert_eq!(
        stores.orders.get(&fixtures::key("c-2")).await.expect("get"),
        Some(issued_b)
    );
    let card_id = CardId::parse("pCardTemplate01").expect("card id");
    let holder = stores
        .orders
        .find_by_card(&card_id, &CardCode::parse("123456789012").expect("code"))
        .await
        .expect("find")
        .expect("order c-1");
    assert_eq!(holder, a);
}

/// What is loaded equals what was saved, also for orders stopped for an operator and resumed,
/// and with the history in order.
pub async fn orders_round_trip_including_needs_attention(stores: Stores) {
    let mut o = order("o-1", 0);
    stores.orders.insert(&o, &[]).await.expect("insert");
    o.mark_saved();
    issue(&mut o, "26002000000000000009");
    apply(
        &mut o,
        Input::StepFailed(AttentionReason::WeixinBusiness {
            step: Step::UploadPdf,
            errcode: 72_017,
            errmsg: "invalid pdf \"x\" — 发票".to_owned(),
        }),
        4_500,
    );
    assert_eq!(o.state(), OrderState::NeedsAttention);
    save(&stores, &mut o).await;
    let loaded = stores
        .orders
        .get(o.key())
        .await
        .expect("get")
        .expect("order");
    assert_eq!(loaded, o);
    assert_eq!(loaded.state(), OrderState::NeedsAttention);
    assert_eq!(
        loaded.attention_details().map(|a| a.resume),
        Some(OrderState::Issued)
    );
    assert_eq!(loaded.history().len(), o.history().len());

    let mut resumed = loaded;
    apply(&mut resumed, Input::RetryRequested, 5_000);
    deliver(&mut resumed, "998877665544");
    save(&stores, &mut resumed).await;
    let loaded = stores
        .orders
        .get(resumed.key())
        .await
        .expect("get")
        .expect("order");
    assert_eq!(loaded, resumed);
    assert_eq!(loaded.attention_details(), None);
    let seqs: Vec<u32> = loaded.history().iter().map(|h| h.seq).collect();
    let mut sorted = seqs.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(seqs, sorted, "history in order, no entry twice");
}

/// Lists are ordered by update time, ties by platform and order id, newest first unless asked
/// otherwise; filters and the limit apply.
pub async fn list_orders_by_update_time_then_key(stores: Stores) {
    for (id, created) in [
        ("b", 1_000),
        ("c", 1_000),
        ("a", 1_000),
        ("z", 500),
        ("y", 2_000),
    ] {
        stores
            .orders
            .insert(&order(id, created), &[])
            .await
            .expect("insert");
    }
    let ids = |orders: Vec<Order>| -> Vec<String> {
        orders
            .iter()
            .map(|o| o.key().order_id.as_str().to_owned())
            .collect()
    };
    let all = OrderFilter {
        limit: 10,
        ..OrderFilter::default()
    };
    let newest = stores.orders.list(&all).await.expect("list");
    assert_eq!(ids(newest), ["y", "c", "b", "a", "z"]);
    let oldest = stores
        .orders
        .list(&OrderFilter {
            oldest_first: true,
            ..all.clone()
        })
        .await
        .expect("list");
    assert_eq!(ids(oldest), ["z", "a", "b", "c", "y"]);
    let window = stores
        .orders
        .list(&OrderFilter {
            updated_before: Some(at(2_000)),
            updated_after: Some(at(500)),
            limit: 2,
            ..all.clone()
        })
        .await
        .expect("list");
    assert_eq!(ids(window), ["c", "b"]);
    let at_least_one = stores
        .orders
        .list(&OrderFilter {
            limit: 0,
            ..all.clone()
        })
        .await
        .expect("list");
    assert_eq!(ids(at_least_one), ["y"], "a limit of 0 means 1");
    let none = stores
        .orders
        .list(&OrderFilter {
            state: Some(OrderState::Delivered),
            ..all
        })
        .await
        .expect("list");
    assert!(none.is_empty());
}

/// The console's filters: seller, creation window (from inclusive, before exclusive) and a
/// text found in the order id or the stored order (here its id and the buyer's name); `count`
/// counts what `list` would list, whatever the limit.
pub async fn list_and_count_by_seller_creation_time_and_text(stores: Stores) {
    for (id, created) in [("K-1", 500), ("K-2", 1_000), ("K-3", 2_000)] {
        stores
            .orders
            .insert(&order(id, created), &[])
            .await
            .expect("insert");
    }
    let mut issued = order("K-4", 900);
    issue(&mut issued, "26002000000000000077");
    stores.orders.insert(&issued, &[]).await.expect("insert");
    let buyer = fixtures::company().name().to_owned();
    let all = OrderFilter {
        limit: 1,
        ..OrderFilter::default()
    };
    let check = |filter: OrderFilter, expected: &'static [&'static str]| {
        let stores = &stores;
        async move {
            let listed = stores
                .orders
                .list(&OrderFilter {
                    limit: 10,
                    ..filter.clone()
                })
                .await
                .expect("list");
            let ids: Vec<&str> = listed.iter().map(|o| o.key().order_id.as_str()).collect();
            assert_eq!(ids, expected, "{filter:?}");
            let count = stores.orders.count(&filter).await.expect("count");
            assert_eq!(count, expected.len() as u64, "count of {filter:?}");
        }
    };
    check(all.clone(), &["K-4", "K-3", "K-2", "K-1"]).await;
    check(
        OrderFilter {
            created_from: Some(at(1_000)),
            created_before: Some(at(3_000)),
            ..all.clone()
        },
        &["K-3", "K-2"],
    )
    .await;
    check(
        OrderFilter {
            seller: Some(fixtures::seller_id()),
            created_before: Some(at(1_000)),
            ..all.clone()
        },
        &["K-4", "K-1"],
    )
    .await;
    check(
        OrderFilter {
            seller: Some(crate::ids::SellerId::parse("another-seller").expect("seller id")),
            ..all.clone()
        },
        &[],
    )
    .await;
    check(
        OrderFilter {
            text: Some("K-2".into()),
            ..all.clone()
        },
        &["K-2"],
    )
    .await;
    // `%` is a plain character, not a wildcard.
    check(
        OrderFilter {
            text: Some("K-%".into()),
            ..all.clone()
        },
        &[],
    )
    .await;
    check(
        OrderFilter {
            text: Some(buyer),
            ..all.clone()
        },
        &["K-4"],
    )
    .await;
    check(
        OrderFilter {
            text: Some("26002000000000000077".into()),
            ..all
        },
        &["K-4"],
    )
    .await;
}

/// Keyset paging: each page starts strictly past the position of the previous page's last
/// order, both ways, ties on the update time broken by key; an order updated between two pages
/// moves to the front and is not repeated, and the orders not updated are neither skipped nor
/// repeated.
pub async fn list_pages_past_a_position_both_ways(stores: Stores) {
    let mut saved = Vec::new();
    for (id, created) in [
        ("b", 1_000),
        ("c", 1_000),
        ("a", 1_000),
        ("z", 500),
        ("y", 2_000),
    ] {
        let mut fresh = order(id, created);
        stores.orders.insert(&fresh, &[]).await.expect("insert");
        fresh.mark_saved();
        saved.push(fresh);
    }
    let ids = |orders: &[Order]| -> Vec<String> {
        orders
            .iter()
            .map(|o| o.key().order_id.as_str().to_owned())
            .collect()
    };
    let page = |after: Option<OrderPosition>, oldest_first: bool| OrderFilter {
        limit: 2,
        oldest_first,
        after,
        ..OrderFilter::default()
    };
    let mut newest = Vec::new();
    let mut after = None;
    loop {
        let orders = stores
            .orders
            .list(&page(after.clone(), false))
            .await
            .expect("list");
        let Some(last) = orders.last() else { break };
        after = Some(OrderPosition::of(last));
        newest.push(ids(&orders));
    }
    assert_eq!(newest, [vec!["y", "c"], vec!["b", "a"], vec!["z"]]);
    let mut oldest = Vec::new();
    let mut after = None;
    loop {
        let orders = stores
            .orders
            .list(&page(after.clone(), true))
            .await
            .expect("list");
        let Some(last) = orders.last() else { break };
        after = Some(OrderPosition::of(last));
        oldest.push(ids(&orders));
    }
    assert_eq!(oldest, [vec!["z", "a"], vec!["b", "c"], vec!["y"]]);

    // Page 1 newest first, then "c" (on page 1) and "a" (not yet seen) are updated.
    let first = stores.orders.list(&page(None, false)).await.expect("list");
    assert_eq!(ids(&first), ["y", "c"]);
    let cursor = first.last().map(OrderPosition::of);
    for id in ["c", "a"] {
        let mut changed = saved
            .iter()
            .find(|o| o.key().order_id.as_str() == id)
            .expect("saved")
            .clone();
        apply(&mut changed, Input::AuthUrlIssued, 3_000);
        save(&stores, &mut changed).await;
    }
    let rest = stores
        .orders
        .list(&OrderFilter {
            limit: 10,
            ..page(cursor, false)
        })
        .await
        .expect("list");
    assert_eq!(
        ids(&rest),
        ["b", "z"],
        "no repeat of c; a moved to the front, before the cursor"
    );
    let filtered = stores
        .orders
        .list(&OrderFilter {
            state: Some(OrderState::Created),
            limit: 10,
            ..page(Some(OrderPosition::of(&saved[0])), false)
        })
        .await
        .expect("list");
    assert_eq!(ids(&filtered), ["z"], "filters and position combine");
}
