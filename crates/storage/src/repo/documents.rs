//! Issued tax invoices and their PDFs.
//!
//! No domain port covers this yet; the sandbox issuer and the composition root use it directly.

use fapiao_domain::ports::{PdfDocument, RepositoryError};
use fapiao_domain::{Direction, InvoiceNumber, OrderKey, Timestamp};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set};

use crate::db::Database;
use crate::entity::issued_document;
use crate::error::{corrupt, repository_error};

use super::order_key;

/// One issued invoice (blue or red) and where its PDF is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedDocument {
    /// The order it was issued for.
    pub order: OrderKey,
    /// Blue invoice or red reversal.
    pub direction: Direction,
    /// Its number; unique across documents.
    pub number: InvoiceNumber,
    /// The PDF, when kept in the database.
    pub pdf: Option<PdfDocument>,
    /// The PDF's path, when kept outside the database.
    pub pdf_path: Option<String>,
    /// When it was stored.
    pub created_at: Timestamp,
}

/// Issued documents on sea-orm (`issued_documents`).
#[derive(Debug, Clone)]
pub struct SeaOrmDocumentStore {
    db: Database,
}

fn direction_code(direction: Direction) -> &'static str {
    match direction {
        Direction::Blue => "blue",
        Direction::Red => "red",
    }
}

impl TryFrom<issued_document::Model> for IssuedDocument {
    type Error = RepositoryError;

    fn try_from(model: issued_document::Model) -> Result<Self, Self::Error> {
        let direction = match model.direction.as_str() {
            "blue" => Direction::Blue,
            "red" => Direction::Red,
            other => return Err(corrupt("issued_documents.direction", other)),
        };
        let number = if model.invoice_code.is_empty() {
            InvoiceNumber::digital(&model.invoice_number)
        } else {
            InvoiceNumber::legacy(
                &model.invoice_code,
                &model.invoice_number,
                &model.check_code,
            )
        }
        .map_err(|err| corrupt("issued_documents.invoice_number", err))?;
        Ok(IssuedDocument {
            order: order_key(&model.s_pappid, &model.order_id)?,
            direction,
            number,
            pdf: model
                .pdf
                .map(PdfDocument::parse)
                .transpose()
                .map_err(|err| corrupt("issued_documents.pdf", err))?,
            pdf_path: model.pdf_path,
            created_at: Timestamp::from_millis(model.created_at),
        })
    }
}

impl SeaOrmDocumentStore {
    /// A store over `db`.
    pub fn new(db: Database) -> Self {
        Self { db }
    }

    /// Stores a document.
    ///
    /// # Errors
    /// [`RepositoryError::Conflict`] when a document with this number exists; otherwise as for
    /// the persistence ports.
    pub async fn save(&self, document: &IssuedDocument) -> Result<(), RepositoryError> {
        issued_document::ActiveModel {
            s_pappid: Set(document.order.s_pappid.as_str().to_owned()),
            order_id: Set(document.order.order_id.as_str().to_owned()),
            direction: Set(direction_code(document.direction).to_owned()),
            invoice_code: Set(document.number.billing_code().to_owned()),
            invoice_number: Set(document.number.billing_no().to_owned()),
            check_code: Set(document.number.check_code().to_owned()),
            pdf: Set(document.pdf.as_ref().map(|pdf| pdf.as_bytes().to_vec())),
            pdf_path: Set(document.pdf_path.clone()),
            created_at: Set(document.created_at.millis()),
            ..Default::default()
        }
        .insert(self.db.conn())
        .await
        .map_err(repository_error)?;
        Ok(())
    }

    /// The document with this number.
    ///
    /// # Errors
    /// As for the persistence ports.
    pub async fn find_by_number(
        &self,
        number: &InvoiceNumber,
    ) -> Result<Option<IssuedDocument>, RepositoryError> {
        issued_document::Entity::find()
            .filter(issued_document::Column::InvoiceCode.eq(number.billing_code()))
            .filter(issued_document::Column::InvoiceNumber.eq(number.billing_no()))
            .one(self.db.conn())
            .await
            .map_err(repository_error)?
            .map(IssuedDocument::try_from)
            .transpose()
    }

    /// The documents of an order, oldest first (the blue invoice, then any red one).
    ///
    /// # Errors
    /// As for the persistence ports.
    pub async fn for_order(
        &self,
        order: &OrderKey,
    ) -> Result<Vec<IssuedDocument>, RepositoryError> {
        issued_document::Entity::find()
            .filter(issued_document::Column::SPappid.eq(order.s_pappid.as_str()))
            .filter(issued_document::Column::OrderId.eq(order.order_id.as_str()))
            .order_by_asc(issued_document::Column::Id)
            .all(self.db.conn())
            .await
            .map_err(repository_error)?
            .into_iter()
            .map(IssuedDocument::try_from)
            .collect()
    }
}
