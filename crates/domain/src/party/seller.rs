//! The seller (销售方): one invoicing entity of the merchant.

use serde::{Deserialize, Serialize};

use super::{PartyError, PartyName, TaxpayerId, check_pair, optional_text};

/// The seller (销售方): one invoicing entity of the merchant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "SellerRepr", into = "SellerRepr")]
pub struct Seller {
    name: PartyName,
    tax_id: TaxpayerId,
    // Invariant: trimmed, non-empty, ≤ PAIR_MAX_GBK_BYTES.
    address_phone: Option<String>,
    // Invariant: trimmed, non-empty, ≤ PAIR_MAX_GBK_BYTES.
    bank_account: Option<String>,
    // Invariant: trimmed, non-empty.
    drawer: String,
}

impl Seller {
    /// A seller. `address_phone` and `bank_account` are trimmed (empty becomes `None`) and take
    /// at most 100 GBK bytes each; `drawer` (开票人) must be the name of the tax-bureau account
    /// that issues, so it cannot be empty.
    ///
    /// # Errors
    /// [`PartyError`] naming the field.
    pub fn new(
        name: PartyName,
        tax_id: TaxpayerId,
        address_phone: Option<String>,
        bank_account: Option<String>,
        drawer: &str,
    ) -> Result<Seller, PartyError> {
        let address_phone = optional_text(address_phone);
        let bank_account = optional_text(bank_account);
        check_pair("seller.address_phone", address_phone.as_deref(), None)?;
        check_pair("seller.bank_account", bank_account.as_deref(), None)?;
        let drawer = drawer.trim();
        if drawer.is_empty() {
            return Err(PartyError::Empty {
                field: "seller.drawer",
            });
        }
        if let Some((index, found)) = drawer.chars().enumerate().find(|(_, c)| c.is_control()) {
            return Err(PartyError::Character {
                field: "seller.drawer",
                position: index + 1,
                found,
                rule: "no control characters",
            });
        }
        Ok(Seller {
            name,
            tax_id,
            address_phone,
            bank_account,
            drawer: drawer.to_owned(),
        })
    }

    /// The name.
    pub fn name(&self) -> &str {
        self.name.as_str()
    }

    /// The name as a [`PartyName`].
    pub fn party_name(&self) -> &PartyName {
        &self.name
    }

    /// The taxpayer id.
    pub fn tax_id(&self) -> &TaxpayerId {
        &self.tax_id
    }

    /// Address and phone, as one text.
    pub fn address_phone(&self) -> Option<&str> {
        self.address_phone.as_deref()
    }

    /// Bank and account, as one text.
    pub fn bank_account(&self) -> Option<&str> {
        self.bank_account.as_deref()
    }

    /// The drawer (开票人).
    pub fn drawer(&self) -> &str {
        &self.drawer
    }
}

#[derive(Serialize, Deserialize)]
struct SellerRepr {
    name: PartyName,
    tax_id: TaxpayerId,
    #[serde(default)]
    address_phone: Option<String>,
    #[serde(default)]
    bank_account: Option<String>,
    drawer: String,
}

impl TryFrom<SellerRepr> for Seller {
    type Error = PartyError;
    fn try_from(repr: SellerRepr) -> Result<Self, PartyError> {
        Seller::new(
            repr.name,
            repr.tax_id,
            repr.address_phone,
            repr.bank_account,
            &repr.drawer,
        )
    }
}

impl From<Seller> for SellerRepr {
    fn from(seller: Seller) -> Self {
        SellerRepr {
            name: seller.name,
            tax_id: seller.tax_id,
            address_phone: seller.address_phone,
            bank_account: seller.bank_account,
            drawer: seller.drawer,
        }
    }
}
