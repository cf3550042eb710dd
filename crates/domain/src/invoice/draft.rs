//! The draft an issuer receives: kind, parties, computed lines and remark.

use serde::{Deserialize, Serialize};

use super::{InvoiceError, InvoiceLines, REMARK_MAX_CHARS, field_error};
use crate::party::{Buyer, Seller};

/// The kind of 数电 invoice issued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InvoiceKind {
    /// 数电普票.
    DigitalOrdinary,
    /// 数电专票 (needs the buyer's taxpayer id).
    DigitalSpecial,
}

impl InvoiceKind {
    /// The title printed on the face.
    pub fn face_title(self) -> &'static str {
        match self {
            InvoiceKind::DigitalOrdinary => "电子发票（普通发票）",
            InvoiceKind::DigitalSpecial => "电子发票（增值税专用发票）",
        }
    }
}

/// Everything an issuer needs to issue one invoice, validated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "InvoiceDraftRepr", into = "InvoiceDraftRepr")]
pub struct InvoiceDraft {
    kind: InvoiceKind,
    // Invariant: has a tax id when `kind` is DigitalSpecial.
    buyer: Buyer,
    seller: Seller,
    lines: InvoiceLines,
    // Invariant: trimmed, non-empty, ≤ REMARK_MAX_CHARS.
    remark: Option<String>,
}

impl InvoiceDraft {
    /// A draft. The remark is trimmed (empty becomes `None`) and takes at most 200 characters.
    ///
    /// # Errors
    /// [`InvoiceError::SpecialInvoiceNeedsBuyerTaxId`] for a 专票 without the buyer's tax id,
    /// [`InvoiceError::Field`] for a bad remark.
    pub fn new(
        kind: InvoiceKind,
        buyer: Buyer,
        seller: Seller,
        lines: InvoiceLines,
        remark: Option<String>,
    ) -> Result<InvoiceDraft, InvoiceError> {
        if kind == InvoiceKind::DigitalSpecial && buyer.tax_id().is_none() {
            return Err(InvoiceError::SpecialInvoiceNeedsBuyerTaxId);
        }
        let remark = remark
            .map(|text| text.trim().to_owned())
            .filter(|text| !text.is_empty());
        if let Some(text) = &remark {
            let chars = text.chars().count();
            if chars > REMARK_MAX_CHARS {
                return Err(field_error(
                    "remark",
                    format!("{chars} characters exceed the limit of {REMARK_MAX_CHARS}"),
                ));
            }
        }
        Ok(InvoiceDraft {
            kind,
            buyer,
            seller,
            lines,
            remark,
        })
    }

    /// 普票 or 专票.
    pub fn kind(&self) -> InvoiceKind {
        self.kind
    }

    /// The buyer.
    pub fn buyer(&self) -> &Buyer {
        &self.buyer
    }

    /// The seller.
    pub fn seller(&self) -> &Seller {
        &self.seller
    }

    /// The computed lines.
    pub fn lines(&self) -> &InvoiceLines {
        &self.lines
    }

    /// 备注.
    pub fn remark(&self) -> Option<&str> {
        self.remark.as_deref()
    }
}

#[derive(Serialize, Deserialize)]
struct InvoiceDraftRepr {
    kind: InvoiceKind,
    buyer: Buyer,
    seller: Seller,
    lines: InvoiceLines,
    #[serde(default)]
    remark: Option<String>,
}

impl TryFrom<InvoiceDraftRepr> for InvoiceDraft {
    type Error = InvoiceError;
    fn try_from(repr: InvoiceDraftRepr) -> Result<Self, InvoiceError> {
        InvoiceDraft::new(repr.kind, repr.buyer, repr.seller, repr.lines, repr.remark)
    }
}

impl From<InvoiceDraft> for InvoiceDraftRepr {
    fn from(draft: InvoiceDraft) -> Self {
        InvoiceDraftRepr {
            kind: draft.kind,
            buyer: draft.buyer,
            seller: draft.seller,
            lines: draft.lines,
            remark: draft.remark,
        }
    }
}
