use fapiao_domain::ports::{PdfDocument, RepositoryError};
use fapiao_domain::testing::fixtures;
use fapiao_domain::{Direction, InvoiceNumber};
use fapiao_storage::{IssuedDocument, SeaOrmDocumentStore};

use crate::harness::{Kind, TestDb, at};
use crate::on_both;

on_both!(documents_round_trip_and_numbers_are_unique);

fn pdf() -> PdfDocument {
    PdfDocument::parse(b"%PDF-1.7\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n".to_vec())
        .expect("a minimal pdf")
}

async fn documents_round_trip_and_numbers_are_unique(kind: Kind) {
    let test_db = TestDb::new(kind).await;
    let store = SeaOrmDocumentStore::new(test_db.db.clone());
    let blue = IssuedDocument {
        order: fixtures::key("o-1"),
        direction: Direction::Blue,
        number: InvoiceNumber::digital("26002000000000000001").expect("number"),
        pdf: Some(pdf()),
        pdf_path: None,
        created_at: at(1_000),
    };
    let red = IssuedDocument {
        order: fixtures::key("o-1"),
        direction: Direction::Red,
        number: InvoiceNumber::legacy("011002300111", "12345678", "12345678901234567890")
            .expect("legacy number"),
        pdf: None,
        pdf_path: Some("/var/lib/fapiao/red-1.pdf".to_owned()),
        created_at: at(2_000),
    };
    store.save(&blue).await.expect("save blue");
    store.save(&red).await.expect("save red");

    assert_eq!(
        store.find_by_number(&blue.number).await.expect("find"),
        Some(blue.clone())
    );
    assert_eq!(
        store.find_by_number(&red.number).await.expect("find"),
        Some(red.clone())
    );
    assert_eq!(
        store.for_order(&fixtures::key("o-1")).await.expect("list"),
        [blue.clone(), red]
    );
    assert!(
        store
            .for_order(&fixtures::key("o-2"))
            .await
            .expect("list")
            .is_empty()
    );

    let again = IssuedDocument {
        order: fixtures::key("o-2"),
        ..blue
    };
    let err = store.save(&again).await.expect_err("number already used");
    assert!(matches!(err, RepositoryError::Conflict(_)), "{err:?}");
}
