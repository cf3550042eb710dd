//! Live mode refuses the built-in sandbox profile's credentials (they are public in the README
//! and the source) and wants the issuer stated.

use super::{Config, ConfigError, IssuerKind, err};

/// The sandbox seller's taxpayer id (`sellers.store-01.tax_id` of the built-in defaults).
pub const SANDBOX_SELLER_TAX_ID: &str = "91110000000000000E";

impl Config {
    /// In live mode: no built-in sandbox credential, `issuer.kind` stated, and the sandbox
    /// issuer only when `issuer.allow_sandbox_in_live` says so.
    ///
    /// # Errors
    /// A [`ConfigError`] naming every key still holding a built-in value, or the issuer key.
    pub fn check_live(&self) -> Result<(), ConfigError> {
        if self.is_sandbox() {
            return Ok(());
        }
        let builtin = Config::from_toml("")?;
        let mut keys: Vec<String> = Vec::new();
        let mut refuse = |key: &str, value: &str, builtin: &str| {
            if !value.is_empty() && value == builtin {
                keys.push(key.to_owned());
            }
        };
        refuse(
            "server.api_key",
            self.server.api_key.expose(),
            builtin.server.api_key.expose(),
        );
        let callback = (&self.weixin.callback, &builtin.weixin.callback);
        refuse(
            "weixin.callback.token",
            callback.0.token.expose(),
            callback.1.token.expose(),
        );
        refuse(
            "weixin.callback.encoding_aes_key",
            callback.0.encoding_aes_key.expose(),
            callback.1.encoding_aes_key.expose(),
        );
        let accounts = [
            (
                "weixin.official_account",
                Some(&self.weixin.official_account),
                Some(&builtin.weixin.official_account),
            ),
            (
                "weixin.mini_program",
                self.weixin.mini_program.as_ref(),
                builtin.weixin.mini_program.as_ref(),
            ),
            (
                "weixin.open_platform_app",
                self.weixin.open_platform_app.as_ref(),
                builtin.weixin.open_platform_app.as_ref(),
            ),
        ];
        for (key, account, builtin) in accounts {
            if let (Some(account), Some(builtin)) = (account, builtin) {
                refuse(&format!("{key}.appid"), &account.appid, &builtin.appid);
                refuse(
                    &format!("{key}.secret"),
                    account.secret.expose(),
                    builtin.secret.expose(),
                );
            }
        }
        for (seller, config) in &self.sellers {
            refuse(
                &format!("sellers.{seller}.tax_id"),
                config.tax_id.trim(),
                SANDBOX_SELLER_TAX_ID,
            );
        }
        if !keys.is_empty() {
            return Err(err(
                keys.join(", "),
                "live mode refuses the built-in sandbox values (they are public): set your own \
                 (an account you do not use is turned off with appid = \"\")",
            ));
        }
        if !self.issuer.kind_stated {
            return Err(err(
                "issuer.kind",
                "must be stated in live mode: \"nuonuo\" or \"gateway\" for your tax platform \
                 (\"sandbox\" issues no real invoice and also needs issuer.allow_sandbox_in_live = true)",
            ));
        }
        if self.issuer.kind == IssuerKind::Sandbox && !self.issuer.allow_sandbox_in_live {
            return Err(err(
                "issuer.allow_sandbox_in_live",
                "issuer.kind = \"sandbox\" in live mode issues no real tax invoice \
                 (PDFs say SANDBOX / 非正式发票); set it to true only for a trial",
            ));
        }
        Ok(())
    }

    /// What an operator must hear at every start and in `doctor`: live mode on the sandbox
    /// issuer, an open `/metrics` in live mode.
    pub fn warnings(&self) -> Vec<String> {
        let mut warnings = Vec::new();
        if self.is_sandbox() {
            return warnings;
        }
        if self.issuer.kind == IssuerKind::Sandbox {
            warnings.push(
                "LIVE MODE ON THE SANDBOX ISSUER: no real tax invoice is issued, every PDF says \
                 \"SANDBOX / 非正式发票\" (issuer.allow_sandbox_in_live = true); set issuer.kind \
                 to your tax platform before serving buyers"
                    .to_owned(),
            );
        }
        if self.server.metrics_auth == super::MetricsAuth::Open {
            warnings.push(
                "/metrics is open to anyone who reaches the service (server.metrics_auth = \"open\")"
                    .to_owned(),
            );
        }
        warnings
    }
}

#[cfg(test)]
mod tests;
