//! The files the README's demo uses are valid: the service configuration loads and the
//! example task is accepted and placed on the node whose agent the demo starts.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Instant;

use tiandi_server::config::{ClockMode, ServeConfig};
use tiandi_server::model::{Completion, StageRef, StageState, TaskSpec, TaskState, Telemetry};
use tiandi_server::service::{RefusalKind, Service, Submitted};
use tiandi_server::validate;
use tiandi_twin::NodeReport;

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

/// The record of a submission that must be a new task.
fn accepted(s: Submitted) -> tiandi_server::model::TaskRecord {
    match s {
        Submitted::Accepted(r) => *r,
        other => panic!("expected a new task, got {other:?}"),
    }
}

fn examples() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/serve")
}

#[test]
fn postgres_example_names_a_shared_store_with_retention() {
    let c = ServeConfig::load(&examples().join("serve-postgres.toml")).unwrap();
    assert!(
        matches!(&c.store, tiandi_server::config::StoreLocation::Postgres(u) if u.starts_with("postgresql://")),
        "{}",
        c.store
    );
    assert_eq!(c.lease_s, 2.0);
    assert_eq!(c.retain_ended_s, Some(604_800.0));
    // The same tokens as the one-instance demo, so the README's agent works with either.
    let one = ServeConfig::load(&examples().join("serve.toml")).unwrap();
    assert_eq!(c.tokens, one.tokens);
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
    // The README's agent reads its token from this file: it is that node's agent token.
    let token = std::fs::read_to_string(examples().join("zhangjiakou.token")).unwrap();
    let p = &c.tokens[&tiandi_server::secret::digest(token.trim())];
    assert_eq!(p.node.as_deref(), Some("Zhangjiakou"));
}

#[test]
fn demo_task_is_accepted_with_an_agent() {
    let text = std::fs::read_to_string(examples().join("task.json")).unwrap();
    let spec: TaskSpec = serde_json::from_str(&text).unwrap();
    let (mut svc, now) = service();
    // Without an agent the command stage has nowhere to run.
    assert_eq!(
        svc.submit("demo", spec.clone(), now, 0).unwrap_err().kind,
        RefusalKind::Infeasible
    );
    let zjk = svc.node_id("Zhangjiakou").unwrap();
    svc.heartbeat(zjk, NodeReport::default(), now, Instant::now());
    let record = accepted(svc.submit("demo", spec, now, 0).unwrap());
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
        (e.kind, e.field.as_deref()),
        (RefusalKind::Infeasible, Some("deadline_s")),
        "{e:?}"
    );
}

#[test]
fn agent_telemetry_overrides_the_model() {
    let (mut svc, now) = service();
    let wall = Instant::now();
    let sat = svc.node_id("TD-0-0").unwrap();
    assert!(svc.twin.slot_rate_flops(sat) > 0.0);
    let report =
        |t: &str| validate::report(&serde_json::from_str::<Telemetry>(t).unwrap()).unwrap();
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
    let r = accepted(svc.submit("t", spec, now, 0).unwrap());
    assert_eq!(r.stages[0].node, Some(sat));
    svc.heartbeat(sat, report(r#"{"failed": true}"#), now, wall);
    let r = &svc.task_in_memory(r.id).unwrap();
    assert_eq!((r.stages[0].node, r.stages[0].attempt), (None, 2));
    assert_eq!(r.replacements, 1);
}

#[test]
fn an_assignment_the_agent_never_received_is_sent_again() {
    let (mut svc, now) = service();
    let wall = Instant::now();
    let zjk = svc.node_id("Zhangjiakou").unwrap();
    svc.heartbeat(zjk, NodeReport::default(), now, wall);
    let spec: TaskSpec = serde_json::from_str(
        r#"{"origin": "Zhangjiakou", "deadline_s": 600,
            "stages": [{"work_flop": 1e12, "run": {"command": ["true"]}}]}"#,
    )
    .unwrap();
    let r = accepted(svc.submit("t", spec, now, 0).unwrap());
    let none = std::collections::BTreeSet::new();
    let first = svc.poll(zjk, "agent-1", 4, &none, now).assignments;
    assert_eq!(first.len(), 1);
    // The answer was lost: the agent does not hold it, so the next poll of the same agent
    // process sends it again, same attempt and secret (the agent runs each attempt at most
    // once).
    let again = svc.poll(zjk, "agent-1", 4, &none, now).assignments;
    assert_eq!(again, first);
    let held: BTreeSet<StageRef> = [StageRef {
        task: r.id,
        stage: 0,
        attempt: first[0].attempt,
    }]
    .into_iter()
    .collect();
    let answer = svc.poll(zjk, "agent-1", 4, &held, now);
    assert!(answer.assignments.is_empty() && answer.cancel.is_empty());
}

/// A service with one command task assigned to the Zhangjiakou agent process "agent-1".
fn assigned() -> (Service, i64, u32, u64, tiandi_server::model::Assignment) {
    let (mut svc, now) = service();
    svc.set_secret_source(Box::new({
        let mut n = 0;
        move || {
            n += 1;
            format!("secret-{n}")
        }
    }));
    let zjk = svc.node_id("Zhangjiakou").unwrap();
    svc.heartbeat(zjk, NodeReport::default(), now, Instant::now());
    let spec: TaskSpec = serde_json::from_str(
        r#"{"origin": "Zhangjiakou", "deadline_s": 600,
            "stages": [{"work_flop": 1e12, "run": {"command": ["true"], "outputs": ["o.txt"]}}]}"#,
    )
    .unwrap();
    let r = accepted(svc.submit("t", spec, now, 0).unwrap());
    let a = svc
        .poll(zjk, "agent-1", 4, &BTreeSet::new(), now)
        .assignments
        .remove(0);
    (svc, now, zjk, r.id, a)
}

fn report(a: &tiandi_server::model::Assignment, secret: Option<&str>) -> Completion {
    Completion {
        task: a.task,
        stage: a.stage,
        attempt: a.attempt,
        exit_code: Some(0),
        outputs: [("o.txt".to_string(), "Zm9yZ2Vk".to_string())].into(),
        message: None,
        secret: secret.map(str::to_string),
    }
}

#[test]
fn a_completion_needs_the_attempt_secret() {
    let (mut svc, now, zjk, id, a) = assigned();
    assert_eq!(a.secret, "secret-1");
    for forged in [None, Some("secret-2"), Some("secret-"), Some("")] {
        let e = svc.complete(zjk, report(&a, forged), now).unwrap_err();
        assert_eq!(e.kind, RefusalKind::Forged, "{forged:?}: {e:?}");
    }
    assert_eq!(svc.counters().forged_reports, 4);
    assert!(
        svc.task_in_memory(id).unwrap().files.is_empty(),
        "a forged output was kept"
    );
    svc.complete(zjk, report(&a, Some("secret-1")), now)
        .unwrap();
    assert_eq!(
        svc.task_in_memory(id).unwrap().stages[0].state,
        StageState::Done
    );
}

#[test]
fn a_restarted_agent_gets_a_new_attempt_and_the_old_one_is_refused() {
    let (mut svc, now, zjk, id, a) = assigned();
    // A new process of the same node polls, holding nothing: the stage is given again as
    // attempt 2, with a new secret.
    let b = svc
        .poll(zjk, "agent-2", 4, &BTreeSet::new(), now)
        .assignments
        .remove(0);
    assert_eq!((b.task, b.attempt), (id, a.attempt + 1));
    assert_ne!(b.secret, a.secret);
    assert_eq!(svc.counters().restarted_stages, 1);
    // The old run's report (with its own, once valid, secret) is stale.
    let e = svc
        .complete(zjk, report(&a, Some(&a.secret)), now)
        .unwrap_err();
    assert_eq!(e.kind, RefusalKind::Stale, "{e:?}");
    svc.complete(zjk, report(&b, Some(&b.secret)), now).unwrap();
}

#[test]
fn held_stages_of_a_cancelled_task_are_listed_for_the_agent_to_stop() {
    let (mut svc, now, zjk, id, a) = assigned();
    let held: BTreeSet<StageRef> = [StageRef {
        task: id,
        stage: 0,
        attempt: a.attempt,
    }]
    .into_iter()
    .collect();
    assert!(svc.poll(zjk, "agent-1", 0, &held, now).cancel.is_empty());
    svc.cancel(id, Some("t"), now).unwrap();
    let answer = svc.poll(zjk, "agent-1", 0, &held, now);
    assert_eq!(answer.cancel, held.into_iter().collect::<Vec<_>>());
}

#[test]
fn outputs_over_the_limit_fail_the_stage_and_free_the_quota() {
    let (mut svc, now, zjk, id, a) = assigned();
    let mut c = report(&a, Some(&a.secret));
    let big = vec![b'x'; tiandi_server::model::MAX_OUTPUT_FILE_BYTES + 1];
    use base64::Engine as _;
    c.outputs.insert(
        "o.txt".into(),
        base64::engine::general_purpose::STANDARD.encode(big),
    );
    svc.complete(zjk, c, now).unwrap();
    let r = &svc.task_in_memory(id).unwrap();
    assert_eq!(r.state, TaskState::Failed);
    assert!(
        r.reason.as_deref().unwrap().contains("over the limit"),
        "{:?}",
        r.reason
    );
    assert!(r.files.is_empty());
}

#[test]
fn the_byte_quota_counts_inputs_command_lines_and_room_for_outputs() {
    use tiandi_server::model::{MAX_OUTPUT_FILE_BYTES, MAX_OUTPUT_TOTAL_BYTES};
    use tiandi_server::service::reserved_bytes;
    let spec = |command: &str, outputs: usize| -> TaskSpec {
        serde_json::from_value(serde_json::json!({
            "origin": "Wuhu", "deadline_s": 60,
            "stages": [{"work_flop": 1, "run": {"command": ["sh", "-c", command],
                "inputs": {"in.txt": "12345"},
                "outputs": (0..outputs).map(|i| format!("o{i}")).collect::<Vec<_>>()}}]
        }))
        .unwrap()
    };
    // "in.txt" + "12345" + "sh" + "-c" + "true", and one output's room.
    assert_eq!(
        reserved_bytes(&spec("true", 1)),
        (6 + 5 + 2 + 2 + 4 + MAX_OUTPUT_FILE_BYTES) as u64
    );
    // A long command line counts byte for byte; output room stops at the stage's limit.
    let long = "x".repeat(100_000);
    assert_eq!(
        reserved_bytes(&spec(&long, 9)) - reserved_bytes(&spec("", 9)),
        100_000
    );
    assert_eq!(
        reserved_bytes(&spec("", 9)),
        (6 + 5 + 2 + 2 + MAX_OUTPUT_TOTAL_BYTES) as u64
    );
    // Modelled stages hold nothing.
    let modelled: TaskSpec = serde_json::from_str(
        r#"{"origin": "Wuhu", "deadline_s": 60, "stages": [{"work_flop": 1}]}"#,
    )
    .unwrap();
    assert_eq!(reserved_bytes(&modelled), 0);
}

#[test]
fn a_repeated_key_names_its_task_after_the_task_left_memory() {
    let (mut svc, now) = service();
    svc.keep_finished = 1;
    let spec = |key: &str| -> TaskSpec {
        serde_json::from_value(serde_json::json!({
            "origin": "Wuhu", "deadline_s": 600, "idempotency_key": key,
            "stages": [{"work_flop": 1e9}]
        }))
        .unwrap()
    };
    let first = accepted(svc.submit("t", spec("k1"), now, 0).unwrap());
    let second = accepted(svc.submit("t", spec("k2"), now, 0).unwrap());
    let later = now + 60_000_000_000;
    svc.tick(later, Instant::now()).unwrap();
    let written = svc.take_changes().writes;
    assert!(
        svc.task_in_memory(first.id).is_none(),
        "task {} not evicted",
        first.id
    );
    assert!(svc.task_in_memory(second.id).is_some());
    // The key names the evicted task (the caller reads it from the store); the duplicate
    // is counted by the caller once it has answered.
    let again = svc.submit("t", spec("k1"), later, 0).unwrap();
    assert!(
        matches!(again, Submitted::Duplicate(id) if id == first.id),
        "{again:?}"
    );
    assert_eq!(svc.counters().duplicate, 0);
    // Keys are per tenant: another tenant's same key is a new task.
    let other = accepted(svc.submit("u", spec("k1"), later, 0).unwrap());
    assert_ne!(other.id, first.id);
    // The other calls that take an id answer an evicted task with an error, not a panic.
    assert_eq!(
        svc.cancel(first.id, Some("t"), later).unwrap_err().kind,
        RefusalKind::NotFound
    );
    assert_eq!(
        svc.visible(first.id, None).unwrap_err().kind,
        RefusalKind::NotFound
    );
    let zjk = svc.node_id("Zhangjiakou").unwrap();
    let late = Completion {
        task: first.id,
        stage: 0,
        attempt: 1,
        exit_code: Some(0),
        outputs: Default::default(),
        message: None,
        secret: None,
    };
    assert_eq!(
        svc.complete(zjk, late, later).unwrap_err().kind,
        RefusalKind::Stale
    );

    // After a restart: every key is known again, old ended tasks are evicted again.
    let records: Vec<_> = written
        .into_iter()
        .filter_map(|w| match w {
            tiandi_server::store::Write::Task(r) => Some(*r),
            _ => None,
        })
        .collect();
    let (mut restarted, _) = service();
    restarted.keep_finished = 1;
    restarted.restore(records, Instant::now());
    assert!(restarted.task_in_memory(first.id).is_none());
    let again = restarted.submit("t", spec("k1"), later, 0).unwrap();
    assert!(
        matches!(again, Submitted::Duplicate(id) if id == first.id),
        "{again:?}"
    );
}

/// A tenant cannot claim more than its device's peak, nor so little efficiency that its
/// stage's time at peak overflows: out-of-range efficiencies are refused as invalid and
/// name the field; an honest one is accepted and its stage takes work / efficiency at peak.
#[test]
fn stage_efficiency_out_of_range_is_refused() {
    let (mut svc, now) = service();
    let spec = |e: &str| -> TaskSpec {
        serde_json::from_str(&format!(
            r#"{{"kind": "ground-ai", "origin": "Wuhu", "deadline_s": 600,
                 "stages": [{{"work_flop": 1e15, "pin": "Wuhu", "efficiency": {e}}}]}}"#
        ))
        .unwrap()
    };
    for bad in ["0", "1e-300", "-0.5", "1.5", "1e308"] {
        let e = svc.submit("t", spec(bad), now, 0).unwrap_err();
        assert_eq!(e.kind, RefusalKind::Invalid, "{bad}: {e:?}");
        assert!(
            e.field
                .as_deref()
                .is_some_and(|f| f.ends_with("efficiency")),
            "{bad}: {e:?}"
        );
    }
    let fast = accepted(svc.submit("t", spec("1"), now, 0).unwrap());
    let slow = accepted(svc.submit("t", spec("0.25"), now, 0).unwrap());
    let span = |r: &tiandi_server::model::TaskRecord| {
        r.stages[0].expected_finish_ns - r.stages[0].expected_start_ns
    };
    // One H100 slot at 989.4 TFLOPS: 1e15 FLOP is 1.01 s at peak, 4.04 s at a quarter.
    let ratio = span(&slow) as f64 / span(&fast) as f64;
    assert!((ratio - 4.0).abs() < 0.01, "{ratio}");
}
