//! `loco demo --quick` end to end: the real binary, real demo-service processes, real traffic.

use std::process::Command;

/// Processes whose command line mentions the demo's temporary directories.
fn demo_processes() -> Vec<String> {
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    entries
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().chars().all(|c| c.is_ascii_digit()))
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .map(|raw| String::from_utf8_lossy(&raw).replace('\0', " "))
        .filter(|cmd| cmd.contains("loco-demo-") && cmd.contains("demo-service.py"))
        .collect()
}

#[test]
fn demo_rolls_back_the_bad_release_promotes_the_good_one_and_cleans_up() {
    let output = Command::new(env!("CARGO_BIN_EXE_loco")).args(["demo", "--quick"]).output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "exit {:?}\nstdout:\n{stdout}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("✗ rolled back automatically after"), "{stdout}");
    assert!(stdout.contains("error rate 60.0% is above the critical 50%"), "{stdout}");
    assert!(stdout.contains("the rollback was called"), "{stdout}");
    assert!(stdout.contains("✓ 3 promotions, monitored at 100%, succeeded"), "{stdout}");
    assert!(stdout.contains("events verified."), "{stdout}");
    for kind in ["canary_promoted", "analysis", "rolled_back", "succeeded"] {
        assert!(stdout.contains(kind), "the event history shows {kind}");
    }
    assert_eq!(demo_processes(), Vec::<String>::new(), "no demo process survives");
}

#[test]
fn the_fly_demo_configures_a_platform_and_tells_the_story_against_the_machines_api_fake() {
    let output =
        Command::new(env!("CARGO_BIN_EXE_loco")).args(["demo", "--platform", "fly", "--quick"]).output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "exit {:?}\nstdout:\n{stdout}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("'fly-demo' configured (token ***) and reachable"), "{stdout}");
    assert!(stdout.contains("→ POST /v1/apps/shop/machines 200"), "API calls are shown: {stdout}");
    assert!(stdout.contains("→ POST /v1/apps/shop/machines/") && stdout.contains("/uncordon 200"), "{stdout}");
    assert!(stdout.contains("✗ rolled back after"), "{stdout}");
    assert_eq!(stdout.matches("✓ succeeded after").count(), 2, "{stdout}");
    assert!(stdout.contains("Machines API requests per release:"), "{stdout}");
    assert!(stdout.contains("events verified."), "{stdout}");
    assert!(!stdout.contains("fm2_demo-"), "the token is never printed");
}
