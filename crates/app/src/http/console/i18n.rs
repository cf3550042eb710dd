//! Every string the console shows, in Chinese and English, in one table, and the choice of
//! language: `?lang=zh|en` (remembered in a cookie), else the cookie, else `Accept-Language`.

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use fapiao_domain::order::OrderState;
use fapiao_domain::scenario::Scenario;
use fapiao_domain::weixin::ReimburseStatus;

use super::session::cookie;

/// The cookie remembering the language.
pub const LANG_COOKIE: &str = "fapiao_console_lang";

/// A language of the console.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// 简体中文.
    Zh,
    /// English.
    En,
}

impl Lang {
    /// `zh` or `en`.
    pub fn code(self) -> &'static str {
        match self {
            Lang::Zh => "zh",
            Lang::En => "en",
        }
    }

    /// The `lang` attribute of the page.
    pub fn html(self) -> &'static str {
        match self {
            Lang::Zh => "zh-CN",
            Lang::En => "en",
        }
    }

    /// `zh` or `en`; anything else is `None`.
    pub fn parse(value: &str) -> Option<Lang> {
        match value {
            "zh" => Some(Lang::Zh),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    /// The first of Chinese or English in an `Accept-Language` header, by the order given
    /// (weights are rarely out of order); Chinese when neither is named.
    pub fn from_accept_language(header: &str) -> Lang {
        header
            .split(',')
            .filter_map(|tag| tag.split(';').next())
            .map(|tag| tag.trim().to_ascii_lowercase())
            .find_map(|tag| {
                if tag == "zh" || tag.starts_with("zh-") {
                    Some(Lang::Zh)
                } else if tag == "en" || tag.starts_with("en-") {
                    Some(Lang::En)
                } else {
                    None
                }
            })
            .unwrap_or(Lang::Zh)
    }

    /// The language asked for by `?lang=` in `query`, if any.
    pub fn from_query(query: Option<&str>) -> Option<Lang> {
        form_urlencoded::parse(query.unwrap_or_default().as_bytes())
            .find(|(key, _)| key == "lang")
            .and_then(|(_, value)| Lang::parse(&value))
    }

    /// The language of a request.
    pub fn of(parts: &Parts) -> Lang {
        if let Some(lang) = Lang::from_query(parts.uri.query()) {
            return lang;
        }
        if let Some(lang) = cookie(&parts.headers, LANG_COOKIE).and_then(Lang::parse) {
            return lang;
        }
        parts
            .headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .map_or(Lang::Zh, Lang::from_accept_language)
    }

    /// The text of `msg` in this language.
    pub fn t(self, msg: Msg) -> &'static str {
        msg.text(self)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Lang {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Lang::of(parts))
    }
}

macro_rules! messages {
    ($($name:ident => $zh:literal, $en:literal;)*) => {
        /// A string of the console.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        #[allow(missing_docs)]
        pub enum Msg {
            $($name,)*
        }

        impl Msg {
            /// Every message, for the table's own test.
            #[cfg(test)]
            pub const ALL: &'static [Msg] = &[$(Msg::$name,)*];

            /// The text in `lang`.
            pub fn text(self, lang: Lang) -> &'static str {
                match (self, lang) {
                    $(
                        (Msg::$name, Lang::Zh) => $zh,
                        (Msg::$name, Lang::En) => $en,
                    )*
                }
            }
        }
    };
}

messages! {
    Console => "fapiao 控制台", "fapiao console";
    NavDashboard => "概览", "Dashboard";
    NavOrders => "订单", "Orders";
    NavEvents => "未匹配推送", "Unmatched pushes";
    NavWebhooks => "Webhook 投递", "Webhooks";
    Endpoint => "接收端", "Endpoint";
    DeliveryPending => "待投递", "Pending";
    DeliveryDelivered => "已投递", "Delivered";
    DeliveryFailed => "已放弃", "Failed";
    DeliveryAttempts => "尝试次数", "Attempts";
    DeliveryWhen => "投递 / 下次尝试", "Delivered / next attempt";
    NoWebhooks => "没有配置 Webhook 接收端（配置文件中的 [[webhooks]]，见 docs/webhooks.md）。", "No webhook endpoint is configured ([[webhooks]] in the configuration; see docs/webhooks.md).";
    NoDeliveries => "没有符合条件的投递。", "No matching deliveries.";
    Redeliver => "重新投递", "Redeliver";
    ConfirmRedeliver => "现在把这个事件再次发送给接收端（同一事件编号；接收端应按编号去重）。", "Send this event to its endpoint again now (same event id; the endpoint deduplicates by id).";
    Redelivered => "已安排重新投递：", "Redelivery scheduled: ";
    NavSetup => "设置", "Setup";
    Language => "English", "中文";
    SignIn => "登录", "Sign in";
    SignOut => "退出登录", "Sign out";
    ApiKey => "API 密钥", "API key";
    SignInHint => "使用商户 API 密钥（server.api_key）登录。", "Sign in with the merchant API key (server.api_key).";
    SignInFailed => "名称、密码或密钥不正确。", "The name, password or key is not correct.";
    SignInOperatorHint => "操作员输入名称和密码；不填名称时使用商户 API 密钥（server.api_key）。", "Operators give their name and password; without a name, the merchant API key (server.api_key).";
    OperatorName => "操作员名称", "Operator name";
    PasswordOrKey => "密码或 API 密钥", "Password or API key";
    SignedInAs => "已登录：", "Signed in as ";
    OrdersByState => "各状态订单", "Orders by state";
    Scenario => "场景", "Scenario";
    State => "状态", "State";
    Total => "合计", "Total";
    NeedsAttention => "待人工处理", "Needs attention";
    DeliveredToday => "今日送达", "Delivered today";
    CreatedToday => "今日新建", "Created today";
    TodayNote => "今日按中国标准时间计；送达数为今日最后更新且处于已送达状态的订单。", "Today is the China Standard Time day; delivered counts orders in delivered whose last change was today.";
    WeixinErrors => "微信错误（按 errcode，本实例启动以来）", "Weixin errors by errcode (since this instance started)";
    Step => "步骤", "Step";
    Errcode => "errcode", "errcode";
    Count => "次数", "Count";
    NoWeixinErrors => "没有微信错误。", "No Weixin errors.";
    MetricsOff => "本实例未启用指标，无法统计。", "Metrics are not enabled in this instance.";
    Health => "令牌与设置（doctor）", "Token and setup (doctor)";
    Check => "检查项", "Check";
    Status => "状态", "Status";
    Detail => "详情", "Detail";
    Ok => "正常", "OK";
    Problem => "异常", "Problem";
    Filter => "筛选", "Filter";
    Seller => "销售方", "Seller";
    CreatedFrom => "创建日期起", "Created from";
    CreatedTo => "创建日期止", "Created to";
    Search => "订单号 / 发票号码 / 购买方", "Order id / invoice number / buyer";
    Any => "全部", "Any";
    Apply => "查询", "Apply";
    NextPage => "下一页", "Next page";
    FirstPage => "第一页", "First page";
    OrderId => "订单号", "Order id";
    Amount => "金额", "Amount";
    Buyer => "购买方", "Buyer";
    TaxId => "税号", "Tax id";
    Updated => "更新时间", "Updated";
    Created => "创建时间", "Created";
    NoOrders => "没有符合条件的订单。", "No matching orders.";
    Order => "订单", "Order";
    Invoice => "发票", "Invoice";
    NoInvoice => "尚未开票。", "Not issued yet.";
    InvoiceNumber => "发票号码", "Invoice number";
    IssuedAt => "开票时间", "Issued at";
    AmountExcl => "金额（不含税）", "Amount (excl. tax)";
    Tax => "税额", "Tax";
    TotalWithTax => "价税合计", "Total";
    Lines => "明细", "Lines";
    ItemName => "项目名称", "Item";
    Quantity => "数量", "Quantity";
    Rate => "税率", "Rate";
    Card => "发票卡券", "Invoice card";
    NoCard => "尚未插卡。", "No card yet.";
    CardTemplate => "卡券模板", "Card template";
    CardCode => "卡券 code", "Card code";
    CodeUnknown => "未知（插卡应答丢失，待状态推送）", "unknown (the insert's answer was lost; learned from a status push)";
    Reimbursement => "报销状态", "Reimbursement";
    History => "历史", "History";
    From => "从", "From";
    To => "到", "To";
    Cause => "原因", "Cause";
    At => "时间", "At";
    CurrentStep => "当前步骤", "Current step";
    Attempts => "失败次数", "Failed attempts";
    LastError => "最近错误", "Last error";
    NextAttempt => "下次执行", "Next run";
    NoPendingStep => "没有排队的步骤。", "No step queued.";
    Attention => "需人工处理", "Needs attention";
    Resume => "重试后恢复到", "Resumes at";
    Since => "自", "Since";
    BluePdf => "蓝字发票 PDF", "Blue invoice PDF";
    RedPdf => "红字发票 PDF", "Red invoice PDF";
    OpenPdf => "在新窗口打开", "Open in a new window";
    Reversal => "冲红", "Reversal";
    RedInvoice => "红字发票", "Red invoice";
    CardCancelled => "卡券已作废", "Card cancelled";
    Rejection => "拒绝原因", "Rejection";
    Actions => "操作", "Actions";
    Retry => "重试", "Retry";
    Reject => "拒绝开票", "Reject";
    Reverse => "冲红", "Reverse";
    ResendCardStatus => "重新设置卡券状态", "Re-send the card status";
    Reason => "原因", "Reason";
    Confirm => "确认", "Confirm";
    Back => "返回", "Back";
    ConfirmRetry => "从需人工处理的步骤重新开始该订单。", "Resume the order from the step that needs attention.";
    ConfirmReject => "拒绝为该订单开票；购买方在微信中看到下面的原因。已开票（或可能已开票）的订单不能拒绝，请冲红。", "Refuse to invoice this order; the buyer sees the reason below in Weixin. An order with an invoice (or possibly one) cannot be rejected: reverse it.";
    ConfirmReverse => "开具全额红字发票冲销该订单的发票，并作废购买方的发票卡券。", "Issue a full red invoice for this order's invoice and cancel the buyer's invoice card.";
    ConfirmResend => "再次把卡券状态设置到微信（冲红后卡券作废）。", "Set the card's status at Weixin again (cancelled after a reversal).";
    ActionDone => "已提交，订单将由后台继续处理。", "Done; the order goes on in the background.";
    ActionFailed => "操作未执行：", "Nothing was done: ";
    EventId => "推送编号", "Push id";
    Received => "接收时间", "Received";
    Event => "事件", "Event";
    Note => "说明", "Note";
    Replay => "重放", "Replay";
    ConfirmReplay => "现在再次处理这条推送；已应用的推送不会重复应用。", "Handle this push again now; a push once applied is never applied twice.";
    NoUnmatched => "没有未匹配的推送。", "No unmatched pushes.";
    Replayed => "已重放：", "Replayed: ";
    SetupSteps => "设置步骤", "Setup steps";
    Rerun => "重新运行", "Re-run";
    RerunHint => "设置步骤按微信要求的顺序整体运行：已完成的步骤只做确认，不会重复（卡券模板不会重复创建）。", "Setup runs its steps in Weixin's order: steps already done are confirmed, not repeated (no card template is created twice).";
    SetupRan => "设置已运行：", "Setup ran: ";
    Changed => "有变更", "Changed";
    Unchanged => "无变更", "Unchanged";
    Error => "出错了", "Something went wrong";
    CsrfRefused => "请求被拒绝：表单缺少有效的 CSRF 令牌，或来源不是本站。请刷新页面后重试。", "Refused: the form lacks a valid CSRF token or comes from another site. Reload the page and try again.";
    NotFound => "没有这个页面。", "No such page.";
    InternalError => "内部错误，详见服务日志。", "Internal error; see the service log.";
    EventAuthorization => "授权", "Authorization";
    EventAuthorized => "已授权", "authorized";
    EventAuthFailed => "授权失败", "failed";
    EventInvoiceStatus => "报销状态", "Reimbursement status";
    EventOther => "其他", "Other";
    ReplayApplied => "已应用到订单", "applied to order";
    ReplayNoChange => "订单无变化", "no change to order";
    ReplayStillSetAside => "仍未应用", "still set aside";
}

/// The label of an order state.
pub fn state_label(state: OrderState, lang: Lang) -> &'static str {
    use OrderState as S;
    let (zh, en) = match state {
        S::Created => ("已创建", "Created"),
        S::AwaitingAuthorization => ("等待授权", "Awaiting authorization"),
        S::Authorized => ("已授权", "Authorized"),
        S::Issuing => ("开票中", "Issuing"),
        S::IssuePending => ("开票受理中", "Issue pending"),
        S::IssueOutcomeUnknown => ("开票结果未知", "Issue outcome unknown"),
        S::Issued => ("已开票", "Issued"),
        S::PdfUploaded => ("PDF 已上传", "PDF uploaded"),
        S::Delivered => ("已送达", "Delivered"),
        S::AuthorizationFailed => ("授权失败", "Authorization failed"),
        S::Rejected => ("已拒绝", "Rejected"),
        S::NeedsAttention => ("待人工处理", "Needs attention"),
        S::Reversing => ("冲红中", "Reversing"),
        S::Reversed => ("已冲红", "Reversed"),
    };
    pick(lang, zh, en)
}

/// The label of a scenario.
pub fn scenario_label(scenario: Scenario, lang: Lang) -> &'static str {
    let (zh, en) = match scenario {
        Scenario::OfficialAccount => ("公众号 H5", "Official Account H5"),
        Scenario::ScanQr => ("小票二维码", "Receipt QR code"),
        Scenario::App => ("App", "App"),
        Scenario::MiniProgram => ("小程序", "Mini Program"),
        Scenario::PostPayment => ("支付后开票", "Post-payment"),
    };
    pick(lang, zh, en)
}

/// The label of a reimbursement status.
pub fn reimburse_label(status: ReimburseStatus, lang: Lang) -> &'static str {
    let (zh, en) = match status {
        ReimburseStatus::Init => ("未报销", "Not reimbursed"),
        ReimburseStatus::Lock => ("报销中", "In reimbursement"),
        ReimburseStatus::Closure => ("已报销", "Reimbursed"),
        ReimburseStatus::Cancel => ("已作废", "Cancelled"),
    };
    pick(lang, zh, en)
}

fn pick(lang: Lang, zh: &'static str, en: &'static str) -> &'static str {
    match lang {
        Lang::Zh => zh,
        Lang::En => en,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_language_picks_the_first_of_chinese_or_english() {
        for (header, lang) in [
            ("zh-CN,zh;q=0.9,en;q=0.8", Lang::Zh),
            ("en-US,en;q=0.9", Lang::En),
            ("fr-FR, en;q=0.5, zh;q=0.4", Lang::En),
            ("de", Lang::Zh),
            ("", Lang::Zh),
            ("ZH-tw", Lang::Zh),
        ] {
            assert_eq!(Lang::from_accept_language(header), lang, "{header}");
        }
    }

    #[test]
    fn every_message_has_both_languages() {
        for msg in Msg::ALL {
            assert!(!msg.text(Lang::Zh).is_empty(), "{msg:?}");
            assert!(!msg.text(Lang::En).is_empty(), "{msg:?}");
        }
        assert_eq!(Lang::from_query(Some("a=1&lang=en")), Some(Lang::En));
        assert_eq!(Lang::from_query(Some("lang=xx")), None);
    }
}
