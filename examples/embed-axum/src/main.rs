//! Runs the embedding example: `cargo run -p fapiao-example-embed-axum`, then open
//! `http://127.0.0.1:3000/` (the host) and `http://127.0.0.1:3000/fapiao/v1/…` (fapiao).

use std::net::SocketAddr;
use std::time::Duration;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = fapiao_app::Config::load(None)?;
    let host = fapiao_example_embed_axum::start(
        config,
        SocketAddr::from(([127, 0, 0, 1], 3000)),
        SocketAddr::from(([127, 0, 0, 1], 3001)),
    )
    .await?;
    println!("host on http://{}/, fapiao under /fapiao", host.addr);
    tokio::signal::ctrl_c().await?;
    let clean = host.shutdown(Duration::from_secs(10)).await;
    println!(
        "stopped{}",
        if clean {
            ""
        } else {
            " (a task did not end in time)"
        }
    );
    Ok(())
}
