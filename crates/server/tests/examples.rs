//! The files the README's demo uses are valid: the service configuration loads and the
//! example task is accepted and placed on the node whose agent the demo starts.

use std::path::Path;
use std::time::Instant;

use tiandi_server::config::{ClockMode, ServeConfig};
use tiandi_server::model::{TaskSpec, Telemetry};
use tiandi_server::service::Service;

/// A service on the built-in default twin at its first step, and that instant.
fn service() -> (Service, i64) {
    let scenario = tiandi_scenario::Scenario::built_in("default")
        .unwrap()
        .unwrap();
    let mut svc = Service::new(&scenario, "unified").unwrap();
    let now = scenario.start.unix_ns();
    svc.tick(now, Instant::now()).unwrap();
    (svc, now)
}

fn examples() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/serve")
}

#[test]
fn demo_configuration_loads() {
    let c = ServeConfig::load(&examples().join("serve.toml")).unwrap();
    assert_eq!(c.clock, ClockMode::Accelerated(10.0));
    assert_eq!(c.listen.port(), 7878);
    assert!(
        c.tokens
            .values()
            .any(|p| p.node.as_deref() == Some("Zhangjiakou"))
    );
}

#[test]
fn demo_task_is_accepted_with_an_agent() {
    let text = std::fs::read_to_string(examples().join("task.json")).unwrap();
    let spec: TaskSpec = serde_json::from_str(&text).unwrap();
    let (mut svc, now) = service();
    // Without an agent the command stage has nowhere to run.
    assert_eq!(
        svc.submit("demo", spec.clone(), now, 0).unwrap_err().status,
        422
    );
    let zjk = svc.twin.by_name["Zhangjiakou"];
    svc.heartbeat(zjk, Telemetry::default(), now, Instant::now());
    let (record, duplicate) = svc.submit("demo", spec, now, 0).unwrap();
    assert!(!duplicate);
    assert_eq!(record.stages[0].node, Some(zjk));
    assert!(record.expected_finish_ns <= record.deadline_ns);
}

#[test]
fn enormous_work_on_a_slow_node_is_refused_not_overflowed() {
    let (mut svc, now) = service();
    let spec: TaskSpec = serde_json::from_str(
        r#"{"origin": "TD-0-0", "deadline_s": 2592000,
            "stages": [{"work_flop": 1e24, "pin": "TD-0-0"}]}"#,
    )
    .unwrap();
    let e = svc.submit("t", spec, now, 0).unwrap_err();
    assert_eq!(
        (e.status, e.field.as_deref()),
        (422, Some("deadline_s")),
        "{e:?}"
    );
}

#[test]
fn agent_telemetry_overrides_the_model() {
    let (mut svc, now) = service();
    let wall = Instant::now();
    let sat = svc.twin.by_name["TD-0-0"];
    assert!(svc.twin.slot_rate_flops(sat) > 0.0);
    let report = |t: &str| serde_json::from_str::<Telemetry>(t).unwrap();
    // Over its temperature limit, or at its depth-of-discharge floor, it does not compute.
    svc.heartbeat(sat, report(r#"{"temperature_k": 400}"#), now, wall);
    assert_eq!(svc.twin.slot_rate_flops(sat), 0.0);
    svc.heartbeat(sat, report(r#"{"battery_soc": 0.05}"#), now, wall);
    assert_eq!(svc.twin.slot_rate_flops(sat), 0.0);
    svc.heartbeat(
        sat,
        report(r#"{"temperature_k": 290, "battery_soc": 0.9}"#),
        now,
        wall,
    );
    assert!(svc.twin.slot_rate_flops(sat) > 0.0);

    // A command stage placed there moves when the node reports a failure; with no other
    // agent it waits unplaced.
    let spec: TaskSpec = serde_json::from_str(
        r#"{"origin": "TD-0-0", "deadline_s": 600,
            "stages": [{"work_flop": 1e12, "run": {"command": ["true"]}}]}"#,
    )
    .unwrap();
    let (r, _) = svc.submit("t", spec, now, 0).unwrap();
    assert_eq!(r.stages[0].node, Some(sat));
    svc.heartbeat(sat, report(r#"{"failed": true}"#), now, wall);
    let r = &svc.tasks[&r.id];
    assert_eq!((r.stages[0].node, r.stages[0].attempt), (None, 2));
    assert_eq!(r.replacements, 1);
}

#[test]
fn an_assignment_the_agent_never_received_is_sent_again() {
    let (mut svc, now) = service();
    let wall = Instant::now();
    let zjk = svc.twin.by_name["Zhangjiakou"];
    svc.heartbeat(zjk, Telemetry::default(), now, wall);
    let spec: TaskSpec = serde_json::from_str(
        r#"{"origin": "Zhangjiakou", "deadline_s": 600,
            "stages": [{"work_flop": 1e12, "run": {"command": ["true"]}}]}"#,
    )
    .unwrap();
    let (r, _) = svc.submit("t", spec, now, 0).unwrap();
    let none = std::collections::BTreeSet::new();
    let first = svc.poll(zjk, 4, &none, now);
    assert_eq!(first.len(), 1);
    // The answer was lost: the agent does not hold it, so the next poll sends it again,
    // same attempt (the agent runs each attempt at most once).
    let again = svc.poll(zjk, 4, &none, now);
    assert_eq!(again, first);
    let held = [(r.id, 0, first[0].attempt)].into_iter().collect();
    assert!(svc.poll(zjk, 4, &held, now).is_empty());
}
