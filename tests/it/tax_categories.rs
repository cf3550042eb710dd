#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The tax category table as a merchant meets it: a real code previews with its 简称 from the
//! embedded table; an override file with one changed 简称 changes the printed prefix after a
//! restart; a malformed override file stops the start, naming the line and the rule.

use std::net::SocketAddr;
use std::path::PathBuf;

use fapiao::StartOptions;
use serde_json::{Value, json};

use crate::app::{Db, KEY, config, test_db};

/// A file in a temporary directory of its own (the SQLite and PostgreSQL variants of a test
/// run at once in one process), removed with it on drop.
struct TempFile(PathBuf, #[allow(dead_code)] tempfile::TempDir);

impl TempFile {
    fn new(name: &str, text: &str) -> TempFile {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(format!("fapiao-taxcodes-{name}.csv"));
        std::fs::write(&path, text).unwrap();
        TempFile(path, dir)
    }
}

async fn preview(base: &str, code: &str) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(format!("{base}/v1/invoices/preview"))
        .bearer_auth(KEY)
        .json(&json!({ "lines": [
            { "name": "蛋糕", "tax_code": code, "amount": "12.00", "tax_rate": "0.13" }
        ]}))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

async fn doctor_tables(base: &str) -> String {
    let doctor: Value = reqwest::Client::new()
        .get(format!("{base}/v1/setup/doctor"))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    doctor["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check"] == "tax categories")
        .map(|c| c["detail"].as_str().unwrap().to_owned())
        .unwrap()
}

pub async fn override_file_across_a_restart(kind: Db) {
    let db = test_db(kind, "taxcodes").await;
    let options = || StartOptions {
        database: Some(db.database().clone()),
        listen: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
        sandbox_listen: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
        skip_setup: false,
        skip_runner: true,
    };

    // The embedded table: 糕点 prints *焙烤食品*.
    let running = fapiao::start(config(""), options()).await.unwrap();
    let (status, lines) = preview(&running.base_url(), "1030201010000000000").await;
    assert_eq!(status, 200, "{lines}");
    assert_eq!(lines["lines"][0]["name"], "*焙烤食品*蛋糕");
    assert_eq!(lines["tax"], "1.38");
    assert!(
        doctor_tables(&running.base_url())
            .await
            .starts_with("table 2026.6.1 in force since 2026-06-01 (embedded, 4098 codes)")
    );
    running.shutdown().await;

    // One changed 简称 and one new code, merged over the embedded table.
    let file = TempFile::new(
        "good",
        "code,name,short_name,rates,note\r\n1030201010000000000,糕点,糕点点心,13%,\r\n1030201880000000000,月饼,焙烤食品,13%,\r\n",
    );
    let with_file = format!(
        "[tax_categories]\nfile = \"{}\"\nversion = \"2026.6.1-merchant\"\n",
        file.0.display()
    );
    let running = fapiao::start(config(&with_file), options()).await.unwrap();
    let (status, lines) = preview(&running.base_url(), "1030201010000000000").await;
    assert_eq!(status, 200, "{lines}");
    assert_eq!(lines["lines"][0]["name"], "*糕点点心*蛋糕");
    let (status, lines) = preview(&running.base_url(), "1030201880000000000").await;
    assert_eq!(status, 200, "{lines}");
    assert_eq!(lines["lines"][0]["name"], "*焙烤食品*蛋糕");
    let detail = doctor_tables(&running.base_url()).await;
    assert!(
        detail.starts_with(&format!(
            "table 2026.6.1-merchant in force since 2026-06-01 ({} over 2026.6.1, 4099 codes)",
            file.0.display()
        )),
        "{detail}"
    );
    running.shutdown().await;

    // A malformed file stops the start, naming the file, the line and the rule.
    let bad = TempFile::new(
        "bad",
        "code,name,short_name,rates,note\r\n1030201010000000000,糕点,糕点点心,13%,\r\n1030201880000000000,月饼,,13%,\r\n",
    );
    let with_bad = format!("[tax_categories]\nfile = \"{}\"\n", bad.0.display());
    let error = match fapiao::start(config(&with_bad), options()).await {
        Ok(_) => panic!("a malformed override file must stop the start"),
        Err(error) => format!("{error:#}"),
    };
    assert!(
        error.contains(&format!(
            "tax_categories.file: {}: line 3: short_name: must not be empty",
            bad.0.display()
        )),
        "{error}"
    );
    db.close().await.unwrap();
}

crate::on_both_databases!(
    override_file_changes_the_prefix_after_a_restart,
    super::override_file_across_a_restart
);
