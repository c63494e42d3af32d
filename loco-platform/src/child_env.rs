//! The environment of every process Loco starts (instances, command probes): cleared, then only
//! `PATH`, the variables the release declares and the `LOCO_*`/`PORT` ones Loco sets itself. The
//! engine's own environment — its master key, tokens, cloud credentials — never reaches a child.

use std::ffi::{OsStr, OsString};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// A command for `program` whose environment holds only `PATH` (the engine's, so programs are
/// found the usual way) plus whatever the caller adds.
///
/// A bare program name is looked up on `PATH` here, so the command names a path: the standard
/// library then starts it with `posix_spawn` (a `vfork`) instead of `fork` + `exec`, which it
/// must use when a command sets `PATH` and names a bare program — and whose cost grows with the
/// engine's memory (its page tables are copied): 11 ms a script in a busy engine instead of 1.
pub fn clean_command(program: impl AsRef<OsStr>) -> tokio::process::Command {
    let path = std::env::var_os("PATH");
    let mut command = tokio::process::Command::new(resolve(program.as_ref(), path.as_deref()));
    command.env_clear();
    if let Some(path) = path {
        command.env("PATH", path);
    }
    command
}

/// `program` as found on `path` (the first executable file of that name), or as given when it
/// already names a path or is found nowhere (starting it then fails with "not found").
fn resolve(program: &OsStr, path: Option<&OsStr>) -> OsString {
    if Path::new(program).components().count() != 1 || program.is_empty() {
        return program.to_owned();
    }
    let executable = |candidate: &PathBuf| {
        std::fs::metadata(candidate).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    path.into_iter()
        .flat_map(std::env::split_paths)
        .filter(|dir| dir.is_absolute())
        .map(|dir| dir.join(program))
        .find(executable)
        .map_or_else(|| program.to_owned(), PathBuf::into_os_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_names_are_found_on_path_and_paths_kept() {
        let found = resolve(OsStr::new("sh"), std::env::var_os("PATH").as_deref());
        assert!(Path::new(&found).is_absolute() && Path::new(&found).ends_with("sh"), "{found:?}");
        assert_eq!(resolve(OsStr::new("./app.py"), Some(OsStr::new("/bin"))), OsString::from("./app.py"));
        assert_eq!(resolve(OsStr::new("/bin/sh"), None), OsString::from("/bin/sh"));
        let nowhere = resolve(OsStr::new("no-such-program-loco"), std::env::var_os("PATH").as_deref());
        assert_eq!(nowhere, OsString::from("no-such-program-loco"), "left for the spawn to report");
        // Relative PATH entries would depend on the working directory; they are skipped.
        assert_eq!(resolve(OsStr::new("sh"), Some(OsStr::new("bin:."))), OsString::from("sh"));
    }

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
