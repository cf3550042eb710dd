#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The sample PDFs in `docs/samples/`: one blue and one red sandbox invoice.
//!
//! Rendering is deterministic, so the committed files must equal a fresh render; after a
//! deliberate layout change, refresh them with `UPDATE_SAMPLES=1 cargo test -p fapiao-issuer`.

use std::path::PathBuf;

use fapiao_domain::invoice::RedReason;
use fapiao_domain::ports::{InvoiceIssuer, IssueOutcome, ReverseOutcome, ReverseRequest};
use fapiao_domain::tax::TaxRate;
use fapiao_domain::testing::fixtures;

use crate::support::{draft_of, goods, key, red_draft, request, sandbox};

fn samples_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/samples")
}

fn check(name: &str, bytes: &[u8]) {
    let path = samples_dir().join(name);
    if std::env::var_os("UPDATE_SAMPLES").is_some() {
        std::fs::create_dir_all(samples_dir()).unwrap();
        std::fs::write(&path, bytes).unwrap();
        return;
    }
    let committed = std::fs::read(&path).unwrap_or_default();
    assert!(
        committed == bytes,
        "{} is out of date: run UPDATE_SAMPLES=1 cargo test -p fapiao-issuer",
        path.display()
    );
}

#[tokio::test]
async fn the_committed_samples_are_current() {
    let sandbox = sandbox();
    let blue_draft = draft_of(
        vec![
            fixtures::line("300.00"),
            goods(
                "燕麦",
                ("1010101070000000000", "谷物"),
                "500g/袋",
                "3",
                "12.5",
                TaxRate::EXEMPT,
            ),
            goods(
                "包装袋",
                ("1060512990000000000", "日用杂品"),
                "大号",
                "10",
                "1.2",
                TaxRate::P13,
            ),
        ],
        Some("订单号：A-20260317-0001"),
    );
    let IssueOutcome::Issued(blue) = sandbox
        .issuer
        .issue(&request("SAMPLE1", &blue_draft))
        .await
        .unwrap()
    else {
        panic!("the sandbox issues at once");
    };
    let pdf = sandbox
        .issuer
        .fetch_pdf(&key("SAMPLE1"), &blue)
        .await
        .unwrap();
    check("sandbox-blue.pdf", pdf.as_bytes());

    let reverse = ReverseRequest {
        key: key("SAMPLE1R"),
        original_key: key("SAMPLE1"),
        original: blue.clone(),
        draft: red_draft(&blue_draft, blue.number.billing_no()),
        reason: RedReason::SalesReturn,
    };
    let ReverseOutcome::RedIssued(red) = sandbox.issuer.reverse(&reverse).await.unwrap() else {
        panic!("the sandbox reverses at once");
    };
    let pdf = sandbox
        .issuer
        .fetch_pdf(&key("SAMPLE1R"), &red)
        .await
        .unwrap();
    check("sandbox-red.pdf", pdf.as_bytes());
}
