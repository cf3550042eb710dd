use std::sync::Arc;

use fapiao_domain::order::{
    Authorization, Command, Input, IssueResult, Order, OrderState, UploadedPdf,
};
use fapiao_domain::ports::{Job, JobQueue, NewJob, OrderFilter, OrderRepository, RepositoryError};
use fapiao_domain::testing::fixtures;
use fapiao_domain::weixin::InsertedCard;
use fapiao_domain::{
    CardCode, CardId, InvoiceKind, InvoiceNumber, IssueKey, IssuedInvoice, MediaId, OpenId,
    QrToken, Scenario,
};
use fapiao_storage::{SeaOrmJobQueue, SeaOrmOrderRepository};
use sea_orm::{ConnectionTrait, Statement};

use crate::harness::{Kind, TestDb, at};
use crate::on_both;

on_both!(
    insert_then_get_round_trips_the_aggregate,
    inserting_an_existing_order_is_a_conflict_and_changes_nothing,
    update_bumps_the_version_appends_history_and_enqueues_jobs,
    a_stale_update_is_refused_and_changes_nothing,
    updating_a_missing_order_is_not_found,
    a_failing_update_enqueues_nothing_and_keeps_the_order,
    concurrent_updates_of_one_version_let_exactly_one_win,
    find_by_qr_token_and_by_card,
    list_filters_pages_newest_first_and_counts_by_state,
    update_completing_ends_the_job_in_the_same_transaction,
    a_chained_save_hands_the_next_due_job_to_its_worker_only,
);

fn new_order(order_id: &str, scenario: Scenario, created: i64) -> Order {
    Order::create(fixtures::new_order(order_id, scenario), at(created)).expect("valid order")
}

fn job(order: &Order, command: Command) -> NewJob {
    NewJob {
        order: order.key().clone(),
        command,
        run_at: order.updated_at(),
    }
}

fn apply(order: &mut Order, input: Input, millis: i64) -> Vec<Command> {
    order.apply(input, at(millis)).expect("allowed transition")
}

/// Drives `order` from Created to Delivered with card `card_code`.
fn deliver(order: &mut Order, card_code: &str) {
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
        number: InvoiceNumber::digital("26002000000000000001").expect("number"),
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
                code: CardCode::parse(card_code).expect("code"),
                openid: OpenId::parse("oBuyer0001").expect("openid"),
                unionid: None,
            },
        },
        6_000,
    );
    assert_eq!(order.state(), OrderState::Delivered);
}

async fn history_rows(test_db: &TestDb, order: &Order) -> Vec<(i64, Option<String>, String)> {
    let backend = match test_db.kind {
        Kind::Sqlite => sea_orm::DbBackend::Sqlite,
        Kind::Postgres => sea_orm::DbBackend::Postgres,
    };
    let conn = test_db.raw_connection().await;
    let rows = conn
        .query_all_raw(Statement::from_sql_and_values(
            backend,
            "SELECT seq, from_state, to_state FROM order_history \
             WHERE s_pappid = $1 AND order_id = $2 ORDER BY seq",
            [
                order.key().s_pappid.as_str().into(),
                order.key().order_id.as_str().into(),
            ],
        ))
        .await
        .expect("history rows");
    rows.iter()
        .map(|row| {
            (
                row.try_get("", "seq").expect("seq"),
                row.try_get("", "from_state").expect("from_state"),
                row.try_get("", "to_state").expect("to_state"),
            )
        })
        .collect()
}

async fn insert_then_get_round_trips_the_aggregate(kind: Kind) {
    let test_db = TestDb::new(kind).await;
    let repo = SeaOrmOrderRepository::new(test_db.db.clone());
    let order = new_order("o-1", Scenario::OfficialAccount, 100);
    assert_eq!(order.version(), 0);
    repo.insert(&order, &[]).await.expect("insert");

    let stored = repo.get(order.key()).await.expect("get").expect("stored");
    let mut expected = order.clone();
    expected.mark_saved();
    assert_eq!(
        stored, expected,
        "everything but the version is as inserted"
    );
    assert_eq!(stored.version(), 1);
    assert_eq!(stored.money(), fixtures::fen("100.00"));
    assert_eq!(
        history_rows(&test_db, &order).await,
        [(1, None, "created".to_owned())]
    );
    assert_eq!(repo.get(&fixtures::key("o-2")).await.expect("get"), None);
}

async fn inserting_an_existing_order_is_a_conflict_and_changes_nothing(kind: Kind) {
    let test_db = TestDb::new(kind).await;
    let repo = SeaOrmOrderRepository::new(test_db.db.clone());
    let queue = SeaOrmJobQueue::new(test_db.db.clone());
    let order = new_order("o-1", Scenario::OfficialAccount, 100);
    repo.insert(&order, &[]).await.expect("insert");

    let again = new_order("o-1", Scenario::App, 999);
    let err = repo
        .insert(&again, &[job(&again, Command::FetchAuthData)])
        .await
        .expect_err("same key");
    assert!(matches!(err, RepositoryError::Conflict(_)), "{err:?}");
    let stored = repo.get(order.key()).await.expect("get").expect("stored");
    assert_eq!(stored.scenario(), Scenario::OfficialAccount);
    assert_eq!(stored.created_at(), at(100));
    assert_eq!(
        queue.pending_count().await.expect("count"),
        0,
        "no job enqueued"
    );
}

async fn update_bumps_the_version_appends_history_and_enqueues_jobs(kind: Kind) {
    let test_db = TestDb::new(kind).await;
    let repo = SeaOrmOrderRepository::new(test_db.db.clone());
    let queue = SeaOrmJobQueue::new(test_db.db.clone());
    let order = new_order("o-1", Scenario::OfficialAccount, 100);
    let jobs = [job(&order, Command::FetchAuthData)];
    repo.insert(&order, &jobs).await.expect("insert with a job");
    assert_eq!(queue.pending_count().await.expect("count"), 1);

    let mut order = repo.get(order.key()).await.expect("get").expect("stored");
    apply(&mut order, Input::AuthUrlIssued, 1_000);
    let jobs = [
        job(&order, Command::UploadPdf),
        job(
            &order,
            Command::RejectInsert {
                reason: "开票失败：测试".to_owned(),
                url: None,
            },
        ),
    ];
    repo.update(&order, &jobs).await.expect("update");
    order.mark_saved();

    let stored = repo.get(order.key()).await.expect("get").expect("stored");
    assert_eq!(stored, order);
    assert_eq!(stored.version(), 2);
    assert_eq!(stored.state(), OrderState::AwaitingAuthorization);
    assert_eq!(
        history_rows(&test_db, &order).await,
        [
            (1, None, "created".to_owned()),
            (
                2,
                Some("created".to_owned()),
                "awaiting_authorization".to_owned()
            ),
        ]
    );
    let claimed = queue
        .claim("w", 10, at(10_000), at(20_000))
        .await
        .expect("claim");
    let commands: Vec<_> = claimed.iter().map(|j| j.command.clone()).collect();
    assert_eq!(commands.len(), 3);
    assert!(
        commands.contains(&jobs[1].command),
        "payload round-trips: {commands:?}"
    );

    // An update that adds no transition writes no history and still bumps the version.
    repo.update(&order, &[]).await.expect("no-op update");
    order.mark_saved();
    assert_eq!(history_rows(&test_db, &order).await.len(), 2);
    assert_eq!(
        repo.get(order.key())
            .await
            .expect("get")
            .expect("stored")
            .version(),
        3
    );
}

async fn a_stale_update_is_refused_and_changes_nothing(kind: Kind) {
    let test_db = TestDb::new(kind).await;
    let repo = SeaOrmOrderRepository::new(test_db.db.clone());
    let queue = SeaOrmJobQueue::new(test_db.db.clone());
    repo.insert(&new_order("o-1", Scenario::OfficialAccount, 100), &[])
        .await
        .expect("insert");
    let key = fixtures::key("o-1");
    let mut first = repo.get(&key).await.expect("get").expect("stored");
    let mut second = first.clone();

    apply(&mut first, Input::AuthUrlIssued, 1_000);
    repo.update(&first, &[]).await.expect("first writer wins");
    first.mark_saved();

    apply(
        &mut second,
        Input::RejectRequested {
            reason: "不开票".to_owned(),
            url: None,
        },
        1_001,
    );
    let err = repo
        .update(&second, &[job(&second, Command::FetchAuthData)])
        .await
        .expect_err("second writer is stale");
    assert!(
        matches!(err, RepositoryError::StaleVersion { expected: 1 }),
        "{err:?}"
    );
    assert_eq!(repo.get(&key).await.expect("get").expect("stored"), first);
    assert_eq!(history_rows(&test_db, &first).await.len(), 2);
    assert_eq!(
        queue.pending_count().await.expect("count"),
        0,
        "no job enqueued"
    );
}

async fn updating_a_missing_order_is_not_found(kind: Kind) {
    let test_db = TestDb::new(kind).await;
    let repo = SeaOrmOrderRepository::new(test_db.db.clone());
    let order = new_order("ghost", Scenario::App, 100);
    let err = repo.update(&order, &[]).await.expect_err("never inserted");
    assert!(matches!(err, RepositoryError::NotFound(_)), "{err:?}");
}

async fn a_failing_update_enqueues_nothing_and_keeps_the_order(kind: Kind) {
    let test_db = TestDb::new(kind).await;
    let repo = SeaOrmOrderRepository::new(test_db.db.clone());
    let order = new_order("o-1", Scenario::OfficialAccount, 100);
    repo.insert(&order, &[]).await.expect("insert");
    let mut order = repo.get(order.key()).await.expect("get").expect("stored");
    apply(&mut order, Input::AuthUrlIssued, 1_000);

    // Make the job insert fail after the order row and the history were written.
    let conn = test_db.raw_connection().await;
    conn.execute_unprepared("ALTER TABLE jobs RENAME TO jobs_away")
        .await
        .expect("rename");
    repo.update(&order, &[job(&order, Command::FetchAuthData)])
        .await
        .expect_err("the job insert fails");
    conn.execute_unprepared("ALTER TABLE jobs_away RENAME TO jobs")
        .await
        .expect("rename back");

    let stored = repo.get(order.key()).await.expect("get").expect("stored");
    assert_eq!(stored.version(), 1, "the order update was rolled back");
    assert_eq!(stored.state(), OrderState::Created);
    assert_eq!(history_rows(&test_db, &order).await.len(), 1);
    let queue = SeaOrmJobQueue::new(test_db.db.clone());
    assert_eq!(queue.pending_count().await.expect("count"), 0);

    // The same update succeeds once the database is healthy again.
    repo.update(&order, &[job(&order, Command::FetchAuthData)])
        .await
        .expect("retry succeeds");
    assert_eq!(queue.pending_count().await.expect("count"), 1);
}

async fn concurrent_updates_of_one_version_let_exactly_one_win(kind: Kind) {
    let test_db = TestDb::new(kind).await;
    let first = Arc::new(SeaOrmOrderRepository::new(test_db.db.clone()));
    let second = Arc::new(SeaOrmOrderRepository::new(test_db.second_instance().await));
    first
        .insert(&new_order("o-1", Scenario::OfficialAccount, 100), &[])
        .await
        .expect("insert");
    let loaded = first
        .get(&fixtures::key("o-1"))
        .await
        .expect("get")
        .expect("stored");
    let mut tasks = Vec::new();
    for n in 0..8_i64 {
        let repo = if n % 2 == 0 {
            first.clone()
        } else {
            second.clone()
        };
        let mut order = loaded.clone();
        tasks.push(tokio::spawn(async move {
            apply(&mut order, Input::AuthUrlIssued, 1_000 + n);
            let jobs = [job(&order, Command::FetchAuthData)];
            repo.update(&order, &jobs).await
        }));
    }
    let mut won = 0;
    for task in tasks {
        match task.await.expect("task") {
            Ok(()) => won += 1,
            Err(RepositoryError::StaleVersion { expected: 1 }) => {}
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(won, 1);
    let queue = SeaOrmJobQueue::new(test_db.db.clone());
    assert_eq!(
        queue.pending_count().await.expect("count"),
        1,
        "only the winner's job"
    );
    let stored = first
        .get(&fixtures::key("o-1"))
        .await
        .expect("get")
        .expect("stored");
    assert_eq!(stored.version(), 2);
    assert_eq!(stored.history().len(), 2);
}

async fn find_by_qr_token_and_by_card(kind: Kind) {
    let test_db = TestDb::new(kind).await;
    let repo = SeaOrmOrderRepository::new(test_db.db.clone());
    let token = QrToken::parse("Qr8Token0001").expect("token");
    let mut new = fixtures::new_order("qr-1", Scenario::ScanQr);
    new.qr_token = Some(token.clone());
    let qr_order = Order::create(new, at(100)).expect("qr order");
    repo.insert(&qr_order, &[]).await.expect("insert");
    let found = repo
        .find_by_qr_token(&token)
        .await
        .expect("find")
        .expect("found");
    assert_eq!(found.key(), qr_order.key());
    let other = QrToken::parse("Qr8Token0002").expect("token");
    assert_eq!(repo.find_by_qr_token(&other).await.expect("find"), None);

    // A second order printed with the same token is refused.
    let mut dup = fixtures::new_order("qr-2", Scenario::ScanQr);
    dup.qr_token = Some(token.clone());
    let dup = Order::create(dup, at(100)).expect("order");
    let err = repo.insert(&dup, &[]).await.expect_err("token taken");
    assert!(matches!(err, RepositoryError::Conflict(_)), "{err:?}");

    let order = new_order("oa-1", Scenario::OfficialAccount, 100);
    repo.insert(&order, &[]).await.expect("insert");
    let mut order = repo.get(order.key()).await.expect("get").expect("stored");
    deliver(&mut order, "code0001");
    repo.update(&order, &[]).await.expect("update");
    let card_id = CardId::parse("pCardTemplate01").expect("card id");
    let found = repo
        .find_by_card(&card_id, &CardCode::parse("code0001").expect("code"))
        .await
        .expect("find")
        .expect("found");
    assert_eq!(found.key(), order.key());
    assert_eq!(found.state(), OrderState::Delivered);
    assert_eq!(
        repo.find_by_card(&card_id, &CardCode::parse("code0002").expect("code"))
            .await
            .expect("find"),
        None
    );
    assert_eq!(history_rows(&test_db, &order).await.len(), 7);
}

async fn list_filters_pages_newest_first_and_counts_by_state(kind: Kind) {
    let test_db = TestDb::new(kind).await;
    let repo = SeaOrmOrderRepository::new(test_db.db.clone());
    for (n, scenario) in [
        Scenario::OfficialAccount,
        Scenario::App,
        Scenario::OfficialAccount,
        Scenario::MiniProgram,
        Scenario::OfficialAccount,
    ]
    .into_iter()
    .enumerate()
    {
        let millis = 1_000 * i64::try_from(n).expect("small");
        repo.insert(&new_order(&format!("o-{n}"), scenario, millis), &[])
            .await
            .expect("insert");
    }
    let mut moved = repo
        .get(&fixtures::key("o-0"))
        .await
        .expect("get")
        .expect("stored");
    apply(&mut moved, Input::AuthUrlIssued, 10_000);
    repo.update(&moved, &[]).await.expect("update");

    let ids = |orders: Vec<Order>| -> Vec<String> {
        orders
            .iter()
            .map(|o| o.key().order_id.to_string())
            .collect()
    };
    let all = OrderFilter {
        limit: 100,
        ..OrderFilter::default()
    };
    assert_eq!(
        ids(repo.list(&all).await.expect("list")),
        ["o-0", "o-4", "o-3", "o-2", "o-1"],
        "most recently updated first"
    );
    let page = OrderFilter {
        limit: 2,
        updated_before: Some(at(4_000)),
        ..OrderFilter::default()
    };
    assert_eq!(ids(repo.list(&page).await.expect("list")), ["o-3", "o-2"]);
    let oldest = OrderFilter {
        limit: 3,
        oldest_first: true,
        ..OrderFilter::default()
    };
    assert_eq!(
        ids(repo.list(&oldest).await.expect("list")),
        ["o-1", "o-2", "o-3"],
        "least recently updated first"
    );
    let created_oa = OrderFilter {
        state: Some(OrderState::Created),
        scenario: Some(Scenario::OfficialAccount),
        limit: 100,
        ..OrderFilter::default()
    };
    assert_eq!(
        ids(repo.list(&created_oa).await.expect("list")),
        ["o-4", "o-2"]
    );
    let zero = OrderFilter::default();
    assert_eq!(
        repo.list(&zero).await.expect("list").len(),
        1,
        "limit 0 means 1"
    );

    let counts: Vec<_> = repo
        .count_by_state()
        .await
        .expect("counts")
        .into_iter()
        .map(|c| (c.scenario, c.state, c.count))
        .collect();
    assert_eq!(
        counts,
        [
            (Scenario::OfficialAccount, OrderState::Created, 2),
            (
                Scenario::OfficialAccount,
                OrderState::AwaitingAuthorization,
                1
            ),
            (Scenario::App, OrderState::Created, 1),
            (Scenario::MiniProgram, OrderState::Created, 1),
        ]
    );
}

async fn update_completing_ends_the_job_in_the_same_transaction(kind: Kind) {
    let test_db = TestDb::new(kind).await;
    let repo = SeaOrmOrderRepository::new(test_db.db.clone());
    let queue = SeaOrmJobQueue::new(test_db.db.clone());
    let order = new_order("o-1", Scenario::OfficialAccount, 100);
    repo.insert(&order, &[job(&order, Command::FetchAuthData)])
        .await
        .expect("insert");
    let claimed = queue
        .claim("w1", 10, at(1_000), at(61_000))
        .await
        .expect("claim");
    assert_eq!(claimed.len(), 1);
    let held = &claimed[0];

    // A stale save changes nothing, and the job stays held.
    let loaded = repo.get(order.key()).await.expect("get").expect("stored");
    let mut stale = loaded.clone();
    let mut winner = loaded.clone();
    apply(&mut winner, Input::AuthUrlIssued, 2_000);
    repo.update(&winner, &[]).await.expect("first writer");
    apply(&mut stale, Input::AuthUrlIssued, 2_000);
    let err = repo
        .update_completing(&stale, &[], held, "w1")
        .await
        .expect_err("stale");
    assert!(
        matches!(err, RepositoryError::StaleVersion { .. }),
        "{err:?}"
    );
    assert_eq!(queue.pending_count().await.expect("count"), 1);

    // The fresh save completes it together with the state change and its new job.
    let mut order = repo.get(order.key()).await.expect("get").expect("stored");
    let before = order.version();
    apply(
        &mut order,
        Input::BuyerAuthorized(Authorization {
            openid: Some(OpenId::parse("oBuyer0001").expect("openid")),
            appid: None,
            source: None,
            at: at(3_000),
        }),
        3_000,
    );
    repo.update_completing(&order, &[job(&order, Command::FetchAuthData)], held, "w1")
        .await
        .expect("save");
    let stored = repo.get(order.key()).await.expect("get").expect("stored");
    assert_eq!(stored.version(), before + 1);
    assert_eq!(
        queue.pending_count().await.expect("count"),
        1,
        "the held job is gone, the new one is queued"
    );
    let next = queue
        .claim("w2", 10, at(4_000), at(64_000))
        .await
        .expect("claim");
    assert_eq!(next.len(), 1);
    assert_ne!(next[0].id, held.id);

    // A worker whose lease passed to another saves nothing: neither the order nor the job.
    let mut order = stored.clone();
    apply(
        &mut order,
        Input::AuthDataFetched {
            buyer: Some(fixtures::company()),
            note: None,
            issue_key: IssueKey::parse("K1").expect("issue key"),
        },
        5_000,
    );
    let err = repo
        .update_completing(&order, &[], &next[0], "w1")
        .await
        .expect_err("fenced");
    assert!(matches!(err, RepositoryError::LeaseLost(_)), "{err:?}");
    assert_eq!(
        repo.get(order.key()).await.expect("get").expect("stored"),
        stored,
        "the order is unchanged"
    );
    assert_eq!(queue.pending_count().await.expect("count"), 1);
    // Its holder renews the lease; the old lease no longer fences anything in.
    queue
        .renew(&next[0], "w2", at(90_000))
        .await
        .expect("the holder renews");
    let renewed = Job {
        lease_until: at(90_000),
        ..next[0].clone()
    };
    assert!(matches!(
        queue.renew(&next[0], "w2", at(95_000)).await,
        Err(RepositoryError::LeaseLost(_))
    ));
    assert!(matches!(
        queue.renew(&renewed, "w1", at(95_000)).await,
        Err(RepositoryError::LeaseLost(_))
    ));
    // Claims at a time inside the renewed lease do not take it.
    assert!(
        queue
            .claim("w3", 10, at(70_000), at(130_000))
            .await
            .expect("claim")
            .is_empty()
    );
    repo.update_completing(&order, &[], &renewed, "w2")
        .await
        .expect("the holder saves at its renewed lease");
    assert_eq!(queue.pending_count().await.expect("count"), 0);
}

async fn a_chained_save_hands_the_next_due_job_to_its_worker_only(kind: Kind) {
    let test_db = TestDb::new(kind).await;
    let repo = SeaOrmOrderRepository::new(test_db.db.clone());
    let queue = SeaOrmJobQueue::new(test_db.db.clone());
    let order = new_order("o-chain", Scenario::OfficialAccount, 100);
    repo.insert(&order, &[job(&order, Command::FetchAuthData)])
        .await
        .expect("insert");
    let held = queue
        .claim("w1", 10, at(1_000), at(61_000))
        .await
        .expect("claim")
        .pop()
        .expect("one job");

    // Two new jobs: one due now (leased to w1 and answered), one later (queued as usual).
    let mut order = repo.get(order.key()).await.expect("get").expect("stored");
    apply(&mut order, Input::AuthUrlIssued, 2_000);
    let later = NewJob {
        run_at: at(500_000),
        ..job(&order, Command::InsertCard)
    };
    let due = NewJob {
        run_at: at(2_000),
        ..job(&order, Command::UploadPdf)
    };
    let chained = repo
        .update_completing_chained(&order, &[later, due], &held, "w1", at(2_000), at(62_000))
        .await
        .expect("save")
        .expect("the due job comes back leased");
    assert_eq!(chained.command, Command::UploadPdf);
    assert_eq!(chained.order, *order.key());
    assert_eq!(chained.attempts, 0);
    assert_eq!(chained.lease_until, at(62_000));
    assert_ne!(chained.id, held.id);
    assert_eq!(queue.pending_count().await.expect("count"), 2);

    // Nobody else claims it inside its lease; its holder completes it, fenced by that lease.
    assert!(
        queue
            .claim("w2", 10, at(3_000), at(63_000))
            .await
            .expect("claim")
            .is_empty(),
        "the chained job is held and the other is not due"
    );
    let stolen = Job {
        lease_until: at(62_000),
        ..chained.clone()
    };
    assert!(matches!(
        queue.complete(&stolen, "w2").await,
        Err(RepositoryError::LeaseLost(_))
    ));
    queue
        .complete(&chained, "w1")
        .await
        .expect("the holder completes it");
    assert_eq!(queue.pending_count().await.expect("count"), 1);

    // A chained save that fails writes nothing: no job is leased, none is enqueued.
    let stale = order.clone();
    let err = repo
        .update_completing_chained(
            &stale,
            &[job(&stale, Command::UploadPdf)],
            &chained,
            "w1",
            at(4_000),
            at(64_000),
        )
        .await
        .expect_err("the job is gone and the order version moved on");
    assert!(
        matches!(
            err,
            RepositoryError::StaleVersion { .. } | RepositoryError::LeaseLost(_)
        ),
        "{err:?}"
    );
    assert_eq!(queue.pending_count().await.expect("count"), 1);

    // After its lease, a crashed holder's chained job is claimed by another worker.
    let held = queue
        .claim("w1", 10, at(600_000), at(660_000))
        .await
        .expect("claim")
        .pop()
        .expect("the later job is due now");
    assert_eq!(held.command, Command::InsertCard);
    let mut order = repo.get(order.key()).await.expect("get").expect("stored");
    apply(
        &mut order,
        Input::BuyerAuthorized(Authorization {
            openid: Some(OpenId::parse("oBuyer0001").expect("openid")),
            appid: None,
            source: None,
            at: at(600_000),
        }),
        600_000,
    );
    let chained = repo
        .update_completing_chained(
            &order,
            &[job(&order, Command::UploadPdf)],
            &held,
            "w1",
            at(600_000),
            at(660_000),
        )
        .await
        .expect("save")
        .expect("leased");
    assert!(
        queue
            .claim("w2", 10, at(650_000), at(710_000))
            .await
            .expect("claim")
            .is_empty()
    );
    let taken = queue
        .claim("w2", 10, at(660_000), at(720_000))
        .await
        .expect("claim");
    assert_eq!(taken.len(), 1);
    assert_eq!(taken[0].id, chained.id);
    assert_eq!(taken[0].command, Command::UploadPdf);
}
