//! The buyer (购买方): a person or an organisation.

use serde::{Deserialize, Serialize};

use super::{PartyError, PartyName, TaxpayerId, check_pair, optional_text};

/// The buyer (购买方).
///
/// Build it with [`Buyer::individual`], [`Buyer::natural_person`] or [`Buyer::organization`],
/// which check the limits; deserialising runs the same checks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "BuyerRepr", into = "BuyerRepr")]
pub enum Buyer {
    /// A person (or a 个体工商户 buying under a personal title).
    Individual {
        /// Name.
        name: PartyName,
        /// The natural person's taxpayer id (usually the resident id), if given.
        personal_id: Option<TaxpayerId>,
        /// Whether the invoice goes to the person's own invoice folder (`naturalPersonFlag`);
        /// never set for a 个体工商户.
        natural_person: bool,
    },
    /// A company, government body, institution or other organisation.
    Organization {
        /// Name.
        name: PartyName,
        /// Taxpayer id; required for enterprises and for 专票.
        tax_id: Option<TaxpayerId>,
        /// Address (地址).
        address: Option<String>,
        /// Phone (电话).
        phone: Option<String>,
        /// Bank name (开户行).
        bank: Option<String>,
        /// Bank account (账号).
        account: Option<String>,
    },
}

impl Buyer {
    /// A person buying under a personal title, not flagged as a natural person.
    pub fn individual(name: PartyName) -> Buyer {
        Buyer::Individual {
            name,
            personal_id: None,
            natural_person: false,
        }
    }

    /// A natural-person buyer (`naturalPersonFlag=1`): the invoice lands in the person's own
    /// invoice folder when the id is given.
    pub fn natural_person(name: PartyName, personal_id: Option<TaxpayerId>) -> Buyer {
        Buyer::Individual {
            name,
            personal_id,
            natural_person: true,
        }
    }

    /// An organisation. Optional texts are trimmed (empty becomes `None`); address + phone and
    /// bank + account may each take at most 100 GBK bytes together.
    ///
    /// # Errors
    /// [`PartyError::TooLong`] naming the pair.
    pub fn organization(
        name: PartyName,
        tax_id: Option<TaxpayerId>,
        address: Option<String>,
        phone: Option<String>,
        bank: Option<String>,
        account: Option<String>,
    ) -> Result<Buyer, PartyError> {
        let (address, phone) = (optional_text(address), optional_text(phone));
        let (bank, account) = (optional_text(bank), optional_text(account));
        check_pair(
            "buyer.address + buyer.phone",
            address.as_deref(),
            phone.as_deref(),
        )?;
        check_pair(
            "buyer.bank + buyer.account",
            bank.as_deref(),
            account.as_deref(),
        )?;
        Ok(Buyer::Organization {
            name,
            tax_id,
            address,
            phone,
            bank,
            account,
        })
    }

    /// The name.
    pub fn name(&self) -> &str {
        self.party_name().as_str()
    }

    /// The name as a [`PartyName`].
    pub fn party_name(&self) -> &PartyName {
        match self {
            Buyer::Individual { name, .. } | Buyer::Organization { name, .. } => name,
        }
    }

    /// The id printed in the buyer's 纳税人识别号 field: the organisation's tax id or the natural
    /// person's id.
    pub fn tax_id(&self) -> Option<&TaxpayerId> {
        match self {
            Buyer::Individual { personal_id, .. } => personal_id.as_ref(),
            Buyer::Organization { tax_id, .. } => tax_id.as_ref(),
        }
    }

    /// Whether the buyer is flagged as a natural person.
    pub fn is_natural_person(&self) -> bool {
        matches!(
            self,
            Buyer::Individual {
                natural_person: true,
                ..
            }
        )
    }
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum BuyerRepr {
    Individual {
        name: PartyName,
        #[serde(default)]
        personal_id: Option<TaxpayerId>,
        #[serde(default)]
        natural_person: bool,
    },
    Organization {
        name: PartyName,
        #[serde(default)]
        tax_id: Option<TaxpayerId>,
        #[serde(default)]
        address: Option<String>,
        #[serde(default)]
        phone: Option<String>,
        #[serde(default)]
        bank: Option<String>,
        #[serde(default)]
        account: Option<String>,
    },
}

impl TryFrom<BuyerRepr> for Buyer {
    type Error = PartyError;
    fn try_from(repr: BuyerRepr) -> Result<Self, PartyError> {
        match repr {
            BuyerRepr::Individual {
                name,
                personal_id,
                natural_person,
            } => Ok(Buyer::Individual {
                name,
                personal_id,
                natural_person,
            }),
            BuyerRepr::Organization {
                name,
                tax_id,
                address,
                phone,
                bank,
                account,
            } => Buyer::organization(name, tax_id, address, phone, bank, account),
        }
    }
}

impl From<Buyer> for BuyerRepr {
    fn from(buyer: Buyer) -> Self {
        match buyer {
            Buyer::Individual {
                name,
                personal_id,
                natural_person,
            } => BuyerRepr::Individual {
                name,
                personal_id,
                natural_person,
            },
            Buyer::Organization {
                name,
                tax_id,
                address,
                phone,
                bank,
                account,
            } => BuyerRepr::Organization {
                name,
                tax_id,
                address,
                phone,
                bank,
                account,
            },
        }
    }
}
