//! `pushes`: distinct sealed pushes written to a file, for a load generator in another process
//! (`wrk` with `docs/bench/pushes.lua`, driven by `docs/bench/run-all.sh`).

use std::io::Write;
use std::path::Path;

use anyhow::ensure;

use crate::support::sealed_pushes;

/// Writes `count` pushes to `out`: query string, a tab, body, a newline each.
pub(crate) fn write(count: usize, out: &Path) -> anyhow::Result<()> {
    let pushes = sealed_pushes(count)?;
    let mut file = std::io::BufWriter::new(std::fs::File::create(out)?);
    for push in &pushes {
        ensure!(
            !push.query.contains(['\t', '\n']) && !push.body.contains(['\t', '\n']),
            "a sealed push holds a tab or a newline"
        );
        writeln!(file, "{}\t{}", push.query, push.body)?;
    }
    file.flush()?;
    println!(
        "pushes: {count} distinct sealed pushes written to {}",
        out.display()
    );
    Ok(())
}
