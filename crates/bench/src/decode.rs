//! `decode`: verify + decrypt + parse of safe-mode pushes on one thread, no I/O.

use std::time::Instant;

use anyhow::ensure;
use fapiao_domain::ports::PushDecoder;
use fapiao_domain::time::Timestamp;
use fapiao_weixin::crypto::{AesKey, KeyRing};
use fapiao_weixin::{PushConfig, PushMode, PushReceiver};

use crate::support::{APPID, ENCODING_AES_KEY, TOKEN, sealed_pushes, unix_now};

pub(crate) fn decode(messages: usize) -> anyhow::Result<()> {
    let receiver = PushReceiver::new(PushConfig::encrypted(
        TOKEN,
        fapiao_domain::ids::AppId::parse(APPID).map_err(|e| anyhow::anyhow!(e.rule))?,
        PushMode::Safe,
        KeyRing::new(AesKey::from_encoding_aes_key(ENCODING_AES_KEY)?),
    ))?;
    let pushes = sealed_pushes(messages)?;
    let now = Timestamp::from_millis(unix_now() * 1000);
    // Warm up, and check that every push decodes to the order it was sealed for.
    for (i, push) in pushes.iter().enumerate().take(1000) {
        let event = receiver
            .decode(&push.query, push.body.as_bytes(), now)
            .map_err(|e| anyhow::anyhow!("push {i}: {e}"))?;
        ensure!(
            event.dedupe_key().contains(&format!("BENCH-{i:09}")),
            "push {i} decoded to {event:?}"
        );
    }
    let started = Instant::now();
    let mut decoded = 0usize;
    for push in &pushes {
        if receiver
            .decode(&push.query, push.body.as_bytes(), now)
            .is_ok()
        {
            decoded += 1;
        }
    }
    let elapsed = started.elapsed();
    ensure!(decoded == messages, "only {decoded} of {messages} decoded");
    println!(
        "decode: {messages} safe-mode pushes on one thread in {:.3} s: {:.0} messages/s, {:.2} µs each",
        elapsed.as_secs_f64(),
        messages as f64 / elapsed.as_secs_f64(),
        elapsed.as_secs_f64() * 1e6 / messages as f64
    );
    Ok(())
}
