//! Times invoice PDF rendering: `cargo bench -p fapiao-issuer` (release profile).
//!
//! Prints the mean wall-clock and CPU time per PDF over a few hundred renders (each with a
//! different number so nothing can be cached between renders) and the file size. The CPU
//! time (Linux only, from /proc) is the figure to compare on a shared machine, where
//! wall-clock time includes waiting for a core.

use std::time::Instant;

use fapiao_issuer::pdf::{FaceParty, FaceRow, InvoiceFace, InvoicePdfRenderer};

fn face(serial: u32, rows: usize) -> InvoiceFace {
    let number = format!("26009{serial:015}");
    InvoiceFace {
        title: "电子发票（普通发票）".to_owned(),
        number: number.clone(),
        issue_date: "2026年03月17日".to_owned(),
        buyer: FaceParty {
            name: "深圳市腾讯计算机系统有限公司".to_owned(),
            tax_id: "91440300708461136T".to_owned(),
        },
        seller: FaceParty {
            name: "示例餐饮管理有限公司".to_owned(),
            tax_id: "91110000000000000X".to_owned(),
        },
        rows: (0..rows)
            .map(|i| FaceRow {
                name: format!("*餐饮服务*餐费{i}"),
                spec: "套餐A".to_owned(),
                unit: "份".to_owned(),
                quantity: "2".to_owned(),
                unit_price: "141.5094339".to_owned(),
                amount: "283.02".to_owned(),
                rate: "6%".to_owned(),
                tax: "16.98".to_owned(),
            })
            .collect(),
        total_amount: "¥849.06".to_owned(),
        total_tax: "¥50.94".to_owned(),
        total_in_words: "玖佰圆整".to_owned(),
        total_in_figures: "¥900.00".to_owned(),
        red: false,
        remark: format!("订单号：bench-{serial}"),
        drawer: "张三".to_owned(),
        qr_payload: format!("01,32,,{number},849.06,20260317,,1A2B"),
        watermark: Some("SANDBOX / 非正式发票".to_owned()),
    }
}

/// User plus system CPU time of this process, from `/proc/self/stat` (clock ticks at the
/// usual 100 Hz).
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name, which is parenthesised and may contain spaces.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let started = Instant::now();
    let renderer = InvoicePdfRenderer::new()?;
    println!(
        "font parse: {:.2} ms",
        started.elapsed().as_secs_f64() * 1e3
    );
    for (rows, renders) in [(3_usize, 1000_u32), (30, 200), (2000, 3)] {
        // Warm up allocators and caches.
        for serial in 0..20 {
            renderer.render(&face(serial, rows))?;
        }
        let started = Instant::now();
        let cpu_started = cpu_seconds();
        let mut size = 0;
        for serial in 0..renders {
            size = renderer.render(&face(serial + 1000, rows))?.len();
        }
        let per_pdf = started.elapsed().as_secs_f64() * 1e3 / f64::from(renders);
        let cpu = match (cpu_started, cpu_seconds()) {
            (Some(start), Some(end)) => {
                format!("{:.3} ms", (end - start) * 1e3 / f64::from(renders))
            }
            _ => "n/a".to_owned(),
        };
        println!(
            "{rows:>2} lines: {per_pdf:.3} ms wall, {cpu} CPU per PDF over {renders} renders, {size} bytes"
        );
    }
    Ok(())
}
