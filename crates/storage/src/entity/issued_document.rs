//! `issued_documents`: issued tax invoices (blue and red) and their PDF, bytes or a path.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "issued_documents")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub s_pappid: String,
    pub order_id: String,
    /// `blue` for an invoice, `red` for a reversal.
    pub direction: String,
    /// 发票代码; empty for 数电 invoices.
    pub invoice_code: String,
    pub invoice_number: String,
    /// 校验码; empty for 数电 invoices.
    pub check_code: String,
    pub pdf: Option<Vec<u8>>,
    #[sea_orm(column_type = "Text", nullable)]
    pub pdf_path: Option<String>,
    pub created_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
