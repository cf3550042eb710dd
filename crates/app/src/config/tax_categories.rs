//! `[tax_categories]`: a merchant's newer 商品和服务税收分类编码 table, read at start and checked
//! row by row; the embedded tables when no file is named.

use std::path::Path;
use std::sync::Arc;

use fapiao_domain::Date;
use fapiao_domain::tax_category::{TableOverride, TaxCategories};
use serde::Deserialize;

use super::{ConfigError, err};

/// The largest override file read (the whole official table is about 250 KB).
const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// How the file joins the embedded table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TableMode {
    /// Its rows replace or add to the rows of the table in force on its date.
    Merge,
    /// It is the whole table.
    Replace,
}

/// `[tax_categories]`.
#[derive(Debug, Clone, Deserialize)]
pub struct TaxCategoriesConfig {
    /// A CSV file `code,name,short_name,rates,note`; empty = the embedded tables only.
    pub file: String,
    /// `merge` or `replace`.
    pub mode: TableMode,
    /// The file's version label; empty = `<embedded version>+override`.
    pub version: String,
    /// `YYYY-MM-DD` the file is in force from; empty = it replaces the latest embedded table.
    pub effective_from: String,
}

impl TaxCategoriesConfig {
    /// The tables in force: the embedded ones, with the file merged in when one is named.
    ///
    /// # Errors
    /// [`ConfigError`] naming `tax_categories.file` with the file, the line and the rule, or the
    /// key whose value does not parse.
    pub fn load(&self) -> Result<Arc<TaxCategories>, ConfigError> {
        let embedded = TaxCategories::embedded();
        let file = self.file.trim();
        if file.is_empty() {
            return Ok(Arc::new(embedded));
        }
        let effective_from = match self.effective_from.trim() {
            "" => None,
            text => Some(Date::parse(text).ok_or_else(|| {
                err(
                    "tax_categories.effective_from",
                    format!("{text:?} is not a date YYYY-MM-DD"),
                )
            })?),
        };
        let path = Path::new(file);
        let key = "tax_categories.file";
        let size = std::fs::metadata(path)
            .map_err(|e| err(key, format!("{file}: cannot be read: {e}")))?
            .len();
        if size > MAX_FILE_BYTES {
            return Err(err(
                key,
                format!("{file}: {size} bytes exceed the limit of {MAX_FILE_BYTES}"),
            ));
        }
        let bytes =
            std::fs::read(path).map_err(|e| err(key, format!("{file}: cannot be read: {e}")))?;
        let text = String::from_utf8(bytes)
            .map_err(|e| err(key, format!("{file}: is not UTF-8 ({e})")))?;
        let version = Some(self.version.trim().to_owned()).filter(|v| !v.is_empty());
        embedded
            .with_override(
                &text,
                TableOverride {
                    source: file.to_owned(),
                    version,
                    effective_from,
                    replace: self.mode == TableMode::Replace,
                },
            )
            .map(Arc::new)
            .map_err(|e| err(key, format!("{file}: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::super::Config;

    fn load(toml: &str) -> Result<String, String> {
        let config = Config::from_toml(toml).map_err(|e| e.to_string())?;
        config
            .settings()
            .map(|settings| settings.tax_categories.latest().version().to_owned())
            .map_err(|e| e.to_string())
    }

    #[test]
    fn without_a_file_the_embedded_table() {
        assert_eq!(load(""), Ok("2026.6.1".to_owned()));
    }

    #[test]
    fn bad_settings_are_named() {
        assert_eq!(
            load("[tax_categories]\nfile = \"/nonexistent/fapiao-tax.csv\"\n")
                .unwrap_err()
                .split(" (os error")
                .next(),
            Some(
                "configuration: tax_categories.file: /nonexistent/fapiao-tax.csv: cannot be read: No such file or directory"
            )
        );
        let file = std::env::temp_dir().join(format!("fapiao-tax-{}.csv", std::process::id()));
        std::fs::write(
            &file,
            "code,name,short_name,rates,note\n1030201010000000000,糕点,糕点,13%,\n",
        )
        .unwrap();
        let with_file = format!("[tax_categories]\nfile = \"{}\"\n", file.display());
        assert_eq!(
            load(&format!("{with_file}effective_from = \"2026-13-01\"\n")),
            Err(
                "configuration: tax_categories.effective_from: \"2026-13-01\" is not a date YYYY-MM-DD"
                    .to_owned()
            )
        );
        assert!(
            load(&format!("{with_file}mode = \"append\"\n"))
                .unwrap_err()
                .contains("append"),
        );
        assert_eq!(
            load(&format!(
                "{with_file}version = \"mine\"\neffective_from = \"2027-01-01\"\n"
            )),
            Ok("mine".to_owned())
        );
        // A whole table needs its own parents.
        assert_eq!(
            load(&format!("{with_file}mode = \"replace\"\n")),
            Err(format!(
                "configuration: tax_categories.file: {}: line 2: code: the parent 1030201000000000000 of 1030201010000000000 is not in the table (every parent must be present)",
                file.display()
            ))
        );
        let _ = std::fs::remove_file(&file);
    }
}
