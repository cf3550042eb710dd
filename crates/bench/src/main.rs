//! `fapiao-bench`: the performance figures of `docs/BENCHMARKS.md`.
//!
//! Every figure comes from the real code paths: the push receiver of `fapiao-weixin`, the
//! service started by [`fapiao::start`] on a real SQLite file or PostgreSQL schema, the Weixin
//! sandbox and the sandbox issuer with its real PDFs, and the `fapiao` binary itself, in its
//! own process, for the pipeline, memory and readiness (`served`; `FAPIAO_BIN` names another
//! build of it). The load generator runs on the same machine (in this
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
//! target/release/fapiao-bench connections --idle 20000 --slow 500
//! cargo build -p fapiao --features crash-points -p fapiao-bench
//! target/debug/fapiao-bench soak --db sqlite --orders 150 --kills 2
//! ```

mod connections;
mod decode;
mod ingest;
mod memory;
mod pdf;
mod pipeline;
mod pushes;
mod served;
mod soak;
mod support;
mod taxcodes;

use clap::{Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "fapiao-bench",
    about = "fapiao's benchmarks (docs/BENCHMARKS.md)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// SQLite's `synchronous` for the service's database (`database.sqlite_synchronous`).
    #[arg(long, value_enum, default_value = "full", global = true)]
    sqlite_synchronous: SqliteSynchronous,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum SqliteSynchronous {
    Full,
    Normal,
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
    /// Writes `count` distinct sealed safe-mode pushes (sandbox profile, orders not
    /// registered) to `out`, one a line: query string, a tab, body; for `wrk` and
    /// `docs/bench/pushes.lua`. Their timestamps are now: use them within five minutes.
    Pushes {
        #[arg(long, default_value_t = 200_000)]
        count: usize,
        #[arg(long)]
        out: std::path::PathBuf,
    },
    /// The whole pipeline against the sandbox: authorization push → getauthdata → issue with
    /// PDF → setpdf → insert, for orders created through the merchant API; `fapiao serve` in
    /// its own process, the sandbox in this one.
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
    /// The `fapiao` binary held by `idle` idle and `slow` slow-header connections while
    /// `/healthz` is asked every 100 ms: its answers, the server closing them, its memory.
    Connections {
        #[arg(long, default_value_t = 20_000)]
        idle: usize,
        #[arg(long, default_value_t = 500)]
        slow: usize,
    },
    /// Lookups, line checks and searches in the embedded tax category table on one thread,
    /// and loading the whole table from its CSV as an override.
    TaxCategories {
        #[arg(long, default_value_t = 10_000_000)]
        lookups: usize,
    },
    /// The chaos harness (docs/RELIABILITY.md): `fapiao serve` instances in live mode against
    /// the Weixin sandbox in its own process, with Weixin faults, duplicate and delayed pushes,
    /// SIGKILLs and crash points; the issuer's ledger, the sandbox's cards and the service's
    /// order views give the verdict. Needs the `fapiao` binary built with `crash-points`.
    Soak(Box<SoakArgs>),
}

#[derive(Debug, clap::Args)]
struct SoakArgs {
    #[arg(long, value_enum, default_value = "sqlite")]
    db: DbKind,
    /// `fapiao serve` processes sharing the database (PostgreSQL only for more than one).
    #[arg(long, default_value_t = 1)]
    instances: usize,
    #[arg(long, default_value_t = 150)]
    orders: usize,
    /// SIGKILLs of a random instance, spread over the load.
    #[arg(long, default_value_t = 2)]
    kills: usize,
    /// Crash points armed on the restarts, one entry per restart in turn (`name:n`, e.g.
    /// `insert_card.after_call:5`), comma-separated.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "insert_card.after_call:3,webhook.after_post:25,issue.after_call:2"
    )]
    crash_points: Vec<String>,
    /// Share of the calls to each faulted Weixin endpoint that fail, split evenly over -1,
    /// 45009, 5xx, applied-then-timeout and applied-then-dropped.
    #[arg(long, default_value_t = 0.10)]
    fault_rate: f64,
    /// The Weixin endpoints (names, families or `*`) the fault rate applies to.
    #[arg(long, value_delimiter = ',', default_value = "*")]
    fault_endpoints: Vec<String>,
    #[arg(long, default_value_t = 0.10)]
    duplicate_push_rate: f64,
    #[arg(long, default_value_t = 0.05)]
    delayed_push_rate: f64,
    #[arg(long, default_value_t = 3000)]
    push_delay_ms: u64,
    /// The sandbox issuer's mix (`issuer.sandbox_mix`): shares of invoices answered pending,
    /// outcome unknown and rejected.
    #[arg(long, default_value = "pending=0.05,unknown=0.05,reject=0.02")]
    issuer_mix: String,
    /// Leave post-payment orders out of the scenarios.
    #[arg(long)]
    no_post_payment: bool,
    #[arg(long, default_value_t = 20_261_206)]
    seed: u64,
    /// How long to wait after the load for every authorized order to rest.
    #[arg(long, default_value_t = 180)]
    settle_secs: u64,
    /// Stop waiting when no authorized order changed for this long (past a reconciliation
    /// cycle of 60 s): what is left is stuck.
    #[arg(long, default_value_t = 100)]
    stall_secs: u64,
    /// `runner.lease_seconds` of the instances.
    #[arg(long, default_value_t = 20)]
    lease_seconds: u64,
    /// `invoicing.reconcile_after_seconds` of the instances (pushes lost while an instance
    /// was down are found by reconciliation).
    #[arg(long, default_value_t = 10)]
    reconcile_after_seconds: u64,
    /// Concurrent orders of the load generator.
    #[arg(long, default_value_t = 16)]
    connections: usize,
    /// `runner.concurrency` of the instances.
    #[arg(long, default_value_t = 16)]
    runner_concurrency: usize,
    /// Print the verdict but exit 0 even when a check fails.
    #[arg(long)]
    report_only: bool,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    println!("machine: {}", machine());
    support::set_sqlite_synchronous(cli.sqlite_synchronous);
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
        Command::Pushes { count, out } => pushes::write(count, &out),
        Command::Pipeline {
            db,
            orders,
            concurrency,
        } => runtime.block_on(pipeline::pipeline(db, orders, concurrency)),
        Command::Pdf { invoices, lines } => pdf::pdf(invoices, lines),
        Command::Memory { stored, in_flight } => {
            runtime.block_on(memory::memory(stored, in_flight))
        }
        Command::Connections { idle, slow } => {
            runtime.block_on(connections::connections(idle, slow))
        }
        Command::TaxCategories { lookups } => taxcodes::tax_categories(lookups),
        Command::Soak(args) => runtime.block_on(soak::soak(soak::SoakOptions {
            db: args.db,
            instances: args.instances,
            orders: args.orders,
            kills: args.kills,
            crash_points: args.crash_points,
            fault_rate: args.fault_rate,
            fault_endpoints: args.fault_endpoints,
            duplicate_push_rate: args.duplicate_push_rate,
            delayed_push_rate: args.delayed_push_rate,
            push_delay_ms: args.push_delay_ms,
            issuer_mix: args.issuer_mix,
            post_payment: !args.no_post_payment,
            seed: args.seed,
            settle_secs: args.settle_secs,
            stall_secs: args.stall_secs,
            lease_seconds: args.lease_seconds,
            reconcile_after_seconds: args.reconcile_after_seconds,
            connections: args.connections,
            runner_concurrency: args.runner_concurrency,
            report_only: args.report_only,
        })),
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
