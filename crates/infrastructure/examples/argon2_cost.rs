//! How long one argon2id hash takes on this machine, at the parameters Forge uses: the yardstick
//! for login throughput (`cores / one hash time`). Used by `scripts/bench.sh`.
//!
//!     cargo run --release -p forge-infrastructure --example argon2_cost [hashes]
//!
//! Hashes one after the other on one thread, with one memory block reused as the hashing pool
//! does, and prints the median time in milliseconds.

use std::time::Instant;

use argon2::{Algorithm, Argon2, Block, Params, Version};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let runs: usize = std::env::args().nth(1).map(|n| n.parse()).transpose()?.unwrap_or(15);
    let params = Params::DEFAULT;
    let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    let mut blocks = vec![Block::new(); params.block_count()];
    let mut output = [0u8; 32];
    let mut times = Vec::with_capacity(runs);
    for i in 0..=runs {
        let started = Instant::now();
        argon2.hash_password_into_with_memory(b"Correct-Horse-42", b"benchmark-salt-0", &mut output, &mut blocks)?;
        // The first run pays for the block's page faults; it is not counted.
        if i > 0 {
            times.push(started.elapsed().as_secs_f64() * 1000.0);
        }
    }
    times.sort_by(f64::total_cmp);
    let median = times.get(times.len() / 2).copied().unwrap_or_default();
    println!("{median:.2}");
    Ok(())
}
