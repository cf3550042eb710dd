use super::*;
use crate::ids::{CardCode, CardId, IssueKey, MediaId, OpenId, QrToken};
use crate::invoice::{InvoiceKind, InvoiceNumber, IssuedInvoice, RedReason};
use crate::scenario::{PageStyle, Scenario};
use crate::testing::fixtures;
use crate::time::Timestamp;
use crate::weixin::{InsertedCard, ReimburseStatus};

const T0: i64 = 1_780_000_000_000;

fn at(offset_secs: i64) -> Timestamp {
    Timestamp::from_millis(T0 + offset_secs * 1000)
}

#[allow(clippy::unwrap_used)]
fn key(text: &str) -> IssueKey {
    IssueKey::parse(text).unwrap()
}

#[allow(clippy::unwrap_used)]
fn invoice(order: &Order, number: &str) -> IssuedInvoice {
    IssuedInvoice {
        number: InvoiceNumber::digital(number).unwrap(),
        kind: InvoiceKind::DigitalOrdinary,
        issued_at: at(100),
        totals: order.lines().totals(),
        qr_payload: None,
        provider_ref: None,
        red_of: None,
    }
}

#[allow(clippy::unwrap_used)]
fn authorized() -> Input {
    Input::BuyerAuthorized(Authorization {
        openid: Some(OpenId::parse("oBuyer0001").unwrap()),
        appid: None,
        source: None,
        at: at(10),
    })
}

fn auth_data() -> Input {
    Input::AuthDataFetched {
        buyer: Some(fixtures::company()),
        note: None,
        issue_key: key("K1"),
    }
}

#[allow(clippy::unwrap_used)]
fn uploaded() -> Input {
    Input::PdfUploaded(UploadedPdf {
        media_id: MediaId::parse("3015806758683707").unwrap(),
        uploaded_at: at(200),
    })
}

#[allow(clippy::unwrap_used)]
fn inserted() -> Input {
    Input::CardInserted {
        card_id: CardId::parse("pCardSandbox01").unwrap(),
        card: InsertedCard {
            code: CardCode::parse("682000000001").unwrap(),
            openid: OpenId::parse("oBuyer0001").unwrap(),
            unionid: None,
        },
    }
}

/// A step of a scenario script: an input (built from the order so far) and what must follow.
enum Expect {
    /// The new state and the commands, by step name.
    Ok(OrderState, &'static [&'static str]),
    /// A transition error whose message contains this text; nothing changes.
    Err(&'static str),
}

type ScriptStep = (fn(&Order) -> Input, Expect);

#[allow(clippy::unwrap_used)]
fn new_order(scenario: Scenario) -> Order {
    let mut new = fixtures::new_order("1202933957956", scenario);
    if scenario == Scenario::ScanQr {
        new.qr_token = Some(QrToken::parse("QR00000000000001").unwrap());
    }
    Order::create(new, at(0)).unwrap()
}

fn check(scenario: Scenario, steps: &[ScriptStep]) -> Order {
    let mut order = new_order(scenario);
    for (i, (make, expect)) in steps.iter().enumerate() {
        let input = make(&order);
        let before = order.clone();
        let result = order.apply(input, at(i as i64 + 1));
        match (expect, result) {
            (Expect::Ok(state, commands), Ok(got)) => {
                assert_eq!(order.state(), *state, "{scenario} step {i}: state");
                let names: Vec<&str> = got.iter().map(|c| c.step().code()).collect();
                assert_eq!(names, *commands, "{scenario} step {i}: commands");
            }
            (Expect::Err(text), Err(e)) => {
                assert!(e.to_string().contains(text), "{scenario} step {i}: {e}");
                assert_eq!(
                    order, before,
                    "{scenario} step {i}: a failed transition changed the order"
                );
            }
            (Expect::Ok(..), Err(e)) => panic!("{scenario} step {i}: unexpected error {e}"),
            (Expect::Err(text), Ok(_)) => {
                panic!("{scenario} step {i}: expected error containing {text:?}")
            }
        }
    }
    order
}

fn happy_path() -> Vec<ScriptStep> {
    vec![
        (
            |_| Input::AuthUrlIssued,
            Expect::Ok(OrderState::AwaitingAuthorization, &[]),
        ),
        (
            |_| authorized(),
            Expect::Ok(OrderState::Authorized, &["fetch_auth_data"]),
        ),
        (|_| auth_data(), Expect::Ok(OrderState::Issuing, &["issue"])),
        (
            |o| Input::IssueAnswered(IssueResult::Issued(invoice(o, "26009000000000000001"))),
            Expect::Ok(OrderState::Issued, &["upload_pdf"]),
        ),
        (
            |_| uploaded(),
            Expect::Ok(OrderState::PdfUploaded, &["insert_card"]),
        ),
        (|_| inserted(), Expect::Ok(OrderState::Delivered, &[])),
    ]
}

#[test]
fn every_url_scenario_reaches_delivered() {
    for scenario in [
        Scenario::OfficialAccount,
        Scenario::ScanQr,
        Scenario::App,
        Scenario::MiniProgram,
    ] {
        let order = check(scenario, &happy_path());
        assert_eq!(
            order.card().map(|c| c.reimbursement),
            Some(ReimburseStatus::Init)
        );
        assert_eq!(
            order.history().len(),
            7,
            "{scenario}: created + six transitions"
        );
    }
}

#[test]
fn post_payment_starts_from_the_buyers_tap() {
    let mut steps = happy_path();
    steps[0] = (
        |_| Input::AuthUrlIssued,
        Expect::Err("auth_url_issued is not allowed in state created"),
    );
    check(Scenario::PostPayment, &steps);
}

#[test]
fn post_payment_requires_page_style_one() {
    let mut new = fixtures::new_order("P1", Scenario::PostPayment);
    new.page_style = PageStyle::Apply;
    new.buyer = Some(fixtures::person());
    let err = Order::create(new, at(0)).unwrap_err();
    assert_eq!(err.field, "page_style");
}

#[test]
fn page_style_zero_needs_a_buyer_and_keeps_it() {
    let mut new = fixtures::new_order("Z1", Scenario::OfficialAccount);
    new.page_style = PageStyle::Apply;
    assert_eq!(
        Order::create(new.clone(), at(0)).unwrap_err().field,
        "buyer"
    );
    new.buyer = Some(fixtures::person());
    let mut order = Order::create(new, at(0)).unwrap();
    order.apply(Input::AuthUrlIssued, at(1)).unwrap();
    order.apply(authorized(), at(2)).unwrap();
    order
        .apply(
            Input::AuthDataFetched {
                buyer: None,
                note: None,
                issue_key: key("K1"),
            },
            at(3),
        )
        .unwrap();
    assert_eq!(order.buyer().map(|b| b.name()), Some("张三"));
}

#[test]
fn a_remark_the_platform_refuses_is_refused_when_the_order_is_created() {
    let mut new = fixtures::new_order("R-1", Scenario::OfficialAccount);
    new.remark = Some("备".repeat(201));
    let err = Order::create(new.clone(), at(0)).unwrap_err();
    assert_eq!(err.field, "remark");
    assert!(
        err.rule.contains("201 characters exceed the limit of 200"),
        "{}",
        err.rule
    );
    new.remark = Some(format!("  {}  ", "备".repeat(200)));
    let order = Order::create(new.clone(), at(0)).unwrap();
    assert_eq!(order.remark().map(|r| r.chars().count()), Some(200));
    new.remark = Some("   ".into());
    assert_eq!(Order::create(new, at(0)).unwrap().remark(), None);
}

#[test]
fn qr_order_needs_a_token() {
    let new = fixtures::new_order("Q1", Scenario::ScanQr);
    assert_eq!(Order::create(new, at(0)).unwrap_err().field, "qr_token");
}

#[test]
fn duplicate_authorization_changes_nothing() {
    let mut order = check(Scenario::OfficialAccount, &happy_path()[..3]);
    let before = order.clone();
    let commands = order.apply(authorized(), at(50)).unwrap();
    assert!(commands.is_empty());
    assert_eq!(order, before);
}

#[test]
fn rescanned_qr_code_changes_nothing() {
    let mut order = check(Scenario::ScanQr, &happy_path()[..1]);
    let before = order.clone();
    assert!(order.apply(Input::AuthUrlIssued, at(9)).unwrap().is_empty());
    assert_eq!(order, before);
}

#[test]
fn authorization_failure_is_terminal_but_a_later_success_counts() {
    let order = check(
        Scenario::OfficialAccount,
        &[
            (
                |_| Input::AuthUrlIssued,
                Expect::Ok(OrderState::AwaitingAuthorization, &[]),
            ),
            (
                |_| Input::AuthorizationFailed { at: at(5) },
                Expect::Ok(OrderState::AuthorizationFailed, &[]),
            ),
            (
                |_| Input::AuthorizationFailed { at: at(5) },
                Expect::Ok(OrderState::AuthorizationFailed, &[]),
            ),
            (
                |_| auth_data(),
                Expect::Err("auth_data_fetched is not allowed in state authorization_failed"),
            ),
            (
                |_| authorized(),
                Expect::Ok(OrderState::Authorized, &["fetch_auth_data"]),
            ),
        ],
    );
    assert!(order.authorization().is_some());
}

#[test]
fn ambiguous_issue_is_queried_with_the_same_key() {
    let order = check(
        Scenario::OfficialAccount,
        &[
            (
                |_| Input::AuthUrlIssued,
                Expect::Ok(OrderState::AwaitingAuthorization, &[]),
            ),
            (
                |_| authorized(),
                Expect::Ok(OrderState::Authorized, &["fetch_auth_data"]),
            ),
            (|_| auth_data(), Expect::Ok(OrderState::Issuing, &["issue"])),
            (
                |_| {
                    Input::IssueAnswered(IssueResult::OutcomeUnknown {
                        detail: "timeout".into(),
                    })
                },
                Expect::Ok(OrderState::IssueOutcomeUnknown, &["query_issue"]),
            ),
            (
                |_| Input::IssueAnswered(IssueResult::Pending(None)),
                Expect::Ok(OrderState::IssuePending, &["query_issue"]),
            ),
            (
                |o| Input::IssueAnswered(IssueResult::Issued(invoice(o, "26009000000000000001"))),
                Expect::Ok(OrderState::Issued, &["upload_pdf"]),
            ),
        ],
    );
    assert_eq!(order.issue_key().map(IssueKey::as_str), Some("K1"));
}

#[test]
fn the_idempotency_key_is_never_replaced() {
    let mut order = check(Scenario::OfficialAccount, &happy_path()[..3]);
    order
        .apply(
            Input::StepFailed(AttentionReason::IssuerSessionRequired {
                message: "login".into(),
            }),
            at(20),
        )
        .unwrap();
    let commands = order.apply(Input::RetryRequested, at(21)).unwrap();
    assert_eq!(commands, vec![Command::IssueInvoice { key: key("K1") }]);
}

#[test]
fn issuer_rejection_rejects_the_order_with_a_buyer_readable_reason() {
    let mut order = check(Scenario::OfficialAccount, &happy_path()[..3]);
    let commands = order
        .apply(
            Input::IssueAnswered(IssueResult::Rejected {
                reason: "购买方税号有误".into(),
            }),
            at(30),
        )
        .unwrap();
    assert_eq!(order.state(), OrderState::Rejected);
    assert_eq!(
        commands,
        vec![Command::RejectInsert {
            reason: "开票失败：购买方税号有误".into(),
            url: None
        }]
    );
    order.apply(Input::RejectionSent, at(31)).unwrap();
    assert!(order.apply(Input::RetryRequested, at(32)).is_err());
}

#[test]
fn issued_totals_that_differ_need_attention_with_both_and_keep_the_invoice() {
    let mut order = check(Scenario::OfficialAccount, &happy_path()[..3]);
    let mut wrong = invoice(&order, "26009000000000000001");
    wrong.totals.tax = fixtures::fen("5.67");
    wrong.totals.total = fixtures::fen("100.01");
    let commands = order
        .apply(
            Input::IssueAnswered(IssueResult::Issued(wrong.clone())),
            at(30),
        )
        .unwrap();
    assert!(commands.is_empty());
    assert_eq!(order.state(), OrderState::NeedsAttention);
    let attention = order.attention_details().unwrap();
    assert_eq!(attention.resume, OrderState::Issued);
    let AttentionReason::IssuedTotalsDiffer {
        number,
        issued,
        expected,
    } = &attention.reason
    else {
        panic!("{:?}", attention.reason);
    };
    assert_eq!(number, "26009000000000000001");
    assert!(issued.ends_with("5.67 / 100.01"), "{issued}");
    let totals = order.lines().totals();
    assert_eq!(
        expected,
        &format!("{} / {} / {}", totals.amount_excl, totals.tax, totals.total)
    );
    assert_eq!(
        order.invoice(),
        Some(&wrong),
        "the invoice exists: it is recorded"
    );
    assert!(order.may_have_invoice());
    // Retry delivers the invoice as issued.
    let commands = order.apply(Input::RetryRequested, at(31)).unwrap();
    assert_eq!(order.state(), OrderState::Issued);
    assert_eq!(commands, vec![Command::UploadPdf]);
}

#[test]
fn an_order_that_may_hold_an_invoice_is_never_rejected() {
    // Issuing: the key is recorded and the request may have been sent.
    let mut order = check(Scenario::OfficialAccount, &happy_path()[..3]);
    assert_eq!(order.state(), OrderState::Issuing);
    assert!(order.may_have_invoice());
    order
        .apply(
            Input::StepFailed(AttentionReason::IssuerSessionRequired {
                message: "login".into(),
            }),
            at(40),
        )
        .unwrap();
    assert_eq!(
        order.attention_details().map(|a| a.resume),
        Some(OrderState::Issuing)
    );
    let before = order.clone();
    let err = order
        .apply(
            Input::RejectRequested {
                reason: "no".into(),
                url: None,
            },
            at(41),
        )
        .unwrap_err();
    assert!(err.to_string().contains("may exist"), "{err}");
    assert_eq!(order, before);
}

#[test]
fn a_rejection_before_authorization_waits_for_the_buyer() {
    let mut order = check(Scenario::OfficialAccount, &happy_path()[..1]);
    let commands = order
        .apply(
            Input::RejectRequested {
                reason: "out of stock".into(),
                url: None,
            },
            at(5),
        )
        .unwrap();
    assert_eq!(order.state(), OrderState::Rejected);
    assert!(
        commands.is_empty(),
        "rejectinsert before authorization gets 72038"
    );
    let commands = order.apply(authorized(), at(6)).unwrap();
    assert_eq!(
        commands,
        vec![Command::RejectInsert {
            reason: "out of stock".into(),
            url: None
        }]
    );
    assert_eq!(order.state(), OrderState::Rejected);
    order.apply(Input::RejectionSent, at(7)).unwrap();
    assert!(order.apply(authorized(), at(8)).unwrap().is_empty());
}

#[test]
fn a_lost_insert_answer_is_a_delivered_card_whose_code_is_learned_later() {
    let mut order = check(Scenario::OfficialAccount, &happy_path()[..5]);
    let card_id = CardId::parse("pCardSandbox01").unwrap();
    let commands = order
        .apply(
            Input::CardAlreadyInserted {
                card_id: card_id.clone(),
                code: None,
            },
            at(50),
        )
        .unwrap();
    assert!(commands.is_empty());
    assert_eq!(order.state(), OrderState::Delivered);
    let card = order.card().unwrap();
    assert_eq!(
        (card.code.as_ref(), card.card_id.as_str()),
        (None, "pCardSandbox01")
    );
    assert_eq!(card.openid.as_ref().map(OpenId::as_str), Some("oBuyer0001"));
    // A repeat changes nothing.
    let before = order.clone();
    order
        .apply(
            Input::CardAlreadyInserted {
                card_id,
                code: None,
            },
            at(51),
        )
        .unwrap();
    assert_eq!(order, before);
    // A reversal goes through; the card cancel waits for the code.
    order
        .apply(
            Input::ReverseRequested {
                reason: RedReason::SalesReturn,
                key: key("R1"),
            },
            at(52),
        )
        .unwrap();
    let mut red = invoice(&order, "26009000000000000002");
    red.totals = order.lines().full_reversal().totals();
    let commands = order.apply(Input::RedIssued(red), at(53)).unwrap();
    assert_eq!(order.state(), OrderState::Reversed);
    assert!(commands.is_empty(), "no cancel without the card code");
    assert!(!order.accepts(&Command::UpdateCardStatus {
        status: ReimburseStatus::Cancel
    }));
    // A status push names the card: the code is learned and the cancel follows.
    let commands = order
        .apply(
            Input::CardCodeLearned {
                code: CardCode::parse("682000000009").unwrap(),
                openid: OpenId::parse("oBuyer0001").unwrap(),
            },
            at(54),
        )
        .unwrap();
    assert_eq!(
        commands,
        vec![Command::UpdateCardStatus {
            status: ReimburseStatus::Cancel
        }]
    );
    assert_eq!(
        order
            .card()
            .and_then(|c| c.code.as_ref())
            .map(CardCode::as_str),
        Some("682000000009")
    );
}

#[test]
fn reimbursement_pushes_apply_in_create_time_order() {
    let mut order = check(Scenario::OfficialAccount, &happy_path());
    let change = |status, secs| Input::ReimbursementChanged {
        status,
        at: at(secs),
    };
    order
        .apply(change(ReimburseStatus::Lock, 60), at(70))
        .unwrap();
    // INIT happened before LOCK but arrives after it: it is not applied.
    order
        .apply(change(ReimburseStatus::Init, 55), at(71))
        .unwrap();
    assert_eq!(
        order.card().map(|c| c.reimbursement),
        Some(ReimburseStatus::Lock)
    );
    order
        .apply(change(ReimburseStatus::Init, 65), at(72))
        .unwrap();
    order
        .apply(change(ReimburseStatus::Lock, 66), at(73))
        .unwrap();
    order
        .apply(change(ReimburseStatus::Init, 64), at(74))
        .unwrap();
    assert_eq!(
        order.card().map(|c| c.reimbursement),
        Some(ReimburseStatus::Lock)
    );
}

#[test]
fn a_rejected_reversal_can_be_requested_again_with_a_new_key() {
    let mut order = check(Scenario::OfficialAccount, &happy_path());
    order
        .apply(
            Input::ReverseRequested {
                reason: RedReason::SalesReturn,
                key: key("R1"),
            },
            at(60),
        )
        .unwrap();
    order
        .apply(
            Input::StepFailed(AttentionReason::ReversalRejected {
                message: "bad reason".into(),
            }),
            at(61),
        )
        .unwrap();
    let commands = order
        .apply(
            Input::ReverseRequested {
                reason: RedReason::InvoicingError,
                key: key("R2"),
            },
            at(62),
        )
        .unwrap();
    assert_eq!(order.state(), OrderState::Reversing);
    assert_eq!(
        commands,
        vec![Command::ReverseInvoice {
            key: key("R2"),
            reason: RedReason::InvoicingError
        }]
    );
}

#[test]
fn merchant_rejection_only_before_an_invoice_may_exist() {
    let mut order = check(Scenario::OfficialAccount, &happy_path()[..2]);
    let commands = order
        .apply(
            Input::RejectRequested {
                reason: "订单已退款".into(),
                url: None,
            },
            at(20),
        )
        .unwrap();
    assert_eq!(order.state(), OrderState::Rejected);
    assert_eq!(commands.len(), 1);

    let mut order = check(Scenario::OfficialAccount, &happy_path()[..4]);
    let err = order
        .apply(
            Input::RejectRequested {
                reason: "订单已退款".into(),
                url: None,
            },
            at(20),
        )
        .unwrap_err();
    assert!(err.to_string().contains("reverse it instead"), "{err}");

    let mut order = check(Scenario::OfficialAccount, &happy_path()[..3]);
    order
        .apply(
            Input::IssueAnswered(IssueResult::OutcomeUnknown { detail: "t".into() }),
            at(20),
        )
        .unwrap();
    order
        .apply(
            Input::StepFailed(AttentionReason::RetriesExhausted {
                step: Step::QueryIssue,
                last_error: "x".into(),
            }),
            at(21),
        )
        .unwrap();
    assert!(
        order
            .apply(
                Input::RejectRequested {
                    reason: "r".into(),
                    url: None
                },
                at(22)
            )
            .is_err()
    );
}

#[test]
fn weixin_business_error_lands_in_needs_attention_and_retry_resumes() {
    let mut order = check(Scenario::OfficialAccount, &happy_path()[..5]);
    order
        .apply(
            Input::StepFailed(AttentionReason::WeixinBusiness {
                step: Step::InsertCard,
                errcode: 72042,
                errmsg: "billing_code and billing_no repeated".into(),
            }),
            at(40),
        )
        .unwrap();
    assert_eq!(order.state(), OrderState::NeedsAttention);
    let attention = order.attention_details().cloned().unwrap();
    assert_eq!(attention.resume, OrderState::PdfUploaded);
    assert!(attention.reason.to_string().contains("72042"));
    assert!(attention.reason.to_string().contains("already on a card"));
    let commands = order.apply(Input::RetryRequested, at(41)).unwrap();
    assert_eq!(order.state(), OrderState::PdfUploaded);
    assert_eq!(commands, vec![Command::InsertCard]);
}

#[test]
fn expired_pdf_media_is_uploaded_again() {
    let mut order = check(Scenario::OfficialAccount, &happy_path()[..5]);
    assert!(order.pdf_attachable(at(200)));
    assert!(!order.pdf_attachable(Timestamp::from_millis(
        at(200).millis() + PDF_MEDIA_TTL_MILLIS
    )));
    let commands = order.apply(Input::PdfMediaExpired, at(300)).unwrap();
    assert_eq!(
        (order.state(), commands),
        (OrderState::Issued, vec![Command::UploadPdf])
    );
}

#[test]
fn missing_title_needs_attention() {
    let mut order = check(Scenario::OfficialAccount, &happy_path()[..2]);
    order
        .apply(
            Input::AuthDataFetched {
                buyer: None,
                note: None,
                issue_key: key("K1"),
            },
            at(5),
        )
        .unwrap();
    assert_eq!(order.state(), OrderState::NeedsAttention);
    assert_eq!(
        order.attention_details().map(|a| a.reason.clone()),
        Some(AttentionReason::MissingBuyerTitle)
    );
}

#[test]
fn reversal_then_card_cancelled_and_reimbursement_is_final() {
    let mut order = check(Scenario::OfficialAccount, &happy_path());
    order
        .apply(
            Input::ReimbursementChanged {
                status: ReimburseStatus::Lock,
                at: at(60),
            },
            at(60),
        )
        .unwrap();
    order
        .apply(
            Input::ReimbursementChanged {
                status: ReimburseStatus::Init,
                at: at(61),
            },
            at(61),
        )
        .unwrap();
    let commands = order
        .apply(
            Input::ReverseRequested {
                reason: RedReason::SalesReturn,
                key: key("R1"),
            },
            at(62),
        )
        .unwrap();
    assert_eq!(
        commands,
        vec![Command::ReverseInvoice {
            key: key("R1"),
            reason: RedReason::SalesReturn
        }]
    );
    let mut red = invoice(&order, "26009000000000000002");
    red.totals = order.lines().full_reversal().totals();
    let commands = order.apply(Input::RedIssued(red), at(63)).unwrap();
    assert_eq!(order.state(), OrderState::Reversed);
    assert_eq!(
        commands,
        vec![Command::UpdateCardStatus {
            status: ReimburseStatus::Cancel
        }]
    );
    order
        .apply(Input::CardStatusUpdated(ReimburseStatus::Cancel), at(64))
        .unwrap();
    assert_eq!(
        order.card().map(|c| c.reimbursement),
        Some(ReimburseStatus::Cancel)
    );
    let err = order
        .apply(
            Input::ReimbursementChanged {
                status: ReimburseStatus::Lock,
                at: at(65),
            },
            at(65),
        )
        .unwrap_err();
    assert!(err.to_string().contains("final"), "{err}");
}

#[test]
fn reversal_needs_an_invoice() {
    let mut order = check(Scenario::OfficialAccount, &happy_path()[..2]);
    assert!(
        order
            .apply(
                Input::ReverseRequested {
                    reason: RedReason::InvoicingError,
                    key: key("R1")
                },
                at(9)
            )
            .is_err()
    );
}

#[test]
fn one_card_per_order() {
    let mut order = check(Scenario::OfficialAccount, &happy_path());
    assert!(order.apply(inserted(), at(70)).unwrap().is_empty());
    let other = Input::CardInserted {
        card_id: CardId::parse("pCardSandbox01").unwrap(),
        card: InsertedCard {
            code: CardCode::parse("999").unwrap(),
            openid: OpenId::parse("o2").unwrap(),
            unionid: None,
        },
    };
    assert!(order.apply(other, at(71)).is_err());
}

#[test]
fn illegal_transitions_are_typed_errors() {
    let mut order = new_order(Scenario::OfficialAccount);
    let err = order.apply(Input::PdfMediaExpired, at(1)).unwrap_err();
    assert_eq!(
        err,
        TransitionError::NotAllowed {
            order: "1202933957956".into(),
            state: OrderState::Created,
            input: "pdf_media_expired"
        }
    );
    assert!(order.apply(Input::RetryRequested, at(1)).is_err());
    assert!(order.apply(Input::RejectionSent, at(1)).is_err());
}

#[test]
fn state_codes_round_trip() {
    for state in OrderState::ALL {
        assert_eq!(OrderState::parse(state.code()), Some(state));
    }
}

#[test]
fn order_survives_serde() {
    let order = check(Scenario::MiniProgram, &happy_path());
    let json = serde_json::to_string(&order).unwrap();
    let back: Order = serde_json::from_str(&json).unwrap();
    assert_eq!(back, order);
}

/// The order after `input`, which must be accepted.
fn then(mut order: Order, input: Input, offset_secs: i64) -> Order {
    if let Err(e) = order.apply(input, at(offset_secs)) {
        panic!("{e}");
    }
    order
}

/// The commands of every kind, with the recorded keys (`K1`, `R1`) and foreign ones (`K2`, `R2`).
fn every_command() -> Vec<Command> {
    let reverse = |k: &str| Command::ReverseInvoice {
        key: key(k),
        reason: RedReason::SalesReturn,
    };
    vec![
        Command::FetchAuthData,
        Command::IssueInvoice { key: key("K1") },
        Command::IssueInvoice { key: key("K2") },
        Command::QueryIssue { key: key("K1") },
        Command::QueryIssue { key: key("K2") },
        Command::UploadPdf,
        Command::InsertCard,
        Command::RejectInsert {
            reason: "订单已退款".into(),
            url: None,
        },
        reverse("R1"),
        reverse("R2"),
        Command::UpdateCardStatus {
            status: ReimburseStatus::Cancel,
        },
    ]
}

/// The commands `order` accepts, as `step` or `step key`.
fn accepted(order: &Order) -> Vec<String> {
    every_command()
        .into_iter()
        .filter(|command| order.accepts(command))
        .map(|command| match &command {
            Command::IssueInvoice { key }
            | Command::QueryIssue { key }
            | Command::ReverseInvoice { key, .. } => format!("{} {key}", command.step()),
            _ => command.step().to_string(),
        })
        .collect()
}

#[test]
fn each_state_accepts_only_its_own_commands_with_the_recorded_key() {
    let happy = happy_path();
    let upto = |steps: usize| check(Scenario::OfficialAccount, &happy[..steps]);
    let reverse = |order: Order| {
        let reversing = then(
            order,
            Input::ReverseRequested {
                reason: RedReason::SalesReturn,
                key: key("R1"),
            },
            70,
        );
        let mut red = invoice(&reversing, "26009000000000000002");
        red.totals = reversing.lines().full_reversal().totals();
        let reversed = then(reversing.clone(), Input::RedIssued(red), 71);
        (reversing, reversed)
    };
    let issuing = upto(3);
    let pending = then(
        issuing.clone(),
        Input::IssueAnswered(IssueResult::Pending(None)),
        60,
    );
    let unknown = then(
        issuing.clone(),
        Input::IssueAnswered(IssueResult::OutcomeUnknown {
            detail: "timeout".into(),
        }),
        60,
    );
    let needs_attention = then(
        issuing.clone(),
        Input::StepFailed(AttentionReason::RetriesExhausted {
            step: Step::Issue,
            last_error: "timeout".into(),
        }),
        60,
    );
    let rejected = then(
        upto(2),
        Input::RejectRequested {
            reason: "订单已退款".into(),
            url: None,
        },
        60,
    );
    let rejection_sent = then(rejected.clone(), Input::RejectionSent, 61);
    let (reversing, reversed) = reverse(upto(6));
    let (_, reversed_without_card) = reverse(upto(4));

    let cases: [(&str, &Order, &[&str]); 16] = [
        ("created", &new_order(Scenario::OfficialAccount), &[]),
        ("awaiting_authorization", &upto(1), &[]),
        ("authorized", &upto(2), &["fetch_auth_data"]),
        ("issuing", &issuing, &["issue K1", "query_issue K1"]),
        ("issue_pending", &pending, &["issue K1", "query_issue K1"]),
        (
            "issue_outcome_unknown",
            &unknown,
            &["issue K1", "query_issue K1"],
        ),
        ("needs_attention", &needs_attention, &[]),
        ("issued", &upto(4), &["upload_pdf"]),
        ("pdf_uploaded", &upto(5), &["insert_card"]),
        ("delivered", &upto(6), &[]),
        ("rejected", &rejected, &["reject_insert"]),
        ("rejected, buyer told", &rejection_sent, &["reject_insert"]),
        ("reversing", &reversing, &["reverse R1"]),
        ("reversed", &reversed, &["update_card_status"]),
        ("reversed without a card", &reversed_without_card, &[]),
        (
            "authorization_failed",
            &then(upto(1), Input::AuthorizationFailed { at: at(60) }, 60),
            &[],
        ),
    ];
    for (name, order, expected) in cases {
        assert_eq!(accepted(order), expected, "{name} ({})", order.state());
    }
}

/// Every history entry becomes one webhook event, typed by what it means, contiguous from 1.
#[test]
fn webhook_events_follow_the_history_one_per_entry() {
    use crate::webhook::{EventSelection, EventType, events_since};
    let mut order = check(Scenario::OfficialAccount, &happy_path());
    order = then(
        order,
        Input::ReimbursementChanged {
            status: ReimburseStatus::Lock,
            at: at(60),
        },
        60,
    );
    order = then(
        order,
        Input::ReverseRequested {
            reason: RedReason::SalesReturn,
            key: key("R1"),
        },
        62,
    );
    let mut red = invoice(&order, "26009000000000000002");
    red.totals = order.lines().full_reversal().totals();
    order = then(order, Input::RedIssued(red), 63);
    order = then(order, Input::CardStatusUpdated(ReimburseStatus::Cancel), 64);

    let events = events_since(&order, 0);
    let types: Vec<&str> = events.iter().map(|e| e.event_type.code()).collect();
    assert_eq!(
        types,
        [
            "order.created",
            "order.state_changed",
            "order.state_changed",
            "order.state_changed",
            "invoice.issued",
            "order.state_changed",
            "card.delivered",
            "card.reimbursement_changed",
            "order.state_changed",
            "invoice.reversed",
            "card.reimbursement_changed",
        ]
    );
    let sequences: Vec<u32> = events.iter().map(|e| e.sequence).collect();
    assert_eq!(sequences, (1..=11).collect::<Vec<u32>>());
    let last = events.last().unwrap();
    assert_eq!(last.data.from_state, Some("reversed"));
    assert_eq!(last.data.state, "reversed");
    assert_eq!(
        last.data.card.as_ref().map(|c| c.reimbursement),
        Some("INVOICE_REIMBURSE_CANCEL")
    );
    let reversal = last.data.reversal.as_ref().unwrap();
    assert_eq!(
        reversal.red_invoice.as_ref().map(|i| i.number.as_str()),
        Some("26009000000000000002")
    );
    assert_eq!(
        last.data.invoice.as_ref().map(|i| i.number.as_str()),
        Some("26009000000000000001")
    );
    // Only the entries after a sequence.
    assert_eq!(events_since(&order, 9).len(), 2);
    assert!(events_since(&order, 11).is_empty());

    // Needs attention is its own type and carries the reason.
    let mut stuck = new_order(Scenario::OfficialAccount);
    stuck = then(stuck, Input::AuthUrlIssued, 1);
    stuck = then(stuck, authorized(), 2);
    stuck = then(
        stuck,
        Input::AuthDataFetched {
            buyer: None,
            note: None,
            issue_key: key("K1"),
        },
        3,
    );
    let events = events_since(&stuck, 0);
    let last = events.last().unwrap();
    assert_eq!(stuck.state(), OrderState::NeedsAttention);
    assert_eq!(last.event_type, EventType::NeedsAttention);
    assert!(last.data.attention.is_some());

    // Selections: "*" takes every type; names are checked.
    assert_eq!(EventSelection::parse(&["*"]), Ok(EventSelection::All));
    let only = EventSelection::parse(&["invoice.issued", "card.delivered"]).unwrap();
    assert!(only.includes(EventType::InvoiceIssued));
    assert!(!only.includes(EventType::OrderCreated));
    let err = EventSelection::parse(&["invoice.isued"]).unwrap_err();
    assert!(err.contains("invoice.isued"), "{err}");
    assert!(EventSelection::parse::<&str>(&[]).is_err());
    for t in EventType::ALL {
        assert_eq!(EventType::parse(t.code()), Some(t));
    }
}
