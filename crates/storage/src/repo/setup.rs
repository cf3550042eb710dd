//! The one-time setup state.

use std::collections::BTreeMap;

use async_trait::async_trait;
use fapiao_domain::ports::{RepositoryError, SetupState, SetupStore};
use fapiao_domain::{CardId, SPappId, SellerId};
use sea_orm::sea_query::OnConflict;
use sea_orm::{EntityTrait, QueryOrder, Set};

use crate::db::Database;
use crate::entity::{card_template, setup_state};
use crate::error::{corrupt, repository_error};

use super::wall_clock_millis;

/// The single row of `setup_state`.
const SETUP_ROW: i32 = 1;

/// The setup state on sea-orm: one `setup_state` row plus one `card_templates` row per seller.
#[derive(Debug, Clone)]
pub struct SeaOrmSetupStore {
    db: Database,
}

impl SeaOrmSetupStore {
    /// A store over `db`.
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

fn from_rows(
    row: Option<setup_state::Model>,
    templates: Vec<card_template::Model>,
) -> Result<SetupState, RepositoryError> {
    let card_templates = templates
        .into_iter()
        .map(|t| {
            Ok((
                SellerId::parse(&t.seller_id).map_err(|err| corrupt("card_templates", err))?,
                CardId::parse(&t.card_id).map_err(|err| corrupt("card_templates", err))?,
            ))
        })
        .collect::<Result<BTreeMap<_, _>, RepositoryError>>()?;
    let Some(row) = row else {
        return Ok(SetupState {
            card_templates,
            ..SetupState::default()
        });
    };
    Ok(SetupState {
        s_pappid: row
            .s_pappid
            .as_deref()
            .map(SPappId::parse)
            .transpose()
            .map_err(|err| corrupt("setup_state.s_pappid", err))?,
        contact: row
            .contact
            .as_deref()
            .map(serde_json::from_str)
            .transpose()
            .map_err(|err| corrupt("setup_state.contact", err))?,
        auth_fields_set: row.auth_fields_set,
        card_templates,
        pay_mch: row
            .pay_mch
            .as_deref()
            .map(serde_json::from_str)
            .transpose()
            .map_err(|err| corrupt("setup_state.pay_mch", err))?,
    })
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<String, RepositoryError> {
    serde_json::to_string(value).map_err(|err| RepositoryError::Other(Box::new(err)))
}

#[async_trait]
impl SetupStore for SeaOrmSetupStore {
    async fn load(&self) -> Result<SetupState, RepositoryError> {
        let row = setup_state::Entity::find_by_id(SETUP_ROW)
            .one(self.db.conn())
            .await
            .map_err(repository_error)?;
        let templates = card_template::Entity::find()
            .order_by_asc(card_template::Column::SellerId)
            .all(self.db.conn())
            .await
            .map_err(repository_error)?;
        from_rows(row, templates)
    }

    async fn save(&self, state: &SetupState) -> Result<(), RepositoryError> {
        let now = wall_clock_millis();
        let row = setup_state::ActiveModel {
            id: Set(SETUP_ROW),
            s_pappid: Set(state.s_pappid.as_ref().map(|p| p.as_str().to_owned())),
            contact: Set(state.contact.as_ref().map(to_json).transpose()?),
            auth_fields_set: Set(state.auth_fields_set),
            pay_mch: Set(state.pay_mch.as_ref().map(to_json).transpose()?),
            updated_at: Set(now),
        };
        let templates: Vec<_> = state
            .card_templates
            .iter()
            .map(|(seller, card_id)| card_template::ActiveModel {
                seller_id: Set(seller.as_str().to_owned()),
                card_id: Set(card_id.as_str().to_owned()),
                updated_at: Set(now),
            })
            .collect();
        let txn = self.db.begin_write().await.map_err(repository_error)?;
        setup_state::Entity::insert(row)
            .on_conflict(
                OnConflict::column(setup_state::Column::Id)
                    .update_columns([
                        setup_state::Column::SPappid,
                        setup_state::Column::Contact,
                        setup_state::Column::AuthFieldsSet,
                        setup_state::Column::PayMch,
                        setup_state::Column::UpdatedAt,
                    ])
                    .to_owned(),
            )
            .exec_without_returning(&txn)
            .await
            .map_err(repository_error)?;
        // Replace, not merge: the saved state is the whole truth.
        card_template::Entity::delete_many()
            .exec(&txn)
            .await
            .map_err(repository_error)?;
        if !templates.is_empty() {
            card_template::Entity::insert_many(templates)
                .exec_without_returning(&txn)
                .await
                .map_err(repository_error)?;
        }
        txn.commit().await.map_err(repository_error)
    }
}
