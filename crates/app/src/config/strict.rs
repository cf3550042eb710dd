//! Strict configuration: every key of the file and of `FAPIAO__…` variables must be one the
//! service knows, or loading fails naming the key and the nearest known one. The known keys are
//! those of the built-in defaults plus the optional ones below.

use std::collections::{BTreeSet, HashMap};

use config::{Value, ValueKind};

use super::{ConfigError, DEFAULTS, err};

/// Keys that have no built-in value.
const OPTIONAL: &[&str] = &[
    "weixin.callback.previous_encoding_aes_key",
    "issuer.kind",
    // `[[webhooks]]` entries: their fields are checked when they are read (unknown ones refused).
    "webhooks",
];

/// The environment's `FAPIAO__…` variables.
pub(super) fn environment() -> HashMap<String, String> {
    std::env::vars()
        .filter(|(name, _)| name.starts_with("FAPIAO__"))
        .collect()
}

/// Every known key (sections and leaves), with seller keys as `sellers.*`.
fn known() -> BTreeSet<String> {
    let mut keys: BTreeSet<String> = OPTIONAL.iter().map(|k| (*k).to_owned()).collect();
    // The built-in defaults always parse (a unit test says so); an empty set only makes every
    // key unknown, never a silent pass.
    if let Ok(raw) = config::Config::builder()
        .add_source(config::File::from_str(DEFAULTS, config::FileFormat::Toml))
        .build()
        && let Ok(root) = raw.try_deserialize::<HashMap<String, Value>>()
    {
        walk(&root, "", &mut |path, _| {
            keys.insert(path.to_owned());
            true
        });
    }
    // Every section on the way to a key is known too.
    let sections: Vec<String> = keys
        .iter()
        .flat_map(|key| {
            key.match_indices('.')
                .map(|(i, _)| key[..i].to_owned())
                .collect::<Vec<_>>()
        })
        .collect();
    keys.extend(sections);
    keys
}

/// `sellers.<key>.…` is `sellers.*.…`: seller keys are the operator's to choose.
fn generic(path: &str) -> String {
    match path.strip_prefix("sellers.") {
        Some(rest) => match rest.split_once('.') {
            Some((_, field)) => format!("sellers.*.{field}"),
            None => "sellers.*".to_owned(),
        },
        None => path.to_owned(),
    }
}

/// Visits every key under `table`; `visit(path, is_section)` returns whether to descend.
fn walk(table: &HashMap<String, Value>, prefix: &str, visit: &mut dyn FnMut(&str, bool) -> bool) {
    let mut names: Vec<&String> = table.keys().collect();
    names.sort();
    for name in names {
        let path = if prefix.is_empty() {
            name.clone()
        } else {
            format!("{prefix}.{name}")
        };
        let value = &table[name];
        let section = matches!(value.kind, ValueKind::Table(_));
        let generic_path = generic(&path);
        if visit(&generic_path, section)
            && section
            && let Ok(children) = value.clone().into_table()
        {
            let children: HashMap<String, Value> = children.into_iter().collect();
            walk(&children, &path, visit);
        }
    }
}

/// Refuses the first unknown key of the merged configuration.
pub(super) fn check_keys(raw: &config::Config) -> Result<(), ConfigError> {
    let known = known();
    let root: HashMap<String, Value> = raw
        .clone()
        .try_deserialize()
        .map_err(|e| err("config", e))?;
    let mut unknown: Option<(String, bool)> = None;
    walk(&root, "", &mut |path, section| {
        if unknown.is_some() {
            return false;
        }
        if known.contains(path) {
            return true;
        }
        unknown = Some((path.to_owned(), section));
        false
    });
    match unknown {
        None => Ok(()),
        Some((path, section)) => Err(err(
            path.clone(),
            format!(
                "unknown {}{}",
                if section { "section" } else { "key" },
                suggestion(&known, &path, "")
            ),
        )),
    }
}

/// Refuses a `FAPIAO__…` variable that names no known key.
pub(super) fn check_environment(vars: &HashMap<String, String>) -> Result<(), ConfigError> {
    let known = known();
    let mut names: Vec<&String> = vars.keys().collect();
    names.sort();
    for name in names {
        let path = name
            .trim_start_matches("FAPIAO__")
            .to_lowercase()
            .replace("__", ".");
        if !known.contains(&generic(&path)) {
            return Err(err(
                name.clone(),
                format!(
                    "unknown key {path}{}",
                    suggestion(&known, &generic(&path), "env")
                ),
            ));
        }
    }
    Ok(())
}

/// "; did you mean server.listen?" for the nearest known key of the same section, or the list
/// of that section's keys when none is near.
fn suggestion(known: &BTreeSet<String>, path: &str, style: &str) -> String {
    let (parent, name) = path.rsplit_once('.').unwrap_or(("", path));
    let siblings: Vec<&str> = known
        .iter()
        .filter_map(|key| {
            let (key_parent, key_name) = key.rsplit_once('.').unwrap_or(("", key));
            (key_parent == parent).then_some(key_name)
        })
        .collect();
    let nearest = siblings
        .iter()
        .map(|candidate| {
            let lengths = (name.chars().count(), candidate.chars().count());
            (
                distance(name, candidate),
                lengths.0.abs_diff(lengths.1),
                *candidate,
            )
        })
        .min();
    let full = |candidate: &str| {
        let key = if parent.is_empty() {
            candidate.to_owned()
        } else {
            format!("{parent}.{candidate}")
        };
        if style == "env" {
            format!("{key} (FAPIAO__{})", key.to_uppercase().replace('.', "__"))
        } else {
            key
        }
    };
    match nearest {
        Some((d, _, candidate)) if d <= (name.chars().count() / 3).max(2) => {
            format!("; did you mean {}?", full(candidate))
        }
        _ if siblings.is_empty() => String::new(),
        _ => format!(
            "; known {}: {}",
            if parent.is_empty() {
                "sections".to_owned()
            } else {
                format!("keys of [{parent}]")
            },
            siblings.join(", ")
        ),
    }
}

/// Levenshtein distance in characters.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        previous = current;
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn message(toml: &str) -> String {
        Config::from_toml(toml)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()
    }

    #[test]
    fn an_unknown_key_is_named_with_the_nearest_known_one() {
        assert_eq!(
            message("[server]\nlissten = \"0.0.0.0:80\""),
            "configuration: server.lissten: unknown key; did you mean server.listen?"
        );
        assert_eq!(
            message("[severs]\nlisten = \"0.0.0.0:80\""),
            "configuration: severs: unknown section; did you mean server?"
        );
        assert_eq!(
            message("[sellers.shop-a]\ntaxid = \"x\""),
            "configuration: sellers.*.taxid: unknown key; did you mean sellers.*.tax_id?"
        );
        let far = message("[runner]\ncolour = 1");
        assert!(
            far.starts_with("configuration: runner.colour: unknown key; known keys of [runner]: "),
            "{far}"
        );
        assert!(far.contains("concurrency"), "{far}");
    }

    #[test]
    fn every_documented_optional_key_is_accepted() {
        Config::from_toml(
            "[weixin.callback]\nprevious_encoding_aes_key = \"abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG\"\n\
             [issuer]\nkind = \"sandbox\"\n[sellers.shop-b]\nname = \"某某餐饮有限公司\"\n\
             tax_id = \"91440300708461136T\"\ndrawer = \"张三\"\nkind = \"digital_ordinary\"\n\
             card_title = \"某某餐饮\"\ncard_logo_url = \"https://mmbiz.qpic.cn/x.png\"\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
    }

    #[test]
    fn an_unknown_environment_variable_is_named() {
        let vars = |name: &str| HashMap::from([(name.to_owned(), "1".to_owned())]);
        let error = check_environment(&vars("FAPIAO__SERVER__LISSTEN"))
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            error.as_deref(),
            Some(
                "configuration: FAPIAO__SERVER__LISSTEN: unknown key server.lissten; did you mean server.listen (FAPIAO__SERVER__LISTEN)?"
            )
        );
        assert!(check_environment(&vars("FAPIAO__DATABASE__URL")).is_ok());
        assert!(check_environment(&vars("FAPIAO__SELLERS__SHOP_A__NAME")).is_ok());
        assert!(check_environment(&vars("FAPIAO__SEVRER__LISTEN")).is_err());
    }

    #[test]
    fn distance_counts_edits() {
        assert_eq!(distance("lissten", "listen"), 1);
        assert_eq!(distance("severs", "server"), 2);
        assert_eq!(distance("", "abc"), 3);
    }
}
