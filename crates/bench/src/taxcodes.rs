//! `tax-categories`: lookups in the embedded 商品和服务税收分类编码 table on one thread, the
//! rule check of a line, searches, and loading the whole table from a file as an override.

use std::hint::black_box;
use std::time::{Duration, Instant};

use anyhow::ensure;
use fapiao_domain::invoice::TaxCategoryCode;
use fapiao_domain::tax_category::{Page, TableOverride};
use fapiao_domain::{TaxCategories, TaxRate};

/// The embedded CSV, loaded again as a merchant's whole-table override.
const TABLE_CSV: &str = include_str!("../../domain/data/tax-categories-2026.6.1.csv");

fn per_call(elapsed: Duration, calls: usize) -> String {
    let nanos = elapsed.as_secs_f64() * 1e9 / calls as f64;
    if nanos < 1000.0 {
        format!("{nanos:.1} ns")
    } else {
        format!("{:.1} µs", nanos / 1000.0)
    }
}

pub(crate) fn tax_categories(lookups: usize) -> anyhow::Result<()> {
    let tables = TaxCategories::embedded();
    let table = tables.latest();
    let codes: Vec<TaxCategoryCode> = table
        .entries()
        .map(|entry| TaxCategoryCode::parse(&entry.code()))
        .collect::<Result<_, _>>()
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    // Visit the codes in a scattered order (a stride prime to their count), not sequentially.
    let stride = 2_477 % codes.len();
    let order: Vec<&TaxCategoryCode> = (0..codes.len())
        .map(|i| &codes[(i * stride) % codes.len()])
        .collect();
    println!(
        "tax-categories: table {} ({} codes, {} bytes of arrays and texts embedded)",
        table.version(),
        table.len(),
        table.data_bytes()
    );

    let started = Instant::now();
    let mut found = 0usize;
    for i in 0..lookups {
        if table.get(black_box(order[i % order.len()])).is_some() {
            found += 1;
        }
    }
    let elapsed = started.elapsed();
    ensure!(found == lookups, "only {found} of {lookups} codes found");
    println!(
        "  lookup by code (hit):   {lookups} in {:.3} s, {} each",
        elapsed.as_secs_f64(),
        per_call(elapsed, lookups)
    );

    let missing =
        TaxCategoryCode::parse("1030201010000000077").map_err(|e| anyhow::anyhow!("{e}"))?;
    let started = Instant::now();
    for _ in 0..lookups {
        black_box(table.get(black_box(&missing)));
    }
    let elapsed = started.elapsed();
    println!(
        "  lookup by code (miss):  {lookups} in {:.3} s, {} each",
        elapsed.as_secs_f64(),
        per_call(elapsed, lookups)
    );

    let lines = lookups / 10;
    let cake = TaxCategoryCode::parse("1030201010000000000").map_err(|e| anyhow::anyhow!("{e}"))?;
    let started = Instant::now();
    for _ in 0..lines {
        let category = table
            .line_category(black_box(cake.clone()), None, TaxRate::P13)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        black_box(category);
    }
    let elapsed = started.elapsed();
    println!(
        "  line check (code, rate, 简称 into a TaxCategory): {lines} in {:.3} s, {} each",
        elapsed.as_secs_f64(),
        per_call(elapsed, lines)
    );

    let searches = 2_000;
    for query in ["咖啡", "30704"] {
        let started = Instant::now();
        let mut total = 0;
        for _ in 0..searches {
            total = table
                .search(
                    black_box(query),
                    Page {
                        offset: 0,
                        limit: 20,
                    },
                )
                .0;
        }
        let elapsed = started.elapsed();
        ensure!(total > 0, "no match for {query}");
        println!(
            "  search {query:?} ({total} matches, first page of 20): {}",
            per_call(elapsed, searches)
        );
    }

    let loads = 20;
    let started = Instant::now();
    for _ in 0..loads {
        let loaded = TaxCategories::embedded()
            .with_override(
                black_box(TABLE_CSV),
                TableOverride {
                    source: "bench".to_owned(),
                    version: None,
                    effective_from: None,
                    replace: true,
                },
            )
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        ensure!(
            loaded.latest().len() == table.len(),
            "the reloaded table differs"
        );
    }
    println!(
        "  whole table read from CSV and checked (a [tax_categories] override at start): {}",
        per_call(started.elapsed(), loads)
    );
    Ok(())
}
