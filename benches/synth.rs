//! Synth speed, in process: how long rendering the pipeline takes (build the typed definition,
//! run every synth-time check, render the JSON and the Mermaid diagram), as the median of many
//! runs. `cargo bench --bench synth` prints the figures; no file is written.

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use cm_etl::config::DeployConfig;
use cm_etl::synth;

const WARM_UP: usize = 50;
const RUNS: usize = 2_000;

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = DeployConfig::load(&root.join("deploy.toml")).expect("deploy.toml loads");

    let synthesize = || black_box(synth::synthesize(black_box(&config)).expect("synth succeeds"));
    let synth_all = measure(synthesize);
    let definition_only = measure(|| {
        let name = config
            .state_machines
            .keys()
            .next()
            .expect("a state machine");
        black_box(synth::render_definition(black_box(&config), name).expect("renders"))
    });

    println!("synth (definition + checks + diagram), {RUNS} runs: {synth_all}");
    println!("render_definition (definition + checks), {RUNS} runs: {definition_only}");
}

struct Figures {
    median: Duration,
    p90: Duration,
    min: Duration,
}

impl std::fmt::Display for Figures {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "median {:.1} µs, p90 {:.1} µs, min {:.1} µs",
            micros(self.median),
            micros(self.p90),
            micros(self.min)
        )
    }
}

fn micros(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e6
}

fn measure<T>(mut run: impl FnMut() -> T) -> Figures {
    for _ in 0..WARM_UP {
        run();
    }
    let mut times: Vec<Duration> = (0..RUNS)
        .map(|_| {
            let start = Instant::now();
            run();
            start.elapsed()
        })
        .collect();
    times.sort();
    Figures {
        median: times[RUNS / 2],
        p90: times[RUNS * 9 / 10],
        min: times[0],
    }
}
