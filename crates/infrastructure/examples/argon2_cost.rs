//! How long one argon2id hash takes on this machine, at the parameters Forge uses: the yardstick
//! for login throughput (`cores / one hash time`). Used by `scripts/bench.sh`.
//!
//!     cargo run --release -p forge-infrastructure --example argon2_cost [hashes] [threads]
//!
//! Each thread (one by default) hashes one password after the other with one memory block,
//! reused as the hashing pool does; with several threads they hash at the same time, each with a
//! block of its own. Prints the median time of one hash in milliseconds.
//!
//! One thread gives the yardstick. As many threads as cores gives what one hash takes while
//! every core hashes: longer where the cores share a cache and the memory behind it, which
//! argon2's blocks (19 MiB each) are made to fill.

use std::{sync::Barrier, time::Instant};

use argon2::{Algorithm, Argon2, Block, Params, Version};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let runs: usize = args.next().map(|n| n.parse()).transpose()?.unwrap_or(15);
    let threads: usize = args.next().map(|n| n.parse()).transpose()?.unwrap_or(1).max(1);
    let start = Barrier::new(threads);
    let mut times = Vec::with_capacity(runs * threads);
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads).map(|_| scope.spawn(|| hash_times(runs, &start))).collect();
        for worker in workers {
            times.extend(worker.join().map_err(|_| "a hashing thread panicked")??);
        }
        Ok::<_, Box<dyn std::error::Error>>(())
    })?;
    times.sort_by(f64::total_cmp);
    let median = times.get(times.len() / 2).ok_or("no hash was timed (hashes must be at least 1)")?;
    println!("{median:.2}");
    Ok(())
}

/// `runs` hashes one after the other on this thread, in milliseconds each. The first hash, which
/// pays for the block's page faults, is not counted; the others start together on every thread.
fn hash_times(runs: usize, start: &Barrier) -> Result<Vec<f64>, argon2::Error> {
    let params = Params::DEFAULT;
    let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    let mut blocks = vec![Block::new(); params.block_count()];
    let mut output = [0u8; 32];
    let mut hash =
        || argon2.hash_password_into_with_memory(b"Correct-Horse-42", b"benchmark-salt-0", &mut output, &mut blocks);
    let first = hash();
    // Every thread reaches the barrier, even one whose first hash failed, so none waits for good.
    start.wait();
    first?;
    (0..runs)
        .map(|_| {
            let started = Instant::now();
            hash().map(|()| started.elapsed().as_secs_f64() * 1000.0)
        })
        .collect()
}
