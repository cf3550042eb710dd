//! `fapiao-bench`: the performance figures of `docs/BENCHMARKS.md`.
//!
//! Every figure comes from the real code paths: the push receiver of `fapiao-weixin`, the
//! service started by [`fapiao::start`] on a real SQLite file or PostgreSQL schema, the
//! in-process Weixin sandbox and the sandbox issuer with its real PDFs, and the `fapiao`
//! binary itself for memory and readiness. The load generator runs on the same machine (in this
//! process, or against `--target` for another receiver).
//!
//! One module per subcommand; `support` holds the pushes, the database and the service they
//! share. The bench is a package of its own so that the `fapiao` crate carries nothing but
//! the service.
//!
//! ```sh
//! cargo build --release -p fapiao -p fapiao-bench
//! target/release/fapiao-bench decode
//! target/release/fapiao-bench ingest --db sqlite
//! target/release/fapiao-bench pipeline --db postgres
//! target/release/fapiao-bench pdf
//! target/release/fapiao-bench memory
//! ```

mod decode;
mod ingest;
mod memory;
mod pdf;
mod pipeline;
mod support;

use clap::{Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "fapiao-bench",
    about = "fapiao's benchmarks (docs/BENCHMARKS.md)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum DbKind {
    Sqlite,
    Postgres,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Verify + decrypt + parse of safe-mode pushes on one thread, no I/O.
    Decode {
        #[arg(long, default_value_t = 300_000)]
        messages: usize,
    },
    /// Push ingestion over HTTP: verify, decrypt, parse, store in the inbox, acknowledge.
    Ingest {
        #[arg(long, value_enum, default_value = "sqlite")]
        db: DbKind,
        /// Distinct pushes.
        #[arg(long, default_value_t = 100_000)]
        pushes: usize,
        /// Extra re-sends of already sent pushes, in percent of `pushes` (Weixin retries).
        #[arg(long, default_value_t = 10)]
        duplicate_percent: usize,
        /// Concurrent connections of the load generator.
        #[arg(long, default_value_t = 64)]
        connections: usize,
        /// Send to this callback URL instead of an in-process fapiao (e.g. another receiver
        /// configured with the same token, EncodingAESKey and appid); nothing is counted there.
        #[arg(long)]
        target: Option<String>,
    },
    /// The whole pipeline against the sandbox: authorization push → getauthdata → issue with
    /// PDF → setpdf → insert, for orders created through the merchant API.
    Pipeline {
        #[arg(long, value_enum, default_value = "sqlite")]
        db: DbKind,
        #[arg(long, default_value_t = 2_000)]
        orders: usize,
        /// The runner's concurrency (`runner.concurrency`).
        #[arg(long, default_value_t = 32)]
        concurrency: usize,
    },
    /// Render invoice PDFs on one thread.
    Pdf {
        #[arg(long, default_value_t = 500)]
        invoices: usize,
        /// Lines per invoice.
        #[arg(long, default_value_t = 3)]
        lines: usize,
    },
    /// Resident memory and readiness of the `fapiao` binary with `stored` delivered orders in
    /// its SQLite file and `in_flight` orders driven through the pipeline at once.
    Memory {
        #[arg(long, default_value_t = 100_000)]
        stored: usize,
        #[arg(long, default_value_t = 10_000)]
        in_flight: usize,
    },
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    println!("machine: {}", machine());
    match cli.command {
        Command::Decode { messages } => decode::decode(messages),
        Command::Ingest {
            db,
            pushes,
            duplicate_percent,
            connections,
            target,
        } => runtime.block_on(ingest::ingest(
            db,
            pushes,
            duplicate_percent,
            connections,
            target,
        )),
        Command::Pipeline {
            db,
            orders,
            concurrency,
        } => runtime.block_on(pipeline::pipeline(db, orders, concurrency)),
        Command::Pdf { invoices, lines } => pdf::pdf(invoices, lines),
        Command::Memory { stored, in_flight } => {
            runtime.block_on(memory::memory(stored, in_flight))
        }
    }
}

fn machine() -> String {
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load: Vec<&str> = load.split_whitespace().take(3).collect();
    format!(
        "{cores} cores, load average {} at start, {} build",
        load.join(" "),
        if cfg!(debug_assertions) {
            "DEBUG (figures are meaningless)"
        } else {
            "release"
        }
    )
}
