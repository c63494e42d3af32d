//! The Fly.io Machines fake on its own, over real HTTP on 127.0.0.1: auth, apps, the machine
//! state machine, `/wait`, leases, full-config updates, destroy, cordon, metadata, 422s, logs.

mod support;

use std::time::Duration;

use loco_fakes::Fault;
use loco_fakes::fly::{CreateRefusal, FlyFake, FlyFakeOptions, MachineState};
use serde_json::{Value, json};
use support::Answer;

const TOKEN: &str = "fm2_test-token-0123456789";

/// Requests to the fake with one `Authorization` value (or none).
struct Client {
    base_url: String,
    authorization: Option<String>,
}

impl Client {
    fn new(fake: &FlyFake, authorization: Option<&str>) -> Self {
        Self { base_url: fake.base_url().to_owned(), authorization: authorization.map(str::to_owned) }
    }

    async fn send(&self, method: &str, path: &str, headers: &[(&str, &str)], body: Option<&Value>) -> Answer {
        support::send(&self.base_url, method, path, self.authorization.as_deref(), headers, body).await
    }

    async fn get(&self, path: &str) -> Answer {
        self.send("GET", path, &[], None).await
    }

    async fn post(&self, path: &str, body: &Value) -> Answer {
        self.send("POST", path, &[], Some(body)).await
    }
}

async fn fake() -> FlyFake {
    FlyFake::start(FlyFakeOptions { token: TOKEN.into(), ..FlyFakeOptions::default() }).await.unwrap()
}

fn bearer() -> String {
    format!("Bearer {TOKEN}")
}

fn config(image: &str) -> Value {
    json!({
        "image": image,
        "env": {"GREETING": "hello"},
        "metadata": {"loco_version": "v1"},
        "services": [{"protocol": "tcp", "internal_port": 8080, "ports": [{"port": 443, "handlers": ["tls", "http"]}],
                      "checks": [{"type": "tcp", "interval": "15s", "timeout": "2s"}]}],
    })
}

const MACHINES: &str = "/v1/apps/shop/machines";

async fn create(client: &Client, body: Value) -> Value {
    let reply = client.post(MACHINES, &body).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.body
}

fn id(machine: &Value) -> String {
    machine["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn both_auth_schemes_work_and_anything_else_is_flys_401() {
    let fake = fake().await;
    for auth in [None, Some("Bearer wrong-token"), Some(TOKEN), Some("Basic Zm9vOmJhcg==")] {
        let reply = Client::new(&fake, auth).get("/v1/apps/shop").await;
        assert_eq!(reply.status, 401, "{auth:?}");
        assert_eq!(reply.body, json!({"error": "Authenticate: token validation error"}));
        assert!(reply.header("fly-request-id").is_some(), "every answer carries a request id");
    }
    for auth in [bearer(), format!("FlyV1 {TOKEN}")] {
        let reply = Client::new(&fake, Some(&auth)).get("/v1/apps/shop").await;
        assert_eq!(reply.status, 200, "{auth}");
        assert_eq!(reply.body["organization"]["slug"], "personal");
    }
    let recorded = fake.recorder().matching("GET", "/v1/apps/shop");
    assert_eq!(recorded.len(), 6);
    assert_eq!(recorded[5].header("authorization"), Some(format!("FlyV1 {TOKEN}").as_str()));
    assert_eq!(recorded.iter().map(|r| r.status).collect::<Vec<_>>(), [401, 401, 401, 401, 200, 200]);
}

#[tokio::test]
async fn unknown_apps_are_404_and_other_organizations_apps_403() {
    let fake = fake().await;
    let client = Client::new(&fake, Some(&bearer()));
    let missing = client.get("/v1/apps/nope").await;
    assert_eq!(missing.status, 404);
    assert!(missing.body["error"].as_str().unwrap().contains("nope"));
    assert_eq!(client.get("/v1/apps/not-yours").await.status, 403);
    assert_eq!(client.get("/v1/apps/not-yours/machines").await.status, 403);
    assert_eq!(client.get("/v1/apps?org_slug=personal").await.body["total_apps"], 1);
}

#[tokio::test]
async fn a_created_machine_boots_one_state_per_poll_and_its_checks_pass() {
    let fake = fake().await;
    let client = Client::new(&fake, Some(&bearer()));
    let machine = create(&client, json!({"config": config("registry.fly.io/shop:v1"), "name": "web-1"})).await;
    assert_eq!((machine["state"].as_str(), machine["cordoned"].as_bool()), (Some("created"), Some(false)));
    assert_eq!(machine["region"], "ord");
    assert_eq!(machine["image_ref"]["tag"], "v1");
    assert_eq!(machine["events"][0]["type"], "launch");
    let path = format!("{MACHINES}/{}", id(&machine));
    let mut seen = Vec::new();
    for _ in 0..4 {
        let m = client.get(&path).await.body;
        seen.push(format!("{}/{}", m["state"].as_str().unwrap(), m["checks"][0]["status"].as_str().unwrap_or("-")));
    }
    assert_eq!(seen, ["starting/-", "started/warning", "started/passing", "started/passing"]);
    let m = client.get(&path).await.body;
    assert_eq!(m["checks"][0]["name"], "servicecheck-00-tcp-8080");
    assert_eq!(m["events"][0]["type"], "start", "events are newest first");
    let other = create(&client, json!({"config": config("registry.fly.io/shop:v1"), "region": "ams"})).await;
    assert_eq!(other["region"], "ams");

    // The logs endpoint pages by next_token and filters by instance.
    let logs = client.get(&format!("/api/v1/apps/shop/logs?instance={}", id(&machine))).await.body;
    let lines: Vec<&str> =
        logs["data"].as_array().unwrap().iter().map(|l| l["attributes"]["message"].as_str().unwrap()).collect();
    assert_eq!(lines.len(), 4, "{lines:?}");
    assert!(lines[3].contains("listening on 0.0.0.0:8080"), "{lines:?}");
    assert_eq!(logs["data"][0]["attributes"]["instance"], id(&machine).as_str());
    let token = logs["meta"]["next_token"].as_str().unwrap().to_owned();
    let again = client.get(&format!("/api/v1/apps/shop/logs?instance={}&next_token={token}", id(&machine))).await;
    assert_eq!(again.body["data"], json!([]));
    assert_eq!(again.body["meta"]["next_token"], token.as_str(), "no new lines: the token stays");
}

#[tokio::test]
async fn skip_launch_and_skip_service_registration_are_honoured_and_cordon_toggles_routing() {
    let fake = fake().await;
    let client = Client::new(&fake, Some(&bearer()));
    let parked = create(&client, json!({"config": config("registry.fly.io/shop:v1"), "skip_launch": true})).await;
    fake.tick(5);
    assert_eq!(fake.machine(&id(&parked)).unwrap().state, MachineState::Created, "skip_launch: never launched");

    let green =
        create(&client, json!({"config": config("registry.fly.io/shop:v1"), "skip_service_registration": true})).await;
    assert_eq!(green["cordoned"], true, "created out of routing");
    fake.tick(3);
    let snapshot = fake.machine(&id(&green)).unwrap();
    assert!(snapshot.state == MachineState::Started && !snapshot.routable());
    let path = format!("{MACHINES}/{}", id(&green));
    assert_eq!(client.post(&format!("{path}/uncordon"), &json!({})).await.status, 200);
    assert!(fake.machine(&id(&green)).unwrap().routable());
    assert_eq!(client.post(&format!("{path}/cordon"), &json!({})).await.status, 200);
    assert!(fake.machine(&id(&green)).unwrap().cordoned);
    assert_eq!(client.get(&path).await.body["cordoned"], true);
}

#[tokio::test]
async fn wait_answers_ok_408_or_400_as_fly_does() {
    let fake = fake().await;
    let client = Client::new(&fake, Some(&bearer()));
    let machine = create(&client, json!({"config": config("registry.fly.io/shop:v1")})).await;
    let path = format!("{MACHINES}/{}/wait", id(&machine));
    let version = machine["instance_id"].as_str().unwrap().to_owned();

    let started = client.get(&format!("{path}?state=started&instance_id={version}&timeout=60")).await;
    assert_eq!((started.status, started.body.clone()), (200, json!({"ok": true})));
    let no_version = client.get(&format!("{path}?state=stopped&timeout=5")).await;
    assert_eq!(no_version.status, 400);
    let never = client.get(&format!("{path}?state=stopped&version={version}&timeout=3")).await;
    assert_eq!(never.status, 408, "a started machine nobody stops never reaches stopped");
    let either = client.get(&format!("{path}?state=stopped&state=started&version={version}&timeout=1")).await;
    assert_eq!(either.status, 200, "several states: any of them");
    let stale = client.get(&format!("{path}?state=started&version=01STALE&timeout=1")).await;
    assert_eq!(stale.status, 400);
    assert_eq!(client.get(&format!("{path}?state=running")).await.status, 400);

    client.post(&format!("{MACHINES}/{}/stop", id(&machine)), &json!({"signal": "SIGTERM", "timeout": "5s"})).await;
    let stopped = client.get(&format!("{path}?state=stopped&version={version}&timeout=5")).await;
    assert_eq!(stopped.status, 200);
    let m = fake.machine(&id(&machine)).unwrap();
    assert_eq!(m.state, MachineState::Stopped);
    assert!(fake.log_lines(&id(&machine)).iter().any(|l| l.contains("SIGTERM")));
}

#[tokio::test]
async fn leases_give_one_holder_a_nonce_and_refuse_everyone_else() {
    let fake = fake().await;
    let client = Client::new(&fake, Some(&bearer()));
    let machine = create(&client, json!({"config": config("registry.fly.io/shop:v1")})).await;
    let lease_path = format!("{MACHINES}/{}/lease", id(&machine));
    let cordon = format!("{MACHINES}/{}/cordon", id(&machine));

    let acquired =
        client.send("POST", &format!("{lease_path}?ttl=13"), &[], Some(&json!({"description": "deploy"}))).await;
    assert_eq!(acquired.status, 201);
    assert_eq!(acquired.body["status"], "success");
    let nonce = acquired.body["data"]["nonce"].as_str().unwrap().to_owned();
    assert_eq!(acquired.body["data"]["version"], machine["instance_id"]);

    let held = client.send("POST", &format!("{lease_path}?ttl=13"), &[], None).await;
    assert_eq!(held.status, 409);
    assert_eq!(held.body["code"], "invalid");
    assert!(held.body["message"].as_str().unwrap().contains("lease currently held by deployer@example.com"));

    let refreshed =
        client.send("POST", &format!("{lease_path}?ttl=30"), &[("fly-machine-lease-nonce", &nonce)], None).await;
    assert_eq!((refreshed.status, refreshed.body["data"]["nonce"].as_str()), (201, Some(nonce.as_str())));

    assert_eq!(client.post(&cordon, &json!({})).await.status, 409, "a mutation without the nonce");
    assert_eq!(client.send("POST", &cordon, &[("fly-machine-lease-nonce", "wrong")], None).await.status, 409);
    assert_eq!(client.send("POST", &cordon, &[("fly-machine-lease-nonce", &nonce)], None).await.status, 200);
    assert_eq!(client.get(&lease_path).await.body["data"]["description"], "deploy");

    assert_eq!(client.send("DELETE", &lease_path, &[], None).await.status, 409, "release needs the nonce");
    let released = client.send("DELETE", &lease_path, &[("fly-machine-lease-nonce", &nonce)], None).await;
    assert_eq!((released.status, released.body.clone()), (200, json!({"status": "success", "data": {"ok": true}})));
    assert_eq!(client.get(&lease_path).await.status, 404);
    assert_eq!(client.post(&format!("{MACHINES}/{}/uncordon", id(&machine)), &json!({})).await.status, 200);

    // Someone else's lease expires by its TTL.
    fake.hold_lease(&id(&machine), "someone@else.com", Duration::from_secs(10)).unwrap();
    let blocked = client.post(&cordon, &json!({})).await;
    assert!(blocked.body["message"].as_str().unwrap().contains("someone@else.com"), "{}", blocked.body);
    fake.advance_clock(Duration::from_secs(11));
    assert_eq!(client.post(&cordon, &json!({})).await.status, 200);

    // Created with lease_ttl: leased at once, the nonce in the machine.
    let leased = create(&client, json!({"config": config("registry.fly.io/shop:v1"), "lease_ttl": 60})).await;
    let nonce = leased["nonce"].as_str().unwrap();
    let stop = format!("{MACHINES}/{}/stop", id(&leased));
    assert_eq!(client.post(&stop, &json!({})).await.status, 409);
    assert_eq!(client.send("POST", &stop, &[("fly-machine-lease-nonce", nonce)], Some(&json!({}))).await.status, 200);
}

#[tokio::test]
async fn an_update_replaces_the_whole_config_and_makes_a_new_version() {
    let fake = fake().await;
    let client = Client::new(&fake, Some(&bearer()));
    let machine = create(&client, json!({"config": config("registry.fly.io/shop:v1"), "name": "web"})).await;
    let path = format!("{MACHINES}/{}", id(&machine));
    fake.tick(3);

    let partial = client.post(&path, &json!({"config": {"env": {"ONLY": "this"}}})).await;
    assert_eq!(partial.status, 400, "no partial updates: {}", partial.body);
    assert_eq!(client.post(&path, &json!({"config": config("x:v2"), "name": "renamed"})).await.status, 400);

    let mut next = config("registry.fly.io/shop:v2");
    next["env"] = json!({"OTHER": "1"});
    let updated = client.post(&path, &json!({"config": next, "current_version": machine["instance_id"]})).await;
    assert_eq!(updated.status, 200);
    assert_eq!(updated.body["state"], "replacing");
    assert_ne!(updated.body["instance_id"], machine["instance_id"]);
    let snapshot = fake.machine(&id(&machine)).unwrap();
    assert_eq!(snapshot.replaced_versions, [machine["instance_id"].as_str().unwrap()]);
    assert_eq!(snapshot.env.keys().collect::<Vec<_>>(), ["OTHER"], "the old env is gone, not merged");
    assert_eq!(snapshot.image, "registry.fly.io/shop:v2");
    let stale = client.post(&path, &json!({"config": config("x:v3"), "current_version": machine["instance_id"]})).await;
    assert_eq!(stale.status, 412);
    let states: Vec<String> = {
        let mut s = Vec::new();
        for _ in 0..2 {
            s.push(client.get(&path).await.body["state"].as_str().unwrap().to_owned());
        }
        s
    };
    assert_eq!(states, ["starting", "started"]);
}

#[tokio::test]
async fn destroy_takes_force_or_kill_and_refuses_a_running_machine_without_either() {
    let fake = fake().await;
    let client = Client::new(&fake, Some(&bearer()));
    let a = create(&client, json!({"config": config("registry.fly.io/shop:v1")})).await;
    let b = create(&client, json!({"config": config("registry.fly.io/shop:v1")})).await;
    fake.tick(3);
    let path_a = format!("{MACHINES}/{}", id(&a));
    assert_eq!(client.send("DELETE", &path_a, &[], None).await.status, 412);
    assert_eq!(client.send("DELETE", &format!("{path_a}?force=true"), &[], None).await.status, 200);
    assert_eq!(client.send("DELETE", &format!("{MACHINES}/{}?kill=true", id(&b)), &[], None).await.status, 200);
    assert_eq!(client.get(&path_a).await.status, 404, "destroying becomes destroyed on the next tick");
    fake.tick(1);
    assert_eq!(client.get(&format!("{MACHINES}/{}", id(&b))).await.status, 404);
    assert_eq!(client.send("DELETE", &format!("{path_a}?force=true"), &[], None).await.status, 404);
    let wait = client.get(&format!("{path_a}/wait?state=destroyed&timeout=1")).await;
    assert_eq!(wait.status, 200);

    assert_eq!(client.get(MACHINES).await.body, json!([]));
    let all = client.get(&format!("{MACHINES}?include_deleted=true")).await.body;
    assert_eq!(all.as_array().unwrap().len(), 2);
    assert!(all.as_array().unwrap().iter().all(|m| m["state"] == "destroyed"));
}

#[tokio::test]
async fn lists_filter_by_metadata_and_names_are_unique() {
    let fake = fake().await;
    let client = Client::new(&fake, Some(&bearer()));
    let mut v2 = config("registry.fly.io/shop:v2");
    v2["metadata"] = json!({"loco_version": "v2", "loco_service": "api"});
    create(&client, json!({"config": config("registry.fly.io/shop:v1"), "name": "one"})).await;
    let second = create(&client, json!({"config": v2, "name": "two"})).await;
    let listed = client.get(&format!("{MACHINES}?metadata.loco_version=v2&metadata.loco_service=api")).await.body;
    assert_eq!(listed.as_array().unwrap().iter().map(id).collect::<Vec<_>>(), [id(&second)]);
    assert_eq!(client.get(&format!("{MACHINES}?metadata.loco_version=v3")).await.body, json!([]));

    let taken = client.post(MACHINES, &json!({"config": config("registry.fly.io/shop:v1"), "name": "one"})).await;
    assert_eq!((taken.status, taken.body["status"].as_str()), (422, Some("name_taken")));
    fake.refuse_creates(CreateRefusal::InsufficientCapacity, 1);
    let full = client.post(MACHINES, &json!({"config": config("registry.fly.io/shop:v1")})).await;
    assert_eq!((full.status, full.body["status"].as_str()), (422, Some("insufficient_capacity")));
    assert_eq!(fake.live_machines().len(), 2, "refused creates made nothing");

    // A lost answer still created the machine.
    fake.lose_create_responses(1);
    let lost = client.post(MACHINES, &json!({"config": config("registry.fly.io/shop:v1"), "name": "three"})).await;
    assert_eq!(lost.status, 504);
    assert_eq!(fake.live_machines().len(), 3);

    let path = format!("{MACHINES}/{}/metadata", id(&second));
    assert_eq!(client.post(&format!("{path}/owner"), &json!({"value": "team-a"})).await.status, 204);
    assert_eq!(client.get(&path).await.body["owner"], "team-a");
    assert_eq!(client.send("DELETE", &format!("{path}/owner"), &[], None).await.status, 204);
    assert!(client.get(&path).await.body.get("owner").is_none());
}

#[tokio::test]
async fn bad_images_never_pass_and_crashing_images_loop_then_fail() {
    let fake = fake().await;
    let client = Client::new(&fake, Some(&bearer()));
    let bad = create(&client, json!({"config": config("registry.fly.io/shop:v2-bad")})).await;
    let mut crash_config = config("registry.fly.io/shop:crash");
    crash_config["restart"] = json!({"policy": "on-failure", "max_retries": 2});
    let crash = create(&client, json!({"config": crash_config})).await;
    fake.tick(20);
    let bad = fake.machine(&id(&bad)).unwrap();
    assert_eq!(bad.state, MachineState::Started);
    assert_eq!(bad.checks, [("servicecheck-00-tcp-8080".to_owned(), "critical".to_owned())]);

    let crashed = client.get(&format!("{MACHINES}/{}", id(&crash))).await.body;
    assert_eq!(crashed["state"], "failed");
    let exits: Vec<&Value> = crashed["events"].as_array().unwrap().iter().filter(|e| e["type"] == "exit").collect();
    assert_eq!(exits.len(), 3, "two restarts, then it gave up");
    assert_eq!(exits[0]["request"]["restart_count"], 3);
    assert_eq!(exits[0]["request"]["exit_event"]["restarting"], false);
    assert_eq!(exits[1]["request"]["exit_event"]["exit_code"], 1);
    assert_eq!(exits[1]["request"]["exit_event"]["restarting"], true);
    assert!(fake.log_lines(&id(&crash)).iter().any(|l| l.contains("panicked")));
}

#[tokio::test]
async fn injected_faults_are_served_and_every_request_is_recorded() {
    let fake = fake().await;
    let client = Client::new(&fake, Some(&bearer()));
    let limited =
        Fault::RateLimited { retry_after_seconds: 2, headers: vec![], body: json!({"error": "rate limited"}) };
    fake.faults().inject(Some("POST"), Some("/machines"), &limited, 1);
    let refused = client.post(MACHINES, &json!({"config": config("registry.fly.io/shop:v1")})).await;
    assert_eq!((refused.status, refused.header("retry-after")), (429, Some("2")));
    assert!(refused.header("fly-request-id").is_some());
    assert!(fake.live_machines().is_empty(), "the refused create did nothing");
    let accepted = client.post(MACHINES, &json!({"config": config("registry.fly.io/shop:v1")})).await;
    assert_eq!(accepted.status, 200);
    let creates = fake.recorder().matching("POST", "/v1/apps/shop/machines");
    assert_eq!(creates.iter().map(|r| r.status).collect::<Vec<_>>(), [429, 200]);
    assert_eq!(creates[1].json()["config"]["image"], "registry.fly.io/shop:v1");
}
