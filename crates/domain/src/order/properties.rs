//! Property tests of the order state machine: random input sequences, biased towards the
//! input the current state waits for so that runs reach delivery, reversal and the operator's
//! retry, and after every input the invariants that keep an order from getting lost.

use proptest::prelude::*;

use super::{
    AttentionReason, Authorization, Command, Input, IssueResult, Order, OrderState, Step,
    UploadedPdf,
};
use crate::ids::{CardCode, CardId, IssueKey, MediaId, OpenId};
use crate::invoice::{InvoiceKind, InvoiceNumber, IssuedInvoice, RedLink, RedReason, Totals};
use crate::money::Fen;
use crate::scenario::Scenario;
use crate::testing::fixtures;
use crate::time::Timestamp;
use crate::weixin::{InsertedCard, ReimburseStatus};

const KINDS: u8 = 23;

fn at(step: usize) -> Timestamp {
    Timestamp::from_millis(1_780_000_000_000 + step as i64 * 1_000)
}

fn invoice(number: &str, totals: Totals, red_of: Option<RedLink>) -> IssuedInvoice {
    IssuedInvoice {
        number: InvoiceNumber::digital(number).expect("number"),
        kind: InvoiceKind::DigitalOrdinary,
        issued_at: at(0),
        totals,
        qr_payload: None,
        provider_ref: None,
        red_of,
    }
}

fn negated(totals: Totals) -> Totals {
    Totals {
        amount_excl: Fen::new(-totals.amount_excl.get()),
        tax: Fen::new(-totals.tax.get()),
        total: Fen::new(-totals.total.get()),
    }
}

const STEPS: [Step; 8] = [
    Step::FetchAuthData,
    Step::Issue,
    Step::QueryIssue,
    Step::UploadPdf,
    Step::InsertCard,
    Step::RejectInsert,
    Step::Reverse,
    Step::UpdateCardStatus,
];

/// Input `kind` (0..KINDS) for `order`, `variant` picking among its shapes.
fn input(order: &Order, kind: u8, variant: u8, step: usize) -> Input {
    let two = |a: &str, b: &str| {
        if variant.is_multiple_of(2) {
            a.to_owned()
        } else {
            b.to_owned()
        }
    };
    let code = || CardCode::parse(&two("682000000001", "682000000002")).expect("code");
    let buyer = || OpenId::parse("oBuyer0001").expect("openid");
    match kind {
        0 => Input::AuthUrlIssued,
        1 => Input::BuyerAuthorized(Authorization {
            openid: Some(buyer()),
            appid: None,
            source: None,
            at: at(step),
        }),
        2 => Input::AuthorizationFailed { at: at(step) },
        3 => Input::AuthDataFetched {
            buyer: (variant % 4 != 3).then(fixtures::company),
            note: None,
            issue_key: IssueKey::parse(&two("K1", "K2")).expect("key"),
        },
        4 => Input::IssueAnswered(IssueResult::Issued(invoice(
            &two("26009000000000000001", "26009000000000000002"),
            order.lines().totals(),
            None,
        ))),
        5 => Input::IssueAnswered(IssueResult::Issued(invoice(
            "26009000000000000003",
            negated(order.lines().totals()),
            None,
        ))),
        6 => Input::IssueAnswered(IssueResult::Pending(None)),
        7 => Input::IssueAnswered(IssueResult::Rejected {
            reason: "名称与税号不符".to_owned(),
        }),
        8 => Input::IssueAnswered(IssueResult::OutcomeUnknown {
            detail: "timeout".to_owned(),
        }),
        9 => Input::PdfUploaded(UploadedPdf {
            media_id: MediaId::parse("3015806758683707").expect("media id"),
            uploaded_at: at(step),
        }),
        10 => Input::PdfMediaExpired,
        11 => Input::CardInserted {
            card_id: CardId::parse("pCardSandbox01").expect("card id"),
            card: InsertedCard {
                code: code(),
                openid: buyer(),
                unionid: None,
            },
        },
        12 => Input::CardAlreadyInserted {
            card_id: CardId::parse("pCardSandbox01").expect("card id"),
            // The buyer's card list may name the code, or not.
            code: variant.is_multiple_of(3).then(code),
        },
        13 => Input::CardCodeLearned {
            code: code(),
            openid: buyer(),
        },
        14 => Input::RejectRequested {
            reason: two("订单已退款", " "),
            url: None,
        },
        15 => Input::RejectionSent,
        16 => Input::StepFailed(AttentionReason::RetriesExhausted {
            step: STEPS[usize::from(variant) % STEPS.len()],
            last_error: "timed out".to_owned(),
        }),
        17 => Input::RetryRequested,
        18 => Input::ReverseRequested {
            reason: RedReason::SalesReturn,
            key: IssueKey::parse(&two("R1", "R2")).expect("key"),
        },
        19 => {
            let original = order
                .invoice()
                .map(|i| i.number.clone())
                .unwrap_or_else(|| InvoiceNumber::digital("26009000000000000009").expect("number"));
            Input::RedIssued(invoice(
                "26009000000000000100",
                negated(order.lines().totals()),
                Some(RedLink {
                    original,
                    red_form_number: None,
                    reason: RedReason::SalesReturn,
                }),
            ))
        }
        20 => Input::RedPending,
        21 => Input::CardStatusUpdated(ReimburseStatus::Cancel),
        _ => Input::ReimbursementChanged {
            status: [
                ReimburseStatus::Lock,
                ReimburseStatus::Init,
                ReimburseStatus::Closure,
            ][usize::from(variant) % 3],
            at: at(step + usize::from(variant % 5)).plus_millis(-2_000),
        },
    }
}

/// The input the order's state waits for (the answer of its step, or the buyer's push).
fn expected_kind(order: &Order, variant: u8) -> u8 {
    use OrderState as S;
    match order.state() {
        S::Created | S::AwaitingAuthorization | S::AuthorizationFailed => 1,
        S::Authorized => 3,
        S::Issuing | S::IssuePending | S::IssueOutcomeUnknown => {
            [4, 4, 6, 8, 7][usize::from(variant) % 5]
        }
        S::Issued => 9,
        S::PdfUploaded => [11, 11, 12, 10][usize::from(variant) % 4],
        S::Delivered => [18, 22, 13][usize::from(variant) % 3],
        S::Rejected => 15,
        S::NeedsAttention => 17,
        S::Reversing => [19, 19, 20][usize::from(variant) % 3],
        S::Reversed => [21, 13][usize::from(variant) % 2],
    }
}

/// The step whose answer `input` is: its job ends with the save of that answer.
fn answered_step(input: &Input) -> Option<Vec<Step>> {
    Some(match input {
        Input::AuthDataFetched { .. } => vec![Step::FetchAuthData],
        Input::IssueAnswered(_) => vec![Step::Issue, Step::QueryIssue],
        Input::PdfUploaded(_) => vec![Step::UploadPdf],
        Input::PdfMediaExpired | Input::CardInserted { .. } | Input::CardAlreadyInserted { .. } => {
            vec![Step::InsertCard]
        }
        Input::RejectionSent => vec![Step::RejectInsert],
        // A pending red invoice is polled by the same job (the app answers it with a poll).
        Input::RedIssued(_) => vec![Step::Reverse],
        Input::CardStatusUpdated(_) => vec![Step::UpdateCardStatus],
        Input::StepFailed(
            AttentionReason::RetriesExhausted { step, .. }
            | AttentionReason::WeixinBusiness { step, .. },
        ) => vec![*step],
        _ => return None,
    })
}

/// Whether the order has a named way out: a live job it accepts, the buyer it waits for, an
/// operator's retry with a recorded reason, or nothing left to do.
fn way_out(order: &Order, live: &[Command]) -> Result<(), String> {
    use OrderState as S;
    let job = |step: Step| live.iter().any(|c| c.step() == step && order.accepts(c));
    let ok = match order.state() {
        S::Created | S::AwaitingAuthorization | S::AuthorizationFailed => true,
        S::Authorized => job(Step::FetchAuthData),
        S::Issuing => job(Step::Issue) || job(Step::QueryIssue),
        S::IssuePending | S::IssueOutcomeUnknown => job(Step::QueryIssue) || job(Step::Issue),
        S::Issued => job(Step::UploadPdf),
        S::PdfUploaded => job(Step::InsertCard),
        S::Reversing => job(Step::Reverse),
        S::NeedsAttention => order.attention_details().is_some(),
        S::Rejected => {
            order.rejection().is_some()
                && (order.rejection_sent
                    || order.authorization().is_none()
                    || job(Step::RejectInsert))
        }
        S::Delivered => order.invoice().is_some() && order.card().is_some(),
        S::Reversed => order.reversal().is_some_and(|r| {
            r.red_invoice.is_some()
                && (r.card_cancelled
                    || order.card().is_none_or(|c| c.code.is_none())
                    || job(Step::UpdateCardStatus))
        }),
    };
    if ok {
        Ok(())
    } else {
        Err(format!("{} with live jobs {live:?}", order.state()))
    }
}

fn scenario() -> impl Strategy<Value = Scenario> {
    prop::sample::select(
        &[
            Scenario::OfficialAccount,
            Scenario::App,
            Scenario::MiniProgram,
        ][..],
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn no_input_sequence_loses_an_order(
        scenario in scenario(),
        script in prop::collection::vec((any::<u8>(), any::<u8>(), any::<u8>()), 1..60),
    ) {
        let mut order = Order::create(fixtures::new_order("1202933957956", scenario), at(0))
            .expect("valid order");
        let mut live: Vec<Command> = Vec::new();
        let mut first_invoice: Option<IssuedInvoice> = None;
        let mut first_card: Option<(CardId, Option<CardCode>)> = None;
        let mut red: Option<IssuedInvoice> = None;
        for (step, (bias, kind, variant)) in script.into_iter().enumerate() {
            let kind = if bias < 160 { expected_kind(&order, variant) } else { kind % KINDS };
            let input = input(&order, kind, variant, step + 1);
            let before = order.clone();
            match order.apply(input.clone(), at(step + 1)) {
                Err(_) => prop_assert_eq!(&order, &before, "a refused input changed the order"),
                Ok(commands) => {
                    if let Some(steps) = answered_step(&input) {
                        live.retain(|c| !steps.contains(&c.step()));
                    }
                    live.extend(commands);
                    live.retain(|c| order.accepts(c));
                }
            }
            // The history is the order's life: numbered from 1 without gaps, each entry
            // starting where the one before ended, in time order, ending in the state.
            let history = order.history();
            for (i, entry) in history.iter().enumerate() {
                prop_assert_eq!(entry.seq as usize, i + 1);
                if i > 0 {
                    prop_assert_eq!(entry.from, Some(history[i - 1].to));
                    prop_assert!(entry.at >= history[i - 1].at);
                }
            }
            prop_assert_eq!(history.last().map(|e| e.to), Some(order.state()));
            prop_assert!(history.len() >= before.history().len());
            prop_assert_eq!(&history[..before.history().len()], before.history());
            // One blue invoice, one card, one red invoice: once there, never another.
            if let Some(first) = &first_invoice {
                prop_assert_eq!(order.invoice(), Some(first));
            }
            first_invoice = order.invoice().cloned();
            if let Some((card_id, code)) = &first_card {
                let card = order.card().expect("a card stays");
                prop_assert_eq!(&card.card_id, card_id);
                if code.is_some() {
                    prop_assert_eq!(&card.code, code);
                }
            }
            first_card = order.card().map(|c| (c.card_id.clone(), c.code.clone()));
            let now_red = order.reversal().and_then(|r| r.red_invoice.clone());
            if let Some(red) = &red {
                prop_assert_eq!(now_red.as_ref(), Some(red));
            }
            red = now_red;
            if order.state() == OrderState::Delivered {
                prop_assert!(order.invoice().is_some(), "delivered without an invoice");
                prop_assert!(order.card().is_some(), "delivered without a card");
            }
            if matches!(order.state(), OrderState::Rejected | OrderState::AuthorizationFailed) {
                prop_assert!(order.invoice().is_none(), "{} with an invoice", order.state());
            }
            if let Err(stuck) = way_out(&order, &live) {
                prop_assert!(false, "no way out: {} after {:?}", stuck, order.history());
            }
        }
    }
}
