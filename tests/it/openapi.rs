#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! `/openapi.json` is a well-formed OpenAPI 3.1 document in which every operation describes its
//! responses, and real responses of every operation match their schema (a small JSON Schema
//! subset checker: `$ref`, `anyOf`, `type`, `enum`, `required`, `properties`,
//! `additionalProperties: false`, `items`, `minLength`/`maxLength`).

use std::collections::BTreeSet;

use serde_json::{Value, json};

use crate::app::{Db, KEY, TestApp, order_body, spawn_app, spawn_app_with};

const METHODS: [&str; 5] = ["get", "post", "put", "delete", "patch"];

/// Where a `#/…` reference points.
fn resolve<'a>(doc: &'a Value, reference: &str) -> Option<&'a Value> {
    doc.pointer(reference.strip_prefix('#')?)
}

/// Every problem of `value` against `schema`, as `at: rule`.
pub(crate) fn violations(
    doc: &Value,
    schema: &Value,
    value: &Value,
    at: &str,
    out: &mut Vec<String>,
) {
    if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
        match resolve(doc, reference) {
            Some(target) => violations(doc, target, value, at, out),
            None => out.push(format!("{at}: unresolved {reference}")),
        }
        return;
    }
    if let Some(options) = schema.get("anyOf").and_then(Value::as_array) {
        let fits = options.iter().any(|option| {
            let mut found = Vec::new();
            violations(doc, option, value, at, &mut found);
            found.is_empty()
        });
        if !fits {
            out.push(format!("{at}: matches no anyOf option: {value}"));
        }
        return;
    }
    if let Some(types) = schema.get("type") {
        let types: Vec<&str> = match types {
            Value::String(one) => vec![one.as_str()],
            Value::Array(many) => many.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        };
        let actual = match value {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::Array(_) => "array",
            Value::Object(_) => "object",
        };
        let fits = types
            .iter()
            .any(|t| *t == actual || (*t == "number" && actual == "integer"));
        if !fits {
            out.push(format!("{at}: is {actual}, schema says {types:?}"));
            return;
        }
    }
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array)
        && !allowed.contains(value)
    {
        out.push(format!("{at}: {value} is not one of {allowed:?}"));
    }
    if let Some(text) = value.as_str() {
        let length = text.chars().count() as u64;
        if let Some(min) = schema.get("minLength").and_then(Value::as_u64)
            && length < min
        {
            out.push(format!("{at}: shorter than {min}"));
        }
        if let Some(max) = schema.get("maxLength").and_then(Value::as_u64)
            && length > max
        {
            out.push(format!("{at}: longer than {max}"));
        }
    }
    if let Some(object) = value.as_object() {
        for name in schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            if !object.contains_key(name) {
                out.push(format!("{at}: missing required {name}"));
            }
        }
        let properties = schema.get("properties").and_then(Value::as_object);
        for (name, item) in object {
            match properties.and_then(|p| p.get(name)) {
                Some(property) => violations(doc, property, item, &format!("{at}.{name}"), out),
                None if schema.get("additionalProperties") == Some(&Value::Bool(false)) => {
                    out.push(format!("{at}: unexpected property {name}"));
                }
                None => {}
            }
        }
    }
    if let (Some(items), Some(array)) = (schema.get("items"), value.as_array()) {
        for (i, item) in array.iter().enumerate() {
            violations(doc, items, item, &format!("{at}[{i}]"), out);
        }
    }
}

/// Every `$ref` anywhere in `value`.
fn references<'a>(value: &'a Value, out: &mut Vec<&'a str>) {
    match value {
        Value::Object(map) => {
            if let Some(reference) = map.get("$ref").and_then(Value::as_str) {
                out.push(reference);
            }
            map.values().for_each(|v| references(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| references(v, out)),
        _ => {}
    }
}

/// The document's structure: version, info, operations with summaries, declared path
/// parameters, response codes, a schema for every success response, resolvable references.
fn structure_problems(doc: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    if !doc["openapi"]
        .as_str()
        .is_some_and(|v| v.starts_with("3.1."))
    {
        problems.push(format!("openapi is {}, not 3.1.x", doc["openapi"]));
    }
    for key in ["title", "version"] {
        if !doc["info"][key].is_string() {
            problems.push(format!("info.{key} missing"));
        }
    }
    let mut refs = Vec::new();
    references(doc, &mut refs);
    for reference in refs {
        if resolve(doc, reference).is_none() {
            problems.push(format!("unresolved {reference}"));
        }
    }
    let Some(paths) = doc["paths"].as_object() else {
        problems.push("no paths".into());
        return problems;
    };
    for (path, item) in paths {
        for method in METHODS {
            let Some(operation) = item.get(method) else {
                continue;
            };
            let at = format!("{} {path}", method.to_uppercase());
            if !operation["summary"].is_string() {
                problems.push(format!("{at}: no summary"));
            }
            let declared: BTreeSet<&str> = operation["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|p| p["in"] == "path" && p["required"] == true)
                .filter_map(|p| p["name"].as_str())
                .collect();
            for segment in path.split('/') {
                if let Some(name) = segment.strip_prefix('{').and_then(|s| s.strip_suffix('}'))
                    && !declared.contains(name)
                {
                    problems.push(format!("{at}: path parameter {name} not declared"));
                }
            }
            let Some(responses) = operation["responses"].as_object() else {
                problems.push(format!("{at}: no responses"));
                continue;
            };
            for (code, response) in responses {
                let code_ok = code == "default"
                    || (code.len() == 3
                        && code.starts_with(['1', '2', '3', '4', '5'])
                        && (code[1..].chars().all(|c| c.is_ascii_digit()) || &code[1..] == "XX"));
                if !code_ok {
                    problems.push(format!("{at}: response code {code}"));
                }
                let response = match response.get("$ref").and_then(Value::as_str) {
                    Some(reference) => resolve(doc, reference).unwrap_or(&Value::Null),
                    None => response,
                };
                if !response["description"].is_string() {
                    problems.push(format!("{at} {code}: no description"));
                }
                if code.starts_with('3') {
                    continue;
                }
                match response["content"].as_object() {
                    Some(content) if !content.is_empty() => {
                        for (media, body) in content {
                            let schema = &body["schema"];
                            if !schema.is_object()
                                || schema.as_object().is_some_and(|s| s.is_empty())
                            {
                                problems.push(format!("{at} {code} {media}: no schema"));
                            }
                        }
                    }
                    _ => problems.push(format!("{at} {code}: no content")),
                }
            }
        }
    }
    problems
}

/// The document, the operations exercised so far, and the app.
struct Conformance {
    doc: Value,
    app: TestApp,
    covered: BTreeSet<String>,
}

impl Conformance {
    /// Calls `method concrete` (documented as `template`) and checks the answer against the
    /// document: a response entry for its status, its media type, its schema.
    async fn call(
        &mut self,
        method: &str,
        template: &str,
        concrete: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut request = self
            .app
            .http
            .request(
                method.parse().unwrap(),
                format!("{}{concrete}", self.app.base),
            )
            .bearer_auth(KEY);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let media = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_owned();
        let bytes = response.bytes().await.unwrap();
        let at = format!("{} {concrete} → {status}", method.to_uppercase());
        let operation = &self.doc["paths"][template][method.to_lowercase()];
        assert!(operation.is_object(), "{at}: {template} not documented");
        self.covered
            .insert(format!("{} {template}", method.to_lowercase()));
        let responses = &operation["responses"];
        let class = format!("{}XX", status / 100);
        let mut entry = responses
            .get(status.to_string())
            .or_else(|| responses.get(&class))
            .or_else(|| responses.get("default"))
            .unwrap_or_else(|| panic!("{at}: status not documented"));
        if let Some(reference) = entry.get("$ref").and_then(Value::as_str) {
            entry = resolve(&self.doc, reference).unwrap();
        }
        if (300..400).contains(&status) {
            return (status, Value::Null);
        }
        let schema = entry["content"][&media]["schema"].clone();
        assert!(
            schema.is_object(),
            "{at}: answered {media}, documented {}",
            entry["content"]
        );
        let value = if media == "application/json" {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|e| panic!("{at}: not JSON ({e}): {bytes:?}"))
        } else {
            // Text and binary bodies are strings to the schema.
            Value::String(String::from_utf8_lossy(&bytes).into_owned())
        };
        let mut problems = Vec::new();
        violations(&self.doc, &schema, &value, "$", &mut problems);
        assert!(problems.is_empty(), "{at}: {problems:#?}\n{value:#}");
        (status, value)
    }

    fn uncovered(&self) -> Vec<String> {
        let mut all = Vec::new();
        for (path, item) in self.doc["paths"].as_object().unwrap() {
            for method in METHODS {
                if item.get(method).is_some() && !self.covered.contains(&format!("{method} {path}"))
                {
                    all.push(format!("{method} {path}"));
                }
            }
        }
        all
    }
}

pub async fn real_responses_match_the_document(kind: Db) {
    // An endpoint nobody listens on: its deliveries stay pending, which the log shows.
    let hooks = "[[webhooks]]\nname = \"erp\"\nurl = \"http://127.0.0.1:9/hooks\"\nsecret = \"0123456789abcdef\"\n";
    let app = spawn_app_with(kind, "openapi", hooks).await;
    let doc = app.openapi().await;
    let problems = structure_problems(&doc);
    assert!(problems.is_empty(), "{problems:#?}");
    let mut api = Conformance {
        doc,
        app,
        covered: BTreeSet::new(),
    };
    api.call("GET", "/openapi.json", "/openapi.json", None)
        .await;
    for path in ["/healthz", "/readyz", "/metrics"] {
        let (status, _) = api.call("GET", path, path, None).await;
        assert_eq!(status, 200, "{path}");
    }
    let (status, _) = api.call("POST", "/v1/setup", "/v1/setup", None).await;
    assert_eq!(status, 200);
    let (status, doctor) = api
        .call("GET", "/v1/setup/doctor", "/v1/setup/doctor", None)
        .await;
    assert_eq!(
        (status, &doctor["healthy"]),
        (200, &json!(true)),
        "{doctor}"
    );

    let (status, started) = api
        .call(
            "POST",
            "/v1/orders",
            "/v1/orders",
            Some(order_body("official_account", "API-OA")),
        )
        .await;
    assert_eq!(status, 201, "{started}");
    let (status, qr) = api
        .call(
            "POST",
            "/v1/orders",
            "/v1/orders",
            Some(order_body("qr_code", "API-QR")),
        )
        .await;
    assert_eq!(status, 201, "{qr}");
    for (template, path) in [
        ("/v1/orders/{order_id}/qr.png", "/v1/orders/API-QR/qr.png"),
        ("/v1/orders/{order_id}/qr.svg", "/v1/orders/API-QR/qr.svg"),
        ("/v1/orders/{order_id}", "/v1/orders/API-OA"),
    ] {
        let (status, _) = api.call("GET", template, path, None).await;
        assert_eq!(status, 200, "{path}");
    }
    let (status, list) = api
        .call("GET", "/v1/orders", "/v1/orders?limit=10", None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(list["orders"].as_array().map(Vec::len), Some(2));
    assert_eq!(list["next_cursor"], Value::Null, "{list}");
    // One a page: the cursor leads to the other order, then to the end.
    let (status, first) = api
        .call("GET", "/v1/orders", "/v1/orders?limit=1", None)
        .await;
    assert_eq!(status, 200);
    let cursor = first["next_cursor"].as_str().unwrap().to_owned();
    let (status, second) = api
        .call(
            "GET",
            "/v1/orders",
            &format!("/v1/orders?limit=1&cursor={cursor}"),
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(second["next_cursor"], Value::Null, "{second}");
    assert_ne!(
        first["orders"][0]["order_id"],
        second["orders"][0]["order_id"]
    );
    let (status, error) = api
        .call("GET", "/v1/orders", "/v1/orders?cursor=zz", None)
        .await;
    assert_eq!(
        (status, &error["error"]["field"]),
        (422, &json!("cursor")),
        "{error}"
    );
    // A query string that does not parse answers in the JSON envelope, naming the parameter.
    let (status, error) = api
        .call("GET", "/v1/orders", "/v1/orders?limit=-1", None)
        .await;
    assert_eq!(
        (status, &error["error"]["field"]),
        (422, &json!("limit")),
        "{error}"
    );
    let (status, lines) = api
        .call(
            "POST",
            "/v1/invoices/preview",
            "/v1/invoices/preview",
            Some(json!({ "lines": order_body("official_account", "X")["lines"] })),
        )
        .await;
    assert_eq!(
        (status, &lines["total"]),
        (200, &json!("100.00")),
        "{lines}"
    );

    // The reject reason and link are checked before anything changes.
    let reject = "/v1/orders/{order_id}/reject";
    for (body, field) in [
        (json!({ "reason": "  " }), "reason"),
        (json!({ "reason": "无".repeat(201) }), "reason"),
        (
            json!({ "reason": "开票失败", "url": "javascript:alert(1)" }),
            "url",
        ),
        (
            json!({ "reason": "开票失败", "url": "http://shop.example.com/help" }),
            "url",
        ),
    ] {
        let (status, error) = api
            .call(
                "POST",
                reject,
                "/v1/orders/API-QR/reject",
                Some(body.clone()),
            )
            .await;
        // The sandbox profile takes http:// links; live mode only https://.
        if body["url"] == "http://shop.example.com/help" {
            assert_eq!(status, 200, "{error}");
            break;
        }
        assert_eq!(
            (status, &error["error"]["field"]),
            (422, &json!(field)),
            "{body}: {error}"
        );
    }
    // The receipt QR code of a rejected order shows the buyer a page in words.
    let short = qr["action"]["url"].as_str().unwrap();
    let token = short.split_once("/q/").map(|(_, t)| t.to_owned()).unwrap();
    let response = api
        .app
        .http
        .get(format!("{}/q/{token}", api.app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 409);
    let page = response.text().await.unwrap();
    assert!(page.contains("此二维码已使用"), "{page}");
    assert!(page.contains("width=device-width"), "{page}");
    let (status, page) = api
        .call("GET", "/q/{token}", "/q/unknown-token-0000", None)
        .await;
    assert_eq!(status, 404);
    assert!(
        page.as_str()
            .is_some_and(|p| p.contains("二维码无效或已过期")),
        "{page}"
    );
    let (status, _) = api
        .call(
            "GET",
            "/q/{token}",
            &format!("/q/{}", started_token(&api).await),
            None,
        )
        .await;
    assert_eq!(status, 303);

    api.app
        .authorize(
            "API-OA",
            "深圳市腾讯计算机系统有限公司",
            Some("91440300708461136T"),
            false,
        )
        .await;
    api.app.wait_for("API-OA", "delivered").await;
    let (status, _) = api
        .call(
            "GET",
            "/v1/orders/{order_id}/pdf",
            "/v1/orders/API-OA/pdf",
            None,
        )
        .await;
    assert_eq!(status, 200);
    // No red invoice before a reversal; an unknown kind is named.
    let (status, error) = api
        .call(
            "GET",
            "/v1/orders/{order_id}/pdf",
            "/v1/orders/API-OA/pdf?kind=red",
            None,
        )
        .await;
    assert_eq!(
        (status, &error["error"]["code"]),
        (404, &json!("not_found"))
    );
    let (status, error) = api
        .call(
            "GET",
            "/v1/orders/{order_id}/pdf",
            "/v1/orders/API-OA/pdf?kind=pink",
            None,
        )
        .await;
    assert_eq!((status, &error["error"]["field"]), (422, &json!("kind")));
    let (status, error) = api
        .call(
            "POST",
            "/v1/orders/{order_id}/retry",
            "/v1/orders/API-OA/retry",
            None,
        )
        .await;
    assert_eq!(status, 409, "{error}");
    let (status, reversed) = api
        .call(
            "POST",
            "/v1/orders/{order_id}/reverse",
            "/v1/orders/API-OA/reverse",
            Some(json!({ "reason": "sales_return" })),
        )
        .await;
    assert_eq!(status, 200, "{reversed}");
    api.app.wait_for("API-OA", "reversed").await;
    let (status, _) = api
        .call(
            "GET",
            "/v1/orders/{order_id}/pdf",
            "/v1/orders/API-OA/pdf?kind=red",
            None,
        )
        .await;
    assert_eq!(status, 200);

    // The callback refuses an unsigned URL check and an unsigned push in the envelope.
    let (status, _) = api
        .call("GET", "/weixin/callback", "/weixin/callback?nonce=x", None)
        .await;
    assert!((400..500).contains(&status));
    let (status, _) = api
        .call(
            "POST",
            "/weixin/callback",
            "/weixin/callback",
            Some(json!({})),
        )
        .await;
    assert!((400..500).contains(&status));

    // The tax category table: one code, a search, a code it lacks, a malformed code.
    let lookup = "/v1/tax-categories/{code}";
    let (status, found) = api
        .call(
            "GET",
            lookup,
            "/v1/tax-categories/1030201010000000000",
            None,
        )
        .await;
    assert_eq!(
        (status, &found["category"]["short_name"]),
        (200, &json!("焙烤食品")),
        "{found}"
    );
    let (status, _) = api
        .call(
            "GET",
            lookup,
            "/v1/tax-categories/1030201010000000077",
            None,
        )
        .await;
    assert_eq!(status, 404);
    let (status, error) = api
        .call("GET", lookup, "/v1/tax-categories/abc", None)
        .await;
    assert_eq!((status, &error["error"]["field"]), (422, &json!("code")));
    let (status, page) = api
        .call(
            "GET",
            "/v1/tax-categories",
            "/v1/tax-categories?q=%E5%92%96%E5%95%A1&limit=3",
            None,
        )
        .await;
    assert_eq!(status, 200, "{page}");
    assert!(page["total"].as_u64().unwrap() >= 1, "{page}");
    let (status, error) = api
        .call(
            "GET",
            "/v1/tax-categories",
            "/v1/tax-categories?limit=101",
            None,
        )
        .await;
    assert_eq!((status, &error["error"]["field"]), (422, &json!("limit")));

    // The pushes set aside: none yet; replaying unknown or malformed ids is refused.
    let (status, unmatched) = api
        .call(
            "GET",
            "/v1/events/unmatched",
            "/v1/events/unmatched?limit=5",
            None,
        )
        .await;
    assert_eq!(status, 200, "{unmatched}");
    assert_eq!(unmatched["next_cursor"], Value::Null, "{unmatched}");
    let (status, error) = api
        .call(
            "GET",
            "/v1/events/unmatched",
            "/v1/events/unmatched?cursor=-1",
            None,
        )
        .await;
    assert_eq!((status, &error["error"]["field"]), (422, &json!("cursor")));
    let replay = "/v1/events/{event_id}/replay";
    let (status, error) = api
        .call("POST", replay, "/v1/events/987654/replay", None)
        .await;
    assert_eq!(
        (status, &error["error"]["code"]),
        (404, &json!("not_found"))
    );
    let (status, error) = api
        .call("POST", replay, "/v1/events/first/replay", None)
        .await;
    assert_eq!(
        (status, &error["error"]["field"]),
        (422, &json!("event_id"))
    );
    // The push that authorized API-OA was applied: nothing to replay.
    let mut conflict = None;
    for id in 1..=20 {
        let (status, error) = api
            .call("POST", replay, &format!("/v1/events/{id}/replay"), None)
            .await;
        if status == 409 {
            conflict = Some(error);
            break;
        }
        assert_eq!(status, 404, "{error}");
    }
    let conflict = conflict.expect("the applied authorization push answers 409");
    assert_eq!(conflict["error"]["code"], "conflict", "{conflict}");

    // The webhook delivery log: the orders above have events for the (unreachable) endpoint.
    let log = "/v1/webhooks/deliveries";
    api.app
        .poll("webhook deliveries in the log", || async {
            let (_, page) = api
                .app
                .api("GET", "/v1/webhooks/deliveries?limit=2", None)
                .await;
            page["deliveries"]
                .as_array()
                .is_some_and(|d| d.len() == 2)
                .then_some(())
        })
        .await;
    let (status, page) = api
        .call("GET", log, "/v1/webhooks/deliveries?limit=2", None)
        .await;
    assert_eq!(status, 200, "{page}");
    assert!(page["next_cursor"].is_string(), "{page}");
    let cursor = page["next_cursor"].as_str().unwrap().to_owned();
    let (status, next) = api
        .call(
            "GET",
            log,
            &format!("/v1/webhooks/deliveries?status=pending&endpoint=erp&order_id=API-OA&cursor={cursor}"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{next}");
    let (status, error) = api
        .call("GET", log, "/v1/webhooks/deliveries?cursor=x", None)
        .await;
    assert_eq!((status, &error["error"]["field"]), (422, &json!("cursor")));
    let redeliver = "/v1/webhooks/deliveries/{delivery_id}/redeliver";
    let first = page["deliveries"][0]["id"].as_i64().unwrap();
    let (status, answer) = api
        .call(
            "POST",
            redeliver,
            &format!("/v1/webhooks/deliveries/{first}/redeliver"),
            None,
        )
        .await;
    assert_eq!((status, &answer["status"]), (200, &json!("pending")));
    let (status, error) = api
        .call(
            "POST",
            redeliver,
            "/v1/webhooks/deliveries/0/redeliver",
            None,
        )
        .await;
    assert_eq!(
        (status, &error["error"]["field"]),
        (422, &json!("delivery_id"))
    );

    let uncovered = api.uncovered();
    assert!(uncovered.is_empty(), "not exercised: {uncovered:?}");

    // No route, wrong method, bad path: the JSON envelope too.
    for (method, path, code) in [
        ("GET", "/v2/nothing", 404),
        ("DELETE", "/v1/orders", 405),
        ("GET", "/v1/orders/bad%FFid", 422),
    ] {
        let response = api
            .app
            .http
            .request(method.parse().unwrap(), format!("{}{path}", api.app.base))
            .bearer_auth(KEY)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), code, "{method} {path}");
        let body: Value = response.json().await.unwrap();
        let mut problems = Vec::new();
        violations(
            &api.doc,
            &json!({ "$ref": "#/components/schemas/Error" }),
            &body,
            "$",
            &mut problems,
        );
        assert!(problems.is_empty(), "{method} {path}: {problems:?} {body}");
    }
    api.app.running.shutdown().await;
}

/// A fresh QR order's token (the first QR order is rejected by now).
async fn started_token(api: &Conformance) -> String {
    let (status, started) = api
        .app
        .api("POST", "/v1/orders", Some(order_body("qr_code", "API-QR2")))
        .await;
    assert_eq!(status, 201, "{started}");
    let short = started["action"]["url"].as_str().unwrap();
    short.split_once("/q/").map(|(_, t)| t.to_owned()).unwrap()
}

crate::on_both_databases!(
    openapi_responses_match_their_schemas,
    crate::openapi::real_responses_match_the_document
);

async fn names_must_show(kind: Db) {
    let app = spawn_app(kind, "names").await;
    for (name, rule) in [
        ("\u{200B}\u{200C}\u{FEFF}", "invisible"),
        ("咖啡\u{202E}啡咖", "bidi"),
    ] {
        let mut body = order_body("official_account", "NAMES-1");
        body["lines"][0]["name"] = json!(name);
        let (status, error) = app.api("POST", "/v1/orders", Some(body)).await;
        assert_eq!(status, 422, "{error}");
        assert_eq!(error["error"]["field"], "lines[0].name", "{error}");
        assert!(
            error["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains(rule)),
            "{error}"
        );
        let mut body = order_body("official_account", "NAMES-2");
        body["buyer"] = json!({ "kind": "individual", "name": name });
        let (status, error) = app.api("POST", "/v1/orders", Some(body)).await;
        assert_eq!(status, 422, "{error}");
        assert_eq!(error["error"]["field"], "buyer.name", "{error}");
    }
    app.running.shutdown().await;
}

crate::on_both_databases!(
    invisible_and_bidi_names_are_refused,
    crate::openapi::names_must_show
);

#[test]
fn the_checker_finds_what_is_wrong() {
    let doc = json!({ "components": { "schemas": { "A": {
        "type": "object", "required": ["n"], "additionalProperties": false,
        "properties": { "n": { "type": ["integer", "null"] }, "s": { "type": "string", "enum": ["x"] } }
    } } } });
    let check = |value: Value| {
        let mut found = Vec::new();
        violations(
            &doc,
            &json!({ "$ref": "#/components/schemas/A" }),
            &value,
            "$",
            &mut found,
        );
        found
    };
    assert!(check(json!({ "n": 1, "s": "x" })).is_empty());
    assert!(check(json!({ "n": null })).is_empty());
    assert_eq!(check(json!({})), vec!["$: missing required n"]);
    assert_eq!(
        check(json!({ "n": "1" })),
        vec!["$.n: is string, schema says [\"integer\", \"null\"]"]
    );
    assert_eq!(check(json!({ "n": 1, "s": "y" })).len(), 1);
    assert_eq!(
        check(json!({ "n": 1, "z": 0 })),
        vec!["$: unexpected property z"]
    );
}
