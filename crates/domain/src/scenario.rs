//! The five ways a buyer asks for an invoice, and what differs between them.

use std::fmt;

use serde::{Deserialize, Serialize};

/// How the buyer reached the invoicing flow (`SPEC.md` §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scenario {
    /// The merchant's H5 page inside Weixin redirects to the auth page.
    OfficialAccount,
    /// The buyer scans a QR code printed on the receipt.
    #[serde(rename = "qr_code")]
    ScanQr,
    /// The merchant's native App opens the auth page through the Weixin OpenSDK.
    App,
    /// The merchant's Mini Program navigates to Weixin's invoice Mini Program.
    MiniProgram,
    /// The buyer taps the invoice entry on the WeChat Pay receipt.
    PostPayment,
}

impl Scenario {
    /// All scenarios, in a stable order.
    pub const ALL: [Scenario; 5] = [
        Scenario::OfficialAccount,
        Scenario::ScanQr,
        Scenario::App,
        Scenario::MiniProgram,
        Scenario::PostPayment,
    ];

    /// The wire/API name (`official_account`, `qr_code`, `app`, `mini_program`, `post_payment`).
    pub fn code(self) -> &'static str {
        match self {
            Scenario::OfficialAccount => "official_account",
            Scenario::ScanQr => "qr_code",
            Scenario::App => "app",
            Scenario::MiniProgram => "mini_program",
            Scenario::PostPayment => "post_payment",
        }
    }

    /// Parses the API name.
    ///
    /// # Errors
    /// A message listing the accepted names.
    pub fn parse(value: &str) -> Result<Self, String> {
        Scenario::ALL
            .into_iter()
            .find(|s| s.code() == value)
            .ok_or_else(|| {
                format!(
                    "scenario: unknown value {value:?} (expected one of official_account, qr_code, app, mini_program, post_payment)"
                )
            })
    }

    /// The `source` sent to `getauthurl`; `None` for post-payment, whose auth page Weixin opens
    /// from the payment receipt.
    pub fn auth_source(self) -> Option<AuthSource> {
        match self {
            Scenario::OfficialAccount | Scenario::ScanQr => Some(AuthSource::Web),
            Scenario::App => Some(AuthSource::App),
            Scenario::MiniProgram => Some(AuthSource::Wxa),
            Scenario::PostPayment => None,
        }
    }

    /// Which of the merchant's Weixin accounts obtains the auth URL and so authorizes the order;
    /// `insert` must name that account's appid.
    pub fn authorizing_account(self) -> AccountRole {
        match self {
            Scenario::OfficialAccount | Scenario::ScanQr | Scenario::PostPayment => {
                AccountRole::OfficialAccount
            }
            Scenario::App => AccountRole::OpenPlatformApp,
            Scenario::MiniProgram => AccountRole::MiniProgram,
        }
    }

    /// Whether the order is created from the buyer's authorization rather than an auth URL.
    pub fn is_buyer_initiated(self) -> bool {
        self == Scenario::PostPayment
    }

    /// Checks that `style` can be used in this scenario.
    ///
    /// # Errors
    /// A message naming the rule: post-payment allows only page style 1; style 2 (receive an
    /// already issued invoice) is not a flow fapiao drives.
    pub fn check_page_style(self, style: PageStyle) -> Result<(), String> {
        match (self, style) {
            (_, PageStyle::Receive) => Err(
                "page_style: 2 (receive an already issued invoice) is not supported; use 0 or 1"
                    .to_owned(),
            ),
            (Scenario::PostPayment, PageStyle::Apply) => Err(
                "page_style: post-payment invoicing allows only page style 1 (fill in title)"
                    .to_owned(),
            ),
            _ => Ok(()),
        }
    }
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// The `source` of `getauthurl` and of the authorization event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthSource {
    /// H5 inside Weixin (`web`).
    Web,
    /// Native App through the OpenSDK (`app`).
    App,
    /// Mini Program (`wxa`).
    Wxa,
    /// Ordinary mobile or PC web outside Weixin (`wap`).
    Wap,
}

impl AuthSource {
    /// The wire value.
    pub fn code(self) -> &'static str {
        match self {
            AuthSource::Web => "web",
            AuthSource::App => "app",
            AuthSource::Wxa => "wxa",
            AuthSource::Wap => "wap",
        }
    }

    /// Parses the wire value.
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "web" => Some(AuthSource::Web),
            "app" => Some(AuthSource::App),
            "wxa" => Some(AuthSource::Wxa),
            "wap" => Some(AuthSource::Wap),
            _ => None,
        }
    }
}

/// The auth page style (`type` of `getauthurl`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PageStyle {
    /// 0: the merchant already has the title; the page only authorizes issuing.
    Apply,
    /// 1: the buyer fills in or picks a title on the page (needs `set_auth_field`).
    FillTitle,
    /// 2: the invoice is already issued; the buyer collects it.
    Receive,
}

impl PageStyle {
    /// The wire value (0, 1 or 2).
    pub fn code(self) -> u8 {
        match self {
            PageStyle::Apply => 0,
            PageStyle::FillTitle => 1,
            PageStyle::Receive => 2,
        }
    }

    /// Parses the wire value.
    pub fn from_code(code: i64) -> Option<Self> {
        match code {
            0 => Some(PageStyle::Apply),
            1 => Some(PageStyle::FillTitle),
            2 => Some(PageStyle::Receive),
            _ => None,
        }
    }
}

/// One of the merchant's Weixin accounts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountRole {
    /// The Official Account: owns `s_pappid`, receives pushes, inserts cards.
    OfficialAccount,
    /// The merchant's Mini Program.
    MiniProgram,
    /// The merchant's native App registered on the Open Platform.
    OpenPlatformApp,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scenario_codes_round_trip() {
        for scenario in Scenario::ALL {
            assert_eq!(Scenario::parse(scenario.code()), Ok(scenario));
            let json = serde_json::to_string(&scenario).unwrap_or_default();
            assert_eq!(json, format!("\"{}\"", scenario.code()));
        }
        assert!(
            Scenario::parse("wap")
                .unwrap_err()
                .contains("expected one of")
        );
    }

    #[test]
    fn per_scenario_differences() {
        assert_eq!(Scenario::ScanQr.auth_source(), Some(AuthSource::Web));
        assert_eq!(Scenario::MiniProgram.auth_source(), Some(AuthSource::Wxa));
        assert_eq!(Scenario::PostPayment.auth_source(), None);
        assert_eq!(
            Scenario::App.authorizing_account(),
            AccountRole::OpenPlatformApp
        );
        assert_eq!(
            Scenario::MiniProgram.authorizing_account(),
            AccountRole::MiniProgram
        );
        assert!(
            Scenario::PostPayment
                .check_page_style(PageStyle::Apply)
                .is_err()
        );
        assert!(
            Scenario::PostPayment
                .check_page_style(PageStyle::FillTitle)
                .is_ok()
        );
        assert!(
            Scenario::OfficialAccount
                .check_page_style(PageStyle::Receive)
                .is_err()
        );
    }
}
