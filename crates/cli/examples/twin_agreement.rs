//! How often the simulator and the live service place a task's first stage on the same
//! node, for the first N tasks of a scenario (docs/ARCHITECTURE figures):
//! `cargo run --release -p tiandi-cli --example twin_agreement -- [SCENARIO.toml] [N]`.

#[path = "../tests/twin_paths/mod.rs"]
#[allow(dead_code)] // the example uses only the agreement half
mod twin_paths;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (text, name) = match args.first() {
        Some(path) if path != "default" => (
            std::fs::read_to_string(path).expect("the scenario file"),
            path.clone(),
        ),
        _ => (
            tiandi_scenario::DEFAULT_SCENARIO_TOML.to_string(),
            "default".to_string(),
        ),
    };
    let n: usize = args.get(1).map_or(2_000, |n| n.parse().expect("N"));
    let s = twin_paths::scenario(&text, &name);
    let a = twin_paths::agreement(&s, n);
    println!(
        "{name}: {} of {} first stages on the same node ({:.2} %)",
        a.same,
        a.compared,
        100.0 * a.share()
    );
    for (why, count) in &a.differences {
        println!("  {count:>5}  {why}");
    }
}
