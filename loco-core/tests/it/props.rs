//! Property test: random action sequences with random actors, notes and strings never panic, and
//! always leave every deployment's state equal to its history.

use loco_core::{Action, ActionInput, Engine, NewDeployment};
use proptest::prelude::*;

fn any_text() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just("  ".to_owned()),
        Just("alice".to_owned()),
        Just("bob".to_owned()),
        Just("production".to_owned()),
        Just("'; DROP TABLE deployments; --".to_owned()),
        "\\PC{0,12}",
        ".{0,300}",
    ]
}

fn any_request() -> impl Strategy<Value = NewDeployment> {
    (
        any_text(),
        any_text(),
        any_text(),
        any_text(),
        prop::collection::vec(any_text(), 0..3),
        any_text(),
        any::<Option<String>>(),
    )
        .prop_map(|(service, environment, version, requester, work_refs, rollback_plan, risk)| NewDeployment {
            service,
            environment,
            version,
            requester,
            work_refs,
            rollback_plan,
            risk,
            commit: None,
        })
}

fn any_step() -> impl Strategy<Value = (usize, usize, String, Option<String>)> {
    (0..4usize, 0..Action::ALL.len(), any_text(), prop::option::of(any_text()))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn random_sequences_keep_state_and_history_consistent(
        requests in prop::collection::vec(any_request(), 1..4),
        steps in prop::collection::vec(any_step(), 0..40),
    ) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let engine = Engine::open_in_memory().await.unwrap();
            let mut ids = Vec::new();
            let mut applied = std::collections::HashMap::<String, usize>::new();
            for request in requests {
                match engine.create(request, None).await {
                    Ok(d) => ids.push(d.id),
                    Err(e) => prop_assert_eq!(e.code(), "validation_error"),
                }
            }
            // Always have at least one deployment to act on.
            ids.push(engine.create(crate::common::request("api", "dev"), None).await.unwrap().id);
            for (target, action, actor, note) in steps {
                let id = ids.get(target).cloned().unwrap_or_else(|| "dep_unknown".to_owned());
                let action = Action::ALL[action];
                match engine.apply(&id, action, ActionInput { actor, note, override_reason: None }).await {
                    Ok(_) => *applied.entry(id).or_default() += 1,
                    Err(e) => prop_assert!(
                        ["validation_error", "not_found", "invalid_transition", "self_approval"].contains(&e.code()),
                        "unexpected {}", e
                    ),
                }
            }
            for id in &ids {
                let d = engine.get(id).await.unwrap();
                let events = engine.events(id).await.unwrap();
                prop_assert_eq!(events.len(), 1 + applied.get(id).copied().unwrap_or(0));
                prop_assert_eq!(events.last().unwrap().to_status, Some(d.status));
            }
            prop_assert!(engine.verify_audit().await.unwrap().valid);
            Ok(())
        })?;
    }
}
