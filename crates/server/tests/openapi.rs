//! The OpenAPI document against the real app: the document lists exactly the routes the
//! router serves, and seeded random requests built from the document's own schemas (valid
//! ones and broken ones: wrong types, out-of-range values, missing and unknown fields,
//! bad tokens) only ever get a documented status, never a 5xx, with a JSON body that
//! matches the documented schema.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, header};
use http_body_util::BodyExt;
use serde_json::{Map, Value, json};
use tiandi_server::api::{AppState, OPENAPI, router};
use tiandi_server::config::ServeConfig;
use tower::ServiceExt;

const OPERATOR: &str = "operator-token-aaaa-0001";
const OTHER: &str = "operator-token-bbbb-0002";
const ADMIN: &str = "admin-token-cccc-000003";
const AGENT: &str = "agent-token-dddd-000004";

fn state(dir: &Path) -> Arc<AppState> {
    let text = format!(
        r#"
store = "{}"
clock = "accelerated:100"
heartbeat_timeout_s = 2.0
max_body_bytes = 65536
[[tokens]]
token = "{OPERATOR}"
role = "operator"
tenant = "a"
[[tokens]]
token = "{OTHER}"
role = "operator"
tenant = "b"
[[tokens]]
token = "{ADMIN}"
role = "admin"
[[tokens]]
token = "{AGENT}"
role = "agent"
node = "Zhangjiakou"
"#,
        dir.join("store.redb").display()
    );
    let config = ServeConfig::parse(&text, "test.toml", dir).unwrap();
    let scenario = tiandi_scenario::Scenario::built_in("default")
        .unwrap()
        .unwrap();
    // The sender is dropped: the service never shuts down in these tests.
    let (_, stop) = tokio::sync::watch::channel(false);
    let path = dir.join("store.redb");
    let st = tiandi_server::open_redb(&config, &scenario, &path, stop).unwrap();
    // Attempt secrets the generator can send: tasks 3 and 4 get fuzz-secret-1 and -2.
    st.lock().set_secret_source(Box::new({
        let mut n = 0;
        move || {
            n += 1;
            format!("fuzz-secret-{n}")
        }
    }));
    st
}

fn fresh_dir(name: &str) -> std::path::PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("openapi")
        .join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn doc() -> Value {
    serde_json::from_str(OPENAPI).expect("openapi.json is JSON")
}

#[test]
fn document_lists_exactly_the_routes() {
    let dir = fresh_dir("routes");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let _guard = rt.enter();
    let (_, routes) = router(state(&dir));
    let served: BTreeSet<(String, String)> = routes
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    let d = doc();
    let mut documented = BTreeSet::new();
    for (path, item) in d["paths"].as_object().unwrap() {
        for (method, _) in item.as_object().unwrap() {
            if method != "parameters" {
                documented.insert((method.clone(), path.clone()));
            }
        }
    }
    assert_eq!(served, documented);
}

// ----- a small JSON Schema validator (the subset the document uses) -----------------------

fn resolve<'a>(root: &'a Value, s: &'a Value) -> &'a Value {
    match s.get("$ref").and_then(Value::as_str) {
        Some(r) => {
            let name = r.trim_start_matches("#/components/schemas/");
            resolve(root, &root["components"]["schemas"][name])
        }
        None => s,
    }
}

fn type_ok(t: &str, v: &Value) -> bool {
    match t {
        "object" => v.is_object(),
        "array" => v.is_array(),
        "string" => v.is_string(),
        "integer" => v.is_i64() || v.is_u64(),
        "number" => v.is_number(),
        "boolean" => v.is_boolean(),
        "null" => v.is_null(),
        _ => false,
    }
}

fn validate(root: &Value, schema: &Value, v: &Value, at: &str, errs: &mut Vec<String>) {
    let s = resolve(root, schema);
    if let Some(all) = s.get("allOf").and_then(Value::as_array) {
        for sub in all {
            validate(root, sub, v, at, errs);
        }
    }
    if let Some(any) = s.get("oneOf").and_then(Value::as_array) {
        let ok = any.iter().any(|sub| {
            let mut e = Vec::new();
            validate(root, sub, v, at, &mut e);
            e.is_empty()
        });
        if !ok {
            errs.push(format!("{at}: matches none of oneOf"));
        }
    }
    if let Some(t) = s.get("type") {
        let ok = match t {
            Value::String(t) => type_ok(t, v),
            Value::Array(ts) => ts.iter().any(|t| type_ok(t.as_str().unwrap(), v)),
            _ => true,
        };
        if !ok {
            errs.push(format!("{at}: {v} is not of type {t}"));
            return;
        }
    }
    if let Some(e) = s.get("enum").and_then(Value::as_array)
        && !e.contains(v)
    {
        errs.push(format!("{at}: {v} not in {e:?}"));
    }
    if let Some(x) = v.as_f64() {
        if let Some(m) = s.get("minimum").and_then(Value::as_f64)
            && x < m
        {
            errs.push(format!("{at}: {x} < minimum {m}"));
        }
        if let Some(m) = s.get("maximum").and_then(Value::as_f64)
            && x > m
        {
            errs.push(format!("{at}: {x} > maximum {m}"));
        }
    }
    if let Some(o) = v.as_object() {
        let props = s.get("properties").and_then(Value::as_object);
        for r in s
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if !o.contains_key(r.as_str().unwrap()) {
                errs.push(format!("{at}: missing required {r}"));
            }
        }
        for (k, val) in o {
            match props.and_then(|p| p.get(k)) {
                Some(ps) => validate(root, ps, val, &format!("{at}.{k}"), errs),
                None => match s.get("additionalProperties") {
                    Some(Value::Bool(false)) if s.get("allOf").is_none() => {
                        errs.push(format!("{at}: undocumented property {k}"));
                    }
                    Some(extra @ Value::Object(_)) => {
                        validate(root, extra, val, &format!("{at}.{k}"), errs);
                    }
                    _ => {}
                },
            }
        }
    }
    if let (Some(items), Some(a)) = (s.get("items"), v.as_array()) {
        for (i, x) in a.iter().enumerate() {
            validate(root, items, x, &format!("{at}[{i}]"), errs);
        }
    }
}

// ----- request generation -------------------------------------------------------------------

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn chance(&mut self, p: f64) -> bool {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }
    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len() as u64) as usize]
    }
}

const NODES: [&str; 6] = [
    "Zhangjiakou",
    "Beijing-Miyun",
    "Kashgar",
    "TD-00-00",
    "Taklamakan-1",
    "no-such-node",
];

/// A value for `schema`; `name` is the property it goes into (for node names).
fn generate(root: &Value, schema: &Value, name: &str, rng: &mut Rng, depth: u32) -> Value {
    let s = resolve(root, schema);
    if let Some(one) = s.get("oneOf").and_then(Value::as_array) {
        let pick = one[rng.below(one.len() as u64) as usize].clone();
        return generate(root, &pick, name, rng, depth + 1);
    }
    match name {
        "origin" => return json!(rng.pick(&NODES[..5])),
        "destination" => {
            return json!(rng.pick(&["any-ground", "origin", "Wuhu", "Beijing-Miyun"]));
        }
        "pin" => return json!(rng.pick(&["free", "origin", "ground", "Zhangjiakou"])),
        "command" => return json!(["true"]),
        "after" => return json!([]),
        "work_flop" => return json!(rng.pick(&[0.0, 1e9, 1e12, 5e13])),
        "task" if rng.chance(0.5) => return json!(4),
        "task" => return json!(1 + rng.below(4)),
        "stage" => return json!(rng.below(2)),
        "attempt" => return json!(1),
        "exit_code" => return json!(rng.pick(&[0, 0, 1])),
        // Task 4's attempt secret, or a forged one.
        "secret" if rng.chance(0.7) => return json!("fuzz-secret-2"),
        "outputs" if depth > 0 && rng.chance(0.7) => return json!({}),
        _ => {}
    }
    if let Some(e) = s.get("enum").and_then(Value::as_array) {
        return e[rng.below(e.len() as u64) as usize].clone();
    }
    let types: Vec<&str> = match s.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().map(|t| t.as_str().unwrap()).collect(),
        _ => vec!["object"],
    };
    let t = if types.len() > 1 && rng.chance(0.2) {
        types[types.len() - 1]
    } else {
        types[0]
    };
    let min = s.get("minimum").and_then(Value::as_f64).unwrap_or(0.0);
    let max = s.get("maximum").and_then(Value::as_f64).unwrap_or(1e6);
    match t {
        "null" => Value::Null,
        "boolean" => json!(rng.chance(0.5)),
        "integer" => json!(
            (min as i64).saturating_add(rng.below(((max - min).min(1000.0)) as u64 + 1) as i64)
        ),
        "number" => {
            let lo = s
                .get("exclusiveMinimum")
                .and_then(Value::as_f64)
                .map_or(min, |m| m + 1.0);
            json!(lo + (rng.below(1000) as f64 / 1000.0) * (max.min(lo + 1e4) - lo))
        }
        "string" if s.get("format").and_then(Value::as_str) == Some("date-time") => {
            json!("2026-11-24T00:10:00Z")
        }
        "string" => json!(format!("s{}", rng.below(100))),
        "array" => {
            let n = if depth > 4 { 0 } else { 1 + rng.below(2) };
            let items = s.get("items").cloned().unwrap_or(json!({}));
            Value::Array(
                (0..n)
                    .map(|_| generate(root, &items, name, rng, depth + 1))
                    .collect(),
            )
        }
        _ => {
            let mut o = Map::new();
            let required: Vec<&str> = s
                .get("required")
                .and_then(Value::as_array)
                .map(|r| r.iter().map(|x| x.as_str().unwrap()).collect())
                .unwrap_or_default();
            if let Some(props) = s.get("properties").and_then(Value::as_object) {
                for (k, ps) in props {
                    if required.contains(&k.as_str()) || (depth < 4 && rng.chance(0.4)) {
                        o.insert(k.clone(), generate(root, ps, k, rng, depth + 1));
                    }
                }
            } else if let Some(extra @ Value::Object(_)) = s.get("additionalProperties") {
                o.insert("in.txt".into(), generate(root, extra, "", rng, depth + 1));
            }
            Value::Object(o)
        }
    }
}

/// Breaks a valid body in one of several ways.
fn mutate(v: &mut Value, rng: &mut Rng) {
    let bad = [
        json!("x"),
        json!(-1),
        json!(1e300),
        json!(null),
        json!([]),
        json!({}),
        json!(true),
        json!(f64::MAX),
    ];
    match v {
        Value::Object(o) if !o.is_empty() => {
            let keys: Vec<String> = o.keys().cloned().collect();
            let k = rng.pick(&keys).clone();
            match rng.below(4) {
                0 => {
                    o.remove(&k);
                }
                1 => {
                    o.insert("unexpected_field".into(), json!(1));
                }
                _ => {
                    if rng.chance(0.5) {
                        mutate(o.get_mut(&k).unwrap(), rng);
                    } else {
                        o.insert(k, rng.pick(&bad).clone());
                    }
                }
            }
        }
        Value::Array(a) if !a.is_empty() => {
            let i = rng.below(a.len() as u64) as usize;
            mutate(&mut a[i], rng);
        }
        other => *other = rng.pick(&bad).clone(),
    }
}

fn param_value(root: &Value, p: &Value, rng: &mut Rng) -> String {
    let name = p["name"].as_str().unwrap();
    if rng.chance(0.15) {
        return rng
            .pick(&[
                "-1",
                "abc",
                "99999999999999999999",
                "%20",
                "2026-13-45",
                "2263-01-01T00:00:00Z",
                "0219-06-11T17:22:27.1%2B06:38",
            ])
            .to_string();
    }
    match name {
        "node" if rng.chance(0.6) => "Zhangjiakou".to_string(),
        "node" | "src" | "dst" => rng.pick(&NODES).to_string(),
        "id" if p["schema"]["type"] == "string" => rng.pick(&NODES).to_string(),
        "id" => (1 + rng.below(4)).to_string(),
        "name" => rng.pick(&["out.txt", "out.txt", "missing"]).to_string(),
        _ => match generate(root, &p["schema"], name, rng, 0) {
            Value::String(s) => s,
            other => other.to_string(),
        },
    }
}

async fn send(app: &axum::Router, req: Request<Body>) -> (u16, String, Vec<u8>) {
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status().as_u16();
    let ctype = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    if ctype.starts_with("text/event-stream") {
        return (status, ctype, Vec::new());
    }
    let body = resp
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes()
        .to_vec();
    (status, ctype, body)
}

#[test]
fn random_requests_get_documented_answers() {
    let dir = fresh_dir("fuzz");
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let (app, _) = router(state(&dir));
        let root = doc();
        // Some tasks to find, and a live agent so command stages can be placed.
        for token in [OPERATOR, OTHER] {
            let body = json!({"origin": "Beijing-Miyun", "deadline_s": 3600.0,
                "stages": [{"work_flop": 1e12, "output_bytes": 10}]});
            let req = Request::post("/v1/tasks")
                .header("authorization", format!("Bearer {token}"))
                .body(Body::from(body.to_string()))
                .unwrap();
            assert_eq!(send(&app, req).await.0, 201);
        }
        let req = Request::post("/v1/agents/Zhangjiakou/heartbeat")
            .header("authorization", format!("Bearer {AGENT}"))
            .body(Body::empty())
            .unwrap();
        assert_eq!(send(&app, req).await.0, 200);
        // Command tasks for the agent: task 3 ran and left a file, task 4 is assigned now
        // so a report can be accepted.
        let agent = |path: &str, body: String| {
            Request::post(path)
                .header("authorization", format!("Bearer {AGENT}"))
                .body(Body::from(body))
                .unwrap()
        };
        for id in [3, 4] {
            let body = json!({"origin": "Zhangjiakou", "deadline_s": 3600.0,
                "stages": [{"work_flop": 1e9, "run": {"command": ["true"], "outputs": ["out.txt"]}}]});
            let req = Request::post("/v1/tasks")
                .header("authorization", format!("Bearer {OPERATOR}"))
                .body(Body::from(body.to_string()))
                .unwrap();
            assert_eq!(send(&app, req).await.0, 201);
            let (status, _, b) = send(&app, agent("/v1/agents/Zhangjiakou/poll", "{}".into())).await;
            assert_eq!(status, 200);
            assert!(String::from_utf8_lossy(&b).contains(&format!("\"task\":{id}")));
            if id == 3 {
                let answer: Value = serde_json::from_slice(&b).unwrap();
                let done = json!({"task": 3, "stage": 0, "attempt": 1, "exit_code": 0,
                    "outputs": {"out.txt": "aGVsbG8="},
                    "secret": answer["assignments"][0]["secret"]});
                let (status, _, _) =
                    send(&app, agent("/v1/agents/Zhangjiakou/complete", done.to_string())).await;
                assert_eq!(status, 200);
            }
        }
        let seed: u64 = std::env::var("TIANDI_FUZZ_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(20_261_128);
        let mut rng = Rng(seed);
        let mut seen: BTreeSet<(String, String, u16)> = BTreeSet::new();
        let mut problems = Vec::new();
        let cases_per_op = 120;
        for (path, item) in root["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                if method == "parameters" {
                    continue;
                }
                let params: Vec<Value> = item
                    .get("parameters")
                    .into_iter()
                    .chain(op.get("parameters"))
                    .flat_map(|p| p.as_array().unwrap().clone())
                    .collect();
                for case in 0..cases_per_op {
                    let mut url = path.clone();
                    let mut query = Vec::new();
                    for p in &params {
                        let v = param_value(&root, p, &mut rng);
                        let name = p["name"].as_str().unwrap();
                        if p["in"] == "path" {
                            url = url.replace(&format!("{{{name}}}"), &v);
                        } else if rng.chance(0.6) {
                            query.push(format!("{name}={v}"));
                            if rng.chance(0.05) {
                                query.push(format!("{name}={v}"));
                            }
                        }
                    }
                    if !query.is_empty() {
                        url = format!("{url}?{}", query.join("&"));
                    }
                    let token = *rng.pick(&[
                        Some(OPERATOR),
                        Some(OPERATOR),
                        Some(ADMIN),
                        Some(OTHER),
                        Some(AGENT),
                        Some(AGENT),
                        Some("bogus-token-xxxxxxxxx"),
                        None,
                    ]);
                    let body = match op.get("requestBody") {
                        None => String::new(),
                        Some(rb) => {
                            let schema = &rb["content"]["application/json"]["schema"];
                            let mut v = generate(&root, schema, "", &mut rng, 0);
                            let r = rng.below(10);
                            if r < 4 {
                                mutate(&mut v, &mut rng);
                            }
                            match r {
                                9 => "{\"unterminated".to_string(),
                                8 => "x".repeat(70_000),
                                _ => v.to_string(),
                            }
                        }
                    };
                    let mut req = Request::builder().method(method.to_uppercase().as_str()).uri(&url);
                    if let Some(t) = token {
                        req = req.header("authorization", format!("Bearer {t}"));
                    }
                    let req = req.body(Body::from(body.clone())).unwrap();
                    let (status, ctype, bytes) = send(&app, req).await;
                    let what = format!("seed {seed} case {case}: {} {url} body {:.200}", method.to_uppercase(), body);
                    seen.insert((method.clone(), path.clone(), status));
                    if std::env::var("TIANDI_FUZZ_VERBOSE").is_ok() {
                        eprintln!("{what}: {status} {}", String::from_utf8_lossy(&bytes[..bytes.len().min(200)]));
                    }
                    let Some(resp) = op["responses"].get(status.to_string()) else {
                        problems.push(format!("{what}: undocumented status {status}: {}", String::from_utf8_lossy(&bytes)));
                        continue;
                    };
                    if status >= 500 && status != 503 {
                        problems.push(format!("{what}: server error {status}"));
                    }
                    if ctype.starts_with("application/json") {
                        let Some(schema) = resp["content"].get("application/json").map(|c| &c["schema"]) else {
                            problems.push(format!("{what}: {status} answered JSON, documented otherwise"));
                            continue;
                        };
                        match serde_json::from_slice::<Value>(&bytes) {
                            Ok(v) => {
                                let mut errs = Vec::new();
                                validate(&root, schema, &v, "body", &mut errs);
                                for e in errs.into_iter().take(3) {
                                    problems.push(format!("{what}: {status}: {e}"));
                                }
                            }
                            Err(e) => problems.push(format!("{what}: {status}: not JSON: {e}")),
                        }
                    } else if resp["content"].as_object().is_some_and(|c| !c.keys().any(|k| ctype.starts_with(k.as_str()))) {
                        problems.push(format!("{what}: {status}: content type {ctype:?} not documented"));
                    }
                }
            }
        }
        assert!(problems.is_empty(), "{} problems, first:\n{}", problems.len(), problems.iter().take(15).cloned().collect::<Vec<_>>().join("\n"));
        // The fuzzing reached past authentication and validation on every operation.
        for (path, item) in root["paths"].as_object().unwrap() {
            for method in item.as_object().unwrap().keys().filter(|m| *m != "parameters") {
                assert!(
                    seen.iter().any(|(m, p, s)| m == method && p == path && (200..300).contains(s)),
                    "{method} {path}: no random request succeeded (seed {seed})"
                );
            }
        }
    });
}
