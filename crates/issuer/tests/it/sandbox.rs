#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The sandbox issuer through the `InvoiceIssuer` port.

use std::collections::BTreeSet;

use fapiao_domain::Timestamp;
use fapiao_domain::invoice::IssuedInvoice;
use fapiao_domain::invoice::RedReason;
use fapiao_domain::ports::InvoiceNumbering;
use fapiao_domain::ports::{
    InvoiceIssuer, IssueError, IssueOutcome, IssueRejection, ReverseOutcome, ReverseRequest,
};
use fapiao_issuer::{SandboxMode, SandboxResult};

use crate::support::{
    MARCH_17, Sandbox, contains, draft, key, pdf_text, red_draft, request, sandbox, sandbox_at,
};

fn issued(outcome: IssueOutcome) -> IssuedInvoice {
    match outcome {
        IssueOutcome::Issued(invoice) => invoice,
        other => panic!("expected an issued invoice, got {other:?}"),
    }
}

async fn issue(sandbox: &Sandbox, key_text: &str, amount: &str) -> IssuedInvoice {
    issued(
        sandbox
            .issuer
            .issue(&request(key_text, &draft(amount)))
            .await
            .unwrap(),
    )
}

/// The next number the sandbox's series would hand out, consuming it.
async fn next_sequence(sandbox: &Sandbox) -> u64 {
    sandbox.numbering.next("sandbox-2026").await.unwrap()
}

#[tokio::test]
async fn issues_at_once_with_a_recognisable_gap_free_number() {
    let sandbox = sandbox();
    let invoice = issue(&sandbox, "K1", "100.00").await;
    assert_eq!(invoice.number.billing_no(), "26009000000000000001");
    assert_eq!(invoice.issued_at, MARCH_17);
    assert_eq!(invoice.totals.total.to_yuan_string(), "100.00");
    assert_eq!(invoice.totals.amount_excl.to_yuan_string(), "94.34");
    let qr = invoice.qr_payload.unwrap();
    assert!(
        qr.starts_with("01,32,,26009000000000000001,94.34,20260317,,"),
        "{qr}"
    );
    assert_eq!(
        qr.len(),
        "01,32,,26009000000000000001,94.34,20260317,,".len() + 4
    );
    assert!(invoice.red_of.is_none());

    let second = issue(&sandbox, "K2", "50.00").await;
    assert_eq!(second.number.billing_no(), "26009000000000000002");
}

#[tokio::test]
async fn the_same_key_returns_the_same_invoice_and_consumes_one_number() {
    let sandbox = sandbox();
    let first = issue(&sandbox, "K1", "100.00").await;
    // A retry with the same key, even with a different draft, is answered from the records.
    let again = issue(&sandbox, "K1", "999.00").await;
    assert_eq!(first, again);
    assert_eq!(
        sandbox.issuer.query(&key("K1")).await.unwrap(),
        Some(IssueOutcome::Issued(first))
    );
    assert_eq!(next_sequence(&sandbox).await, 2);
    assert_eq!(sandbox.issuer.ledger().records().await.unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn numbering_is_gap_free_across_100_concurrent_issues() {
    let sandbox = sandbox();
    let mut tasks = Vec::new();
    for i in 0..100 {
        let issuer = sandbox.issuer.clone();
        tasks.push(tokio::spawn(async move {
            issuer
                .issue(&request(&format!("K{i}"), &draft("10.00")))
                .await
        }));
    }
    // Twenty concurrent retries of one key among them.
    for _ in 0..20 {
        let issuer = sandbox.issuer.clone();
        tasks.push(tokio::spawn(async move {
            issuer.issue(&request("K7", &draft("10.00"))).await
        }));
    }
    let mut numbers = BTreeSet::new();
    let mut k7 = BTreeSet::new();
    for (index, task) in tasks.into_iter().enumerate() {
        let invoice = issued(task.await.unwrap().unwrap());
        let sequence: u64 = invoice.number.billing_no()[5..].parse().unwrap();
        numbers.insert(sequence);
        if index == 7 || index >= 100 {
            k7.insert(sequence);
        }
    }
    assert_eq!(numbers, (1..=100).collect::<BTreeSet<u64>>());
    assert_eq!(k7.len(), 1, "one key, one number");
    assert_eq!(next_sequence(&sandbox).await, 101);
}

#[tokio::test]
async fn a_new_year_starts_a_new_series() {
    // 2027-01-01 00:00:05 China time is still 2026 in UTC.
    let sandbox = sandbox_at(Timestamp::from_unix_seconds(1_798_732_805));
    let invoice = issue(&sandbox, "K1", "100.00").await;
    assert_eq!(invoice.number.billing_no(), "27009000000000000001");
    assert!(invoice.qr_payload.unwrap().contains(",20270101,"));
}

#[tokio::test]
async fn pending_mode_answers_pending_for_n_polls_then_issued() {
    let sandbox = sandbox();
    sandbox.issuer.set_mode(SandboxMode::Pending { polls: 2 });
    let outcome = sandbox
        .issuer
        .issue(&request("K1", &draft("100.00")))
        .await
        .unwrap();
    let IssueOutcome::Pending(Some(reference)) = outcome else {
        panic!("expected pending with a reference, got {outcome:?}");
    };
    assert_eq!(reference.as_str(), "sandbox-26009000000000000001");
    let k1 = key("K1");
    let query = || sandbox.issuer.query(&k1);
    assert!(matches!(
        query().await.unwrap(),
        Some(IssueOutcome::Pending(_))
    ));
    // A repeated issue counts as a poll too.
    assert!(matches!(
        sandbox
            .issuer
            .issue(&request("K1", &draft("100.00")))
            .await
            .unwrap(),
        IssueOutcome::Pending(_)
    ));
    let invoice = issued(query().await.unwrap().unwrap());
    assert_eq!(invoice.number.billing_no(), "26009000000000000001");
    assert_eq!(issued(query().await.unwrap().unwrap()), invoice);
}

#[tokio::test]
async fn outcome_unknown_mode_applies_the_request_then_fails() {
    let sandbox = sandbox();
    sandbox.issuer.set_mode(SandboxMode::OutcomeUnknown);
    let error = sandbox
        .issuer
        .issue(&request("K1", &draft("100.00")))
        .await
        .unwrap_err();
    assert!(matches!(error, IssueError::OutcomeUnknown(_)), "{error:?}");
    let found = issued(sandbox.issuer.query(&key("K1")).await.unwrap().unwrap());
    assert_eq!(found.number.billing_no(), "26009000000000000001");
    // Still in the fault mode, a retry with the same key gets the invoice.
    assert_eq!(issue(&sandbox, "K1", "100.00").await, found);
    assert_eq!(next_sequence(&sandbox).await, 2);
}

#[tokio::test]
async fn a_rejection_with_a_dead_serial_sticks_to_its_key() {
    let sandbox = sandbox();
    let rejection = IssueRejection {
        reason: "购买方名称与税号不匹配".to_owned(),
        code: Some("E9999".to_owned()),
        serial_is_dead: true,
    };
    sandbox
        .issuer
        .set_mode(SandboxMode::Reject(rejection.clone()));
    let outcome = sandbox
        .issuer
        .issue(&request("K1", &draft("100.00")))
        .await
        .unwrap();
    assert_eq!(outcome, IssueOutcome::Rejected(rejection.clone()));
    sandbox.issuer.set_mode(SandboxMode::Synchronous);
    assert_eq!(
        sandbox
            .issuer
            .issue(&request("K1", &draft("100.00")))
            .await
            .unwrap(),
        IssueOutcome::Rejected(rejection.clone())
    );
    assert_eq!(
        sandbox.issuer.query(&key("K1")).await.unwrap(),
        Some(IssueOutcome::Rejected(rejection))
    );
    // No number was consumed: the next invoice is the first.
    let invoice = issue(&sandbox, "K2", "100.00").await;
    assert_eq!(invoice.number.billing_no(), "26009000000000000001");
}

#[tokio::test]
async fn a_rejection_with_a_live_serial_leaves_the_key_free() {
    let sandbox = sandbox();
    sandbox.issuer.set_mode(SandboxMode::Reject(IssueRejection {
        reason: "系统繁忙".to_owned(),
        code: None,
        serial_is_dead: false,
    }));
    let outcome = sandbox
        .issuer
        .issue(&request("K1", &draft("100.00")))
        .await
        .unwrap();
    assert!(matches!(outcome, IssueOutcome::Rejected(_)));
    assert_eq!(sandbox.issuer.query(&key("K1")).await.unwrap(), None);
    sandbox.issuer.set_mode(SandboxMode::Synchronous);
    let invoice = issue(&sandbox, "K1", "100.00").await;
    assert_eq!(invoice.number.billing_no(), "26009000000000000001");
}

#[tokio::test]
async fn session_required_and_not_sent_apply_nothing() {
    let sandbox = sandbox();
    sandbox.issuer.set_mode(SandboxMode::SessionRequired);
    let error = sandbox
        .issuer
        .issue(&request("K1", &draft("100.00")))
        .await
        .unwrap_err();
    assert!(matches!(error, IssueError::SessionRequired(_)), "{error:?}");
    sandbox.issuer.set_mode(SandboxMode::NotSent);
    let error = sandbox
        .issuer
        .issue(&request("K1", &draft("100.00")))
        .await
        .unwrap_err();
    assert!(matches!(error, IssueError::NotSent(_)), "{error:?}");
    assert_eq!(sandbox.issuer.query(&key("K1")).await.unwrap(), None);
    assert!(sandbox.issuer.ledger().records().await.unwrap().is_empty());
    assert_eq!(next_sequence(&sandbox).await, 1);
}

#[tokio::test]
async fn the_pdf_is_a_real_invoice_with_the_buyer_and_the_amount_in_words() {
    let sandbox = sandbox();
    let invoice = issue(&sandbox, "K1", "100.00").await;
    let pdf = sandbox
        .issuer
        .fetch_pdf(&key("K1"), &invoice)
        .await
        .unwrap();
    let bytes = pdf.as_bytes();
    assert!(bytes.starts_with(b"%PDF-"));
    assert!(contains(bytes, b"/FontFile2") && contains(bytes, b"+WenQuanYiMicroHei"));
    let again = sandbox
        .issuer
        .fetch_pdf(&key("K1"), &invoice)
        .await
        .unwrap();
    assert_eq!(pdf, again, "same invoice, same bytes");

    let text = pdf_text(bytes);
    for expected in [
        "电子发票（普通发票）",
        "26009000000000000001",
        "2026年03月17日",
        "深圳市腾讯计算机系统有限公司",
        "91440300708461136T",
        "沙箱餐饮有限公司",
        "*餐饮服务*餐费",
        "94.34",
        "6%",
        "5.66",
        "壹佰圆整",
        "¥100.00",
        "订单号：A-0001",
        "沙箱开票员",
        "SANDBOX",
        "非正式发票",
    ] {
        assert!(text.contains(expected), "{expected:?} missing from {text}");
    }
}

#[tokio::test]
async fn fetch_pdf_needs_an_issued_invoice_under_that_key() {
    let sandbox = sandbox();
    let invoice = issue(&sandbox, "K1", "100.00").await;
    let error = sandbox
        .issuer
        .fetch_pdf(&key("K9"), &invoice)
        .await
        .unwrap_err();
    assert!(matches!(error, IssueError::NotFound(_)), "{error:?}");

    let other = issue(&sandbox, "K2", "10.00").await;
    let error = sandbox
        .issuer
        .fetch_pdf(&key("K1"), &other)
        .await
        .unwrap_err();
    assert!(matches!(error, IssueError::NotFound(_)), "{error:?}");

    sandbox.issuer.set_mode(SandboxMode::Pending { polls: 1 });
    sandbox
        .issuer
        .issue(&request("K3", &draft("10.00")))
        .await
        .unwrap();
    let pending = sandbox
        .issuer
        .ledger()
        .get(&key("K3"))
        .await
        .unwrap()
        .unwrap();
    let pending = pending.invoice().unwrap().clone();
    let error = sandbox
        .issuer
        .fetch_pdf(&key("K3"), &pending)
        .await
        .unwrap_err();
    assert!(matches!(error, IssueError::NotFound(_)), "{error:?}");
}

fn reverse_request(
    red_key: &str,
    blue_key: &str,
    blue: &IssuedInvoice,
    amount: &str,
) -> ReverseRequest {
    ReverseRequest {
        key: key(red_key),
        original_key: key(blue_key),
        original: blue.clone(),
        draft: red_draft(&draft(amount), blue.number.billing_no()),
        reason: RedReason::InvoicingError,
    }
}

fn red(outcome: ReverseOutcome) -> IssuedInvoice {
    match outcome {
        ReverseOutcome::RedIssued(invoice) => invoice,
        other => panic!("expected a red invoice, got {other:?}"),
    }
}

#[tokio::test]
async fn a_full_reversal_issues_a_red_invoice_at_once() {
    let sandbox = sandbox();
    let blue = issue(&sandbox, "K1", "100.00").await;
    let request = reverse_request("R1", "K1", &blue, "100.00");
    let red_invoice = red(sandbox.issuer.reverse(&request).await.unwrap());

    assert_eq!(red_invoice.number.billing_no(), "26009000000000000002");
    assert_eq!(red_invoice.totals.total.to_yuan_string(), "-100.00");
    assert_eq!(red_invoice.totals.amount_excl.to_yuan_string(), "-94.34");
    assert_eq!(red_invoice.totals.tax.to_yuan_string(), "-5.66");
    let link = red_invoice.red_of.clone().unwrap();
    assert_eq!(link.original, blue.number);
    assert_eq!(link.reason, RedReason::InvoicingError);
    let form = link.red_form_number.unwrap();
    assert_eq!(form, "26008000000000000001");
    assert!(red_invoice.qr_payload.clone().unwrap().contains(",-94.34,"));

    // Idempotent by key.
    assert_eq!(
        red(sandbox.issuer.reverse(&request).await.unwrap()),
        red_invoice
    );
    assert_eq!(
        sandbox.issuer.query(&key("R1")).await.unwrap(),
        Some(IssueOutcome::Issued(red_invoice.clone()))
    );

    let pdf = sandbox
        .issuer
        .fetch_pdf(&key("R1"), &red_invoice)
        .await
        .unwrap();
    let text = pdf_text(pdf.as_bytes());
    for expected in [
        "被红冲蓝字数电发票号码：26009000000000000001",
        "红字发票信息确认单编号：26008000000000000001",
        "（负数）壹佰圆整",
        "¥-100.00",
        "-94.34",
        "-5.66",
        "-1",
    ] {
        assert!(text.contains(expected), "{expected:?} missing from {text}");
    }
    // The application's remark is not repeated.
    assert_eq!(text.matches("被红冲蓝字数电发票号码").count(), 1);
}

#[tokio::test]
async fn a_reversed_invoice_cannot_be_reversed_again() {
    let sandbox = sandbox();
    let blue = issue(&sandbox, "K1", "100.00").await;
    red(sandbox
        .issuer
        .reverse(&reverse_request("R1", "K1", &blue, "100.00"))
        .await
        .unwrap());
    let outcome = sandbox
        .issuer
        .reverse(&reverse_request("R2", "K1", &blue, "100.00"))
        .await
        .unwrap();
    let ReverseOutcome::Rejected(rejection) = outcome else {
        panic!("expected a rejection, got {outcome:?}");
    };
    assert!(
        rejection.reason.contains("already reversed"),
        "{}",
        rejection.reason
    );
}

#[tokio::test]
async fn only_full_reversals_of_known_invoices_are_accepted() {
    let sandbox = sandbox();
    let blue = issue(&sandbox, "K1", "100.00").await;
    // Red lines of another amount: a partial reversal.
    let outcome = sandbox
        .issuer
        .reverse(&reverse_request("R1", "K1", &blue, "40.00"))
        .await
        .unwrap();
    assert!(
        matches!(outcome, ReverseOutcome::Rejected(_)),
        "{outcome:?}"
    );
    // An original the sandbox never issued under that key.
    let error = sandbox
        .issuer
        .reverse(&reverse_request("R2", "K9", &blue, "100.00"))
        .await
        .unwrap_err();
    assert!(matches!(error, IssueError::NotFound(_)), "{error:?}");
    assert_eq!(
        next_sequence(&sandbox).await,
        2,
        "no number spent on refusals"
    );
}

#[tokio::test]
async fn a_pending_reversal_completes_after_its_polls() {
    let sandbox = sandbox();
    let blue = issue(&sandbox, "K1", "100.00").await;
    sandbox.issuer.set_mode(SandboxMode::Pending { polls: 1 });
    let request = reverse_request("R1", "K1", &blue, "100.00");
    assert_eq!(
        sandbox.issuer.reverse(&request).await.unwrap(),
        ReverseOutcome::Pending {
            reference: Some("26008000000000000001".to_owned())
        }
    );
    assert!(matches!(
        sandbox.issuer.reverse(&request).await.unwrap(),
        ReverseOutcome::Pending { .. }
    ));
    let red_invoice = red(sandbox.issuer.reverse(&request).await.unwrap());
    assert!(red_invoice.red_of.is_some());
}

#[tokio::test]
async fn the_ledger_is_the_witness_of_what_was_issued() {
    let sandbox = sandbox();
    issue(&sandbox, "K1", "100.00").await;
    issue(&sandbox, "K2", "100.00").await;
    issue(&sandbox, "K1", "100.00").await;
    let records = sandbox.issuer.ledger().records().await.unwrap();
    let keys: Vec<&str> = records.iter().map(|record| record.key.as_str()).collect();
    assert_eq!(keys, ["K1", "K2"]);
    assert!(records.iter().all(|record| matches!(
        record.result,
        SandboxResult::Issued {
            polls_until_issued: 0,
            ..
        }
    )));
    let _ = sandbox.clock;
}
