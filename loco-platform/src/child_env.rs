//! The environment of every process Loco starts (instances, command probes): cleared, then only
//! `PATH`, the variables the release declares and the `LOCO_*`/`PORT` ones Loco sets itself. The
//! engine's own environment — its master key, tokens, cloud credentials — never reaches a child.

use std::ffi::OsStr;

/// A command for `program` whose environment holds only `PATH` (the engine's, so programs are
/// found the usual way) plus whatever the caller adds.
pub fn clean_command(program: impl AsRef<OsStr>) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(program);
    command.env_clear();
    if let Some(path) = std::env::var_os("PATH") {
        command.env("PATH", path);
    }
    command
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_child_sees_only_path_and_what_it_was_given() {
        let output = clean_command("sh")
            .args(["-c", "env"])
            .env("LOCO_INSTANCE_ID", "ins_1")
            .env("DECLARED", "yes")
            .output()
            .await
            .unwrap();
        let env = String::from_utf8(output.stdout).unwrap();
        let mut names: Vec<&str> = env.lines().filter_map(|l| l.split('=').next()).collect();
        names.sort_unstable();
        names.retain(|n| !matches!(*n, "PWD" | "SHLVL" | "_"));
        assert_eq!(names, ["DECLARED", "LOCO_INSTANCE_ID", "PATH"], "{env}");
    }
}
