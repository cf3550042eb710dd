//! One-time setup and the `doctor` check.

use fapiao_domain::ports::SetupState;
use fapiao_domain::scenario::PageStyle;
use fapiao_domain::weixin::{PayMchBinding, WeixinError};
use tracing::info;

use super::Ports;
use crate::error::AppError;
use crate::settings::Settings;

/// How one setup step went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetupStep {
    /// Step name, e.g. `seturl`.
    pub name: String,
    /// What happened, in words.
    pub detail: String,
    /// Whether it changed anything at Weixin.
    pub changed: bool,
}

/// The steps of one setup run, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SetupReport {
    /// Steps done.
    pub steps: Vec<SetupStep>,
}

/// One `doctor` finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DoctorCheck {
    /// What was checked.
    pub name: String,
    /// Whether it is fine.
    pub ok: bool,
    /// What was found, and for a failure, exactly what to do.
    pub detail: String,
}

/// All `doctor` findings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DoctorReport {
    /// Findings in setup order.
    pub checks: Vec<DoctorCheck>,
}

impl DoctorReport {
    /// Whether every check passed.
    pub fn healthy(&self) -> bool {
        self.checks.iter().all(|c| c.ok)
    }
}

/// Setup and diagnosis of the merchant's Weixin accounts.
#[derive(Debug, Clone)]
pub struct SetupService {
    ports: Ports,
    settings: std::sync::Arc<Settings>,
}

/// The steps of a run so far, each told to the caller's progress callback as it is added.
struct Steps<'a> {
    steps: Vec<SetupStep>,
    progress: &'a (dyn Fn(&SetupStep) + Send + Sync),
}

impl Steps<'_> {
    fn push(&mut self, step: SetupStep) {
        (self.progress)(&step);
        self.steps.push(step);
    }
}

struct Progress<'a> {
    steps: Steps<'a>,
}

fn step(name: &str, detail: impl Into<String>, changed: bool) -> SetupStep {
    SetupStep {
        name: name.to_owned(),
        detail: detail.into(),
        changed,
    }
}

impl SetupService {
    /// A service over `ports` with `settings`.
    pub fn new(ports: Ports, settings: Settings) -> Self {
        Self {
            ports,
            settings: std::sync::Arc::new(settings),
        }
    }

    fn needs_auth_fields(&self) -> bool {
        self.settings.default_page_style == PageStyle::FillTitle
            || self.settings.pay_mchid.is_some()
    }

    /// Runs the one-time steps in Weixin's order: `seturl` → contact → auth page fields →
    /// card template per seller → pay-mch binding. Idempotent: steps already done are
    /// confirmed, not repeated (card templates are never created twice for a seller).
    ///
    /// # Errors
    /// The first failing step's error; the steps before it are saved.
    pub async fn run(&self) -> Result<SetupReport, AppError> {
        self.run_with(&|_| {}).await
    }

    /// [`SetupService::run`], telling `progress` about each step as soon as it is done.
    ///
    /// # Errors
    /// As for [`SetupService::run`].
    pub async fn run_with(
        &self,
        progress: &(dyn Fn(&SetupStep) + Send + Sync),
    ) -> Result<SetupReport, AppError> {
        let mut report = Progress {
            steps: Steps {
                steps: Vec::new(),
                progress,
            },
        };
        let mut state = self.ports.setup.load().await?;

        let s_pappid = self.ports.platform.platform_id().await?;
        let changed = state.s_pappid.as_ref() != Some(&s_pappid);
        state.s_pappid = Some(s_pappid.clone());
        self.save(&state).await?;
        report
            .steps
            .push(step("seturl", format!("s_pappid {s_pappid}"), changed));

        let contact = &self.settings.contact;
        let current = self.ports.merchant.contact().await?;
        let changed = current.as_ref() != Some(contact);
        if changed {
            self.ports.merchant.set_contact(contact).await?;
        }
        state.contact = Some(contact.clone());
        self.save(&state).await?;
        report.steps.push(step(
            "set_contact",
            format!(
                "phone {}, time_out {} s",
                contact.phone, contact.time_out_seconds
            ),
            changed,
        ));

        if self.needs_auth_fields() {
            let fields = &self.settings.auth_fields;
            let current = self.ports.merchant.auth_fields().await?;
            let changed = current.as_ref() != Some(fields);
            if changed {
                self.ports.merchant.set_auth_fields(fields).await?;
            }
            state.auth_fields_set = true;
            self.save(&state).await?;
            report.steps.push(step(
                "set_auth_field",
                "auth page fields for page style 1",
                changed,
            ));
        } else {
            report
                .steps
                .push(step("set_auth_field", "skipped: page style 0 only", false));
        }

        for (seller_id, seller) in &self.settings.sellers {
            if let Some(card_id) = state.card_templates.get(seller_id) {
                report.steps.push(step(
                    "createcard",
                    format!("seller {seller_id}: card {card_id}"),
                    false,
                ));
                continue;
            }
            seller.card_template.validate().map_err(|e| {
                AppError::invalid(format!("sellers.{seller_id}.card_template"), e.to_string())
            })?;
            let card_id = self
                .ports
                .platform
                .create_card_template(&seller.card_template)
                .await?;
            state
                .card_templates
                .insert(seller_id.clone(), card_id.clone());
            self.save(&state).await?;
            report.steps.push(step(
                "createcard",
                format!("seller {seller_id}: card {card_id}"),
                true,
            ));
        }

        match &self.settings.pay_mchid {
            Some(mchid) => {
                let binding = PayMchBinding {
                    mchid: mchid.clone(),
                    s_pappid: s_pappid.clone(),
                };
                let current = self.ports.merchant.pay_mch().await?;
                let changed = current.as_ref() != Some(&binding);
                if changed {
                    self.ports.merchant.set_pay_mch(&binding).await?;
                }
                state.pay_mch = Some(binding);
                self.save(&state).await?;
                report
                    .steps
                    .push(step("set_pay_mch", format!("mchid {mchid}"), changed));
            }
            None => report.steps.push(step(
                "set_pay_mch",
                "skipped: no WeChat Pay mchid configured (post-payment off)",
                false,
            )),
        }
        info!(steps = report.steps.steps.len(), "setup complete");
        Ok(SetupReport {
            steps: report.steps.steps,
        })
    }

    async fn save(&self, state: &SetupState) -> Result<(), AppError> {
        Ok(self.ports.setup.save(state).await?)
    }

    /// Checks every setup step against Weixin and says exactly which is missing.
    ///
    /// # Errors
    /// Storage errors only; Weixin failures are findings.
    pub async fn doctor(&self) -> Result<DoctorReport, AppError> {
        self.doctor_with(&|_| {}).await
    }

    /// [`SetupService::doctor`], telling `progress` about each check as soon as it is done.
    ///
    /// # Errors
    /// As for [`SetupService::doctor`].
    pub async fn doctor_with(
        &self,
        progress: &(dyn Fn(&DoctorCheck) + Send + Sync),
    ) -> Result<DoctorReport, AppError> {
        let mut report = DoctorReport::default();
        let state = self.ports.setup.load().await?;
        let mut push = |name: &str, ok: bool, detail: String| {
            let check = DoctorCheck {
                name: name.to_owned(),
                ok,
                detail,
            };
            progress(&check);
            report.checks.push(check);
        };
        let describe = |e: WeixinError| AppError::from(e).to_string();

        match self.ports.platform.platform_id().await {
            Ok(id) if state.s_pappid.as_ref() == Some(&id) => {
                push("token and s_pappid", true, format!("s_pappid {id}"))
            }
            Ok(id) => push(
                "token and s_pappid",
                false,
                match &state.s_pappid {
                    Some(recorded) => format!(
                        "Weixin says s_pappid {id} but setup recorded {recorded}: run `fapiao setup`"
                    ),
                    None => format!(
                        "Weixin says s_pappid {id} and setup has not run yet: run `fapiao setup`"
                    ),
                },
            ),
            Err(e) => push(
                "token and s_pappid",
                false,
                format!(
                    "seturl failed: {}; check the appid, secret and IP whitelist",
                    describe(e)
                ),
            ),
        }
        match self.ports.merchant.contact().await {
            Ok(Some(contact)) => push("contact", true, format!("phone {}", contact.phone)),
            Ok(None) => push(
                "contact",
                false,
                "no merchant contact: getauthurl will fail with 72063; run `fapiao setup`".into(),
            ),
            Err(e) => push(
                "contact",
                false,
                format!("get_contact failed: {}", describe(e)),
            ),
        }
        if self.needs_auth_fields() {
            match self.ports.merchant.auth_fields().await {
                Ok(Some(_)) => push("auth fields", true, "set".into()),
                Ok(None) => push(
                    "auth fields",
                    false,
                    "auth page fields not set: page style 1 fails with 72029; run `fapiao setup`"
                        .into(),
                ),
                Err(e) => push(
                    "auth fields",
                    false,
                    format!("get_auth_field failed: {}", describe(e)),
                ),
            }
        }
        for seller_id in self.settings.sellers.keys() {
            match state.card_templates.get(seller_id) {
                Some(card_id) => push(
                    "card template",
                    true,
                    format!("seller {seller_id}: {card_id}"),
                ),
                None => push(
                    "card template",
                    false,
                    format!("seller {seller_id} has no card template: run `fapiao setup`"),
                ),
            }
        }
        if let Some(mchid) = &self.settings.pay_mchid {
            match self.ports.merchant.pay_mch().await {
                Ok(Some(binding))
                    if &binding.mchid == mchid
                        && Some(&binding.s_pappid) == state.s_pappid.as_ref() =>
                {
                    push("pay-mch binding", true, format!("mchid {mchid}"))
                }
                Ok(Some(binding)) => push(
                    "pay-mch binding",
                    false,
                    format!(
                        "bound to mchid {} / {}, configured {mchid}: run `fapiao setup`",
                        binding.mchid, binding.s_pappid
                    ),
                ),
                Ok(None) => push(
                    "pay-mch binding",
                    false,
                    "no pay-mch binding: post-payment fails with 72028; run `fapiao setup`".into(),
                ),
                Err(e) => push(
                    "pay-mch binding",
                    false,
                    format!("get_pay_mch failed: {}", describe(e)),
                ),
            }
        }
        let today = self.ports.clock.now().china_date();
        let table = self.settings.tax_categories.in_force(today);
        push(
            "tax categories",
            true,
            format!(
                "table {} in force since {} ({}, {} codes); {} version(s) known",
                table.version(),
                table.effective_from(),
                table.source(),
                table.len(),
                self.settings.tax_categories.tables().len()
            ),
        );
        Ok(report)
    }
}
